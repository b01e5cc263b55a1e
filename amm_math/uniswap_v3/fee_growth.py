"""UniswapV3Pool.sol's and Tick.sol's fee growth: feeGrowthGlobal and each tick's outside values.

`pool.swap` leaves fee growth out; this module adds it, exactly, beside an immutable
`FeeGrowth` value kept next to a `V3PoolState`:

- per swap step, UniswapV3Pool.swap takes the protocol's share (feeAmount / feeProtocol) and
  adds FullMath.mulDiv(feeAmount, Q128, liquidity) to the input token's feeGrowthGlobalX128
  when liquidity > 0 (Solidity 0.7 `+=`: wraps modulo 2**256);
- Tick.cross sets each crossed tick's outside = global - outside for both tokens (wrapping);
- Tick.update gives a tick initialized at or below the current tick outside = the globals, one
  above it zeros; Tick.clear forgets a tick whose liquidity_gross returns to 0.

A crossing writes two feeGrowthOutside slots; `fee_growth_after_swap` counts those going from
zero to nonzero (a fresh SSTORE) and from nonzero to zero (a refund), which the gas model needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

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

__all__ = [
    "FeeGrowth",
    "FeeGrowthSwap",
    "fee_growth_after_modify",
    "fee_growth_after_swap",
    "initial_fee_growth",
    "replay_swap_event",
]

_Q128 = 1 << 128
_MOD256 = 1 << 256
_INT256_BOUND = 1 << 255


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeGrowth:
    """A V3 pool's fee growth: both globals and (outside0, outside1) of every initialized tick.

    `fee_protocol` is slot0.feeProtocol: token0's denominator in the low 4 bits, token1's in
    the high 4 (0: no protocol fee). `outside` is copied into a read-only mapping.
    """

    global0_x128: int
    global1_x128: int
    outside: Mapping[int, tuple[int, int]]
    fee_protocol: int = 0

    def __post_init__(self) -> None:
        for name in ("global0_x128", "global1_x128"):
            value = getattr(self, name)
            if not 0 <= value < _MOD256:
                raise ValueError(f"{name} is not a uint256: {value}")
        if not 0 <= self.fee_protocol < 256:
            raise ValueError(f"fee_protocol is not a uint8: {self.fee_protocol}")
        outside = {}
        for tick, (o0, o1) in self.outside.items():
            if not (0 <= o0 < _MOD256 and 0 <= o1 < _MOD256):
                raise ValueError(f"feeGrowthOutside of tick {tick} is not a uint256 pair")
            outside[tick] = (o0, o1)
        object.__setattr__(self, "outside", MappingProxyType(outside))

    def __reduce__(self) -> tuple[Callable[..., FeeGrowth], tuple[object, ...]]:
        # the read-only mapping view does not pickle: rebuild from a plain dict instead
        return (
            _rebuild,
            (self.global0_x128, self.global1_x128, dict(self.outside), self.fee_protocol),
        )

    def _replace(
        self, global0_x128: int, global1_x128: int, outside: Mapping[int, tuple[int, int]]
    ) -> FeeGrowth:
        """Return a copy without re-validation: `outside` must already be read-only."""
        new = object.__new__(FeeGrowth)
        object.__setattr__(new, "global0_x128", global0_x128)
        object.__setattr__(new, "global1_x128", global1_x128)
        object.__setattr__(new, "outside", outside)
        object.__setattr__(new, "fee_protocol", self.fee_protocol)
        return new


def _rebuild(
    global0_x128: int, global1_x128: int, outside: dict[int, tuple[int, int]], fee_protocol: int
) -> FeeGrowth:
    """Rebuild a pickled FeeGrowth."""
    return FeeGrowth(
        global0_x128=global0_x128,
        global1_x128=global1_x128,
        outside=outside,
        fee_protocol=fee_protocol,
    )


def _copy(outside: Mapping[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Return a dict copy of `outside`: 20x faster through a read-only view's own copy()."""
    if isinstance(outside, MappingProxyType):
        return outside.copy()
    return dict(outside)


def initial_fee_growth() -> FeeGrowth:
    """Return the fee growth of a pool right after initialize: all zero, no ticks."""
    return FeeGrowth(global0_x128=0, global1_x128=0, outside={})


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeGrowthSwap:
    """A swap with its fee growth: the pool's result, the fee growth after it, the crossings.

    `slots_set` counts feeGrowthOutside slots the crossings took from zero to nonzero,
    `slots_cleared` those taken from nonzero to zero; `crossed_ticks` is in crossing order.
    """

    result: SwapResult
    fee_growth: FeeGrowth
    crossed_ticks: tuple[int, ...]
    slots_set: int
    slots_cleared: int


