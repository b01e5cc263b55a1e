"""UniswapV3Pool.sol's and Tick.sol's fee growth: feeGrowthGlobal and each tick's outside values.

`pool.swap` leaves fee growth out; this module adds it, exactly, beside an immutable
`FeeGrowth` value kept next to a `V3PoolState`:

- a swap runs the pool's loop (`swap_loop.swap_loop`) with its fee growth lines: per step
  the protocol's share (feeAmount / feeProtocol) comes off and FullMath.mulDiv(feeAmount,
  Q128, liquidity) is added to the input token's feeGrowthGlobalX128 when liquidity > 0
  (Solidity 0.7 `+=`: wraps modulo 2**256); Tick.cross sets each crossed tick's outside =
  global - outside for both tokens (wrapping);
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
from amm_math.uniswap_v3.pool_state import SwapResult, V3PoolState
from amm_math.uniswap_v3.swap_loop import copy_outside, swap_loop

__all__ = [
    "FeeGrowth",
    "FeeGrowthSwap",
    "fee_growth_after_modify",
    "fee_growth_after_swap",
    "initial_fee_growth",
    "replay_swap_event",
]

_MOD256 = 1 << 256


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
    result, fees = swap_loop(
        state, zero_for_one, amount_specified, sqrt_price_limit_x96, fee_growth
    )
    global0_x128, global1_x128, outside, crossed_ticks, slots_set, slots_cleared = fees
    return FeeGrowthSwap(
        result=result,
        fee_growth=fee_growth._replace(global0_x128, global1_x128, outside),
        crossed_ticks=crossed_ticks,
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
    outside = copy_outside(fee_growth.outside)
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
