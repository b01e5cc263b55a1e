"""Executor and settlement: gate before signing, intent before any send, no second signature.

The builder relay is the one part that cannot run in a unit test: a recording fake stands in
for `RelayClient` (send_bundle/call_bundle); the risk gate, audit log, nonce manager and
signer are the real ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import eth_abi
import pytest
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes

from bot.audit import AuditLog
from bot.executor import BundleSimulation, Executor, FeeQuote, SendResult, parse_call_bundle
from bot.nonce import Binding, NonceManager
from bot.relay import RelayReply
from bot.risk import RiskGate
from bot.settlement import Settlement
from bot.tx_sign import TxSigner
from chains.arb_executor_codec import decode_plan
from tests.unit.bot.test_risk import LIMITS, WETH, make_candidate

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
EXECUTOR = "0x" + "ee" * 20
PARENT = bytes(range(32))
FEES = FeeQuote(next_base_fee_wei=8 * 10**9, priority_fee_wei=10**9)
GAS_PRICE = 8 * 10**9 + 10**9


class FakeRelay:
    """Records every bundle handed to it; answers like a builder that accepts everything."""

    def __init__(self) -> None:
        self.sent: list[tuple[tuple[str, ...], int, str | None]] = []

    async def send_bundle(
        self, txs: Sequence[str], block_number: int, *, replacement_uuid: str | None = None
    ) -> list[RelayReply]:
        self.sent.append((tuple(txs), block_number, replacement_uuid))
        return [
            RelayReply(url="fake", method="eth_sendBundle", block_number=b, ok=True)
            for b in (block_number, block_number + 1)
        ]


class FakeSimulator:
    """Answers a fixed simulation; records what it saw and whether the intent was on disk."""

    def __init__(self, audit: AuditLog, ok: bool = True) -> None:
        self.audit = audit
        self.ok = ok
        self.calls: list[tuple[tuple[str, ...], int, int]] = []

    async def simulate(self, raw_txs: Sequence[str], target_block: int) -> BundleSimulation:
        self.calls.append((tuple(raw_txs), target_block, len(self.audit.in_flight())))
        if self.ok:
            return BundleSimulation(ok=True, gas_used=(150_000,))
        return BundleSimulation(ok=False, error="execution reverted", failed_index=0)


@dataclasses.dataclass
class Rig:
    executor: Executor
    relay: FakeRelay
    simulator: FakeSimulator
    audit: AuditLog
    risk: RiskGate
    nonces: NonceManager
    tmp: Path


def _rig(tmp: Path, *, ok: bool = True, dry_run: bool = False, chain_nonce: int = 7) -> Rig:
    audit = AuditLog(tmp / "audit.sqlite")
    risk = RiskGate(LIMITS, state_path=tmp / "risk.json", kill_switch_path=tmp / "KILL")
    signer = TxSigner(KEY)
    in_flight = [
        Binding(intent.intent_id, intent.nonce, intent.target_block + 1)
        for intent in audit.in_flight()
    ]
    nonces = NonceManager(
        signer.address, chain_nonce=chain_nonce, head_block=100, in_flight=in_flight
    )
    relay = FakeRelay()
    simulator = FakeSimulator(audit, ok)
    executor = Executor(
        signer=signer,
        chain_id=31337,
        executor_address=EXECUTOR,
        weth=WETH,
        nonces=nonces,
        risk=risk,
        audit=audit,
        relay=relay,  # type: ignore[arg-type]
        simulator=simulator,
        dry_run=dry_run,
    )
    return Rig(executor, relay, simulator, audit, risk, nonces, tmp)


def _submit(rig: Rig, **kw: Any) -> SendResult:
    candidate = kw.pop("candidate", None) or make_candidate(gas_price_wei=GAS_PRICE)
    return asyncio.run(
        rig.executor.submit(
            candidate, fees=FEES, parent_hash=PARENT, input_value_wei=candidate.amount_in, **kw
        )
    )


def _decode(raw_hex: str) -> tuple[dict[str, Any], bytes]:
    assert Account.recover_transaction(raw_hex) == Account.from_key(KEY).address
    typed = TypedTransaction.from_bytes(HexBytes(raw_hex))
    fields = typed.as_dict()
    (plan_bytes,) = eth_abi.decode(["bytes"], bytes(fields["data"])[4:])
    return fields, plan_bytes


def test_approved_candidate_is_signed_audited_simulated_then_sent(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    candidate = make_candidate(gas_price_wei=GAS_PRICE, tip_wei=10**15)
    result = _submit(rig, candidate=candidate)
    assert result.outcome == "sent" and result.signed is not None
    # simulated with the intent already on disk, then sent once with the same bytes
    assert rig.simulator.calls == [(result.bundle, candidate.target_block, 1)]
    assert rig.relay.sent == [(result.bundle, candidate.target_block, rig.relay.sent[0][2])]
    intent = rig.audit.intent(result.intent_id)
    assert intent is not None and intent.raw_txs == (result.signed.raw,)
    assert intent.nonce == 7 and rig.audit.last_state(result.intent_id) == "sent"
    fields, plan_bytes = _decode(result.bundle[0])
    assert fields["nonce"] == 7 and "0x" + bytes(fields["to"]).hex() == EXECUTOR
    assert fields["maxPriorityFeePerGas"] == 10**9
    assert fields["maxFeePerGas"] == 8 * 10**9 * 9 // 8 + 1 + 10**9
    assert fields["gas"] == candidate.gas_units * 13 // 10
    plan = decode_plan(plan_bytes)
    assert plan.amount_in == candidate.amount_in and plan.tip_wei == 10**15
    assert plan.guard == (candidate.target_block, PARENT)
    assert rig.risk.in_flight() == (result.intent_id,)


def test_refused_candidate_is_never_signed(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    (tmp_path / "KILL").write_text("stop")
    result = _submit(rig)
    assert result.outcome == "refused" and result.verdict.reason == "kill_switch"
    assert result.signed is None and rig.simulator.calls == [] and rig.relay.sent == []
    assert rig.audit.in_flight() == [] and rig.nonces.bindings() == ()
    assert rig.audit.verdicts() and not rig.audit.verdicts()[0][1]


def test_failed_simulation_sends_nothing_and_frees_the_nonce(tmp_path: Path) -> None:
    rig = _rig(tmp_path, ok=False)
    result = _submit(rig)
    assert result.outcome == "simulation_failed" and rig.relay.sent == []
    assert rig.audit.last_state(result.intent_id) == "cancelled"
    assert rig.nonces.bindings() == () and rig.risk.in_flight() == ()


def test_dry_run_simulates_and_sends_nothing(tmp_path: Path) -> None:
    rig = _rig(tmp_path, dry_run=True)
    result = _submit(rig)
    assert result.outcome == "dry_run" and len(rig.simulator.calls) == 1
    assert rig.relay.sent == [] and rig.audit.last_state(result.intent_id) == "cancelled"


def test_a_restart_resends_the_same_bytes_never_a_new_signature(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    first = _submit(rig)
    rig.audit.close()
    restarted = _rig(tmp_path)
    assert restarted.nonces.binding(first.intent_id) is not None
    results = asyncio.run(restarted.executor.resend_in_flight(head_block=100))
    assert [r.intent_id for r in results] == [first.intent_id]
    assert restarted.relay.sent[0][0] == first.bundle  # identical signed bytes
    # a new candidate gets the next nonce, not the in-flight one
    second = _submit(restarted, candidate=make_candidate(gas_price_wei=GAS_PRICE, cycle_id=2))
    assert restarted.audit.intent(second.intent_id).nonce == 8  # type: ignore[union-attr]
    # once the target block is past, nothing is resent
    assert asyncio.run(restarted.executor.resend_in_flight(head_block=101)) == []


def test_tip_of_another_base_token_goes_into_the_priority_fee(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    base = make_candidate(gas_price_wei=GAS_PRICE, tip_wei=10**15)
    token = "0x" + "dd" * 20
    hops = tuple(
        dataclasses.replace(
            h,
            token_in=token if h.token_in == WETH else h.token_in,
            token_out=token if h.token_out == WETH else h.token_out,
        )
        for h in base.hops
    )
    candidate = dataclasses.replace(base, base_token=token, hops=hops)
    result = _submit(rig, candidate=candidate)
    fields, plan_bytes = _decode(result.bundle[0])
    extra = -(-(10**15) // candidate.gas_units)
    assert fields["maxPriorityFeePerGas"] == 10**9 + extra
    assert decode_plan(plan_bytes).tip_wei == 0


def test_settlement_books_included_failed_expired_and_rolls_back_a_reorg(
    tmp_path: Path,
) -> None:
    rig = _rig(tmp_path)
    settlement = Settlement(rig.audit, rig.risk, rig.nonces)
    a = _submit(rig, candidate=make_candidate(gas_price_wei=GAS_PRICE, cycle_id=1))
    b = _submit(rig, candidate=make_candidate(gas_price_wei=GAS_PRICE, cycle_id=2))
    # at most two bundles per block: the third targets block 102 (valid through 103)
    c = _submit(
        rig, candidate=make_candidate(gas_price_wei=GAS_PRICE, cycle_id=3, target_block=102)
    )
    hashes = {r.intent_id: r.signed.hash_hex for r in (a, b, c)}  # type: ignore[union-attr]
    assert set(settlement.hashes_to_check()) == set(hashes.values())
    receipt = {"blockNumber": "0x65", "gasUsed": hex(100_000), "effectiveGasPrice": hex(GAS_PRICE)}
    receipts = {
        hashes[a.intent_id]: receipt | {"status": "0x1"},
        hashes[b.intent_id]: receipt | {"status": "0x0"},
    }
    booked = settlement.on_block(101, chain_nonce=9, receipts=receipts)
    outcomes = {s.intent_id: s.outcome for s in booked}
    assert outcomes == {a.intent_id: "included", b.intent_id: "failed"}
    candidate = make_candidate(gas_price_wei=GAS_PRICE)
    pnl = candidate.profit_wei - candidate.tip_wei - 100_000 * GAS_PRICE
    assert rig.audit.pnl_wei() == pnl
    assert rig.risk.consecutive_failures == 1
    # c was valid through block 103 (target 102 and the next)
    assert settlement.on_block(102, chain_nonce=9, receipts={}) == []
    assert settlement.on_block(103, chain_nonce=9, receipts={})[0].outcome == "expired"
    assert rig.audit.in_flight() == [] and rig.risk.in_flight() == ()
    # a reorg removes block 101: both landed intents are rolled back and in flight again
    undone = settlement.on_reorg(first_removed_block=101, chain_nonce=7, head_block=100)
    assert settlement.totals["reorged_out"] == 2
    assert set(undone) == {a.intent_id, b.intent_id}
    assert rig.audit.pnl_wei() == 0 and rig.risk.pnl_wei == 0
    assert {i.intent_id for i in rig.audit.in_flight()} == {a.intent_id, b.intent_id}
    assert set(rig.risk.in_flight()) == {a.intent_id, b.intent_id}


def test_parse_call_bundle() -> None:
    ok = parse_call_bundle({"results": [{"gasUsed": 21000}, {"gasUsed": 90000}]})
    assert ok == BundleSimulation(ok=True, gas_used=(21000, 90000))
    bad = parse_call_bundle({"results": [{"gasUsed": 21000}, {"gasUsed": 5, "revert": "x"}]})
    assert not bad.ok and bad.failed_index == 1
    assert not parse_call_bundle(None).ok


def test_a_guarded_transaction_needs_the_parent_hash(tmp_path: Path) -> None:
    executor = _rig(tmp_path).executor
    with pytest.raises(ValueError, match="parent hash"):
        executor.build(make_candidate(), nonce=0, fees=FEES, parent_hash=None)


def test_a_candidate_for_a_passed_block_is_dropped_unsigned(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    rig.nonces.reconcile(chain_nonce=7, head_block=102)  # block 102 is mined: target 101 passed
    result = _submit(rig, candidate=make_candidate(gas_price_wei=GAS_PRICE, target_block=101))
    assert result.outcome == "stale" and result.signed is None
    assert rig.relay.sent == [] and rig.simulator.calls == []
    assert rig.risk.in_flight() == () and rig.audit.in_flight() == []
