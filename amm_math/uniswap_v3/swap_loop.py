"""UniswapV3Pool.sol's swap (v3-core 1.0.1): its checks and its loop, with or without fee growth.

`swap_loop` is the one implementation behind `pool.swap` (price, tick, liquidity and amounts)
and `fee_growth.fee_growth_after_swap`, which passes a `FeeGrowth` to run the fee growth lines
of the same loop as well:

- per step, the protocol's share (feeAmount / feeProtocol) is taken off the fee, and
  FullMath.mulDiv(feeAmount, Q128, liquidity) is added to the input token's
  feeGrowthGlobalX128 when liquidity > 0 (Solidity 0.7 `+=`: wraps modulo 2**256);
- Tick.cross sets each crossed tick's outside = global - outside for both tokens (wrapping),
  and the loop counts the feeGrowthOutside slots that go from zero to nonzero (a fresh
  SSTORE) and from nonzero to zero (a refund).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.full_math import mul_div
from amm_math.uniswap_v3.liquidity_math import add_delta
from amm_math.uniswap_v3.pool_state import (
    SwapResult,
    V3PoolState,
    next_initialized_tick_within_one_word,
)
from amm_math.uniswap_v3.swap_math import compute_swap_step
from amm_math.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

if TYPE_CHECKING:
    from amm_math.uniswap_v3.fee_growth import FeeGrowth

__all__ = ["SwapFeeGrowth", "copy_outside", "swap_loop"]

_Q128 = 1 << 128
_MOD256 = 1 << 256
_INT256_BOUND = 1 << 255


# The fee growth a swap left: (global0_x128, global1_x128, outside, crossed_ticks, slots_set,
# slots_cleared). `outside` is the input's read-only mapping when no tick was crossed, else a
# new read-only one; `crossed_ticks` is in crossing order. A plain tuple, since building a
# NamedTuple by keyword costs about 0.9 µs a swap.
SwapFeeGrowth = tuple[int, int, Mapping[int, tuple[int, int]], tuple[int, ...], int, int]


def copy_outside(outside: Mapping[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Return a dict copy of `outside`: 20x faster through a read-only view's own copy()."""
    if isinstance(outside, MappingProxyType):
        return outside.copy()
    return dict(outside)


