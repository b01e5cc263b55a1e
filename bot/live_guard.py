"""The live-mode guard: no real sends without an operator acknowledgment that fits the run.

`arbloop run --mode live` starts only when every check here passes:

- the profile has a `[live]` section whose `chain_id`, `executor` and `signer` equal the chain
  the endpoints serve, the executor contract the bot will call and the address of the key it
  loaded;
- its `acknowledgment` is exactly `expected_acknowledgment(chain_id, executor, signer)` — a
  sentence naming all three, so an acknowledgment written for another chain, contract or key
  (a stale one) is refused;
- the code at the executor address equals `contracts/out`'s deployed bytecode (what
  `arbloop executor verify` checks);
- at least two RPC endpoints answer, agree on the chain id, and their heads are within
  `max_head_skew_blocks` of each other.

Every refusal says what the section must contain. Without it, `--mode dry-run` runs everything
up to simulation and sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chains.config_profile import LiveAck

__all__ = ["EndpointHead", "LiveRefused", "check_live", "expected_acknowledgment"]


class LiveRefused(RuntimeError):
    """Live mode is refused; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class EndpointHead:
    """What one RPC endpoint reported: its chain id and head block (None: no answer)."""

    url: str  # already redacted for display
    chain_id: int | None
    head_block: int | None


def expected_acknowledgment(chain_id: int, executor: str, signer: str) -> str:
    """Return the exact sentence the `[live] acknowledgment` must hold for this run."""
    return (
        f"I operate arbloop live on chain {chain_id} through executor {executor.lower()} "
        f"signing as {signer.lower()}, and I accept that it trades real funds."
    )


def _template(chain_id: int, executor: str, signer: str) -> str:
    return (
        "[live]\n"
        f"chain_id = {chain_id}\n"
        f'executor = "{executor}"\n'
        f'signer = "{signer}"\n'
        f'acknowledgment = "{expected_acknowledgment(chain_id, executor, signer)}"'
    )


def check_live(
    ack: LiveAck | None,
    *,
    chain_id: int,
    executor: str,
    signer: str,
    executor_code_matches: bool,
    endpoints: Sequence[EndpointHead],
    max_head_skew_blocks: int = 2,
) -> None:
    """Raise LiveRefused unless live mode may start; see the module docstring."""
    needed = _template(chain_id, executor, signer)
    if ack is None:
        raise LiveRefused(f"live mode needs a [live] section in the profile:\n{needed}")
    wrong = []
    if ack.chain_id != chain_id:
        wrong.append(f"chain_id is {ack.chain_id}, the endpoints serve chain {chain_id}")
    if ack.executor.lower() != executor.lower():
        wrong.append(f"executor is {ack.executor}, the bot would call {executor}")
    if ack.signer.lower() != signer.lower():
        wrong.append(f"signer is {ack.signer}, the loaded key is {signer}")
    if ack.acknowledgment.strip() != expected_acknowledgment(chain_id, executor, signer):
        wrong.append("the acknowledgment sentence does not name this chain, executor and signer")
    if wrong:
        raise LiveRefused(
            "the [live] acknowledgment does not fit this run (" + "; ".join(wrong) + "); "
            f"it must read:\n{needed}"
        )
    if not executor_code_matches:
        raise LiveRefused(
            f"the code at executor {executor} differs from contracts/out "
            "(run `arbloop executor verify`)"
        )
    answering = [e for e in endpoints if e.chain_id is not None and e.head_block is not None]
    if len(answering) < 2:
        raise LiveRefused(
            f"live mode needs at least two answering RPC endpoints, {len(answering)} answered: "
            + ", ".join(e.url for e in endpoints)
        )
    chains = {e.chain_id for e in answering}
    if chains != {chain_id}:
        raise LiveRefused(
            "the RPC endpoints disagree on the chain id: "
            + ", ".join(f"{e.url} -> {e.chain_id}" for e in answering)
        )
    heads = [e.head_block for e in answering]
    if max(heads) - min(heads) > max_head_skew_blocks:  # type: ignore[operator,type-var]
        raise LiveRefused(
            f"the RPC endpoints' heads differ by more than {max_head_skew_blocks} blocks: "
            + ", ".join(f"{e.url} -> {e.head_block}" for e in answering)
        )
