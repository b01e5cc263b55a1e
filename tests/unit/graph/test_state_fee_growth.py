"""The pool table's V3 fee growth: loaded, followed through Swap/Mint/Burn events, rolled back."""

from __future__ import annotations

import random

from amm_math.uniswap_v3.fee_growth import (
    FeeGrowth,
    fee_growth_after_modify,
    fee_growth_after_swap,
    initial_fee_growth,
)
from amm_math.uniswap_v3.pool import V3PoolState, burn, mint
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick
from chains.records import Kind
from chains.snapshot import PoolRef, PoolSnapshot, diff_states
from graph.state import PoolTable
from tests.unit.graph.test_state import V2, V3, Blocks, block_hash, initialized_table, position

E18 = 10**18
Q128 = 1 << 128


def swap_event(b: Blocks, number: int, state: V3PoolState, zfo: bool, amount: int, limit=None):
    """Append the Swap record of a swap on `state`; return the amm_math result."""
    # the result does not depend on the fee growth values
    fees = FeeGrowth(global0_x128=0, global1_x128=0, outside={t: (0, 0) for t in state.ticks})
    r = fee_growth_after_swap(state, fees, zfo, amount, limit).result
    b.add(
        Kind.V3_SWAP,
        number,
        1,
        (r.amount0, r.amount1, r.sqrt_price_x96, r.liquidity),
        tick=r.tick,
    )
    return r


def seeded_table() -> tuple[PoolTable, V3PoolState, FeeGrowth]:
    """A table loaded from a snapshot whose V3 pool has positions and nonzero fee growth."""
    state = V3PoolState(
        sqrt_price_x96=get_sqrt_ratio_at_tick(30),
        tick=30,
        liquidity=0,
        fee_pips=3000,
        tick_spacing=60,
        ticks={},
    )
    state = mint(state, -6000, 6000, 10**3 * E18)[0]
    state = mint(state, -600, 600, 10**3 * E18)[0]
    fees = FeeGrowth(
        global0_x128=7 * Q128,
        global1_x128=5 * Q128,
        outside={-6000: (7 * Q128, 5 * Q128), -600: (Q128, 0), 600: (0, 0), 6000: (0, 0)},
    )
    snapshot = PoolSnapshot(
        block_number=1,
        block_hash="0x" + block_hash(1).hex(),
        pools=(PoolRef(*V2), PoolRef(*V3)),
        reserves={0: (E18, E18)},
        v3_states={1: state},
        eth_calls=0,
        requests=0,
        fee_growth={1: fees},
    )
    table = PoolTable([V2, V3])
    table.load_snapshot(snapshot)
    assert table.v3_fee_growth(1) == fees and diff_states(table, snapshot) == []
    return table, state, fees


def test_swaps_mints_and_burns_keep_exact_fee_growth() -> None:
    table, state, fees = seeded_table()
    rng = random.Random(4)
    crossings = 0
    for number in range(2, 40):
        b = Blocks()
        zfo = rng.random() < 0.5
        amount = rng.randrange(1, 60) * E18 * (1 if rng.random() < 0.6 else -1)
        limit = None
        if rng.random() < 0.3:
            limit = get_sqrt_ratio_at_tick(state.tick + (-300 if zfo else 300))
        expected = fee_growth_after_swap(state, fees, zfo, amount, limit)
        swap_event(b, number, state, zfo, amount, limit)
        r = expected.result
        state = state.with_price(
            sqrt_price_x96=r.sqrt_price_x96, tick=r.tick, liquidity=r.liquidity
        )
        fees = expected.fee_growth
        crossings += len(expected.crossed_ticks)
        if number % 5 == 0:
            lower = (state.tick // 60 - 2) * 60
            position(b, Kind.V3_MINT, number, lower, lower + 600, E18)
            after = mint(state, lower, lower + 600, E18)[0]
            fees = fee_growth_after_modify(fees, state, after)
            state = after
        table.apply(b.records())
        assert table.v3_state(1) == state
        assert table.v3_fee_growth(1) == fees
    assert crossings >= 5 and table.fee_growth_lost == 0


def test_mint_initializes_below_with_globals_and_burn_clears() -> None:
    table, state, fees = seeded_table()
    b = Blocks()
    position(b, Kind.V3_MINT, 2, -1200, 1200, E18)
    table.apply(b.records())
    outside = table.v3_fee_growth(1).outside
    assert outside[-1200] == (7 * Q128, 5 * Q128) and outside[1200] == (0, 0)
    b = Blocks()
    position(b, Kind.V3_BURN, 3, -1200, 1200, E18)
    table.apply(b.records())
    assert table.v3_fee_growth(1) == fees
    # a partial burn keeps the ticks and their values
    b = Blocks()
    position(b, Kind.V3_BURN, 4, -600, 600, E18)
    table.apply(b.records())
    assert table.v3_state(1) == burn(state, -600, 600, E18)[0]
    assert table.v3_fee_growth(1) == fees


def test_an_event_that_does_not_replay_makes_fee_growth_unknown() -> None:
    table, state, _ = seeded_table()
    b = Blocks()
    r = swap_event(b, 2, state, True, 10 * E18)
    # the same event with a liquidity the swap cannot leave: the state follows the event,
    # the fee growth is forgotten rather than guessed
    b.add(
        Kind.V3_SWAP,
        3,
        1,
        (E18, -E18, r.sqrt_price_x96 - 10**9, r.liquidity + 1),
        tick=r.tick,
    )
    table.apply(b.records())
    assert table.v3_state(1).liquidity == r.liquidity + 1
    assert table.v3_fee_growth(1) is None and table.fee_growth_lost == 1
    # later events cannot bring it back
    b = Blocks()
    position(b, Kind.V3_MINT, 4, -60, 60, E18)
    table.apply(b.records())
    assert table.v3_fee_growth(1) is None


def test_rollback_restores_fee_growth() -> None:
    table, state, fees = seeded_table()
    b = Blocks()
    swap_event(b, 2, state, True, 500 * E18)
    position(b, Kind.V3_MINT, 3, -120, 120, E18)
    table.apply(b.records())
    at_2 = table.row(1)
    b = Blocks()
    swap_event(b, 4, table.v3_state(1), False, 900 * E18)
    table.apply(b.records())
    assert table.v3_fee_growth(1) != at_2.fee_growth
    table.rollback_to(3, block_hash(3))
    assert table.row(1) == at_2
    table.rollback_to(1, block_hash(1))
    assert table.v3_fee_growth(1) == fees and table.v3_state(1) == state


def test_initialize_starts_known_zero_fee_growth_and_old_snapshots_leave_it_unknown() -> None:
    table = initialized_table()
    assert table.v3_fee_growth(1) == initial_fee_growth()
    b = Blocks()
    position(b, Kind.V3_MINT, 2, -60, 60, E18)
    table.apply(b.records())
    assert dict(table.v3_fee_growth(1).outside) == {-60: (0, 0), 60: (0, 0)}
    snapshot = PoolSnapshot(
        block_number=1,
        block_hash="0x" + block_hash(1).hex(),
        pools=(PoolRef(*V3),),
        reserves={},
        v3_states={1: table.v3_state(1)},
        eth_calls=0,
        requests=0,
    )
    fresh = PoolTable([V3])
    fresh.load_snapshot(snapshot)
    assert fresh.v3_fee_growth(1) is None
