"""Pending swaps on a scratch state: exactly amm_math, the table untouched, refusals, records."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm_math.uniswap_v2 import get_amount_in, get_amount_out
from amm_math.uniswap_v3.pool import apply_swap
from amm_math.uniswap_v3.pool import swap as v3_swap
from chains.mempool import PendingSwap, to_records
from chains.records import (
    FLAG_AMOUNT_UNKNOWN,
    FLAG_EXACT_OUTPUT,
    FLAG_FEE_ON_TRANSFER,
    Kind,
    empty_records,
    set_value,
)
from graph.cycles import CycleSet
from graph.pending import PendingSwapSpec, ScratchState
from graph.reprice import quote_hops
from graph.search import CycleSearch, SearchParams
from graph.state import PoolTable
from graph.state_columns import PoolColumns
from tests.unit.graph.random_graphs import (
    FakeSnapshot,
    pool_address,
    sqrt_price_x96_of,
    ticked_v3_state,
    wide_v3_state,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZERO_GAS = SearchParams(gas_coeffs=np.zeros(5), gas_price_wei=0, tip_share_bps=0)
E18 = 10**18

# tokens 0, 1, 2 at prices 1, 2, 4 (token0 per unit): every pool at the same prices, so no loop
# pays before a swap moves one
# pool 0: V2 (0, 1); pool 1: V3 ticked (1, 2); pool 2: V2 (2, 0); pool 3: V3 wide (0, 1)
TOKENS = [(0, 1), (1, 2), (2, 0), (0, 1)]
ROUTES = [
    ((0, True),),
    ((0, False),),
    ((1, True),),
    ((1, False),),
    ((3, True),),
    ((0, True), (1, True)),
    ((3, True), (1, True)),
    ((1, False), (3, False)),
    ((0, True), (1, True), (2, True)),
    ((2, False), (1, False), (3, False)),
]


def market() -> PoolTable:
    rng = random.Random(11)
    snap = FakeSnapshot()
    snap.pools = [
        (0, pool_address(0), "v2", 3000, 0),
        (1, pool_address(1), "v3", 500, 10),
        (2, pool_address(2), "v2", 3000, 0),
        (3, pool_address(3), "v3", 3000, 60),
    ]
    # price of token b in token a is price[b] / price[a]: reserves in value balance
    snap.reserves[0] = (2000 * E18, 1000 * E18)  # 1 token1 = 2 token0
    snap.reserves[2] = (500 * E18, 2000 * E18)  # 1 token2 = 4 token0
    # raw token2 per token1 = 1/2; raw token1 per token0 = 1/2
    snap.v3_states[1] = ticked_v3_state(rng, sqrt_price_x96_of(0.5), 10**21, 500, 10)
    snap.v3_states[3] = wide_v3_state(sqrt_price_x96_of(0.5), 5 * 10**20, 3000, 60)
    table = PoolTable()
    table.load_snapshot(snap)
    return table


def snapshot_of(view: PoolColumns) -> dict[str, np.ndarray]:
    return {name: getattr(view, name).copy() for name in PoolColumns._COLUMNS}


def table_fingerprint(table: PoolTable):
    """Return copies of everything a scratch state could write by mistake."""
    csr = table.csr()
    return (
        snapshot_of(table),
        [table.row(p) for p in range(table.n_pools)],
        {name: getattr(csr, name).copy() for name in csr.__dataclass_fields__},
        csr,
    )


def assert_table_unchanged(table: PoolTable, before) -> None:
    columns, rows, csr_arrays, csr = before
    for name, column in columns.items():
        np.testing.assert_array_equal(getattr(table, name), column, err_msg=name)
    assert [table.row(p) for p in range(table.n_pools)] == rows
    assert all(
        a is b for a, b in zip([table.row(p) for p in range(table.n_pools)], rows, strict=True)
    )
    assert table.csr() is csr
    for name, array in csr_arrays.items():
        np.testing.assert_array_equal(getattr(csr, name), array, err_msg=name)


def reference_exact_in(table: PoolTable, hops, amount_in: int):
    """Apply an exact-input swap hop by hop with amm_math: (amounts, new state per pool)."""
    amounts = [amount_in]
    states = {}
    for pool, zfo in hops:
        row = table.row(pool)
        if row.reserves is not None:
            r0, r1 = row.reserves
            r_in, r_out = (r0, r1) if zfo else (r1, r0)
            out = get_amount_out(amounts[-1], r_in, r_out, row.spec.fee_pips)
            states[pool] = (r0 + amounts[-1], r1 - out) if zfo else (r0 - out, r1 + amounts[-1])
        else:
            result = v3_swap(row.v3, zfo, amounts[-1])
            out = -(result.amount1 if zfo else result.amount0)
            states[pool] = apply_swap(row.v3, result)
        amounts.append(out)
    return amounts, states


def reference_exact_out(table: PoolTable, hops, amount_out: int):
    """Apply an exact-output swap: inputs backwards, then each pool pays exactly its output."""
    amounts = [amount_out]
    states = {}
    for pool, zfo in reversed(hops):
        row = table.row(pool)
        want = amounts[0]
        if row.reserves is not None:
            r0, r1 = row.reserves
            r_in, r_out = (r0, r1) if zfo else (r1, r0)
            need = get_amount_in(want, r_in, r_out, row.spec.fee_pips)
            states[pool] = (r0 + need, r1 - want) if zfo else (r0 - want, r1 + need)
        else:
            result = v3_swap(row.v3, zfo, -want)
            need = result.amount0 if zfo else result.amount1
            assert -(result.amount1 if zfo else result.amount0) == want
            states[pool] = apply_swap(row.v3, result)
        amounts.insert(0, need)
    return amounts, states


def assert_state(scratch: ScratchState, states) -> None:
    for pool, state in states.items():
        if isinstance(state, tuple):
            assert scratch.v2_reserves(pool) == state
            assert scratch.reserve0_f[pool] == float(state[0])
            assert scratch.reserve1_f[pool] == float(state[1])
        else:
            got = scratch.v3_state(pool)
            assert (got.sqrt_price_x96, got.tick, got.liquidity) == (
                state.sqrt_price_x96,
                state.tick,
                state.liquidity,
            )
            assert scratch.sqrt_price_f[pool] == state.sqrt_price_x96 / 2**96
            assert scratch.liquidity_f[pool] == float(state.liquidity)
            assert scratch.tick[pool] == state.tick
    assert scratch.changed_pools == tuple(sorted(states))


@SETTINGS
@given(st.sampled_from(ROUTES), st.integers(10**9, 60 * E18), st.booleans())
def test_scratch_applies_swaps_exactly_like_amm_math(route, amount, exact_output) -> None:
    table = market()
    before = table_fingerprint(table)
    if exact_output:
        amount = amount // 50 + 1  # an output the last pool can pay
        amounts, states = reference_exact_out(table, route, amount)
        spec = PendingSwapSpec(
            tx_hash="0x" + "01" * 32,
            hops=route,
            exact_output=True,
            amount_in=amounts[0],
            amount_out=amount,
        )
    else:
        amounts, states = reference_exact_in(table, route, amount)
        spec = PendingSwapSpec(
            tx_hash="0x" + "01" * 32,
            hops=route,
            exact_output=False,
            amount_in=amount,
            amount_out=amounts[-1],
        )
    scratch = ScratchState(table)
    assert scratch.apply(spec) is None
    assert_state(scratch, states)
    assert scratch.pending == [spec.tx_hash]
    assert_table_unchanged(table, before)
    # untouched pools read as the table
    for pool in range(table.n_pools):
        if pool not in states:
            assert scratch.row(pool) is table.row(pool)
    # one unit tighter: the victim reverts, and nothing changes
    tight = ScratchState(table)
    if exact_output:
        bad = PendingSwapSpec(
            tx_hash="0x" + "02" * 32,
            hops=route,
            exact_output=True,
            amount_in=amounts[0] - 1,
            amount_out=amount,
        )
    else:
        bad = PendingSwapSpec(
            tx_hash="0x" + "02" * 32,
            hops=route,
            exact_output=False,
            amount_in=amount,
            amount_out=amounts[-1] + 1,
        )
    assert tight.apply(bad) == "victim_would_revert"
    assert tight.changed_pools == () and tight.pending == []
    for name, column in snapshot_of(table).items():
        np.testing.assert_array_equal(getattr(tight, name), column)
    assert_table_unchanged(table, before)


def test_second_swap_applies_on_top_of_the_first() -> None:
    table = market()
    route = ((0, True), (1, True))
    _, first_states = reference_exact_in(table, route, 5 * E18)
    scratch = ScratchState(table)
    assert (
        scratch.apply(
            PendingSwapSpec(
                tx_hash="0x" + "01" * 32,
                hops=route,
                exact_output=False,
                amount_in=5 * E18,
                amount_out=0,
            )
        )
        is None
    )
    # the second swap sees the first one's state: compare against a table holding it
    moved = FakeSnapshot(pools=[tuple(table.row(p).spec) for p in range(table.n_pools)])
    for p in range(table.n_pools):
        state = first_states.get(p)
        row = table.row(p)
        if row.reserves is not None:
            moved.reserves[p] = state if state is not None else row.reserves
        else:
            moved.v3_states[p] = state if state is not None else row.v3
    moved_table = PoolTable()
    moved_table.load_snapshot(moved)
    _, second_states = reference_exact_in(moved_table, ((1, False),), 3 * E18)
    assert (
        scratch.apply(
            PendingSwapSpec(
                tx_hash="0x" + "02" * 32,
                hops=((1, False),),
                exact_output=False,
                amount_in=3 * E18,
                amount_out=1,
            )
        )
        is None
    )
    assert_state(scratch, {0: first_states[0], **second_states})
    assert scratch.pending == ["0x" + "01" * 32, "0x" + "02" * 32]


def test_refusals_change_nothing() -> None:
    table = market()
    before = table_fingerprint(table)
    scratch = ScratchState(table)
    base = {"tx_hash": "0x" + "03" * 32, "exact_output": False, "amount_in": E18, "amount_out": 1}
    cases = [
        (PendingSwapSpec(hops=((0, True),), amount_unknown=True, **base), "amount_unknown"),
        (PendingSwapSpec(hops=((0, True),), fee_on_transfer=True, **base), "fee_on_transfer"),
        (PendingSwapSpec(hops=(), **base), "no_hops"),
        (PendingSwapSpec(hops=((0, True), (9, True)), **base), "no_state"),
        # a V2 pair pays nothing for one unit: the pair reverts
        (
            PendingSwapSpec(
                hops=((0, True),),
                tx_hash="0x" + "04" * 32,
                exact_output=False,
                amount_in=1,
                amount_out=0,
            ),
            "victim_would_revert",
        ),
        # more output than the pool holds
        (
            PendingSwapSpec(
                hops=((0, True),),
                tx_hash="0x" + "04" * 32,
                exact_output=True,
                amount_in=10**40,
                amount_out=1000 * E18,
            ),
            "victim_would_revert",
        ),
    ]
    for spec, reason in cases:
        assert scratch.apply(spec) == reason
    assert scratch.changed_pools == () and scratch.pending == []
    for name, column in snapshot_of(table).items():
        np.testing.assert_array_equal(getattr(scratch, name), column)
    assert_table_unchanged(table, before)


def test_from_record_round_trips_the_mempool_writer() -> None:
    swap = PendingSwap(
        tx_hash="0x" + "5a" * 32,
        sender="0x" + "11" * 20,
        nonce=7,
        router="v2_router02",
        router_address="0x" + "22" * 20,
        index=0,
        hops=((3, True), (1, False), (7, True)),
        tokens=("0x" + "01" * 20, "0x" + "02" * 20, "0x" + "03" * 20, "0x" + "04" * 20),
        exact_output=True,
        amount_in=2**200 + 12345,
        amount_out=10**30 + 1,
        deadline=1_700_000_000,
        recipient="0x" + "33" * 20,
        fee_on_transfer=True,
    )
    records = empty_records(2)
    assert to_records([swap], records, [(0, 100)]) == 1
    spec = PendingSwapSpec.from_record(records[0])
    assert spec == PendingSwapSpec(
        tx_hash=swap.tx_hash,
        hops=swap.hops,
        exact_output=True,
        amount_in=swap.amount_in,
        amount_out=swap.amount_out,
        amount_unknown=False,
        fee_on_transfer=True,
    )
    # built by hand with the record helpers: every flag and hop direction read back
    record = empty_records(1)[0]
    record["kind"] = Kind.PENDING_SWAP
    record["n_hops"] = 4
    record["aux"] = 0b1010
    record["flags"] = FLAG_AMOUNT_UNKNOWN
    record["hop_pool_ids"] = [4, 5, 6, 7]
    record["tx_hash"] = np.frombuffer(bytes(range(32)), dtype=np.uint8)
    set_value(record, 0, 1)
    set_value(record, 1, 2**255 + 1)
    spec = PendingSwapSpec.from_record(record)
    assert spec.hops == ((4, False), (5, True), (6, False), (7, True))
    assert spec.amount_unknown and not spec.exact_output and not spec.fee_on_transfer
    assert (spec.amount_in, spec.amount_out) == (1, 2**255 + 1)
    assert spec.tx_hash == "0x" + bytes(range(32)).hex()
    record["flags"] = FLAG_EXACT_OUTPUT | FLAG_FEE_ON_TRANSFER
    spec = PendingSwapSpec.from_record(record)
    assert spec.exact_output and spec.fee_on_transfer and not spec.amount_unknown
    record["kind"] = Kind.V2_SYNC
    with pytest.raises(ValueError, match="PENDING_SWAP"):
        PendingSwapSpec.from_record(record)


def test_search_on_the_scratch_finds_the_backrun() -> None:
    table = market()
    cycles = CycleSearch(CycleSet([t0 for t0, _ in TOKENS], [t1 for _, t1 in TOKENS], 3, [0]))
    values = {0: Fraction(1)}
    ids = np.arange(cycles.cycles.n_cycles)
    assert cycles.evaluate(table, ids, values, ZERO_GAS).profitable == 0
    assert not cycles.full_pass(table)
    victim = PendingSwapSpec(
        tx_hash="0x" + "07" * 32,
        hops=((0, True),),
        exact_output=False,
        amount_in=200 * E18,
        amount_out=1,
    )
    scratch = ScratchState(table)
    assert scratch.apply(victim) is None
    touched = cycles.touched(scratch, scratch.changed_pools, values, ZERO_GAS)
    assert touched.profitable > 0
    assert {int(c) for c in touched.cycle_ids} == {
        c for c in range(cycles.cycles.n_cycles) if 0 in cycles.cycles.pools[c]
    }
    assert cycles.full_pass(scratch)
    best = cycles.top(touched, ZERO_GAS)[0]
    hops = cycles.cycles.cycle(best.cycle_id)
    # the exact profit at the float input on the post-swap state is what the screen saw
    quote = quote_hops(scratch, hops, int(best.amount_in_f))
    assert quote is not None and quote.profit > 0
    assert quote.profit == pytest.approx(best.profit_f, rel=1e-6)
    # and on the confirmed table that input loses
    before = quote_hops(table, hops, int(best.amount_in_f))
    assert before is None or before.profit < 0
