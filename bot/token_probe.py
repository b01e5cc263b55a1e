"""What a token transfer really delivers, measured by eth_call alone; deny the tokens that lie.

`probe_token` injects the runtime code of ``contracts/src/TransferProbe.sol`` at a fresh
address through an eth_call state override and asks it to flash-borrow `amount` of the token
from a Uniswap V2 pair or V3 pool. Inside the pool's callback the probe measures by
``balanceOf`` what arrived from the pool, forwards everything to a second fresh address,
measures what arrived there and what left the probe, and reverts with the measurements, so
nothing is repaid and no state changes anywhere (it works on any node that supports eth_call
state overrides: anvil, geth, reth, erigon).

`deny_if_lossy` puts a token whose measured transfers did not deliver exactly what was sent
(fee on transfer, rebasing drift, honeypot) on the risk gate's persisted deny list. A probe
that could not measure (no such pool, the token is not in it, the swap reverted before the
callback) is reported with ``measured=False`` and denies nothing: it says nothing about the
token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import eth_abi
from eth_utils import keccak, to_checksum_address

from bot.risk import RiskGate
from chains.abi_fn import AbiFunction
from chains.artifacts import load_project_artifact
from chains.rpc import RpcResponseError

__all__ = [
    "PROBE_ADDRESS",
    "PROBE_RECIPIENT",
    "RpcCaller",
    "TransferProbeError",
    "TransferProbeResult",
    "decode_probe_outcome",
    "deny_if_lossy",
    "probe_token",
]

log = logging.getLogger(__name__)

# fresh addresses nobody holds a key for: keccak of a label, low 20 bytes
PROBE_ADDRESS = to_checksum_address(keccak(text="arbloop.TransferProbe")[12:])
PROBE_RECIPIENT = to_checksum_address(keccak(text="arbloop.TransferProbe.recipient")[12:])

PROBE = AbiFunction("probe(address,bool,address,uint256,address)", "(bytes)")
_MEASURED_TYPES = (
    "uint256",
    "uint256",
    "uint256",
    "uint256",
    "uint256",
    "uint256",
    "uint256",
    "bool",
    "bytes",
)
MEASURED_SELECTOR = keccak(text=f"ProbeMeasured({','.join(_MEASURED_TYPES)})")[:4]
FAILED_SELECTOR = keccak(text="ProbeFailed(uint8,bytes)")[:4]
_ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]

# ProbeFailed stages, as numbered in TransferProbe.sol
FAILED_STAGES = {
    1: "not a pool (token0()/token1() unreadable)",
    2: "token is not in the pool",
    3: "pool swap reverted before the callback",
    4: "pool returned without calling back",
    5: "balanceOf is unreadable",
    6: "callback from an unexpected caller",
}
POOL_KINDS = ("v2", "v3")
_UINT112_MAX = 2**112 - 1


class RpcCaller(Protocol):
    """What the probe needs of a node client (``chains.rpc.HttpRpc`` has it)."""

    def call(self, method: str, *params: Any) -> Any: ...


class TransferProbeError(Exception):
    """The probe's output is not something TransferProbe.sol produces."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferProbeResult:
    """What one probe saw, in token units.

    `requested` is what the pool sent (V2 amountOut, V3 exact output), `received_from_pool`
    what the probe's balance grew by, `forwarded` what it then transferred on (all of it),
    `received_by_next` what the recipient's balance grew by and `debited` what the probe's
    balance fell by. `ok` means both transfers delivered exactly what was sent.
    """

    token: str
    requested: int
    received_from_pool: int
    forwarded: int
    received_by_next: int
    debited: int
    transfer_reverted: bool
    measured: bool
    ok: bool
    reason: str | None


def probe_token(
    rpc: RpcCaller,
    token: str,
    pool: str,
    pool_kind: str,
    *,
    amount: int,
    block: str | int = "latest",
) -> TransferProbeResult:
    """Flash-borrow `amount` of `token` from `pool` inside eth_call and measure the transfers."""
    if pool_kind not in POOL_KINDS:
        raise ValueError(f"pool_kind {pool_kind!r} is not one of {POOL_KINDS}")
    # V2 pairs hold uint112 reserves; V3 negates the amount as an int256
    if not 0 < amount <= _UINT112_MAX:
        raise ValueError(f"amount {amount} is outside 1..2**112-1")
    code = load_project_artifact("TransferProbe").deployed_bytecode
    data = PROBE.encode(pool, pool_kind == "v3", token, amount, PROBE_RECIPIENT)
    tx = {"to": PROBE_ADDRESS, "data": "0x" + data.hex()}
    overrides = {PROBE_ADDRESS: {"code": "0x" + code.hex()}}
    tag = block if isinstance(block, str) else hex(block)
    try:
        out = rpc.call("eth_call", tx, tag, overrides)
    except RpcResponseError as exc:
        # probe() never reverts: an error here is the node's (no overrides, gas, bad block)
        return _unmeasured(token, amount, f"eth_call failed: {exc.message}")
    (outcome,) = PROBE.decode_output(bytes.fromhex(out.removeprefix("0x")))
    return decode_probe_outcome(token, amount, outcome)


