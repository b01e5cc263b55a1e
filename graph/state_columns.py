"""The pool table's rows and columns: one immutable row per pool, float64 columns by pool id.

A `PoolRow` holds a pool's exact state (V2 reserves as ints, or an `amm_math` V3PoolState);
`PoolColumns` keeps the numpy columns the numba search reads, indexed by pool id, grown by
doubling, and rewrites a pool's entries from its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from amm_math.uniswap_v3.fee_growth import FeeGrowth
from amm_math.uniswap_v3.pool_state import V3PoolState

__all__ = ["KIND_CODE", "PoolColumns", "PoolRow", "PoolSpec"]

KIND_CODE = {"v2": 2, "v3": 3}
"""The `kind` column's code of each pool kind (0: no pool at this id)."""

_Q96 = 2**96


class PoolSpec(NamedTuple):
    """A pool the table holds: id, address, kind ("v2"/"v3"), fee and tick spacing."""

    pool_id: int
    address: str
    kind: str
    fee_pips: int
    tick_spacing: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolRow:
    """One pool's exact state; `reserves` (V2) or `v3` is None until the first Sync/Initialize.

    `fee_growth` is the V3 pool's exact fee growth (globals and every initialized tick's
    outside values) when known, None when not (no snapshot of it, or an event it could not
    follow exactly).
    """

    spec: PoolSpec
    reserves: tuple[int, int] | None = None
    v3: V3PoolState | None = None
    fee_growth: FeeGrowth | None = None


class PoolColumns:
    """Float64 and integer columns indexed by pool id, views of length `n_pools`."""

    def __init__(self, capacity: int) -> None:
        self._n_pools = 0
        self._capacity = 0
        self._grow(max(capacity, 1))

    _COLUMNS: ClassVar[dict[str, type]] = {
        "_kind": np.int8,
        "_fee_pips": np.int64,
        "_tick_spacing": np.int64,
        "_has_state": np.bool_,
        "_reserve0_f": np.float64,
        "_reserve1_f": np.float64,
        "_sqrt_price_f": np.float64,
        "_liquidity_f": np.float64,
        "_tick": np.int64,
    }

    def _grow(self, capacity: int) -> None:
        old = self._capacity
        for name, dtype in self._COLUMNS.items():
            column = np.zeros(capacity, dtype=dtype)
            if old:
                column[:old] = getattr(self, name)[:old]
            setattr(self, name, column)
        self._capacity = capacity

    def copy_columns_from(self, other: PoolColumns) -> None:
        """Replace every column with a copy of `other`'s (a scratch copy of a table's state)."""
        for name in self._COLUMNS:
            setattr(self, name, getattr(other, name).copy())
        self._capacity = other._capacity
        self._n_pools = other._n_pools

    @property
    def n_pools(self) -> int:
        """Return the number of pool ids (one past the highest id held)."""
        return self._n_pools

    @property
    def kind(self) -> np.ndarray:
        """Return int8[n_pools]: 2 V2, 3 V3, 0 no pool."""
        return self._kind[: self.n_pools]

    @property
    def fee_pips(self) -> np.ndarray:
        """Return int64[n_pools] fees in pips."""
        return self._fee_pips[: self.n_pools]

    @property
    def tick_spacing(self) -> np.ndarray:
        """Return int64[n_pools] V3 tick spacings (0 for V2)."""
        return self._tick_spacing[: self.n_pools]

    @property
    def has_state(self) -> np.ndarray:
        """Return bool[n_pools]: the pool has reserves (V2) or an initialized price (V3)."""
        return self._has_state[: self.n_pools]

    @property
    def reserve0_f(self) -> np.ndarray:
        """Return float64[n_pools] V2 reserve0 in raw token units."""
        return self._reserve0_f[: self.n_pools]

    @property
    def reserve1_f(self) -> np.ndarray:
        """Return float64[n_pools] V2 reserve1 in raw token units."""
        return self._reserve1_f[: self.n_pools]

    @property
    def sqrt_price_f(self) -> np.ndarray:
        """Return float64[n_pools] V3 sqrt_price_x96 / 2**96."""
        return self._sqrt_price_f[: self.n_pools]

    @property
    def liquidity_f(self) -> np.ndarray:
        """Return float64[n_pools] V3 active liquidity."""
        return self._liquidity_f[: self.n_pools]

    @property
    def tick(self) -> np.ndarray:
        """Return int64[n_pools] V3 current ticks."""
        return self._tick[: self.n_pools]

    def _write_columns(self, pool_id: int, row: PoolRow | None) -> None:
        """Rewrite a pool's column entries from its row (None: no pool at this id)."""
        if pool_id >= self._capacity:
            self._grow(max(2 * self._capacity, pool_id + 1))
        self._n_pools = max(self._n_pools, pool_id + 1)
        self._kind[pool_id] = 0 if row is None else KIND_CODE[row.spec.kind]
        self._fee_pips[pool_id] = 0 if row is None else row.spec.fee_pips
        self._tick_spacing[pool_id] = 0 if row is None else row.spec.tick_spacing
        reserves = None if row is None else row.reserves
        state = None if row is None else row.v3
        self._has_state[pool_id] = reserves is not None or state is not None
        self._reserve0_f[pool_id] = 0.0 if reserves is None else float(reserves[0])
        self._reserve1_f[pool_id] = 0.0 if reserves is None else float(reserves[1])
        # int / int rounds once; float(x) / 2**96 would round twice
        self._sqrt_price_f[pool_id] = 0.0 if state is None else state.sqrt_price_x96 / _Q96
        self._liquidity_f[pool_id] = 0.0 if state is None else float(state.liquidity)
        self._tick[pool_id] = 0 if state is None else state.tick
