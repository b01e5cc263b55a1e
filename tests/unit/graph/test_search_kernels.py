"""The screen's kernels: range capacity against amm_math, records against the columns."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.sqrt_price_math import get_amount0_delta, get_amount1_delta
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick, get_tick_at_sqrt_ratio
from amm_math.uniswap_v3.ticks_csr import csr_of
from graph.cycles import CycleSet
from graph.search import CycleSearch, SearchParams
from graph.search_kernels import MAX_HOPS, pack_hops, sort_by_mark, v3_range_capacity
from tests.unit.graph.random_graphs import (
    chain_f,
    cycle_ids,
    optimum_f,
    random_edges,
    random_table,
)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GAS = SearchParams(
    gas_coeffs=np.array([21_000.0, 60_000.0, 95_000.0, 22_000.0, 4_000.0]),
    gas_price_wei=10**9,
    tip_share_bps=5_000,
)


def make_cycles(edges, n_tokens: int, bases) -> CycleSet:
    t0 = np.array([a for _, a, _ in edges], dtype=np.int64)
    t1 = np.array([b for _, _, b in edges], dtype=np.int64)
    return CycleSet(t0, t1, n_tokens, bases, max_hops=3)


@SETTINGS
@given(
    st.integers(-50_000, 50_000),
    st.integers(10**6, 10**24),
    st.lists(st.integers(1, 400), min_size=1, max_size=4),
    st.floats(0.0, 0.999),
)
def test_range_capacity_is_the_exact_amount_to_the_next_tick(
    tick: int, liquidity: int, widths: list[int], where: float
) -> None:
    spacing = 10
    lower = (tick // spacing) * spacing
    ticks: dict[int, int] = {}
    for k, width in enumerate(widths):
        ticks[lower - width * spacing * (k + 1)] = 1
        ticks[lower + spacing + width * spacing * (k + 1)] = -1
    low_sqrt = get_sqrt_ratio_at_tick(tick)
    high_sqrt = get_sqrt_ratio_at_tick(tick + 1)
    sqrt_price_x96 = low_sqrt + int((high_sqrt - low_sqrt) * where)
    state = V3PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=get_tick_at_sqrt_ratio(sqrt_price_x96),
        liquidity=liquidity,
        fee_pips=3000,
        tick_spacing=spacing,
        ticks=ticks,
        liquidity_gross={t: 1 for t in ticks},
    )
    csr = csr_of(state)
    args = (
        float(csr.sqrt_price[0]),
        float(liquidity),
        state.tick,
        csr.ticks,
        csr.sqrt_price_at_tick,
        0,
        csr.ticks.shape[0],
    )
    below = max(t for t in ticks if t <= state.tick)
    above = min(t for t in ticks if t > state.tick)
    exact_down = get_amount0_delta(get_sqrt_ratio_at_tick(below), sqrt_price_x96, liquidity, True)
    exact_up = get_amount1_delta(sqrt_price_x96, get_sqrt_ratio_at_tick(above), liquidity, True)
    # floats carry a few ulps of each price; the exact amounts round up by at most a unit
    for zfo, exact in ((True, exact_down), (False, exact_up)):
        capacity = v3_range_capacity(*args, zfo)
        assert capacity == pytest.approx(float(exact), rel=1e-9, abs=2.0)


def test_range_capacity_without_a_tick_that_way_is_negative() -> None:
    state = V3PoolState(
        sqrt_price_x96=get_sqrt_ratio_at_tick(5),
        tick=5,
        liquidity=10**18,
        fee_pips=500,
        tick_spacing=10,
        ticks={0: 10**18},
        liquidity_gross={0: 10**18},
    )
    csr = csr_of(state)
    args = (float(csr.sqrt_price[0]), 1e18, 5, csr.ticks, csr.sqrt_price_at_tick, 0, 1)
    assert v3_range_capacity(*args, False) == -1.0
    assert v3_range_capacity(*args, True) > 0.0
    # no liquidity in range: nothing to move
    assert v3_range_capacity(args[0], 0.0, *args[2:], True) == -1.0


@st.composite
def ticked_markets(draw):
    n_tokens = draw(st.integers(3, 8))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    edges = random_edges(rng, n_tokens, draw(st.integers(3, 3 * n_tokens)), core=n_tokens)
    noise = draw(st.sampled_from([0.001, 0.01, 0.05, 0.3]))
    table = random_table(rng, edges, n_tokens=n_tokens, v3_share=0.6, ticked=True, noise=noise)
    return table, make_cycles(edges, n_tokens, [0, 1])


@SETTINGS
@given(ticked_markets())
def test_evaluate_matches_cycle_optimum_on_every_cycle(market) -> None:
    """The record-reading kernel decides and prices every cycle as the column-reading one."""
    table, cycles = market
    search = CycleSearch(cycles)
    values = {b: Fraction(1) for b in cycles.base_tokens}
    evaluation = search.evaluate(table, cycle_ids(cycles), values, GAS)
    for i, c in enumerate(evaluation.cycle_ids):
        amount_in, profit, ticks = optimum_f(cycles, table, int(c))
        if not profit > 0:  # the evaluation zeroes a cycle without gross profit
            assert evaluation.amount_in_f[i] == 0 and evaluation.net_wei_f[i] == -np.inf
            continue
        assert evaluation.amount_in_f[i] == amount_in
        assert evaluation.profit_f[i] == profit
        assert evaluation.ticks_crossed[i] == ticks
    # a subset (records filled pool by pool) gives the same rows as the full run
    subset = cycle_ids(cycles)[::3]
    partial = search.evaluate(table, subset, values, GAS)
    assert np.array_equal(partial.net_wei_f, evaluation.net_wei_f[::3])
    assert np.array_equal(partial.amount_in_f, evaluation.amount_in_f[::3])


def test_crossing_optimum_beats_inputs_around_it() -> None:
    """Where the optimum crosses ticks, nearby inputs do not pay more (the profit is concave)."""
    rng = random.Random(5)
    checked = 0
    for _ in range(40):
        edges = random_edges(rng, 4, 8, core=4)
        table = random_table(rng, edges, n_tokens=4, v3_share=1.0, ticked=True, noise=0.3)
        cycles = make_cycles(edges, 4, [0])
        for c in range(cycles.n_cycles):
            amount_in, profit, ticks = optimum_f(cycles, table, c)
            if ticks == 0:
                continue
            checked += 1
            assert profit == pytest.approx(chain_f(cycles, table, c, amount_in) - amount_in)
            for factor in (0.5, 0.9, 0.999, 1.001, 1.1, 2.0):
                x = amount_in * factor
                assert chain_f(cycles, table, c, x) - x <= profit + 1e-9 * abs(profit) + 1e-6
        if checked >= 10:
            break
    assert checked >= 10


def test_pack_hops_codes_pool_and_direction() -> None:
    pools = np.array([[3, 7, 1, -1], [2, 5, -1, -1]], dtype=np.int64)
    zfo = np.array([[True, False, True, False], [False, True, False, False]])
    length = np.array([3, 2], dtype=np.int64)
    out = np.zeros((2, MAX_HOPS), dtype=np.int32)
    pack_hops(pools, zfo, length, 0, 2, out)
    assert out.tolist() == [[7, 14, 3, -1], [4, 11, -1, -1]]


@pytest.mark.parametrize("size", [0, 1, 3_000, 10_000])
def test_sort_by_mark_sorts_and_clears(size: int) -> None:
    rng = np.random.default_rng(size)
    ids = rng.choice(10_000, size=size, replace=False).astype(np.int64)
    bits = np.zeros(10_000 // 64 + 1, dtype=np.uint64)
    assert np.array_equal(sort_by_mark(ids, bits), np.sort(ids))
    assert not bits.any()
    # the highest bit of a word and id 0
    edge = np.array([127, 0, 63, 64], dtype=np.int64)
    assert sort_by_mark(edge, bits).tolist() == [0, 63, 64, 127]


def test_search_keeps_up_with_a_growing_cycle_set() -> None:
    """Cycles and pools added after the search was made are packed and evaluated."""
    cycles = CycleSet(np.array([0, 1]), np.array([1, 2]), 3, [0], max_hops=3)
    search = CycleSearch(cycles)
    rng = random.Random(1)
    edges = [(0, 0, 1), (1, 1, 2), (2, 0, 2), (3, 0, 1)]
    table = random_table(rng, edges, n_tokens=3, noise=0.05)
    assert cycles.n_cycles == 0
    cycles.add_pool(2, 0, 2)
    cycles.add_pool(3, 0, 1)
    values = {0: Fraction(1)}
    grown = search.evaluate(table, cycle_ids(cycles), values, GAS)
    fresh = CycleSearch(cycles).evaluate(table, cycle_ids(cycles), values, GAS)
    assert len(grown) == cycles.n_cycles > 0
    assert np.array_equal(grown.net_wei_f, fresh.net_wei_f)
    with pytest.raises(IndexError):
        search.evaluate(table, np.array([cycles.n_cycles]), values, GAS)
