"""The pool table's V3 tick arrays: CSR-packed by pool id, repacked only where ticks changed.

Each V3 pool's slice (ascending initialized ticks, float liquidity_net, float sqrt price at
each tick) is cached beside the tick mapping it came from. `V3PoolState.with_price` (a swap)
shares that mapping, so only mint, burn and new pools repack a slice; `pack` concatenates the
slices of every pool id (empty for V2 and empty pools) into `amm_math`'s `CsrTicks`.

`in_range_state` is a V3 pool known only from a Swap event (price, tick, active liquidity; no
tick map): no initialized tick can lie strictly inside the current tick-spacing interval, so
the state is exact there; two bound ticks take the liquidity to zero outside it, so every
swap that would leave the interval fills short (exact re-pricing drops it, the float screen
stops at the bound) instead of being priced on liquidity nobody knows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import MAX_TICK, MIN_TICK, get_sqrt_ratio_at_tick
from amm_math.uniswap_v3.ticks_csr import CsrTicks
from chains.records import Kind

__all__ = [
    "TickCsrCache",
    "in_range_after",
    "in_range_bounds",
    "in_range_state",
    "sqrt_price_at_tick_f",
]

_Q96 = 2**96
_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_F64 = np.zeros(0, dtype=np.float64)


@functools.lru_cache(maxsize=1 << 16)
def sqrt_price_at_tick_f(tick: int) -> float:
    """Return TickMath.getSqrtRatioAtTick(tick) / 2**96, correctly rounded once."""
    return get_sqrt_ratio_at_tick(tick) / _Q96


def in_range_bounds(tick: int, tick_spacing: int) -> tuple[int, int]:
    """Return the tick-spacing interval [lower, upper] holding `tick` (none initialized inside)."""
    lower = tick - tick % tick_spacing  # Python's % floors, as the interval must for tick < 0
    return lower, lower + tick_spacing


def in_range_state(
    *, sqrt_price_x96: int, tick: int, liquidity: int, fee_pips: int, tick_spacing: int
) -> V3PoolState:
    """Return a V3 state exact inside the current tick-spacing interval, empty outside it."""
    lower, upper = in_range_bounds(tick, tick_spacing)
    ticks: dict[int, int] = {}
    gross: dict[int, int] = {}
    if liquidity > 0:
        # crossing `lower` downwards subtracts its net, crossing `upper` upwards adds its net
        if lower >= MIN_TICK:
            ticks[lower], gross[lower] = liquidity, liquidity
        if upper <= MAX_TICK:
            ticks[upper], gross[upper] = -liquidity, liquidity
    return V3PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=liquidity,
        fee_pips=fee_pips,
        tick_spacing=tick_spacing,
        ticks=ticks,
        liquidity_gross=gross,
    )


def in_range_after(
    kind: int,
    state: V3PoolState | None,
    fee_pips: int,
    tick_spacing: int,
    words: tuple[int, int, int],
    ticks: tuple[int, ...],
) -> V3PoolState | None:
    """Return an in-range-only pool's state after one V3 record; None when it does not change.

    `words`: the record's value words 0, 2 and 3 (Mint/Burn amount; Swap sqrt price and
    liquidity); `ticks`: its (tick, tick_lower, tick_upper, aux).
    """
    if kind == Kind.V3_SWAP:
        sqrt_price_x96, tick, liquidity = words[1], ticks[0], words[2]
    elif kind in (Kind.V3_MINT, Kind.V3_BURN):
        amount = words[0]
        if state is None or amount == 0 or not ticks[1] <= state.tick < ticks[2]:
            return None  # not usable yet, a poke, or a position outside the known interval
        sqrt_price_x96, tick = state.sqrt_price_x96, state.tick
        liquidity = state.liquidity + (amount if kind == Kind.V3_MINT else -amount)
        if liquidity < 0:
            raise ValueError(f"a Burn of {amount} takes more than the liquidity {state.liquidity}")
    else:
        raise ValueError(f"{Kind(kind).name} on a V3 pool known in range only")
    return in_range_state(
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=liquidity,
        fee_pips=fee_pips,
        tick_spacing=tick_spacing,
    )


class TickCsrCache:
    """Per-pool packed tick slices, keyed by the identity of the tick mapping they pack."""

    def __init__(self) -> None:
        self._slices: dict[int, tuple[Mapping[int, int], np.ndarray, np.ndarray, np.ndarray]] = {}
        self.repacked_pools = 0  # how many slices were (re)built: tests and metrics read it

    def _slice(self, pool_id: int, state: V3PoolState) -> tuple[np.ndarray, ...]:
        cached = self._slices.get(pool_id)
        if cached is not None and cached[0] is state.ticks:
            return cached[1:]
        ticks = state.sorted_ticks
        packed = (
            np.array(ticks, dtype=np.int64),
            np.array([float(state.ticks[t]) for t in ticks], dtype=np.float64),
            np.array([sqrt_price_at_tick_f(t) for t in ticks], dtype=np.float64),
        )
        self._slices[pool_id] = (state.ticks, *packed)
        self.repacked_pools += 1
        return packed

    def pack(
        self,
        states: Sequence[V3PoolState | None],
        sqrt_price_f: np.ndarray,
        liquidity_f: np.ndarray,
        tick: np.ndarray,
        fee_pips: np.ndarray,
    ) -> CsrTicks:
        """Return the CSR arrays of every pool id (index = pool id; None packs no ticks)."""
        n_pools = len(states)
        starts = np.zeros(n_pools + 1, dtype=np.int64)
        parts_tick: list[np.ndarray] = []
        parts_net: list[np.ndarray] = []
        parts_sqrt: list[np.ndarray] = []
        for pool_id, state in enumerate(states):
            if state is None:
                self._slices.pop(pool_id, None)
                starts[pool_id + 1] = starts[pool_id]
                continue
            ticks, nets, sqrts = self._slice(pool_id, state)
            parts_tick.append(ticks)
            parts_net.append(nets)
            parts_sqrt.append(sqrts)
            starts[pool_id + 1] = starts[pool_id] + ticks.shape[0]
        return CsrTicks(
            ticks=np.concatenate(parts_tick) if parts_tick else _EMPTY_I64.copy(),
            liquidity_net=np.concatenate(parts_net) if parts_net else _EMPTY_F64.copy(),
            sqrt_price_at_tick=np.concatenate(parts_sqrt) if parts_sqrt else _EMPTY_F64.copy(),
            pool_tick_start=starts,
            sqrt_price=sqrt_price_f[:n_pools].copy(),
            liquidity=liquidity_f[:n_pools].copy(),
            tick=tick[:n_pools].astype(np.int64),
            fee_pips=fee_pips[:n_pools].astype(np.int64),
        )
