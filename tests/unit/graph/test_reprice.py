"""Exact re-pricing: hop amounts re-quoted independently, the V2 optimum, drops by reason."""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v3.pool import swap as v3_swap
from amm_math.v2_cycle import cycle_optimum
from chains.gas_model import GasModel
from graph.cycles import CycleSet
from graph.reprice import V2_MAX_CANDIDATES, PricingContext, Repricer, quote_hops
from graph.search import CycleSearch, SearchParams
from graph.state import PoolTable
from tests.unit.graph.random_graphs import (
    FakeSnapshot,
    cycle_ids,
    random_edges,
    random_table,
    token_address,
    token_index,
)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZERO_GAS = SearchParams(gas_coeffs=np.zeros(5), gas_price_wei=0, tip_share_bps=0)


TIP_GAS = 18_800


def gas_model() -> GasModel:
    """Return a literal gas model: every required coefficient and the tip set, the rest at 0."""
    values = {
        "base_flash_gas": 90_000,
        "base_inventory_gas": 60_000,
        "per_v2_hop_gas": 60_000,
        "per_v3_hop_gas": 90_000,
        "per_tick_crossed_gas": 20_000,
        "per_parked_hop_gas": 5_000,
        "per_word_step_gas": 2_000,
    }
    required = {
        f.name: values.get(f.name, 0)
        for f in dataclasses.fields(GasModel)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return GasModel(**required, per_tip_gas=TIP_GAS)


def context(cycles: CycleSet, **overrides) -> PricingContext:
    fields = {
        "block_number": 100,
        "block_hash": "0x" + "ab" * 32,
        "target_block": 101,
        "gas_model": gas_model(),
        "gas_price_wei": 0,
        "tip_share_bps": 0,
        "min_net_profit_wei": 0,
        "base_value_wei": {b: Fraction(1) for b in cycles.base_tokens},
    }
    fields.update(overrides)
    return PricingContext(**fields)


def make_market(seed: int, n_tokens: int, v3_share: float, ticked: bool):
    rng = random.Random(seed)
    edges = random_edges(rng, n_tokens, 3 * n_tokens, core=n_tokens)
    table = random_table(rng, edges, n_tokens=n_tokens, v3_share=v3_share, ticked=ticked, noise=0.1)
    t0 = np.array([a for _, a, _ in edges], dtype=np.int64)
    t1 = np.array([b for _, _, b in edges], dtype=np.int64)
    cycles = CycleSet(t0, t1, n_tokens, [0, 1], max_hops=3)
    return table, cycles


def exact_quote(table: PoolTable, hops, amount_in: int) -> list[int] | None:
    """Re-quote a cycle hop by hop with amm_math alone; None when a hop reverts or fills short."""
    amounts = [amount_in]
    for pool, zfo in hops:
        row = table.row(pool)
        try:
            if row.reserves is not None:
                r_in, r_out = row.reserves if zfo else row.reserves[::-1]
                amounts.append(get_amount_out(amounts[-1], r_in, r_out, row.spec.fee_pips))
            else:
                result = v3_swap(row.v3, zfo, amounts[-1])
                paid_in, paid_out = (
                    (result.amount0, result.amount1) if zfo else (result.amount1, result.amount0)
                )
                if paid_in != amounts[-1]:
                    return None
                amounts.append(-paid_out)
        except EvmRevert:
            return None
        if amounts[-1] <= 0:
            return None
    return amounts


@SETTINGS
@given(
    st.integers(0, 2**32 - 1),
    st.integers(3, 6),
    st.sampled_from([0.0, 0.5, 1.0]),
    st.booleans(),
)
def test_candidates_match_an_independent_exact_quote(seed, n_tokens, v3_share, ticked) -> None:
    table, cycles = make_market(seed, n_tokens, v3_share, ticked)
    tokens = token_index(n_tokens)
    evaluation = CycleSearch(cycles).evaluate(
        table, cycle_ids(cycles), {b: Fraction(1) for b in cycles.base_tokens}, ZERO_GAS
    )
    repricer = Repricer(cycles, tokens)
    priced = 0
    for i in np.flatnonzero(evaluation.profit_f > 0)[:8]:
        c = int(evaluation.cycle_ids[i])
        amount_in_f = float(evaluation.amount_in_f[i])
        hops = cycles.cycle(c)
        candidate = repricer.reprice(table, c, amount_in_f, context(cycles))
        if candidate is None:
            # dropped as unprofitable: then the float input earns nothing exactly either
            floor_quote = exact_quote(table, hops, max(1, int(amount_in_f)))
            assert floor_quote is None or floor_quote[-1] <= floor_quote[0]
            continue
        priced += 1
        amounts = exact_quote(table, hops, candidate.amount_in)
        assert amounts is not None
        assert [h.amount_in for h in candidate.hops] == amounts[:-1]
        assert [h.amount_out for h in candidate.hops] == amounts[1:]
        assert candidate.profit == amounts[-1] - amounts[0] > 0
        assert candidate.profit_wei == candidate.profit
        assert candidate.net_profit_wei == candidate.profit  # no gas price, no tip
        assert candidate.pools == tuple(p for p, _ in hops)
        assert candidate.base_token == token_address(int(cycles.base[c]))
        for hop, (pool, zfo) in zip(candidate.hops, hops, strict=True):
            spec = table.row(pool).spec
            assert (hop.pool, hop.is_v3, hop.fee_pips) == (
                spec.address,
                spec.kind == "v3",
                spec.fee_pips,
            )
            assert hop.zero_for_one == zfo
        # never worse than the float input rounded down
        floor_quote = exact_quote(table, hops, max(1, int(amount_in_f)))
        if floor_quote is not None:
            assert candidate.profit >= floor_quote[-1] - floor_quote[0]
        if all(table.row(p).spec.kind == "v2" for p, _ in hops):
            curve = []
            for pool, zfo in hops:
                row = table.row(pool)
                r_in, r_out = row.reserves if zfo else row.reserves[::-1]
                curve.append((r_in, r_out, row.spec.fee_pips))
            capped = cycle_optimum(curve, max_candidates=V2_MAX_CANDIDATES)
            assert candidate.amount_in == capped.amount_in
            assert candidate.profit == capped.profit
            optimum = cycle_optimum(curve)
            assert optimum.profit - capped.profit_bound <= 0 <= optimum.profit - candidate.profit
        # the module's own quote agrees
        quote = quote_hops(table, hops, candidate.amount_in)
        assert quote is not None and list(quote.amounts) == amounts
    assert repricer.priced == priced


def profitable_cycle(v3_share: float = 0.0):
    """Return (table, cycles, cycle id, float input) of one cycle the screen marks profitable."""
    for seed in range(200):
        table, cycles = make_market(seed, 4, v3_share, False)
        evaluation = CycleSearch(cycles).evaluate(
            table, cycle_ids(cycles), {b: Fraction(1) for b in cycles.base_tokens}, ZERO_GAS
        )
        for i in np.flatnonzero(evaluation.profit_f > 1e6):
            return table, cycles, int(evaluation.cycle_ids[i]), float(evaluation.amount_in_f[i])
    raise AssertionError("no profitable cycle in 200 seeds")


def test_drops_are_counted_by_reason() -> None:
    table, cycles, c, amount_in_f = profitable_cycle()
    repricer = Repricer(cycles, token_index(cycles.n_tokens))
    ok = repricer.reprice(table, c, amount_in_f, context(cycles))
    assert ok is not None
    huge = ok.profit_wei + 1
    assert repricer.reprice(table, c, amount_in_f, context(cycles, min_net_profit_wei=huge)) is None
    assert repricer.dropped["below_min_profit"] == 1
    # just reachable: kept
    exact = context(cycles, min_net_profit_wei=ok.net_profit_wei)
    assert repricer.reprice(table, c, amount_in_f, exact) is not None
    # gas eats the profit
    pricey = context(cycles, gas_price_wei=ok.profit_wei)
    assert repricer.reprice(table, c, amount_in_f, pricey) is None
    assert repricer.dropped["below_min_profit"] == 2
    no_value = context(cycles, base_value_wei={})
    assert repricer.reprice(table, c, amount_in_f, no_value) is None
    assert repricer.dropped["no_base_value"] == 1
    assert repricer.priced == 2
    # a pool without state
    pool = cycles.cycle(c)[0][0]
    spec = table.row(pool).spec
    table.load_snapshot(FakeSnapshot(pools=[tuple(spec)]))
    assert repricer.reprice(table, c, amount_in_f, context(cycles)) is None
    assert repricer.dropped["no_state"] == 1


def test_gas_tip_and_flash_follow_the_context() -> None:
    table, cycles, c, amount_in_f = profitable_cycle()
    base = int(cycles.base[c])
    repricer = Repricer(cycles, token_index(cycles.n_tokens))
    free = repricer.reprice(table, c, amount_in_f, context(cycles))
    assert free is not None and free.flash  # no inventory: flash
    funding = {"inventory": {base: free.amount_in}, "gas_price_wei": 1, "tip_share_bps": 2500}
    # the base token is not WETH: the tip goes as priority fee, no tip gas
    funded = repricer.reprice(table, c, amount_in_f, context(cycles, **funding))
    assert funded is not None and not funded.flash
    model = gas_model()
    n = len(free.hops)
    shape = {"flash": False, "n_v2": n, "n_v3": 0, "ticks_crossed": 0, "parked_hops": 0}
    untipped = model.predict(**shape, word_steps=0)
    assert funded.gas_units == untipped
    margin = funded.profit_wei - funded.gas_units
    assert funded.tip_wei == margin * 2500 // 10_000 > 0
    assert funded.net_profit_wei == margin - funded.tip_wei
    # a WETH base: the executor unwraps the tip and pays it, gas the tip term adds
    weth = repricer.reprice(table, c, amount_in_f, context(cycles, **funding, weth_id=base))
    tipped = model.predict(**shape, word_steps=0, tip_paid=True)
    assert tipped == untipped + TIP_GAS
    assert weth.gas_units == tipped
    assert weth.tip_wei == (weth.profit_wei - tipped) * 2500 // 10_000 > 0
    assert weth.net_profit_wei == weth.profit_wei - tipped - weth.tip_wei
    # a gas price leaving a positive tip untipped but none once the tip's gas is paid: no tip,
    # so the gas stays untipped
    price = (weth.profit_wei - 1) // untipped
    assert weth.profit_wei - untipped * price > 0 > weth.profit_wei - tipped * price
    edge_funding = {**funding, "gas_price_wei": price, "tip_share_bps": 10_000}
    edge = repricer.reprice(table, c, amount_in_f, context(cycles, **edge_funding, weth_id=base))
    assert edge.gas_units == untipped and edge.tip_wei == 0
    assert edge.net_profit_wei == weth.profit_wei - untipped * price
    # a base token worth 3/2 wei per unit
    valued = repricer.reprice(
        table, c, amount_in_f, context(cycles, base_value_wei={base: Fraction(3, 2)})
    )
    assert valued.profit_wei == valued.profit * 3 // 2


def test_max_amount_in_caps_the_input() -> None:
    table, cycles, c, amount_in_f = profitable_cycle()
    base = int(cycles.base[c])
    repricer = Repricer(cycles, token_index(cycles.n_tokens))
    free = repricer.reprice(table, c, amount_in_f, context(cycles))
    cap = free.amount_in // 2
    capped = repricer.reprice(table, c, amount_in_f, context(cycles, max_amount_in={base: cap}))
    assert capped is not None and capped.amount_in <= cap
    table3, cycles3, c3, amount3 = profitable_cycle(v3_share=1.0)
    repricer3 = Repricer(cycles3, token_index(cycles3.n_tokens))
    free3 = repricer3.reprice(table3, c3, amount3, context(cycles3))
    assert free3 is not None
    cap3 = free3.amount_in // 2
    base3 = int(cycles3.base[c3])
    capped3 = repricer3.reprice(table3, c3, amount3, context(cycles3, max_amount_in={base3: cap3}))
    assert capped3 is not None and capped3.amount_in <= cap3