def swap_loop(
    state: V3PoolState,
    zero_for_one: bool,
    amount_specified: int,
    sqrt_price_limit_x96: int | None = None,
    fee_growth: FeeGrowth | None = None,
) -> tuple[SwapResult, SwapFeeGrowth | None]:
    """Run UniswapV3Pool.swap on `state` (left as is); amount_specified > 0 exact in, < 0 out.

    A None limit is MIN_SQRT_RATIO + 1 (zero_for_one) or MAX_SQRT_RATIO - 1, as the periphery
    passes. Reverts 'AS' on a zero amount and 'SPL' on a limit on the wrong side of the price.
    The fee growth is None unless `fee_growth` is given; then a crossed tick without outside
    values in it raises ValueError (the fee growth does not belong to this state).
    """
    if amount_specified == 0:
        raise EvmRevert("AS")
    if not -_INT256_BOUND <= amount_specified < _INT256_BOUND:
        raise ValueError(f"amount_specified is not an int256: {amount_specified}")
    if sqrt_price_limit_x96 is None:
        sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    sqrt_price_x96 = state.sqrt_price_x96
    if zero_for_one:
        limit_ok = MIN_SQRT_RATIO < sqrt_price_limit_x96 < sqrt_price_x96
    else:
        limit_ok = sqrt_price_x96 < sqrt_price_limit_x96 < MAX_SQRT_RATIO
    if not limit_ok:
        raise EvmRevert("SPL")

    exact_input = amount_specified > 0
    amount_specified_remaining = amount_specified
    amount_calculated = 0
    tick = state.tick
    liquidity = state.liquidity
    fee_pips = state.fee_pips
    tick_spacing = state.tick_spacing
    sorted_ticks = state.sorted_ticks
    liquidity_nets = state.ticks
    ticks_crossed = 0
    steps = 0

    track_fees = fee_growth is not None
    global_in = global_other = protocol = 0
    outside: dict[int, tuple[int, int]] | None = None  # copied at the first crossing
    crossed: list[int] = []
    slots_set = 0
    slots_cleared = 0
    if fee_growth is not None:
        # the input token's global grows during the swap; the other token's stays as it was
        if zero_for_one:
            global_in, global_other = fee_growth.global0_x128, fee_growth.global1_x128
            protocol = fee_growth.fee_protocol % 16
        else:
            global_in, global_other = fee_growth.global1_x128, fee_growth.global0_x128
            protocol = fee_growth.fee_protocol >> 4

    # continue while input/output remains and the price limit is not reached
    while amount_specified_remaining != 0 and sqrt_price_x96 != sqrt_price_limit_x96:
        steps += 1
        sqrt_price_start_x96 = sqrt_price_x96

        tick_next, initialized = next_initialized_tick_within_one_word(
            sorted_ticks, tick, tick_spacing, zero_for_one
        )
        # the bitmap is not aware of the min/max tick: do not overshoot them
        if tick_next < MIN_TICK:
            tick_next = MIN_TICK
        elif tick_next > MAX_TICK:
            tick_next = MAX_TICK

        sqrt_price_next_x96 = get_sqrt_ratio_at_tick(tick_next)

        if zero_for_one:
            past_limit = sqrt_price_next_x96 < sqrt_price_limit_x96
        else:
            past_limit = sqrt_price_next_x96 > sqrt_price_limit_x96
        sqrt_price_x96, amount_in, amount_out, fee_amount = compute_swap_step(
            sqrt_price_x96,
            sqrt_price_limit_x96 if past_limit else sqrt_price_next_x96,
            liquidity,
            amount_specified_remaining,
            fee_pips,
        )

        # SafeCast.toInt256 on the step amounts, LowGasSafeMath on amount_calculated
        amount_in_with_fee = amount_in + fee_amount
        if amount_in_with_fee >= _INT256_BOUND or amount_out >= _INT256_BOUND:
            raise EvmRevert("", "SafeCast.toInt256: overflow")
        if exact_input:
            amount_specified_remaining -= amount_in_with_fee
            amount_calculated -= amount_out
        else:
            amount_specified_remaining += amount_out
            amount_calculated += amount_in_with_fee
        if not -_INT256_BOUND <= amount_calculated < _INT256_BOUND:
            raise EvmRevert("", "LowGasSafeMath: int256 overflow")

        if track_fees:
            if protocol > 0:
                fee_amount -= fee_amount // protocol  # the protocol's share does not reach LPs
            if liquidity > 0:
                global_in = (global_in + mul_div(fee_amount, _Q128, liquidity)) % _MOD256

        if sqrt_price_x96 == sqrt_price_next_x96:
            # reached the next tick: cross it if it is initialized
            if initialized:
                if fee_growth is not None:
                    # Tick.cross: outside = global - outside, for both tokens
                    if outside is None:
                        outside = copy_outside(fee_growth.outside)
                    try:
                        old0, old1 = outside[tick_next]
                    except KeyError:
                        raise ValueError(
                            f"tick {tick_next} has no feeGrowthOutside: fee growth of another state"
                        ) from None
                    if zero_for_one:
                        new0 = (global_in - old0) % _MOD256
                        new1 = (global_other - old1) % _MOD256
                    else:
                        new0 = (global_other - old0) % _MOD256
                        new1 = (global_in - old1) % _MOD256
                    outside[tick_next] = (new0, new1)
                    for old, new in ((old0, new0), (old1, new1)):
                        if old == 0:
                            slots_set += new != 0
                        elif new == 0:
                            slots_cleared += 1
                    crossed.append(tick_next)
                liquidity_net = liquidity_nets[tick_next]
                # moving leftward, liquidity_net is interpreted as the opposite sign; it is
                # bounded by maxLiquidityPerTick, so the int128 negation cannot wrap
                if zero_for_one:
                    liquidity_net = -liquidity_net
                liquidity = add_delta(liquidity, liquidity_net)
                ticks_crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_price_x96 != sqrt_price_start_x96:
            # moved within the range without reaching the next tick: recompute the tick
            tick = get_tick_at_sqrt_ratio(sqrt_price_x96)

    if zero_for_one == exact_input:
        amount0 = amount_specified - amount_specified_remaining
        amount1 = amount_calculated
    else:
        amount0 = amount_calculated
        amount1 = amount_specified - amount_specified_remaining
    result = SwapResult(
        amount0=amount0,
        amount1=amount1,
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=liquidity,
        ticks_crossed=ticks_crossed,
        steps=steps,
    )
    if fee_growth is None:
        return result, None

    g0, g1 = (global_in, global_other) if zero_for_one else (global_other, global_in)
    new_outside = fee_growth.outside if outside is None else MappingProxyType(outside)
    return result, (g0, g1, new_outside, tuple(crossed), slots_set, slots_cleared)
