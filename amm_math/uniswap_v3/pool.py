"""UniswapV3Pool.sol (v3-core 1.0.1): swap, mint and burn on an immutable V3PoolState.

Only what moves tokens and prices is mirrored: no fee growth, oracle, positions or protocol
fee (which never changes the swap amounts). The swap's loop is `swap_loop.swap_loop`, which
`fee_growth` runs with fee growth as well. Tick.sol's update/clear and the pool's checkTicks
are here too, since mint and burn are their only callers.
"""

from __future__ import annotations

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.liquidity_math import add_delta
from amm_math.uniswap_v3.pool_state import SwapResult, V3PoolState, ticks_from_lists
from amm_math.uniswap_v3.sqrt_price_math import get_amount0_delta_signed, get_amount1_delta_signed
from amm_math.uniswap_v3.swap_loop import swap_loop
from amm_math.uniswap_v3.tick_math import MAX_TICK, MIN_TICK, get_sqrt_ratio_at_tick

__all__ = [
    "SwapResult",
    "V3PoolState",
    "apply_swap",
    "burn",
    "check_ticks",
    "mint",
    "swap",
    "tick_spacing_to_max_liquidity_per_tick",
    "ticks_from_lists",
]

_MAX_UINT128 = (1 << 128) - 1
_MIN_INT128 = -(1 << 127)
_MAX_INT128 = (1 << 127) - 1


def swap(
    state: V3PoolState,
    zero_for_one: bool,
    amount_specified: int,
    sqrt_price_limit_x96: int | None = None,
) -> SwapResult:
    """Simulate UniswapV3Pool.swap on `state` (left as is); amount_specified > 0 exact in, < 0 out.

    A None limit is MIN_SQRT_RATIO + 1 (zero_for_one) or MAX_SQRT_RATIO - 1, as the periphery
    passes. Reverts 'AS' on a zero amount and 'SPL' on a limit on the wrong side of the price.
    """
    return swap_loop(state, zero_for_one, amount_specified, sqrt_price_limit_x96)[0]


def apply_swap(state: V3PoolState, result: SwapResult) -> V3PoolState:
    """Return `state` with the price, tick and liquidity that `result` left in the pool."""
    return state.with_price(
        sqrt_price_x96=result.sqrt_price_x96, tick=result.tick, liquidity=result.liquidity
    )


def check_ticks(tick_lower: int, tick_upper: int) -> None:
    """Revert 'TLU', 'TLM' or 'TUM' unless MIN_TICK <= tick_lower < tick_upper <= MAX_TICK."""
    if tick_lower >= tick_upper:
        raise EvmRevert("TLU")
    if tick_lower < MIN_TICK:
        raise EvmRevert("TLM")
    if tick_upper > MAX_TICK:
        raise EvmRevert("TUM")


