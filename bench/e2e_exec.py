"""The executor side of the end-to-end benchmark: the real `bot.executor.Executor`, timed.

Its collaborators are wrapped, not replaced: the risk gate, the audit log and the simulator
(eth_callBundle at the local builder through `bot.relay.RelayClient`) are the real ones, each
call timed into the current `Clock`. The relay handed to the executor for sending is
`HandoffRelay`: its `send_bundle` stops the clock when the signed bundle's bytes are handed to
it and answers as a relay that accepted it, without the HTTP round trip (outside the clock by
definition). After each handoff the bundle is treated as dropped: the nonce is freed and the
risk gate's reservation cancelled, so the next block signs with the same chain nonce and its
simulation is meaningful.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.audit import AuditLog
from bot.executor import BundleSimulation, Executor, FeeQuote, RelaySimulator
from bot.nonce import NonceManager
from bot.relay import RelayClient, RelayReply
from bot.risk import RiskGate, RiskLimits, Verdict
from bot.tx_sign import Eip1559Tx, SignedTx, TxSigner
from graph.actions import Candidate

__all__ = ["Clock", "HandoffRelay", "TimedExecutor", "build_executor", "drop_after_handoff"]


@dataclass(slots=True)
class Clock:
    """Stage durations (ns) of the opportunity in flight, and when its bundle was handed off."""

    stages_ns: dict[str, int] = field(default_factory=dict)
    handoff_ns: int = 0

    def add(self, stage: str, ns: int) -> None:
        """Add ns to a stage."""
        self.stages_ns[stage] = self.stages_ns.get(stage, 0) + ns

    def reset(self) -> None:
        """Start a new opportunity."""
        self.stages_ns = {}
        self.handoff_ns = 0


class _TimedRisk:
    def __init__(self, gate: RiskGate, clock: Clock) -> None:
        self._gate = gate
        self._clock = clock
        self.limits = gate.limits

    def admit(self, candidate: Candidate, intent_id: str, *, input_value_wei: int) -> Verdict:
        start = time.perf_counter_ns()
        verdict = self._gate.admit(candidate, intent_id, input_value_wei=input_value_wei)
        self._clock.add("risk", time.perf_counter_ns() - start)
        return verdict

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gate, name)


class _TimedAudit:
    def __init__(self, audit: AuditLog, clock: Clock) -> None:
        self._audit = audit
        self._clock = clock

    def record_verdict(self, *args: Any, **kwargs: Any) -> None:
        start = time.perf_counter_ns()
        self._audit.record_verdict(*args, **kwargs)
        self._clock.add("audit verdict", time.perf_counter_ns() - start)

    def record_intent(self, *args: Any, **kwargs: Any) -> None:
        start = time.perf_counter_ns()
        self._audit.record_intent(*args, **kwargs)
        self._clock.add("audit intent", time.perf_counter_ns() - start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._audit, name)


class _TimedSimulator:
    def __init__(self, inner: RelaySimulator, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock
        self.ok = 0
        self.failed = 0

    async def simulate(self, raw_txs: Sequence[str], target_block: int) -> BundleSimulation:
        start = time.perf_counter_ns()
        result = await self._inner.simulate(raw_txs, target_block)
        self._clock.add("simulate", time.perf_counter_ns() - start)
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
        return result


class HandoffRelay:
    """A relay whose send stops the clock at the handoff; the HTTP send itself is not made."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.handed = 0

    async def send_bundle(
        self, txs: Sequence[str], block_number: int, **_: Any
    ) -> list[RelayReply]:
        """Stamp the handoff; answer as one relay that accepted the bundle."""
        self._clock.handoff_ns = time.monotonic_ns()
        self.handed += 1
        return [
            RelayReply(url="handoff", method="eth_sendBundle", block_number=block_number, ok=True)
        ]


class TimedExecutor(Executor):
    """The executor with its build step (plan, calldata, EIP-1559 tx, signature) timed."""

    clock: Clock

    def build(
        self, candidate: Candidate, *, nonce: int, fees: FeeQuote, parent_hash: bytes | None
    ) -> tuple[Eip1559Tx, SignedTx]:
        start = time.perf_counter_ns()
        out = super().build(candidate, nonce=nonce, fees=fees, parent_hash=parent_hash)
        self.clock.add("calldata + sign", time.perf_counter_ns() - start)
        return out


@dataclass(slots=True)
class ExecutorRig:
    """A timed executor and what it was built from."""

    executor: Executor
    clock: Clock
    nonces: NonceManager
    risk: RiskGate
    audit: AuditLog
    relay: RelayClient
    simulator: _TimedSimulator
    handoff: HandoffRelay


def permissive_limits() -> RiskLimits:
    """Risk limits that admit every priced candidate of the benchmark (all checks still run)."""
    return RiskLimits(
        min_net_profit_wei=0,
        max_input_wei=10**24,
        max_gas_price_wei=10**13,
        max_gas_units=2_000_000,
        max_tip_share_bps=10_000,
        max_bundles_per_block=10**6,
        max_loss_per_hour_wei=10**24,
        max_loss_per_day_wei=10**24,
        max_consecutive_failures=10**6,
        max_token_exposure_wei=10**30,
    )


def build_executor(
    *,
    cls: type[TimedExecutor],
    key: bytes,
    relay_key: bytes,
    builder_url: str,
    chain_id: int,
    executor_address: str,
    weth: str,
    chain_nonce: int,
    head_block: int,
    workdir: Path,
) -> ExecutorRig:
    """Build a timed executor over a fresh audit log and risk state in workdir."""
    clock = Clock()
    signer = TxSigner(key)
    risk = RiskGate(
        permissive_limits(),
        state_path=workdir / "risk.json",
        kill_switch_path=workdir / "KILL",
    )
    audit = AuditLog(workdir / "audit.sqlite")
    relay = RelayClient([builder_url], relay_key)
    simulator = _TimedSimulator(RelaySimulator(relay), clock)
    handoff = HandoffRelay(clock)
    nonces = NonceManager(signer.address, chain_nonce=chain_nonce, head_block=head_block)
    executor = cls(
        signer=signer,
        chain_id=chain_id,
        executor_address=executor_address,
        weth=weth,
        nonces=nonces,
        risk=_TimedRisk(risk, clock),  # type: ignore[arg-type]
        audit=_TimedAudit(audit, clock),  # type: ignore[arg-type]
        relay=handoff,  # type: ignore[arg-type]
        simulator=simulator,
    )
    executor.clock = clock
    return ExecutorRig(executor, clock, nonces, risk, audit, relay, simulator, handoff)


def drop_after_handoff(rig: ExecutorRig, intent_id: str, target_block: int) -> None:
    """Treat a handed-off bundle as dropped: free its nonce, cancel its risk reservation."""
    rig.nonces.release_unsent(intent_id)
    if intent_id in rig.risk.in_flight():
        rig.risk.settle(
            intent_id, outcome="cancelled", loss_wei=0, pnl_wei=0, at_block=target_block
        )
