"""The state a UniswapV3Pool.sol swap and mint/burn read: slot0, liquidity, ticks, bitmap.

`V3PoolState` holds what the pool's swap loop needs and nothing else (no fee growth, no
oracle). The contract's tick bitmap is replaced by a sorted tuple of the initialized ticks,
built once per state; `next_initialized_tick_within_one_word` answers the bitmap's
nextInitializedTickWithinOneWord query from it, with the same word boundaries.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from amm_math.uniswap_v3.tick_math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK

__all__ = [
    "SwapResult",
    "V3PoolState",
    "next_initialized_tick_within_one_word",
    "ticks_from_lists",
]

_MAX_UINT128 = (1 << 128) - 1
_MIN_INT128 = -(1 << 127)
_MAX_INT128 = (1 << 127) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class V3PoolState:
    """One pool's swap-relevant state; `ticks` maps every initialized tick to liquidity_net.

    `liquidity_gross` holds the same keys when known (mint/burn need it for the ticks they
    touch). Both mappings are copied on construction, so the caller's dicts stay theirs.
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_pips: int
    tick_spacing: int
    ticks: Mapping[int, int]
    liquidity_gross: Mapping[int, int] = field(default_factory=dict)
    _sorted_ticks: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tick_spacing <= 0:
            raise ValueError(f"tick_spacing must be positive, got {self.tick_spacing}")
        if not 0 <= self.fee_pips < 1_000_000:
            # the factory only enables fees below 1e6; SwapMath's `1e6 - feePips` relies on it
            raise ValueError(f"fee_pips must be in [0, 1_000_000), got {self.fee_pips}")
        if not MIN_SQRT_RATIO <= self.sqrt_price_x96 < MAX_SQRT_RATIO:
            raise ValueError(f"sqrt_price_x96 out of range: {self.sqrt_price_x96}")
        if not MIN_TICK <= self.tick <= MAX_TICK:
            raise ValueError(f"tick out of range: {self.tick}")
        if not 0 <= self.liquidity <= _MAX_UINT128:
            raise ValueError(f"liquidity is not a uint128: {self.liquidity}")
        ticks = dict(self.ticks)
        gross = dict(self.liquidity_gross)
        for tick, net in ticks.items():
            if tick % self.tick_spacing != 0 or not MIN_TICK <= tick <= MAX_TICK:
                raise ValueError(f"tick {tick} is not a valid tick for spacing {self.tick_spacing}")
            if not _MIN_INT128 <= net <= _MAX_INT128:
                raise ValueError(f"liquidity_net of tick {tick} is not an int128: {net}")
        for tick, value in gross.items():
            if tick not in ticks:
                raise ValueError(f"liquidity_gross has tick {tick}, which is not in ticks")
            if not 0 < value <= _MAX_UINT128:
                raise ValueError(
                    f"liquidity_gross of tick {tick} must be a positive uint128: {value}"
                )
        object.__setattr__(self, "ticks", MappingProxyType(ticks))
        object.__setattr__(self, "liquidity_gross", MappingProxyType(gross))
        object.__setattr__(self, "_sorted_ticks", tuple(sorted(ticks)))

    def __reduce__(self) -> tuple[Callable[..., V3PoolState], tuple[object, ...]]:
        # the read-only mapping views do not pickle: rebuild from plain dicts instead
        return (
            _rebuild_state,
            (
                self.sqrt_price_x96,
                self.tick,
                self.liquidity,
                self.fee_pips,
                self.tick_spacing,
                dict(self.ticks),
                dict(self.liquidity_gross),
            ),
        )

    @property
    def sorted_ticks(self) -> tuple[int, ...]:
        """Return the initialized ticks in ascending order."""
        return self._sorted_ticks

    def with_price(self, *, sqrt_price_x96: int, tick: int, liquidity: int) -> V3PoolState:
        """Return a copy with a new slot0 price/tick and liquidity, sharing the tick maps."""
        if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
            raise ValueError(f"sqrt_price_x96 out of range: {sqrt_price_x96}")
        if not MIN_TICK <= tick <= MAX_TICK:
            raise ValueError(f"tick out of range: {tick}")
        if not 0 <= liquidity <= _MAX_UINT128:
            raise ValueError(f"liquidity is not a uint128: {liquidity}")
        # skip __post_init__: the read-only tick maps and their sorted keys are reused as they are
        new = object.__new__(V3PoolState)
        for name, value in (
            ("sqrt_price_x96", sqrt_price_x96),
            ("tick", tick),
            ("liquidity", liquidity),
            ("fee_pips", self.fee_pips),
            ("tick_spacing", self.tick_spacing),
            ("ticks", self.ticks),
            ("liquidity_gross", self.liquidity_gross),
            ("_sorted_ticks", self._sorted_ticks),
        ):
            object.__setattr__(new, name, value)
        return new


def _rebuild_state(
    sqrt_price_x96: int,
    tick: int,
    liquidity: int,
    fee_pips: int,
    tick_spacing: int,
    ticks: dict[int, int],
    liquidity_gross: dict[int, int],
) -> V3PoolState:
    """Rebuild a pickled V3PoolState."""
    return V3PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=liquidity,
        fee_pips=fee_pips,
        tick_spacing=tick_spacing,
        ticks=ticks,
        liquidity_gross=liquidity_gross,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapResult:
    """What UniswapV3Pool.swap returns and leaves in slot0: pool-side signed amounts and price.

    amount0/amount1 are positive into the pool, negative out of it.
    """

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int = 0  # initialized ticks crossed
    steps: int = 0  # loop iterations: each initialized tick or bitmap word boundary


def ticks_from_lists(ticks: Sequence[int], nets: Sequence[int]) -> dict[int, int]:
    """Return the tick -> liquidity_net dict of two parallel sequences."""
    if len(ticks) != len(nets):
        raise ValueError(f"{len(ticks)} ticks but {len(nets)} liquidity_net values")
    out = dict(zip(ticks, nets, strict=True))
    if len(out) != len(ticks):
        raise ValueError("duplicate ticks")
    return out


def next_initialized_tick_within_one_word(
    sorted_ticks: Sequence[int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """Return what TickBitmap.nextInitializedTickWithinOneWord returns, from sorted ticks.

    The bitmap word holding the compressed tick bounds the search: when no initialized tick
    lies within it, the word's edge comes back with initialized False, as in the contract.
    """
    compressed = tick // tick_spacing  # rounds toward negative infinity, as the contract does
    if lte:
        # the word of `compressed` spans compressed ticks [word_start, word_start + 255]
        lowest = ((compressed >> 8) << 8) * tick_spacing
        i = bisect_right(sorted_ticks, compressed * tick_spacing) - 1
        if i >= 0 and sorted_ticks[i] >= lowest:
            return sorted_ticks[i], True
        return lowest, False
    # start from the word of the next compressed tick
    start = compressed + 1
    highest = (((start >> 8) << 8) + 255) * tick_spacing
    i = bisect_left(sorted_ticks, start * tick_spacing)
    if i < len(sorted_ticks) and sorted_ticks[i] <= highest:
        return sorted_ticks[i], True
    return highest, False