def tick_spacing_to_max_liquidity_per_tick(tick_spacing: int) -> int:
    """Return Tick.tickSpacingToMaxLiquidityPerTick: the uint128 gross cap of one tick."""
    # Solidity's int24 division truncates toward zero: MIN_TICK / tickSpacing rounds up here
    min_tick = -(-MIN_TICK // tick_spacing) * tick_spacing
    max_tick = (MAX_TICK // tick_spacing) * tick_spacing
    num_ticks = (max_tick - min_tick) // tick_spacing + 1
    return _MAX_UINT128 // num_ticks


def mint(
    state: V3PoolState, tick_lower: int, tick_upper: int, amount: int
) -> tuple[V3PoolState, int, int]:
    """Add `amount` liquidity on [tick_lower, tick_upper); return (state, amount0, amount1) owed.

    The amounts round up, as UniswapV3Pool.mint charges them.
    """
    if not 0 <= amount <= _MAX_UINT128:
        raise ValueError(f"amount is not a uint128: {amount}")
    if amount == 0:
        raise EvmRevert("", "UniswapV3Pool.mint: amount is 0")
    # int256(amount).toInt128()
    if amount > _MAX_INT128:
        raise EvmRevert("", "SafeCast.toInt128: overflow")
    new_state, amount0, amount1 = _modify_position(state, tick_lower, tick_upper, amount)
    return new_state, amount0, amount1


def burn(
    state: V3PoolState, tick_lower: int, tick_upper: int, amount: int
) -> tuple[V3PoolState, int, int]:
    """Remove `amount` liquidity from [tick_lower, tick_upper); return (state, amount0, amount1).

    The amounts are owed to the owner and round down; ticks whose gross drops to 0 are cleared.
    Positions are not tracked, so burning another owner's liquidity is not detected (the
    contract reverts in Position.update); a zero amount (the contract's poke) changes nothing.
    """
    if not 0 <= amount <= _MAX_UINT128:
        raise ValueError(f"amount is not a uint128: {amount}")
    # -int256(amount).toInt128()
    if amount > _MAX_INT128:
        raise EvmRevert("", "SafeCast.toInt128: overflow")
    new_state, amount0, amount1 = _modify_position(state, tick_lower, tick_upper, -amount)
    return new_state, -amount0, -amount1


def _modify_position(
    state: V3PoolState, tick_lower: int, tick_upper: int, liquidity_delta: int
) -> tuple[V3PoolState, int, int]:
    """Mirror UniswapV3Pool._modifyPosition: update ticks and liquidity, return signed amounts."""
    check_ticks(tick_lower, tick_upper)
    if liquidity_delta == 0:
        return state, 0, 0

    # _updatePosition: Tick.update on both ticks, then the bitmap flips, then clears
    ticks = dict(state.ticks)
    gross = dict(state.liquidity_gross)
    max_liquidity = tick_spacing_to_max_liquidity_per_tick(state.tick_spacing)
    flipped_lower = _update_tick(ticks, gross, tick_lower, liquidity_delta, False, max_liquidity)
    flipped_upper = _update_tick(ticks, gross, tick_upper, liquidity_delta, True, max_liquidity)
    # TickBitmap.flipTick requires each flipped tick to be a multiple of the spacing
    for tick, flipped in ((tick_lower, flipped_lower), (tick_upper, flipped_upper)):
        if flipped and tick % state.tick_spacing != 0:
            raise EvmRevert("", "TickBitmap.flipTick: tick is not a multiple of the spacing")
    if liquidity_delta < 0:
        for tick, flipped in ((tick_lower, flipped_lower), (tick_upper, flipped_upper)):
            if flipped:
                # Tick.clear
                del ticks[tick]
                del gross[tick]

    amount0 = 0
    amount1 = 0
    liquidity = state.liquidity
    sqrt_lower = get_sqrt_ratio_at_tick(tick_lower)
    sqrt_upper = get_sqrt_ratio_at_tick(tick_upper)
    if state.tick < tick_lower:
        # below the range: only token0, which becomes more valuable as the price rises into it
        amount0 = get_amount0_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)
    elif state.tick < tick_upper:
        # in range: both tokens, and the active liquidity changes
        amount0 = get_amount0_delta_signed(state.sqrt_price_x96, sqrt_upper, liquidity_delta)
        amount1 = get_amount1_delta_signed(sqrt_lower, state.sqrt_price_x96, liquidity_delta)
        liquidity = add_delta(liquidity, liquidity_delta)
    else:
        # above the range: only token1
        amount1 = get_amount1_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)

    new_state = V3PoolState(
        sqrt_price_x96=state.sqrt_price_x96,
        tick=state.tick,
        liquidity=liquidity,
        fee_pips=state.fee_pips,
        tick_spacing=state.tick_spacing,
        ticks=ticks,
        liquidity_gross=gross,
    )
    return new_state, amount0, amount1


def _update_tick(
    ticks: dict[int, int],
    gross: dict[int, int],
    tick: int,
    liquidity_delta: int,
    upper: bool,
    max_liquidity: int,
) -> bool:
    """Mirror Tick.update on the net/gross dicts in place; return whether the tick flipped."""
    if tick in ticks:
        if tick not in gross:
            raise ValueError(f"liquidity_gross of initialized tick {tick} is unknown")
        gross_before = gross[tick]
        net_before = ticks[tick]
    else:
        gross_before = 0
        net_before = 0
    gross_after = add_delta(gross_before, liquidity_delta)
    if gross_after > max_liquidity:
        raise EvmRevert("LO")
    flipped = (gross_after == 0) != (gross_before == 0)

    # the lower (upper) tick adds (removes) liquidity when crossed left to right
    net_after = net_before - liquidity_delta if upper else net_before + liquidity_delta
    # LowGasSafeMath on int256 cannot overflow here; SafeCast.toInt128 can
    if not _MIN_INT128 <= net_after <= _MAX_INT128:
        raise EvmRevert("", "SafeCast.toInt128: overflow")
    ticks[tick] = net_after
    gross[tick] = gross_after
    return flipped