def fee_growth_after_swap(
    state: V3PoolState,
    fee_growth: FeeGrowth,
    zero_for_one: bool,
    amount_specified: int,
    sqrt_price_limit_x96: int | None = None,
) -> FeeGrowthSwap:
    """Run UniswapV3Pool.swap with fee growth; the result equals `pool.swap`'s for the same call.

    Raises ValueError when a crossed tick has no outside values in `fee_growth` (the fee growth
    does not belong to this state), and EvmRevert as `pool.swap` does.
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
    steps = 0
    # the input token's global grows during the swap; the other token's stays as it was
    if zero_for_one:
        global_in, global_other = fee_growth.global0_x128, fee_growth.global1_x128
        protocol = fee_growth.fee_protocol % 16
    else:
        global_in, global_other = fee_growth.global1_x128, fee_growth.global0_x128
        protocol = fee_growth.fee_protocol >> 4
    outside: dict[int, tuple[int, int]] | None = None  # copied at the first crossing
    crossed: list[int] = []
    slots_set = 0
    slots_cleared = 0

    # the loop of pool.swap, step for step, plus the fee growth lines of UniswapV3Pool.swap
    while amount_specified_remaining != 0 and sqrt_price_x96 != sqrt_price_limit_x96:
        steps += 1
        sqrt_price_start_x96 = sqrt_price_x96
        tick_next, initialized = next_initialized_tick_within_one_word(
            sorted_ticks, tick, tick_spacing, zero_for_one
        )
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

        if protocol > 0:
            fee_amount -= fee_amount // protocol  # the protocol's share does not reach LPs
        if liquidity > 0:
            global_in = (global_in + mul_div(fee_amount, _Q128, liquidity)) % _MOD256

        if sqrt_price_x96 == sqrt_price_next_x96:
            if initialized:
                # Tick.cross: outside = global - outside, for both tokens
                if outside is None:
                    outside = _copy(fee_growth.outside)
                try:
                    old0, old1 = outside[tick_next]
                except KeyError:
                    raise ValueError(
                        f"tick {tick_next} has no feeGrowthOutside: fee growth of another state"
                    ) from None
                g0, g1 = (global_in, global_other) if zero_for_one else (global_other, global_in)
                new0 = (g0 - old0) % _MOD256
                new1 = (g1 - old1) % _MOD256
                outside[tick_next] = (new0, new1)
                for old, new in ((old0, new0), (old1, new1)):
                    if old == 0:
                        slots_set += new != 0
                    elif new == 0:
                        slots_cleared += 1
                crossed.append(tick_next)
                liquidity_net = liquidity_nets[tick_next]
                if zero_for_one:
                    liquidity_net = -liquidity_net
                liquidity = add_delta(liquidity, liquidity_net)
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_price_x96 != sqrt_price_start_x96:
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
        ticks_crossed=len(crossed),
        steps=steps,
    )
    g0, g1 = (global_in, global_other) if zero_for_one else (global_other, global_in)
    new_outside = fee_growth.outside if outside is None else MappingProxyType(outside)
    return FeeGrowthSwap(
        result=result,
        fee_growth=fee_growth._replace(g0, g1, new_outside),
        crossed_ticks=tuple(crossed),
        slots_set=slots_set,
        slots_cleared=slots_cleared,
    )


def fee_growth_after_modify(
    fee_growth: FeeGrowth, before: V3PoolState, after: V3PoolState
) -> FeeGrowth:
    """Return the fee growth after a mint or burn took the pool from `before` to `after`.

    Tick.update: a newly initialized tick at or below the current tick starts with outside =
    the globals (all growth so far counted below it), one above with zeros; Tick.clear forgets
    a tick the burn uninitialized. Globals do not change (a mint/burn collects no swap fees).
    """
    added = [t for t in after.ticks if t not in before.ticks]
    removed = [t for t in before.ticks if t not in after.ticks]
    if not added and not removed:
        return fee_growth
    outside = _copy(fee_growth.outside)
    below = (fee_growth.global0_x128, fee_growth.global1_x128)
    for tick in added:
        outside[tick] = below if tick <= before.tick else (0, 0)
    for tick in removed:
        outside.pop(tick, None)
    return fee_growth._replace(
        fee_growth.global0_x128, fee_growth.global1_x128, MappingProxyType(outside)
    )


def replay_swap_event(
    state: V3PoolState,
    fee_growth: FeeGrowth,
    amount0: int,
    amount1: int,
    sqrt_price_x96: int,
    tick: int,
    liquidity: int,
) -> FeeGrowthSwap | None:
    """Re-run the swap a Swap event reports on `state`; None unless it reproduces the event.

    The event gives the pool-side amounts and the state after the swap, not the caller's
    amount or limit. Fee growth only depends on each step's fee, so any call that walks the
    same price path and takes the same total input splits the fees as the original did: the
    steps before the last reach their tick and charge the rounded-up fee in every mode, and the
    last one takes what is left. Three calls are tried: exact input of the paid amount without
    a limit (the original call when it was an unlimited exact-input swap, whose last step
    keeps the rounding dust as fee); the same amount limited at the event's price (an
    exact-output or limited swap); one more unit limited at the event's price (a swap that
    ran on through ranges without liquidity, which take no input, to its limit). A result is
    accepted only when price, tick, liquidity and
    the input amount equal the event's (the output may differ by the rounding of an
    exact-output call, which does not touch the fees).
    """
    if amount0 > 0:
        zero_for_one, amount_in = True, amount0
    elif amount1 > 0:
        zero_for_one, amount_in = False, amount1
    else:
        return None  # nothing paid in: no swap call produces this
    for amount, limit in (
        (amount_in, None),
        (amount_in, sqrt_price_x96),
        (amount_in + 1, sqrt_price_x96),
    ):
        if limit is not None and not (
            limit < state.sqrt_price_x96 if zero_for_one else limit > state.sqrt_price_x96
        ):
            return None
        try:
            out = fee_growth_after_swap(state, fee_growth, zero_for_one, amount, limit)
        except (EvmRevert, ValueError):
            continue
        r = out.result
        if (
            r.sqrt_price_x96 == sqrt_price_x96
            and r.tick == tick
            and r.liquidity == liquidity
            and (r.amount0 if zero_for_one else r.amount1) == amount_in
        ):
            return out
    return None
