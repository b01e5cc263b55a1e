"""Fee growth of UniswapV3Pool.swap and Tick.cross/update/clear, and the replay of Swap events."""

from __future__ import annotations

import pickle
import random

import pytest

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.fee_growth import (
    FeeGrowth,
    fee_growth_after_modify,
    fee_growth_after_swap,
    initial_fee_growth,
    replay_swap_event,
)
from amm_math.uniswap_v3.pool import V3PoolState, burn, mint, swap
from amm_math.uniswap_v3.swap_math import compute_swap_step
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick

Q128 = 1 << 128
E18 = 10**18
SPACING = 60


def pool_at(tick: int, fee_pips: int = 3000) -> V3PoolState:
    return V3PoolState(
        sqrt_price_x96=get_sqrt_ratio_at_tick(tick) + 1,
        tick=tick,
        liquidity=0,
        fee_pips=fee_pips,
        tick_spacing=SPACING,
        ticks={},
    )


def random_pool(rng: random.Random) -> tuple[V3PoolState, FeeGrowth]:
    """A pool with random positions, and fee growth kept by mint and random swaps."""
    state = pool_at(rng.randrange(-600, 600), rng.choice((500, 3000, 10000)))
    # a wide base position keeps the price within reach of the narrow ones
    state = mint(state, -60000, 60000, 10**3 * E18)[0]
    fees = FeeGrowth(global0_x128=0, global1_x128=0, outside={-60000: (0, 0), 60000: (0, 0)})
    for _ in range(rng.randrange(2, 7)):
        lower = rng.randrange(-40, 38) * SPACING
        upper = lower + rng.randrange(1, 12) * SPACING
        new = mint(state, lower, upper, rng.randrange(1, 10**4) * E18)[0]
        fees = fee_growth_after_modify(fees, state, new)
        state = new
        # swaps between mints leave fee growth below some ticks before others are added
        zfo = rng.random() < 0.5
        try:
            out = fee_growth_after_swap(state, fees, zfo, rng.randrange(1, 10**2) * E18)
        except EvmRevert:
            continue
        state = state.with_price(
            sqrt_price_x96=out.result.sqrt_price_x96,
            tick=out.result.tick,
            liquidity=out.result.liquidity,
        )
        fees = out.fee_growth
    return state, fees


def test_one_step_adds_the_fee_over_liquidity() -> None:
    state = mint(pool_at(30), -600, 600, 10**6 * E18)[0]
    fees = FeeGrowth(global0_x128=5, global1_x128=7, outside={-600: (5, 7), 600: (0, 0)})
    out = fee_growth_after_swap(state, fees, True, 10**15)
    # one step within the range: the fee is what remains after amountIn (dust included)
    _, _, _, fee_amount = compute_swap_step(
        state.sqrt_price_x96, get_sqrt_ratio_at_tick(0), state.liquidity, 10**15, 3000
    )
    assert fee_amount >= 10**15 * 3000 // 10**6
    assert abs(out.result.amount0 - 10**15) == 0 and out.crossed_ticks == ()
    assert out.fee_growth.global0_x128 == 5 + fee_amount * Q128 // state.liquidity
    assert out.fee_growth.global1_x128 == 7
    assert out.fee_growth.outside is fees.outside
    assert (out.slots_set, out.slots_cleared) == (0, 0)


