"""The pool table's V3 tick arrays: CSR-packed by pool id, repacked only where ticks changed.

Each V3 pool's slice (ascending initialized ticks, float liquidity_net, float sqrt price at
each tick) is cached beside the tick mapping it came from. `V3PoolState.with_price` (a swap)
shares that mapping, so only mint, burn and new pools repack a slice; `pack` concatenates the
slices of every pool id (empty for V2 and empty pools) into `amm_math`'s `CsrTicks`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick
from amm_math.uniswap_v3.ticks_csr import CsrTicks

__all__ = ["TickCsrCache", "sqrt_price_at_tick_f"]

_Q96 = 2**96
_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_F64 = np.zeros(0, dtype=np.float64)


@functools.lru_cache(maxsize=1 << 16)
def sqrt_price_at_tick_f(tick: int) -> float:
    """Return TickMath.getSqrtRatioAtTick(tick) / 2**96, correctly rounded once."""
    return get_sqrt_ratio_at_tick(tick) / _Q96


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
