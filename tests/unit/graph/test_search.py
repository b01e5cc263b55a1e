"""The float screen: profitable set, negative cycles and optimal inputs against references."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.cycles import CycleSet
from graph.search import CycleSearch, SearchParams
from graph.state import PoolTable
from tests.unit.graph.random_graphs import (
    chain_f,
    cycle_ids,
    cycle_rate,
    marginal_rate,
    optimum_f,
    random_edges,
    random_table,
)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZERO_GAS = SearchParams(gas_coeffs=np.zeros(5), gas_price_wei=0, tip_share_bps=0)
TIE = 1e-9  # relative distance of a cycle's rate from 1 that floats may decide either way


def make_cycles(edges, n_tokens: int, bases, max_hops: int = 3) -> CycleSet:
    t0 = np.array([a for _, a, _ in edges], dtype=np.int64)
    t1 = np.array([b for _, _, b in edges], dtype=np.int64)
    return CycleSet(t0, t1, n_tokens, bases, max_hops=max_hops)


@st.composite
def markets(draw, v3_share: float = 0.3, ticked: bool = False, max_tokens: int = 30):
    """Draw (table, cycles): a random graph with states near shared prices."""
    n_tokens = draw(st.integers(2, max_tokens))
    n_pools = draw(st.integers(1, 3 * n_tokens))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    edges = random_edges(rng, n_tokens, n_pools, core=max(3, n_tokens // 2))
    noise = draw(st.sampled_from([0.001, 0.01, 0.05, 0.3]))
    table = random_table(
        rng, edges, n_tokens=n_tokens, v3_share=v3_share, ticked=ticked, noise=noise
    )
    bases = draw(st.lists(st.integers(0, n_tokens - 1), min_size=1, max_size=3))
    return table, make_cycles(edges, n_tokens, bases)


@SETTINGS
@given(markets())
def test_profitable_set_equals_marginal_rate_product(market) -> None:
    table, cycles = market
    search = CycleSearch(cycles)
    evaluation = search.evaluate(
        table, cycle_ids(cycles), {b: Fraction(1) for b in cycles.base_tokens}, ZERO_GAS
    )
    marked = {
        int(c) for c, p in zip(evaluation.cycle_ids, evaluation.profit_f, strict=True) if p > 0
    }
    assert evaluation.profitable == len(marked)
    for c in range(cycles.n_cycles):
        rate = cycle_rate(table, cycles.cycle(c))
        if abs(rate - 1) <= TIE or dust_trade(table, cycles.cycle(c)):
            continue
        assert (c in marked) == (rate > 1), (c, float(rate), cycles.cycle(c))
    # zero gas and no tip: the net equals the gross profit of a WETH-valued base
    for i in range(len(evaluation)):
        if evaluation.profit_f[i] > 0:
            assert evaluation.net_wei_f[i] == pytest.approx(evaluation.profit_f[i], rel=1e-12)
            assert evaluation.amount_in_f[i] > 0
        else:
            assert evaluation.net_wei_f[i] == -np.inf and evaluation.amount_in_f[i] == 0


def dust_trade(table: PoolTable, hops) -> bool:
    """Say if the cycle's closed-form optimum moves under 10 raw units at some hop.

    Such a trade cannot happen in integers, and the float swap ignores amounts under one
    unit, so the screen may call it unprofitable whatever the marginal rates say.
    """
    maps = []
    for pool, zfo in hops:
        row = table.row(pool)
        g = (1_000_000 - row.spec.fee_pips) / 1_000_000
        if row.reserves is not None:
            r_in, r_out = row.reserves if zfo else row.reserves[::-1]
        else:
            s = row.v3.sqrt_price_x96 / 2**96
            liq = float(row.v3.liquidity)
            r_in, r_out = (liq / s, liq * s) if zfo else (liq * s, liq / s)
        maps.append((g * r_out, float(r_in), g))
    p_acc, q_acc, r_acc = 1.0, 1.0, 0.0
    for p, q, r in maps:
        p_acc, q_acc, r_acc = p_acc * p, q_acc * q, q * r_acc + r * p_acc
    if p_acc <= q_acc:
        return False
    amount = math.sqrt(q_acc) * (math.sqrt(p_acc) - math.sqrt(q_acc)) / r_acc
    for p, q, r in maps:
        if amount < 10:
            return True
        amount = p * amount / (q + r * amount)
    return amount < 10


def best_log_gain_sign(table: PoolTable, cycles: CycleSet) -> int | None:
    """Return networkx's verdict: 1 a negative cycle of -log rates, 0 none, None a near tie.

    Shifting every weight by +-TIE separates loops whose log gain is clearly positive from
    ones clearly negative; a loop within TIE per hop of 0 makes the example a tie.
    """
    verdicts = []
    for shift in (TIE, -TIE):
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(range(cycles.n_tokens))
        for pool in range(cycles.n_pools):
            a, b = int(cycles.pool_token0[pool]), int(cycles.pool_token1[pool])
            if a < 0:
                continue
            for zfo, u, v in ((True, a, b), (False, b, a)):
                weight = -math.log(marginal_rate(table, pool, zfo)) + shift
                graph.add_edge(u, v, weight=weight)
        verdicts.append(nx.negative_edge_cycle(graph, weight="weight"))
    clearly, maybe = verdicts
    if clearly:
        return 1
    if not maybe:
        return 0
    return None


def assert_loop(cycles: CycleSet, hops) -> int:
    """Check hops chain into a loop of distinct pools and tokens; return its start token."""
    t0, t1 = cycles.pool_token0, cycles.pool_token1
    start = int(t0[hops[0][0]] if hops[0][1] else t1[hops[0][0]])
    token = start
    seen = []
    for pool, zfo in hops:
        assert token == (t0[pool] if zfo else t1[pool])
        seen.append(token)
        token = int(t1[pool] if zfo else t0[pool])
    assert token == start
    assert len(set(seen)) == len(seen)
    assert len({p for p, _ in hops}) == len(hops)
    return start


@SETTINGS
@given(markets(max_tokens=20))
def test_full_pass_agrees_with_networkx_negative_edge_cycle(market) -> None:
    table, cycles = market
    verdict = best_log_gain_sign(table, cycles)
    assume(verdict is not None)
    found = CycleSearch(cycles).full_pass(table)
    assert bool(found) == bool(verdict)
    for negative in found:
        assert_loop(cycles, negative.hops)
        rate = cycle_rate(table, negative.hops)
        assert rate > 1
        assert negative.log_gain == pytest.approx(math.log(rate), rel=1e-9, abs=1e-12)
    assert len({n.hops for n in found}) == len(found)
    # a gain threshold keeps only loops above it
    for negative in CycleSearch(cycles).full_pass(table, min_log_gain=0.01, max_cycles=3):
        assert negative.log_gain > 0.01
    assert len(CycleSearch(cycles).full_pass(table, max_cycles=1)) <= 1


def grid_best_profit(cycles: CycleSet, table: PoolTable, c: int, upper: float) -> float:
    """Return the best profit of chain_out_f over a 2,000-point grid and a local refinement."""
    xs = np.linspace(0.0, upper, 2001)[1:]
    profits = [chain_f(cycles, table, c, x) - x for x in xs]
    k = int(np.argmax(profits))
    best = profits[k]
    lo = xs[k - 1] if k > 0 else 0.0
    hi = xs[min(k + 1, len(xs) - 1)]
    for x in np.linspace(lo, hi, 401)[1:]:
        best = max(best, chain_f(cycles, table, c, x) - x)
    return best


@settings(SETTINGS, max_examples=20)
@given(markets(v3_share=0.7, ticked=True, max_tokens=8), st.randoms(use_true_random=False))
def test_optimum_is_never_below_a_grid_search(market, rnd) -> None:
    table, cycles = market
    ids = list(range(cycles.n_cycles))
    rnd.shuffle(ids)
    for c in ids[:6]:
        amount_in, profit, ticks = optimum_f(cycles, table, c)
        if amount_in > 0:
            # the reported profit is the chain's profit at the reported input
            assert profit == pytest.approx(
                chain_f(cycles, table, c, amount_in) - amount_in, rel=1e-9, abs=1e-6
            )
            upper = 4 * amount_in
        else:
            upper = 1e6 * max(1.0, float(np.max(table.reserve0_f)))
        best = grid_best_profit(cycles, table, c, upper)
        assert profit >= best - 1e-9 * abs(best) - 1e-6, (c, amount_in, profit, best, ticks)


def test_optimum_grid_runs_the_golden_section_path() -> None:
    """Some cycles of ticked V3 pools cross ticks at their optimum (the golden-section branch)."""
    rng = random.Random(3)
    crossed = 0
    for _ in range(30):
        edges = random_edges(rng, 4, 8, core=4)
        table = random_table(rng, edges, n_tokens=4, v3_share=1.0, ticked=True, noise=0.3)
        cycles = make_cycles(edges, 4, [0])
        for c in range(cycles.n_cycles):
            amount_in, profit, ticks = optimum_f(cycles, table, c)
            if ticks > 0:
                crossed += 1
                best = grid_best_profit(cycles, table, c, 4 * amount_in)
                assert profit >= best - 1e-9 * abs(best) - 1e-6
        if crossed >= 5:
            break
    assert crossed >= 5