def decode_probe_outcome(token: str, amount: int, outcome: bytes) -> TransferProbeResult:
    """Turn the probe's revert data (ProbeMeasured / ProbeFailed / empty) into a result."""
    token = to_checksum_address(token)
    if not outcome:
        return _unmeasured(token, amount, FAILED_STAGES[4])
    selector, body = outcome[:4], outcome[4:]
    if selector == FAILED_SELECTOR:
        try:
            stage, reason = eth_abi.decode(["uint8", "bytes"], body)
        except Exception as exc:
            raise TransferProbeError(f"malformed ProbeFailed: {outcome.hex()}") from exc
        what = FAILED_STAGES.get(stage, f"stage {stage}")
        detail = describe_revert(reason)
        return _unmeasured(token, amount, f"{what}: {detail}" if detail else what)
    if selector != MEASURED_SELECTOR:
        raise TransferProbeError(f"unknown probe outcome: {outcome.hex()}")
    try:
        fields = eth_abi.decode(list(_MEASURED_TYPES), body)
    except Exception as exc:
        raise TransferProbeError(f"malformed ProbeMeasured: {outcome.hex()}") from exc
    (
        pool_sent,
        before,
        after_receive,
        forwarded,
        next_before,
        next_after,
        after_forward,
        transfer_ok,
        transfer_error,
    ) = fields
    received = after_receive - before
    received_by_next = next_after - next_before
    debited = after_receive - after_forward
    reason = _verdict(
        pool_sent, received, forwarded, received_by_next, debited, transfer_ok, transfer_error
    )
    return TransferProbeResult(
        token=token,
        requested=pool_sent,
        received_from_pool=received,
        forwarded=forwarded,
        received_by_next=received_by_next,
        debited=debited,
        transfer_reverted=not transfer_ok,
        measured=True,
        ok=reason is None,
        reason=reason,
    )


def deny_if_lossy(gate: RiskGate, result: TransferProbeResult) -> bool:
    """Deny the token on `gate` when its measured transfers were not exact; return whether."""
    if not result.measured or result.ok:
        return False
    reason = result.reason or "transfer is not exact"
    gate.deny_token(result.token, reason)
    return True


def describe_revert(data: bytes) -> str:
    """Return a short text for revert data: the Error(string) message or the hex selector."""
    if not data:
        return ""
    if data[:4] == _ERROR_STRING_SELECTOR:
        try:
            (message,) = eth_abi.decode(["string"], data[4:])
            return str(message)
        except Exception:
            pass
    return f"custom error 0x{data[:4].hex()}" if len(data) >= 4 else f"0x{data.hex()}"


def _verdict(
    sent: int,
    received: int,
    forwarded: int,
    received_by_next: int,
    debited: int,
    transfer_ok: bool,
    transfer_error: bytes,
) -> str | None:
    """Return why the transfers were not exact, or None when every one was."""
    if not transfer_ok:
        detail = describe_revert(transfer_error) or "returned false"
        return f"transfer reverts for an ordinary holder (honeypot?): {detail}"
    # the first transfer that was not exact is the one to name
    for what, expected, got in (
        ("pool transfer", sent, received),
        ("transfer", forwarded, received_by_next),
    ):
        if got != expected:
            return f"{what} delivered {_percent(got, expected)} ({_kind(got, expected)})"
    if debited != forwarded:
        return (
            f"transfer of {forwarded} took {debited} from the sender ({_kind(forwarded, debited)})"
        )
    return None


def _percent(got: int, expected: int) -> str:
    """Return got/expected in percent, with enough digits never to print a false 100.0%."""
    if expected == 0:
        return f"{got} of 0"
    percent = 100 * got / expected
    for digits in (1, 2, 4):
        text = f"{percent:.{digits}f}"
        if float(text) != 100.0 or got == expected:
            return f"{text}%"
    return f"{got} of {expected}"


def _kind(got: int, expected: int) -> str:
    return "fee on transfer" if got < expected else "more than sent: rebasing or minting"


def _unmeasured(token: str, amount: int, reason: str) -> TransferProbeResult:
    return TransferProbeResult(
        token=to_checksum_address(token),
        requested=amount,
        received_from_pool=0,
        forwarded=0,
        received_by_next=0,
        debited=0,
        transfer_reverted=False,
        measured=False,
        ok=False,
        reason=reason,
    )
