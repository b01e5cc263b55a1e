"""bot.risk: every refusal reason, reservations, loss windows, breaker, rollback, kill switch."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.risk import REASONS, RiskGate, RiskLimits, Verdict
from chains.config import configs_dir, load_profile
from graph.actions import Candidate, CandidateHop

WETH = "0x" + "c0" * 20
TKA = "0x" + "aa" * 20
TKB = "0x" + "bb" * 20
ETH = 10**18
GWEI = 10**9


def make_candidate(
    *,
    mid_token: str = TKA,
    amount_in: int = ETH,
    profit: int = ETH // 10,
    gas_units: int = 200_000,
    gas_price_wei: int = 10 * GWEI,
    tip_wei: int = 0,
    target_block: int = 101,
    cycle_id: int = 1,
) -> Candidate:
    """Return a valid two-hop WETH -> mid_token -> WETH candidate with the given economics."""
    mid = 3_000 * amount_in

    def hop(pool_id: int, token_in: str, token_out: str, a_in: int, a_out: int) -> CandidateHop:
        return CandidateHop(
            pool_id=pool_id,
            pool=f"0x{pool_id + 1:040x}",
            is_v3=False,
            zero_for_one=True,
            fee_pips=3000,
            token_in=token_in,
            token_out=token_out,
            amount_in=a_in,
            amount_out=a_out,
        )

    hops = (
        hop(0, WETH, mid_token, amount_in, mid),
        hop(1, mid_token, WETH, mid, amount_in + profit),
    )
    return Candidate(
        cycle_id=cycle_id,
        base_token=WETH,
        hops=hops,
        amount_in=amount_in,
        profit=profit,
        profit_wei=profit,
        gas_units=gas_units,
        gas_price_wei=gas_price_wei,
        tip_wei=tip_wei,
        net_profit_wei=profit - gas_units * gas_price_wei - tip_wei,
        flash=True,
        block_number=target_block - 1,
        block_hash="0x" + "11" * 32,
        target_block=target_block,
    )


LIMITS = RiskLimits(
    min_net_profit_wei=ETH // 100,
    max_input_wei=10 * ETH,
    max_gas_price_wei=100 * GWEI,
    max_gas_units=1_000_000,
    max_tip_share_bps=9_000,
    max_bundles_per_block=2,
    max_loss_per_hour_wei=ETH // 10,
    max_loss_per_day_wei=ETH // 4,
    max_consecutive_failures=3,
    max_token_exposure_wei=15 * ETH,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_gate(tmp_path: Path, clock: Clock, limits: RiskLimits = LIMITS) -> RiskGate:
    return RiskGate(
        limits,
        state_path=tmp_path / "state" / "risk.json",
        kill_switch_path=tmp_path / "KILL",
        clock=clock,
    )


@pytest.fixture
def gate(tmp_path: Path, clock: Clock) -> RiskGate:
    return make_gate(tmp_path, clock)


def snapshot(gate: RiskGate) -> dict[str, Any]:
    return {
        "pnl": gate.pnl_wei,
        "hour": gate.loss_in_window_wei(3600),
        "day": gate.loss_in_window_wei(86400),
        "failures": gate.consecutive_failures,
        "in_flight": gate.in_flight(),
        "weth": gate.exposure_wei(WETH),
        "tka": gate.exposure_wei(TKA),
        "breaker": gate.breaker_tripped,
    }


# -- limits -----------------------------------------------------------------------------------


def test_limits_from_shipped_profile() -> None:
    profile = load_profile(configs_dir() / "local.toml")
    limits = RiskLimits.from_profile(profile)
    assert limits.min_net_profit_wei == profile.strategy.min_profit_wei
    assert limits.max_input_wei == 100 * ETH
    assert limits.max_tip_share_bps == profile.risk.max_tip_share_bps
    assert limits.max_token_exposure_wei == profile.risk.max_token_exposure_wei
    assert limits.max_consecutive_failures == profile.risk.max_consecutive_failures
    as_json = limits.to_json()
    assert as_json["max_input_wei"] == str(100 * ETH)
    assert json.loads(json.dumps(as_json)) == as_json


def test_limits_lowercase_token_lists_and_refuse_nonsense() -> None:
    mixed = "0x" + "Ab" * 20
    limits = dataclasses.replace(LIMITS, token_allow=frozenset({mixed}))
    assert limits.token_allow == frozenset({mixed.lower()})
    with pytest.raises(ValueError, match="not a token address"):
        dataclasses.replace(LIMITS, token_deny=frozenset({"0x12"}))
    with pytest.raises(ValueError, match="max_tip_share_bps"):
        dataclasses.replace(LIMITS, max_tip_share_bps=10_001)


# -- check ------------------------------------------------------------------------------------


def test_approves_within_limits(gate: RiskGate) -> None:
    assert gate.check(make_candidate(), input_value_wei=ETH) == Verdict(True, None, None)


# (limit overrides, candidate overrides, input value, reason, limit text) — each just past the
# limit; the same case just at the limit must be approved (see the next test).
PAST = [
    ({}, {"profit": ETH // 100 + 2 * 10**15 - 1}, ETH, "below_min_profit", "min_net_profit_wei"),
    ({}, {}, 10 * ETH + 1, "over_max_input", f"max_input_wei={10 * ETH}"),
    ({}, {"gas_price_wei": 100 * GWEI + 1}, ETH, "over_max_gas_price", "max_gas_price_wei"),
    ({}, {"gas_units": 1_000_001, "gas_price_wei": 1}, ETH, "over_max_gas_units", "max_gas_units"),
    (
        {"min_net_profit_wei": 0},
        {"tip_wei": 88_200_000_000_000_001},
        ETH,
        "over_max_tip_share",
        "max_tip_share_bps=9000",
    ),
    (
        {"max_loss_per_hour_wei": 2 * 10**15 - 1},
        {},
        ETH,
        "over_loss_per_hour",
        "max_loss_per_hour_wei",
    ),
    ({"max_loss_per_day_wei": 2 * 10**15 - 1}, {}, ETH, "over_loss_per_day", "max_loss_per_day"),
    ({"token_deny": frozenset({TKA})}, {}, ETH, "token_denied", f"token_deny={TKA}"),
    ({"token_allow": frozenset({WETH})}, {}, ETH, "token_not_allowed", TKA),
    ({"max_token_exposure_wei": ETH - 1}, {}, ETH, "over_token_exposure", "token=0x"),
]


@pytest.mark.parametrize(("limits", "cand", "value", "reason", "limit"), PAST)
def test_each_limit_refuses_past_it(
    tmp_path: Path,
    clock: Clock,
    limits: dict[str, Any],
    cand: dict[str, Any],
    value: int,
    reason: str,
    limit: str,
) -> None:
    gate = make_gate(tmp_path, clock, dataclasses.replace(LIMITS, **limits))
    verdict = gate.check(make_candidate(**cand), input_value_wei=value)
    assert verdict.approved is False
    assert verdict.reason == reason
    assert verdict.limit is not None and limit in verdict.limit


AT = [
    ({}, {"profit": ETH // 100 + 2 * 10**15}, ETH),
    ({}, {}, 10 * ETH),
    ({}, {"gas_price_wei": 100 * GWEI}, ETH),
    ({}, {"gas_units": 1_000_000, "gas_price_wei": 1}, ETH),
    # (0.1 ETH profit - 0.002 ETH gas) * 90% = 0.0882 ETH: exactly the largest tip allowed.
    ({"min_net_profit_wei": 0}, {"tip_wei": 88_200_000_000_000_000}, ETH),
    ({"max_loss_per_hour_wei": 2 * 10**15}, {}, ETH),
    ({"max_loss_per_day_wei": 2 * 10**15}, {}, ETH),
    ({"token_deny": frozenset({TKB})}, {}, ETH),
    ({"token_allow": frozenset({WETH, TKA})}, {}, ETH),
    ({"max_token_exposure_wei": ETH}, {}, ETH),
]


@pytest.mark.parametrize(("limits", "cand", "value"), AT)
def test_each_limit_approves_at_it(
    tmp_path: Path, clock: Clock, limits: dict[str, Any], cand: dict[str, Any], value: int
) -> None:
    gate = make_gate(tmp_path, clock, dataclasses.replace(LIMITS, **limits))
    assert gate.check(make_candidate(**cand), input_value_wei=value).approved


def test_tip_with_no_margin_after_gas_is_refused(tmp_path: Path, clock: Clock) -> None:
    # Gas eats the whole profit: any tip would be paid out of the bot's own funds. (The
    # minimum profit is lowered so the tip check is the one that speaks.)
    gate = make_gate(tmp_path, clock, dataclasses.replace(LIMITS, min_net_profit_wei=-ETH))
    cand = make_candidate(profit=2 * 10**15, gas_units=200_000, gas_price_wei=10 * GWEI, tip_wei=1)
    assert gate.check(cand, input_value_wei=ETH).reason == "over_max_tip_share"


def test_check_changes_nothing(gate: RiskGate) -> None:
    before = snapshot(gate)
    for _ in range(10):
        gate.check(make_candidate(), input_value_wei=ETH)
        gate.check(make_candidate(gas_price_wei=10**15), input_value_wei=ETH)
    assert snapshot(gate) == before
    assert gate.bundles_for_block(101) == 0
    assert not gate.state_path.exists()
    assert sum(gate.verdict_counts.values()) == 0


def test_every_reason_is_listed() -> None:
    reasons = {case[3] for case in PAST} | {"kill_switch", "breaker_tripped"}
    assert reasons | {"over_bundles_per_block"} == set(REASONS)


# -- admit ------------------------------------------------------------------------------------


def test_admit_reserves_block_slots_and_counts_verdicts(gate: RiskGate) -> None:
    assert gate.admit(make_candidate(), "a", input_value_wei=ETH).approved
    assert gate.admit(make_candidate(cycle_id=2), "b", input_value_wei=ETH).approved
    third = gate.admit(make_candidate(cycle_id=3), "c", input_value_wei=ETH)
    assert third.reason == "over_bundles_per_block"
    assert third.limit == "max_bundles_per_block=2"
    assert gate.admit(make_candidate(target_block=102), "d", input_value_wei=ETH).approved
    assert gate.bundles_for_block(101) == 2 and gate.bundles_for_block(102) == 1
    assert gate.in_flight() == ("a", "b", "d")
    assert gate.verdict_counts == {"approved": 3, "over_bundles_per_block": 1}
    with pytest.raises(ValueError, match="already admitted"):
        gate.admit(make_candidate(target_block=103), "a", input_value_wei=ETH)


def test_exposure_is_per_token_and_released_on_settle(gate: RiskGate) -> None:
    assert gate.admit(make_candidate(), "a", input_value_wei=8 * ETH).approved
    assert gate.exposure_wei(TKA) == gate.exposure_wei(WETH) == 8 * ETH
    assert gate.exposure_wei(TKB) == 0
    # 8 + 8 > 15 on WETH, which every cycle routes through.
    cand_b = make_candidate(mid_token=TKB, target_block=102)
    refused = gate.check(cand_b, input_value_wei=8 * ETH)
    assert refused.reason == "over_token_exposure" and WETH in (refused.limit or "")
    assert gate.check(cand_b, input_value_wei=7 * ETH).approved
    gate.settle("a", outcome="expired", loss_wei=0, pnl_wei=0, at_block=101)
    assert gate.exposure_wei(WETH) == 0
    assert gate.check(cand_b, input_value_wei=8 * ETH).approved


def test_in_flight_worst_case_counts_against_the_loss_budget(tmp_path: Path, clock: Clock) -> None:
    # Each attempt can lose 0.002 ETH of gas; a budget of 0.005 ETH admits two, not three.
    gate = make_gate(tmp_path, clock, dataclasses.replace(LIMITS, max_loss_per_hour_wei=5 * 10**15))
    assert gate.admit(make_candidate(target_block=1), "a", input_value_wei=ETH).approved
    assert gate.admit(make_candidate(target_block=2), "b", input_value_wei=ETH).approved
    third = gate.admit(make_candidate(target_block=3), "c", input_value_wei=ETH)
    assert third.reason == "over_loss_per_hour"
    gate.settle("a", outcome="included", loss_wei=0, pnl_wei=ETH // 10, at_block=1)
    assert gate.admit(make_candidate(target_block=3), "c", input_value_wei=ETH).approved


# -- settle, windows, breaker -----------------------------------------------------------------


def test_losses_roll_out_of_the_hour_then_the_day(tmp_path: Path, clock: Clock) -> None:
    limits = dataclasses.replace(
        LIMITS, max_loss_per_hour_wei=ETH // 10, max_loss_per_day_wei=3 * ETH // 20
    )
    gate = make_gate(tmp_path, clock, limits)
    for i, loss in enumerate((ETH // 20, ETH // 20)):
        gate.admit(make_candidate(target_block=10 + i), f"i{i}", input_value_wei=ETH)
        gate.settle(f"i{i}", outcome="included", loss_wei=loss, pnl_wei=-loss, at_block=10 + i)
    assert not gate.breaker_tripped  # 0.1 ETH is at the hour limit, not over it
    assert gate.check(make_candidate(), input_value_wei=ETH).reason == "over_loss_per_hour"
    clock.now += 3_601
    assert gate.loss_in_window_wei(3600) == 0
    assert gate.loss_in_window_wei(86400) == ETH // 10
    assert gate.check(make_candidate(), input_value_wei=ETH).approved
    gate.admit(make_candidate(target_block=20), "i2", input_value_wei=ETH)
    gate.settle("i2", outcome="included", loss_wei=ETH // 20, pnl_wei=0, at_block=20)
    assert not gate.breaker_tripped  # 0.15 ETH is at the day limit, not over it
    assert gate.check(make_candidate(), input_value_wei=ETH).reason == "over_loss_per_day"
    clock.now += 86_400
    assert gate.check(make_candidate(), input_value_wei=ETH).approved
    assert gate.pnl_wei == -(ETH // 10)


def test_breaker_trips_on_consecutive_failures_and_survives_restart(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    gate = make_gate(tmp_path, clock)
    outcomes = [
        "failed",
        "reverted",
        "cancelled",
        "included",
        "expired",
        "failed",
        "failed",
        "cancelled",
    ]
    for block, outcome in enumerate(outcomes, start=1):
        gate.admit(make_candidate(target_block=block), f"i{block}", input_value_wei=ETH)
        gate.settle(f"i{block}", outcome=outcome, loss_wei=0, pnl_wei=0, at_block=block)
    # included reset it; expired (nothing lost) and cancelled do not count
    assert gate.consecutive_failures == 2
    assert not gate.breaker_tripped
    gate.admit(make_candidate(target_block=9), "i9", input_value_wei=ETH)
    gate.settle("i9", outcome="reverted", loss_wei=0, pnl_wei=0, at_block=9)
    assert gate.breaker_tripped
    assert gate.breaker_reason == "consecutive_failures=3"

    restarted = make_gate(tmp_path, clock)
    verdict = restarted.check(make_candidate(target_block=10), input_value_wei=ETH)
    assert verdict == Verdict(False, "breaker_tripped", "breaker=consecutive_failures=3")
    with pytest.raises(ValueError, match="operator"):
        restarted.reset_breaker("  ")
    with caplog.at_level(logging.WARNING, logger="bot.risk"):
        restarted.reset_breaker("alice")
    assert "reset by alice" in caplog.text
    assert restarted.consecutive_failures == 0
    assert restarted.check(make_candidate(target_block=10), input_value_wei=ETH).approved
    assert json.loads(restarted.state_path.read_text())["last_reset"]["operator"] == "alice"
    assert not make_gate(tmp_path, clock).breaker_tripped


def test_breaker_trips_on_hour_loss_and_stays_after_the_window(
    tmp_path: Path, clock: Clock
) -> None:
    gate = make_gate(tmp_path, clock)
    gate.admit(make_candidate(), "a", input_value_wei=ETH)
    gate.settle("a", outcome="included", loss_wei=ETH // 10 + 1, pnl_wei=0, at_block=101)
    assert gate.breaker_reason == f"loss_per_hour_wei={ETH // 10 + 1}"
    clock.now += 2 * 86_400
    assert gate.check(make_candidate(target_block=500), input_value_wei=ETH).reason == (
        "breaker_tripped"
    )


def test_settle_refuses_unknown_intents_and_outcomes(gate: RiskGate) -> None:
    with pytest.raises(ValueError, match="not in flight"):
        gate.settle("nope", outcome="included", loss_wei=0, pnl_wei=0, at_block=1)
    gate.admit(make_candidate(), "a", input_value_wei=ETH)
    with pytest.raises(ValueError, match="unknown outcome"):
        gate.settle("a", outcome="landed", loss_wei=0, pnl_wei=0, at_block=1)
    with pytest.raises(ValueError, match="negative"):
        gate.settle("a", outcome="failed", loss_wei=-1, pnl_wei=0, at_block=1)
    gate.settle("a", outcome="failed", loss_wei=0, pnl_wei=0, at_block=1)
    with pytest.raises(ValueError, match="not in flight"):
        gate.settle("a", outcome="failed", loss_wei=0, pnl_wei=0, at_block=1)


# -- rollback ---------------------------------------------------------------------------------


def test_rollback_undoes_a_settlement_exactly(gate: RiskGate) -> None:
    for block, outcome in ((1, "failed"), (2, "reverted")):
        gate.admit(make_candidate(target_block=block), f"f{block}", input_value_wei=ETH)
        gate.settle(
            f"f{block}", outcome=outcome, loss_wei=10**15, pnl_wei=-(10**15), at_block=block
        )
    gate.admit(make_candidate(target_block=3), "win", input_value_wei=3 * ETH)
    before = snapshot(gate)
    assert before["failures"] == 2 and before["tka"] == 3 * ETH
    gate.settle("win", outcome="included", loss_wei=7, pnl_wei=ETH // 20, at_block=3)
    assert gate.consecutive_failures == 0 and gate.exposure_wei(TKA) == 0
    gate.rollback("win")
    assert snapshot(gate) == before
    with pytest.raises(ValueError, match="no settlement"):
        gate.rollback("win")
    # Back in flight: it can land again on the new chain.
    gate.settle("win", outcome="included", loss_wei=0, pnl_wei=ETH // 20, at_block=4)
    assert gate.pnl_wei == ETH // 20 - 2 * 10**15


def test_rollback_of_a_landed_revert_restores_counts(gate: RiskGate) -> None:
    gate.admit(make_candidate(target_block=1), "r", input_value_wei=ETH)
    gate.settle("r", outcome="reverted", loss_wei=5, pnl_wei=-5, at_block=1)
    gate.admit(make_candidate(target_block=2), "x", input_value_wei=ETH)
    gate.settle("x", outcome="expired", loss_wei=0, pnl_wei=0, at_block=2)
    with pytest.raises(ValueError, match="did not land"):
        gate.rollback("x")
    gate.rollback("r")
    assert gate.consecutive_failures == 0  # the expired one never counted
    assert gate.pnl_wei == 0 and gate.loss_in_window_wei(3600) == 0
    assert gate.in_flight() == ("r",)


def test_rollback_that_restores_failures_trips_the_breaker(gate: RiskGate) -> None:
    for block, outcome in enumerate(("failed", "failed", "included", "failed"), start=1):
        gate.admit(make_candidate(target_block=block), f"i{block}", input_value_wei=ETH)
        gate.settle(f"i{block}", outcome=outcome, loss_wei=0, pnl_wei=0, at_block=block)
    assert not gate.breaker_tripped
    gate.rollback("i3")
    assert gate.consecutive_failures == 3
    assert gate.breaker_tripped


# -- persistence and tokens -------------------------------------------------------------------


def test_state_survives_restart(tmp_path: Path, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    gate.admit(make_candidate(), "a", input_value_wei=2 * ETH)
    gate.admit(make_candidate(target_block=102), "b", input_value_wei=ETH)
    gate.settle("b", outcome="included", loss_wei=3, pnl_wei=10**20, at_block=102)
    gate.deny_token(TKB.upper().replace("0X", "0x"), "delivered 99 of 100 sent")
    saved = snapshot(gate)
    leftovers = sorted(p.name for p in gate.state_path.parent.iterdir())
    assert leftovers == ["risk.json"]  # the temporary file was renamed over it

    restarted = make_gate(tmp_path, clock)
    assert snapshot(restarted) == saved
    assert restarted.pnl_wei == 10**20
    assert restarted.denied_tokens == {TKB: "delivered 99 of 100 sent"}
    assert restarted.bundles_for_block(101) == 1
    verdict = restarted.check(make_candidate(mid_token=TKB, target_block=200), input_value_wei=1)
    assert verdict == Verdict(False, "token_denied", f"token_deny={TKB}")


def test_broken_state_file_refuses_to_start(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state" / "risk.json"
    path.parent.mkdir()
    path.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="not a version 1 risk state"):
        make_gate(tmp_path, clock)
    path.write_text("{")
    with pytest.raises(json.JSONDecodeError):
        make_gate(tmp_path, clock)


# -- kill switch ------------------------------------------------------------------------------


def _wait_until(predicate: Any, deadline_s: float = 5.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_kill_switch_file_stops_sends_within_a_second(gate: RiskGate) -> None:
    cand = make_candidate()
    assert gate.check(cand, input_value_wei=ETH).approved  # the file was looked at: absent
    started = threading.Event()

    def operator() -> None:
        started.set()
        gate.kill_switch_path.write_text("stop\n")

    thread = threading.Thread(target=operator)
    thread.start()
    started.wait()
    t0 = time.monotonic()
    while gate.check(cand, input_value_wei=ETH).approved:
        assert time.monotonic() - t0 < 5.0, "kill switch never seen"
    latency_s = time.monotonic() - t0
    thread.join()
    assert latency_s < 1.0
    verdict = gate.admit(cand, "a", input_value_wei=ETH)
    assert verdict.reason == "kill_switch" and str(gate.kill_switch_path) in (verdict.limit or "")
    assert gate.in_flight() == ()
    gate.kill_switch_path.unlink()  # the operator clears it
    assert _wait_until(lambda: gate.check(cand, input_value_wei=ETH).approved)


def test_sigusr1_sets_the_kill_switch_and_it_survives_restart(tmp_path: Path, clock: Clock) -> None:
    gate = make_gate(tmp_path, clock)
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        gate.install_signal_handler()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert _wait_until(gate.kill_switch_path.exists)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert gate.check(make_candidate(), input_value_wei=ETH).reason == "kill_switch"
    assert "SIGUSR1" in gate.kill_switch_path.read_text()
    restarted = make_gate(tmp_path, clock)
    assert restarted.check(make_candidate(), input_value_wei=ETH).reason == "kill_switch"
    gate.kill_switch_path.unlink()
    assert _wait_until(lambda: restarted.check(make_candidate(), input_value_wei=ETH).approved)
    assert _wait_until(lambda: gate.check(make_candidate(), input_value_wei=ETH).approved)


def test_kill_switch_comes_before_every_other_reason(gate: RiskGate) -> None:
    gate.trigger_kill_switch("test")
    worst = make_candidate(gas_price_wei=10**15, tip_wei=ETH)
    assert gate.check(worst, input_value_wei=10**30).reason == "kill_switch"


def test_a_gate_that_is_not_durable_decides_the_same_and_writes_nothing(
    tmp_path: Path, clock: Clock
) -> None:
    durable = make_gate(tmp_path / "a", clock)
    memory = RiskGate(
        LIMITS,
        state_path=tmp_path / "b" / "risk.json",
        kill_switch_path=tmp_path / "b" / "KILL",
        clock=clock,
        durable=False,
    )
    for gate_ in (durable, memory):
        for i in range(3):
            candidate = make_candidate(target_block=100 + i)
            verdict = gate_.admit(candidate, f"i{i}", input_value_wei=ETH)
            assert verdict.approved
            gate_.settle(
                f"i{i}", outcome="reverted", loss_wei=10**15, pnl_wei=-(10**15), at_block=1
            )
    assert snapshot(durable) == snapshot(memory)
    assert durable.state_path.exists() and not memory.state_path.exists()