def test_protocol_fee_takes_its_share_first() -> None:
    state = mint(pool_at(0), -600, 600, 10**6 * E18)[0]
    fees = FeeGrowth(global0_x128=0, global1_x128=0, outside={-600: (0, 0), 600: (0, 0)})
    plain = fee_growth_after_swap(state, fees, False, 10**15)
    # token1's denominator sits in the high nibble: 1/4 of each step's fee goes to the protocol
    shared = FeeGrowth(global0_x128=0, global1_x128=0, outside=fees.outside, fee_protocol=4 << 4)
    out = fee_growth_after_swap(state, shared, False, 10**15)
    fee_amount = plain.fee_growth.global1_x128 * state.liquidity // Q128 + 1
    assert out.result == plain.result
    assert out.fee_growth.global1_x128 == (fee_amount - fee_amount // 4) * Q128 // state.liquidity


def test_crossing_flips_outside_and_counts_fresh_and_cleared_slots() -> None:
    state = mint(pool_at(0), -600, 600, 10**3 * E18)[0]
    state = mint(state, 600, 1200, 10**3 * E18)[0]
    g0, g1 = 11 * Q128, 13 * Q128
    # 600 was initialized above the price (zeros); 1200 holds token0's global: crossing it
    # upwards (token1 in) takes outside0 to 0 (a refund) and outside1 from 0 to nonzero
    fees = FeeGrowth(
        global0_x128=g0,
        global1_x128=g1,
        outside={-600: (g0, g1), 600: (0, 0), 1200: (g0, 0)},
    )
    out = fee_growth_after_swap(state, fees, False, 10**6 * E18, get_sqrt_ratio_at_tick(1260))
    assert out.crossed_ticks == (600, 1200)
    new1 = out.fee_growth.global1_x128
    assert new1 > g1 and out.fee_growth.global0_x128 == g0
    # the crossings see token1's global as it was at each crossing, not at the end
    o600 = out.fee_growth.outside[600]
    assert o600[0] == g0 and g1 < o600[1] < new1
    assert out.fee_growth.outside[1200] == (0, new1)
    assert out.fee_growth.outside[-600] == (g0, g1)
    # 600: both slots set; 1200: token0 cleared, token1 set
    assert (out.slots_set, out.slots_cleared) == (3, 1)
    assert fees.outside[600] == (0, 0)  # the input value is left as it was


def test_outside_wraps_modulo_2_256() -> None:
    state = mint(pool_at(0), -600, 600, 10**3 * E18)[0]
    fees = FeeGrowth(global0_x128=1, global1_x128=1, outside={-600: (2, 3), 600: (0, 0)})
    out = fee_growth_after_swap(state, fees, True, 10**6 * E18)
    g0 = out.fee_growth.global0_x128
    assert out.crossed_ticks == (-600,)
    assert out.fee_growth.outside[-600] == ((g0 - 2) % (1 << 256), (1 - 3) % (1 << 256))


@pytest.mark.parametrize("seed", range(40))
def test_result_equals_pool_swap(seed: int) -> None:
    rng = random.Random(seed)
    state, fees = random_pool(rng)
    for _ in range(20):
        zfo = rng.random() < 0.5
        amount = rng.randrange(1, 10**4) * E18 * (1 if rng.random() < 0.6 else -1)
        try:
            expected = swap(state, zfo, amount)
        except EvmRevert as exc:
            with pytest.raises(EvmRevert) as caught:
                fee_growth_after_swap(state, fees, zfo, amount)
            assert caught.value.code == exc.code
            continue
        out = fee_growth_after_swap(state, fees, zfo, amount)
        assert out.result == expected
        assert len(out.crossed_ticks) == expected.ticks_crossed
        assert out.fee_growth.outside.keys() == state.ticks.keys()


def test_missing_outside_values_raise() -> None:
    state = mint(pool_at(0), -600, 600, 10**3 * E18)[0]
    with pytest.raises(ValueError, match="no feeGrowthOutside"):
        fee_growth_after_swap(state, initial_fee_growth(), True, 10**6 * E18)


def test_mint_initializes_below_with_globals_and_above_with_zeros_burn_clears() -> None:
    state = mint(pool_at(0), -600, 600, E18)[0]
    fees = FeeGrowth(global0_x128=3, global1_x128=4, outside={-600: (1, 1), 600: (0, 0)})
    after = mint(state, -1200, 1200, E18)[0]
    fees2 = fee_growth_after_modify(fees, state, after)
    assert dict(fees2.outside) == {-1200: (3, 4), -600: (1, 1), 600: (0, 0), 1200: (0, 0)}
    # a tick exactly at the current tick counts as below
    at = mint(state, 0, 60, E18)[0]
    assert fee_growth_after_modify(fees, state, at).outside[0] == (3, 4)
    # an existing tick keeps its values; a partial burn changes nothing
    again = mint(after, -600, 1200, E18)[0]
    assert fee_growth_after_modify(fees2, after, again) is fees2
    cleared = burn(after, -1200, 1200, E18)[0]
    assert dict(fee_growth_after_modify(fees2, after, cleared).outside) == dict(fees.outside)


def test_fee_growth_is_immutable_and_pickles() -> None:
    fees = FeeGrowth(global0_x128=1, global1_x128=2, outside={60: (3, 4)}, fee_protocol=0x44)
    with pytest.raises(TypeError):
        fees.outside[60] = (0, 0)  # type: ignore[index]
    assert pickle.loads(pickle.dumps(fees)) == fees
    with pytest.raises(ValueError):
        FeeGrowth(global0_x128=1 << 256, global1_x128=0, outside={})


@pytest.mark.parametrize("seed", range(40))
def test_replay_of_swap_events_reproduces_the_fee_growth(seed: int) -> None:
    """Exact in, exact out, limited or not: the event alone gives the same fee growth."""
    rng = random.Random(1000 + seed)
    state, fees = random_pool(rng)
    modes = {"in": 0, "out": 0, "limited": 0}
    for _ in range(30):
        zfo = rng.random() < 0.5
        mode = rng.choice(tuple(modes))
        amount = rng.randrange(1, 10**3) * E18 + rng.randrange(10**6)
        limit = None
        if mode == "out":
            amount = -amount // 10
        elif mode == "limited":
            step = rng.randrange(1, 40) * 30
            limit = get_sqrt_ratio_at_tick(state.tick + (-step if zfo else step))
            if (limit >= state.sqrt_price_x96) if zfo else (limit <= state.sqrt_price_x96):
                continue
        try:
            original = fee_growth_after_swap(state, fees, zfo, amount, limit)
        except EvmRevert:
            continue
        r = original.result
        if r.amount0 <= 0 and r.amount1 <= 0:
            continue
        replayed = replay_swap_event(
            state, fees, r.amount0, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity
        )
        assert replayed is not None, (mode, zfo, amount)
        assert replayed.fee_growth == original.fee_growth
        assert (replayed.slots_set, replayed.slots_cleared) == (
            original.slots_set,
            original.slots_cleared,
        )
        modes[mode] += 1
        state = state.with_price(
            sqrt_price_x96=r.sqrt_price_x96, tick=r.tick, liquidity=r.liquidity
        )
        fees = original.fee_growth
    assert all(modes.values()), modes


def test_replay_refuses_an_event_it_cannot_reproduce() -> None:
    state = mint(pool_at(0), -600, 600, 10**3 * E18)[0]
    fees = FeeGrowth(global0_x128=0, global1_x128=0, outside={-600: (0, 0), 600: (0, 0)})
    r = swap(state, True, 10**18)
    ok = replay_swap_event(state, fees, r.amount0, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity)
    assert ok is not None
    for args in (
        (r.amount0 + 1, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity),  # other input
        (r.amount0, r.amount1, r.sqrt_price_x96 - 1, r.tick, r.liquidity),  # other price
        (r.amount0, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity + 1),  # other liquidity
        (0, 0, r.sqrt_price_x96, r.tick, r.liquidity),  # nothing paid in
        (-5, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity),  # nothing paid in
    ):
        assert replay_swap_event(state, fees, *args) is None, args
    # fee growth of another state (a tick it does not know is crossed): unknown, not a guess
    far = swap(state, True, 10**6 * E18)
    assert far.ticks_crossed == 1
    args = (far.amount0, far.amount1, far.sqrt_price_x96, far.tick, far.liquidity)
    assert replay_swap_event(state, initial_fee_growth(), *args) is None


def test_replay_of_a_swap_that_ran_out_of_liquidity_to_its_limit() -> None:
    """Past the last position the swap moves on without input: the event ends at the bound."""
    state = mint(pool_at(0), -600, 600, 10**3 * E18)[0]
    fees = FeeGrowth(global0_x128=9, global1_x128=9, outside={-600: (9, 9), 600: (0, 0)})
    original = fee_growth_after_swap(state, fees, True, 10**9 * E18)
    r = original.result
    assert r.liquidity == 0 and r.amount0 < 10**9 * E18 and original.crossed_ticks == (-600,)
    args = (r.amount0, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity)
    replayed = replay_swap_event(state, fees, *args)
    assert replayed is not None and replayed.fee_growth == original.fee_growth
