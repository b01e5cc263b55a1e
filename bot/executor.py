"""The executor: a proven Candidate becomes a checked, signed, audited, simulated bundle.

Order of operations for one candidate (nothing leaves the process before step 4):

1. the risk gate admits it (`RiskGate.admit`: every limit, before signing); a refusal is
   written to the audit log at once, an approval with the intent in step 4;
2. its nonce is bound to it (`NonceManager.assign`, valid for the target block and the next);
3. calldata through the one encoder (`bot.executor_plan.plan_of` -> `chains.arb_executor`),
   an EIP-1559 transaction with the predicted fees and a gas limit above the predicted units,
   signed with libsecp256k1 (`bot.tx_sign`);
4. the intent (candidate, exact amounts, raw signed bytes and hashes, nonce, bundle uuid,
   limits in force) and the gate's approval are written to the audit log in one transaction
   and synced to disk;
5. the exact bundle ([victim, ours] for a backrun) is simulated against the state it targets
   (eth_callBundle at the builders); a failed simulation cancels the intent and frees the nonce;
6. the bundle goes to every builder for the target block and the next; the replies are logged
   (in dry-run mode nothing is sent: the intent is closed as cancelled after simulation).

Fees: max_fee_per_gas = next base fee * 9/8 (what the base fee can reach one block later) +
priority fee; the tip is paid by the contract to the coinbase when the base token is WETH, and
as extra priority fee (tip / gas units, rounded up) otherwise. The guard (target block and
its parent hash) makes a transaction lifted out of its bundle revert.

A crash after step 4 leaves the intent in the audit log; `resend_in_flight` sends exactly
those bytes again, never a fresh signature with another nonce.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_hash.auto import keccak

from bot.audit import AuditLog
from bot.executor_plan import plan_of
from bot.nonce import NonceError, NonceManager
from bot.relay import RelayClient, RelayReply
from bot.risk import RiskGate, Verdict
from bot.tx_sign import Eip1559Tx, SignedTx, TxSigner
from chains.arb_executor import execute_calldata
from graph.actions import Candidate

__all__ = [
    "BundleSimulation",
    "Executor",
    "FeeQuote",
    "RelaySimulator",
    "SendResult",
    "Simulator",
]

_log = logging.getLogger(__name__)
_BPS = 10_000


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """Fees for the target block: its exact next base fee and the priority fee bid (wei/gas)."""

    next_base_fee_wei: int
    priority_fee_wei: int

    def max_fee_per_gas(self, extra_priority_wei: int = 0) -> int:
        """Return the fee cap: the base fee one block later at most, plus the priority fee."""
        return self.next_base_fee_wei * 9 // 8 + 1 + self.priority_fee_wei + extra_priority_wei


@dataclass(frozen=True, slots=True)
class BundleSimulation:
    """The simulation of one bundle: per-transaction gas used and the first failure, if any."""

    ok: bool
    gas_used: tuple[int, ...] = ()
    error: str | None = None
    failed_index: int | None = None


class Simulator(Protocol):
    """Simulates an exact bundle against the state its target block builds on."""

    async def simulate(self, raw_txs: Sequence[str], target_block: int) -> BundleSimulation: ...


class RelaySimulator:
    """eth_callBundle at the builders: the first relay that answers decides."""

    def __init__(self, relay: RelayClient) -> None:
        self._relay = relay

    async def simulate(self, raw_txs: Sequence[str], target_block: int) -> BundleSimulation:
        replies = await self._relay.call_bundle(list(raw_txs), target_block, "latest")
        errors = []
        for reply in replies:
            if not reply.ok:
                errors.append(f"{reply.url}: {reply.error}")
                continue
            return parse_call_bundle(reply.result)
        return BundleSimulation(ok=False, error="no builder simulated it: " + "; ".join(errors))


def parse_call_bundle(result: Any) -> BundleSimulation:
    """Read a Flashbots-shaped eth_callBundle result: any error or revert fails the bundle."""
    if not isinstance(result, dict) or not isinstance(result.get("results"), list):
        return BundleSimulation(ok=False, error=f"malformed eth_callBundle result: {result!r}")
    gas = []
    for index, tx in enumerate(result["results"]):
        if not isinstance(tx, dict):
            return BundleSimulation(
                ok=False, error="malformed transaction result", failed_index=index
            )
        gas.append(int(tx.get("gasUsed", 0)))
        failure = tx.get("error") or tx.get("revert")
        if failure:
            return BundleSimulation(
                ok=False, gas_used=tuple(gas), error=str(failure), failed_index=index
            )
    return BundleSimulation(ok=True, gas_used=tuple(gas))


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one candidate at the executor."""

    intent_id: str
    outcome: str  # refused | stale | simulation_failed | dry_run | sent | not_accepted
    verdict: Verdict
    signed: SignedTx | None = None
    bundle: tuple[str, ...] = ()
    simulation: BundleSimulation | None = None
    replies: tuple[RelayReply, ...] = ()


