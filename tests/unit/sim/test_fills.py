"""sim.fills: hop amounts against amm_math directly, gas and tip arithmetic in ints, drops."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from types import SimpleNamespace

import pytest

from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v3.pool import swap as v3_swap
from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick
from graph.actions import Candidate, CandidateHop
from graph.state import PoolTable
from graph.state_v3 import in_range_state
from sim.fills import fill

WETH = "0x" + "c0" * 20
USDC = "0x" + "a0" * 20
PAIR = "0x" + "11" * 20
POOL = "0x" + "22" * 20
E18 = 10**18
RESERVES = (2_000 * E18, 1_000 * E18)  # token0 = USDC, token1 = WETH
LIQUIDITY = 10**24


def _v3_state() -> V3PoolState:
    # WETH is token1 in both pools: 0.5066 WETH per USDC here, 0.5 in the pair; the price
    # sits mid-way in its tick-spacing interval [-6800, -6790]
    tick = -6_795
    return V3PoolState(
        sqrt_price_x96=get_sqrt_ratio_at_tick(tick),
        tick=tick,
        liquidity=LIQUIDITY,
        fee_pips=500,
        tick_spacing=10,
        ticks={-887_270: LIQUIDITY, 887_270: -LIQUIDITY},
        liquidity_gross={-887_270: LIQUIDITY, 887_270: LIQUIDITY},
    )


def _table(v3: V3PoolState | None = None, reserves: tuple[int, int] = RESERVES) -> PoolTable:
    table = PoolTable([(0, PAIR, "v2", 3000, 0), (1, POOL, "v3", 500, 10)])
    table.load_snapshot(
        SimpleNamespace(
            block_number=100,
            block_hash="0x" + "ab" * 32,
            pools=((0, PAIR, "v2", 3000, 0), (1, POOL, "v3", 500, 10)),
            reserves={0: reserves},
            v3_states={1: v3 if v3 is not None else _v3_state()},
        )
    )
    return table


def _candidate(amount_in: int, *, state: V3PoolState | None = None, tip_wei: int = 0) -> Candidate:
    """Sell WETH into the V2 pair for USDC, then USDC into the V3 pool for WETH."""
    usdc_out = get_amount_out(amount_in, RESERVES[1], RESERVES[0], 3000)
    result = v3_swap(state or _v3_state(), True, usdc_out)
    weth_out = -result.amount1
    hops = (
        CandidateHop(
            pool_id=0,
            pool=PAIR,
            is_v3=False,
            zero_for_one=False,
            fee_pips=3000,
            token_in=WETH,
            token_out=USDC,
            amount_in=amount_in,
            amount_out=usdc_out,
        ),
        CandidateHop(
            pool_id=1,
            pool=POOL,
            is_v3=True,
            zero_for_one=True,
            fee_pips=500,
            token_in=USDC,
            token_out=WETH,
            amount_in=usdc_out,
            amount_out=weth_out,
        ),
    )
    profit = weth_out - amount_in
    gas_units, gas_price = 200_000, 21 * 10**9
    return Candidate(
        cycle_id=7,
        base_token=WETH,
        hops=hops,
        amount_in=amount_in,
        profit=profit,
        profit_wei=profit,
        gas_units=gas_units,
        gas_price_wei=gas_price,
        tip_wei=tip_wei,
        net_profit_wei=profit - gas_units * gas_price - tip_wei,
        flash=True,
        block_number=100,
        block_hash="0x" + "ab" * 32,
        target_block=101,
    )


def test_fill_equals_amm_math_hop_by_hop_and_the_prediction() -> None:
    candidate = _candidate(E18 // 10, tip_wei=12_345)
    assert candidate.profit > 0
    filled = fill(candidate, _table(), 20 * 10**9, priority_fee_wei=10**9)
    usdc = get_amount_out(E18 // 10, RESERVES[1], RESERVES[0], 3000)
    weth = -v3_swap(_v3_state(), True, usdc).amount1
    assert filled.amounts == (E18 // 10, usdc, weth)
    assert filled.outcome == "included" and filled.reason is None
    assert filled.matches_candidate
    assert filled.profit == weth - E18 // 10 == candidate.profit


def test_gas_tip_and_net_are_exact_ints() -> None:
    candidate = _candidate(E18 // 10, tip_wei=777)
    filled = fill(candidate, _table(), 13 * 10**9 + 1, priority_fee_wei=2 * 10**9 + 3)
    assert filled.gas_units == 200_000
    assert filled.gas_price_wei == 15 * 10**9 + 4
    assert filled.gas_cost_wei == 200_000 * (15 * 10**9 + 4)
    assert filled.tip_wei == 777
    assert filled.net_wei == filled.profit_wei - filled.gas_cost_wei - 777
    for value in (filled.net_wei, filled.gas_cost_wei, filled.profit_wei, *filled.amounts):
        assert type(value) is int


def test_a_moved_pool_fills_at_its_new_state_and_says_so() -> None:
    candidate = _candidate(E18 // 10)
    moved = (RESERVES[0] + 10**21, RESERVES[1])
    filled = fill(candidate, _table(reserves=moved), 0, priority_fee_wei=0)
    usdc = get_amount_out(E18 // 10, moved[1], moved[0], 3000)
    assert filled.amounts[1] == usdc != candidate.hops[0].amount_out
    assert not filled.matches_candidate


def test_base_token_value_converts_profit_to_wei() -> None:
    candidate = _candidate(E18 // 10)
    filled = fill(candidate, _table(), 0, priority_fee_wei=0, wei_per_unit=Fraction(3, 7))
    assert filled.profit_wei == filled.profit * 3 // 7


def test_profit_below_the_tip_drops_the_bundle_at_no_cost() -> None:
    candidate = _candidate(E18 // 10)
    greedy = dataclasses.replace(
        candidate,
        tip_wei=candidate.profit_wei + 1,
        net_profit_wei=-candidate.gas_cost_wei - 1,
    )
    filled = fill(greedy, _table(), 10**9, priority_fee_wei=0)
    assert filled.outcome == "dropped" and filled.reason == "below_tip"
    assert filled.net_wei == filled.gas_cost_wei == filled.tip_wei == 0


def test_a_pool_without_state_drops() -> None:
    table = PoolTable([(0, PAIR, "v2", 3000, 0), (1, POOL, "v3", 500, 10)])
    filled = fill(_candidate(E18 // 10), table, 0, priority_fee_wei=0)
    assert filled.outcome == "dropped" and filled.reason == "no_state"


def test_an_in_range_only_pool_fills_inside_its_interval_and_drops_beyond() -> None:
    full = _v3_state()
    bounded = in_range_state(
        sqrt_price_x96=full.sqrt_price_x96,
        tick=full.tick,
        liquidity=full.liquidity,
        fee_pips=500,
        tick_spacing=10,
    )
    small = _candidate(10**15, state=bounded)
    assert fill(small, _table(v3=bounded), 0, priority_fee_wei=0).matches_candidate
    assert fill(small, _table(v3=full), 0, priority_fee_wei=0).matches_candidate
    large = _candidate(500 * E18)
    filled = fill(large, _table(v3=bounded), 0, priority_fee_wei=0)
    assert filled.outcome == "dropped" and filled.reason == "short"


def test_negative_fees_are_refused() -> None:
    with pytest.raises(ValueError):
        fill(_candidate(E18 // 10), _table(), -1, priority_fee_wei=0)
