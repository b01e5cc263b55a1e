"""Pack the initialized ticks of V3 pools into flat float64/int64 arrays for the numba kernels.

Pool `p` owns the slice `[pool_tick_start[p], pool_tick_start[p + 1])` of the flat arrays
(compressed sparse rows): its initialized ticks in ascending order, their liquidity_net, and
the sqrt price at each tick computed exactly by TickMath.getSqrtRatioAtTick and divided by
2**96 with one correct rounding. The per-pool scalars the kernels start from (sqrt price,
liquidity, tick, fee) sit beside them, indexed by pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick

__all__ = ["CsrTicks", "build_csr", "csr_of"]

Q96 = 2**96


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CsrTicks:
    """Initialized ticks of many pools, CSR-packed; pool p owns [start[p], start[p + 1]).

    Compared by identity: `==` on numpy arrays has no single truth value.
    """

    ticks: np.ndarray  # int64[n_ticks], ascending within each pool
    liquidity_net: np.ndarray  # float64[n_ticks]
    sqrt_price_at_tick: np.ndarray  # float64[n_ticks], sqrt(token1/token0) in raw units
    pool_tick_start: np.ndarray  # int64[n_pools + 1]
    sqrt_price: np.ndarray  # float64[n_pools], sqrt_price_x96 / 2**96
    liquidity: np.ndarray  # float64[n_pools], active liquidity
    tick: np.ndarray  # int64[n_pools], current tick
    fee_pips: np.ndarray  # int64[n_pools]

    @property
    def n_pools(self) -> int:
        """Return the number of pools packed."""
        return int(self.pool_tick_start.shape[0]) - 1

    def bounds(self, pool: int) -> tuple[int, int]:
        """Return (start, end) of pool's slice of the flat tick arrays."""
        return int(self.pool_tick_start[pool]), int(self.pool_tick_start[pool + 1])


def build_csr(states: Sequence[V3PoolState]) -> CsrTicks:
    """Pack the initialized ticks and starting scalars of `states`, in order, into CsrTicks."""
    # every key of `ticks` is initialized (liquidity_gross > 0), even where liquidity_net is 0
    per_pool = [state.sorted_ticks for state in states]
    starts = np.zeros(len(states) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(ticks) for ticks in per_pool], dtype=np.int64)
    flat_ticks = [tick for ticks in per_pool for tick in ticks]
    flat_net = [state.ticks[tick] for state in states for tick in state.sorted_ticks]
    # int / int is one correctly rounded division; float(x) / 2**96 would round twice
    return CsrTicks(
        ticks=np.array(flat_ticks, dtype=np.int64),
        liquidity_net=np.array([float(net) for net in flat_net], dtype=np.float64),
        sqrt_price_at_tick=np.array(
            [get_sqrt_ratio_at_tick(tick) / Q96 for tick in flat_ticks], dtype=np.float64
        ),
        pool_tick_start=starts,
        sqrt_price=np.array([state.sqrt_price_x96 / Q96 for state in states], dtype=np.float64),
        liquidity=np.array([float(state.liquidity) for state in states], dtype=np.float64),
        tick=np.array([state.tick for state in states], dtype=np.int64),
        fee_pips=np.array([state.fee_pips for state in states], dtype=np.int64),
    )


def csr_of(state: V3PoolState) -> CsrTicks:
    """Pack one pool: its slice is [0, number of initialized ticks)."""
    return build_csr([state])