class Executor:
    """Turns candidates into sent bundles; see the module docstring for the order of steps."""

    def __init__(
        self,
        *,
        signer: TxSigner,
        chain_id: int,
        executor_address: str,
        weth: str,
        nonces: NonceManager,
        risk: RiskGate,
        audit: AuditLog,
        relay: RelayClient,
        simulator: Simulator,
        gas_limit_margin_bps: int = 3_000,
        guard: bool = True,
        dry_run: bool = False,
        stage_sink: Callable[[str, int], object] | None = None,
    ) -> None:
        if nonces.signer.lower() != signer.address.lower():
            raise ValueError("the nonce manager belongs to another signer")
        self._signer = signer
        self._chain_id = chain_id
        self._executor = executor_address
        self._weth = weth.lower()
        self._nonces = nonces
        self._risk = risk
        self._audit = audit
        self._relay = relay
        self._simulator = simulator
        self._margin_bps = gas_limit_margin_bps
        self._guard = guard
        self.dry_run = dry_run  # everything up to simulation; nothing is sent
        # observer of stage durations: ("risk" | "sign" | "audit" | "simulate" | "submit", ns)
        self._stage_sink = stage_sink

    def _stage(self, stage: str, start_ns: int) -> int:
        now = time.perf_counter_ns()
        if self._stage_sink is not None:
            self._stage_sink(stage, now - start_ns)
        return now

    @property
    def signer_address(self) -> str:
        """Return the executor EOA's address."""
        return self._signer.address

    def gas_limit(self, candidate: Candidate) -> int:
        """Return the gas limit: predicted units plus the margin, within the risk gate's cap."""
        limit = candidate.gas_units * (_BPS + self._margin_bps) // _BPS
        return min(limit, self._risk.limits.max_gas_units)

    def build(
        self,
        candidate: Candidate,
        *,
        nonce: int,
        fees: FeeQuote,
        parent_hash: bytes | None,
    ) -> tuple[Eip1559Tx, SignedTx]:
        """Return the unsigned and signed transaction of a candidate (no side effects)."""
        weth_base = candidate.base_token.lower() == self._weth
        extra_priority = 0
        if not weth_base and candidate.tip_wei:
            # the contract pays a coinbase tip only in WETH: pay it as priority fee instead
            extra_priority = -(-candidate.tip_wei // max(candidate.gas_units, 1))
        guard = None
        if self._guard:
            if parent_hash is None or len(parent_hash) != 32:
                raise ValueError("a guarded transaction needs the target block's parent hash")
            guard = (candidate.target_block, parent_hash)
        plan = plan_of(candidate, weth=self._weth, guard=guard, tip_as_priority_fee=not weth_base)
        tx = Eip1559Tx(
            chain_id=self._chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=fees.priority_fee_wei + extra_priority,
            max_fee_per_gas=fees.max_fee_per_gas(extra_priority),
            gas=self.gas_limit(candidate),
            to=self._executor,
            value=0,
            data=execute_calldata(plan),
        )
        return tx, self._signer.sign(tx)

    async def submit(
        self,
        candidate: Candidate,
        *,
        fees: FeeQuote,
        parent_hash: bytes | None,
        input_value_wei: int,
        victim_raw: bytes | None = None,
    ) -> SendResult:
        """Gate, sign, audit, simulate and send one candidate; see the module docstring."""
        intent_id = f"{candidate.candidate_id}-{uuid.uuid4().hex[:8]}"
        clock = time.perf_counter_ns()
        verdict = self._risk.admit(candidate, intent_id, input_value_wei=input_value_wei)
        if not verdict.approved:
            self._audit.record_verdict(candidate.block_number, candidate, verdict)
            self._stage("risk", clock)
            return SendResult(intent_id, "refused", verdict)
        # an approval is written with the intent, in one transaction (one sync to disk)
        clock = self._stage("risk", clock)
        target = candidate.target_block
        try:
            nonce = self._nonces.assign(intent_id, valid_through_block=target + 1)
        except NonceError:
            # priced for a block the chain has already passed: nothing was signed
            self._audit.record_verdict(candidate.block_number, candidate, verdict)
            self._cancel(intent_id, target)
            return SendResult(intent_id, "stale", verdict)
        try:
            _, signed = self.build(candidate, nonce=nonce, fees=fees, parent_hash=parent_hash)
        except Exception:
            self._audit.record_verdict(candidate.block_number, candidate, verdict)
            self._nonces.release_unsent(intent_id)
            self._risk.settle(
                intent_id, outcome="cancelled", loss_wei=0, pnl_wei=0, at_block=target
            )
            raise
        raws = ([victim_raw] if victim_raw is not None else []) + [signed.raw]
        bundle = tuple("0x" + raw.hex() for raw in raws)
        bundle_uuid = str(uuid.uuid4())
        hashes = [_tx_hash_hex(raw) for raw in raws]
        clock = self._stage("sign", clock)
        self._audit.record_intent(
            intent_id=intent_id,
            candidate=candidate,
            raw_txs=raws,
            tx_hashes=hashes,
            nonce=nonce,
            signer=self._signer.address,
            bundle_uuid=bundle_uuid,
            limits=self._risk.limits,
            verdict=verdict,
        )
        clock = self._stage("audit", clock)
        simulation = await self._simulator.simulate(bundle, target)
        clock = self._stage("simulate", clock)
        if not simulation.ok:
            self._audit.record_state(
                intent_id,
                "cancelled",
                detail={"reason": "simulation_failed", "error": simulation.error},
            )
            self._nonces.release_unsent(intent_id)
            self._risk.settle(
                intent_id, outcome="cancelled", loss_wei=0, pnl_wei=0, at_block=target
            )
            _log.info(
                "bundle not sent: simulation failed",
                extra={"candidate": candidate.candidate_id, "block": target},
            )
            return SendResult(intent_id, "simulation_failed", verdict, signed, bundle, simulation)
        if self.dry_run:
            self._audit.record_state(intent_id, "cancelled", detail={"reason": "dry_run"})
            self._nonces.release_unsent(intent_id)
            self._cancel(intent_id, target)
            return SendResult(intent_id, "dry_run", verdict, signed, bundle, simulation)
        replies = tuple(
            await self._relay.send_bundle(list(bundle), target, replacement_uuid=bundle_uuid)
        )
        self._stage("submit", clock)
        accepted = any(reply.ok for reply in replies)
        self._audit.record_state(
            intent_id,
            "sent",
            block_number=target,
            detail={
                "replies": [
                    {"url": r.url, "block": r.block_number, "ok": r.ok, "error": r.error}
                    for r in replies
                ]
            },
        )
        outcome = "sent" if accepted else "not_accepted"
        return SendResult(intent_id, outcome, verdict, signed, bundle, simulation, replies)

    async def resend_in_flight(self, head_block: int) -> list[SendResult]:
        """After a restart: re-simulate and resend the recorded bytes of intents still valid.

        An intent whose target block is still ahead (target > head) is simulated again and
        sent with its original bytes and bundle uuid: never re-signed, never a new nonce. One
        whose target has been mined is left to settlement (receipts decide included/expired).
        """
        results = []
        if self.dry_run:
            return results
        for intent in self._audit.in_flight():
            if intent.signer.lower() != self._signer.address.lower():
                continue
            if intent.target_block <= head_block:
                continue
            bundle = tuple("0x" + raw.hex() for raw in intent.raw_txs)
            verdict = Verdict(True)
            simulation = await self._simulator.simulate(bundle, intent.target_block)
            if not simulation.ok:
                self._audit.record_state(
                    intent.intent_id,
                    "cancelled",
                    detail={"reason": "simulation_failed_on_resend", "error": simulation.error},
                )
                self._nonces.release_unsent(intent.intent_id)
                if intent.intent_id in self._risk.in_flight():
                    self._cancel(intent.intent_id, intent.target_block)
                results.append(
                    SendResult(intent.intent_id, "simulation_failed", verdict, None, bundle)
                )
                continue
            replies = tuple(
                await self._relay.send_bundle(
                    list(bundle), intent.target_block, replacement_uuid=intent.bundle_uuid
                )
            )
            self._audit.record_state(
                intent.intent_id,
                "sent",
                block_number=intent.target_block,
                detail={"resent": True, "accepted": sum(r.ok for r in replies)},
            )
            outcome = "sent" if any(r.ok for r in replies) else "not_accepted"
            results.append(
                SendResult(intent.intent_id, outcome, verdict, None, bundle, simulation, replies)
            )
        return results

    def _cancel(self, intent_id: str, target_block: int) -> None:
        self._risk.settle(
            intent_id, outcome="cancelled", loss_wei=0, pnl_wei=0, at_block=target_block
        )


def _tx_hash_hex(raw: bytes) -> str:
    return "0x" + keccak(raw).hex()
