"""Search: the cycles touched by changed pools, their float optimum and net profit, the top K.

`CycleSearch` runs the numba kernels of `graph.search_kernels` over a state view — the pool
table itself, or a scratch copy with a pending swap applied (`graph.pending`) — and returns
screened cycles ranked by float net profit. Floats only screen: `graph.reprice` turns each
screened cycle into a `Candidate` in exact integers, or drops it.

A state view is anything with the pool table's columns (`kind`, `fee_pips`, `has_state`,
`reserve0_f`, `reserve1_f`, `sqrt_price_f`, `liquidity_f`, `tick`) and `csr()` ticks; the
exact side (`row`, `v2_reserves`, `v3_state`) is what re-pricing reads.

Net profit in wei = gross profit x the base token's value in wei - gas units x gas price - tip,
with the tip a configured share of what is left after gas. The value of a base token other
than WETH is the mid price of its deepest pool against WETH in the same view.

`full_pass` runs Bellman-Ford on -log marginal rates over the whole graph and reports the
negative cycles it finds, including ones longer than the enumerated length; it stops at the
first relaxation round whose predecessor graph holds one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import numpy as np

from amm_math.uniswap_v3.ticks_csr import CsrTicks
from graph.cycles import CycleSet
from graph.search_kernels import (
    KIND_V2,
    KIND_V3,
    MAX_HOPS,
    RECORD_WIDTH,
    evaluate_cycles,
    fill_records,
    negative_cycles,
    pack_hops,
    sort_by_mark,
)

__all__ = [
    "ColumnView",
    "CycleSearch",
    "Evaluation",
    "NegativeCycle",
    "Screened",
    "SearchParams",
    "base_values",
]

_Q192 = 1 << 192


class ColumnView(Protocol):
    """The float columns and CSR ticks the kernels read (graph.state.PoolTable has them)."""

    @property
    def kind(self) -> np.ndarray: ...
    @property
    def fee_pips(self) -> np.ndarray: ...
    @property
    def has_state(self) -> np.ndarray: ...
    @property
    def reserve0_f(self) -> np.ndarray: ...
    @property
    def reserve1_f(self) -> np.ndarray: ...
    @property
    def sqrt_price_f(self) -> np.ndarray: ...
    @property
    def liquidity_f(self) -> np.ndarray: ...
    @property
    def tick(self) -> np.ndarray: ...
    def csr(self) -> CsrTicks: ...
    def v2_reserves(self, pool_id: int) -> tuple[int, int] | None: ...
    def v3_state(self, pool_id: int) -> object | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchParams:
    """What the screen needs beyond state: gas coefficients and price, tip share, cut-offs."""

    gas_coeffs: np.ndarray  # [base, per V2 hop, per V3 hop, per tick crossed, per parked hop]
    gas_price_wei: int
    tip_share_bps: int
    min_net_profit_wei: int = 0
    top_k: int = 8

    def __post_init__(self) -> None:
        if self.gas_coeffs.shape != (5,):
            raise ValueError("gas_coeffs must hold 5 coefficients")
        if self.gas_price_wei < 0:
            raise ValueError(f"gas_price_wei must not be negative: {self.gas_price_wei}")
        if not 0 <= self.tip_share_bps <= 10_000:
            raise ValueError(f"tip_share_bps must be in 0..10000: {self.tip_share_bps}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1: {self.top_k}")


@dataclass(frozen=True, slots=True)
class Screened:
    """One cycle that passed the float screen: its input, gross profit, gas and net (floats)."""

    cycle_id: int
    amount_in_f: float  # raw units of the base token
    profit_f: float  # gross, raw units of the base token
    net_wei_f: float
    gas_units_f: float
    ticks_crossed: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Per-cycle outputs of one kernel run, aligned with `cycle_ids`."""

    cycle_ids: np.ndarray
    amount_in_f: np.ndarray
    profit_f: np.ndarray
    ticks_crossed: np.ndarray
    gas_units_f: np.ndarray
    net_wei_f: np.ndarray
    profitable: int  # cycles with a positive gross profit

    def __len__(self) -> int:
        return int(self.cycle_ids.shape[0])


@dataclass(frozen=True, slots=True)
class NegativeCycle:
    """A loop whose marginal rates multiply to more than 1 (before price impact)."""

    hops: tuple[tuple[int, bool], ...]  # (pool id, zero_for_one)
    log_gain: float  # sum of log marginal rates after fees


def base_values(
    view: ColumnView, cycles: CycleSet, weth_id: int | None, base_tokens: Sequence[int]
) -> dict[int, Fraction]:
    """Return the exact value in wei of one raw unit of each base token (WETH: 1).

    A base token other than WETH takes the mid price (no fee) of its deepest pool against
    WETH: the pool whose WETH side (real V2 reserve, or virtual V3 reserve) is largest. A base
    token without such a pool is left out: its cycles cannot be valued in wei.
    """
    out: dict[int, Fraction] = {}
    t0, t1 = cycles.pool_token0, cycles.pool_token1
    for token in base_tokens:
        if token == weth_id:
            out[token] = Fraction(1)
            continue
        if weth_id is None:
            continue
        best: tuple[float, Fraction] | None = None
        pairs = ((t0 == token) & (t1 == weth_id)) | ((t1 == token) & (t0 == weth_id))
        for pool in np.flatnonzero(pairs):
            pool = int(pool)
            if pool >= view.has_state.shape[0] or not view.has_state[pool]:
                continue
            token_is_0 = int(t0[pool]) == token
            if view.kind[pool] == KIND_V2:
                reserves = view.v2_reserves(pool)
                if reserves is None or 0 in reserves:
                    continue
                price_1_per_0 = Fraction(reserves[1], reserves[0])
                depth = float(reserves[1] if token_is_0 else reserves[0])
            elif view.kind[pool] == KIND_V3:
                state = view.v3_state(pool)
                if state is None or state.liquidity == 0:  # type: ignore[attr-defined]
                    continue
                sqrt_price = state.sqrt_price_x96  # type: ignore[attr-defined]
                price_1_per_0 = Fraction(sqrt_price * sqrt_price, _Q192)
                s = sqrt_price / 2**96
                liquidity = float(state.liquidity)  # type: ignore[attr-defined]
                depth = liquidity * s if token_is_0 else liquidity / s
            else:
                continue
            value = price_1_per_0 if token_is_0 else 1 / price_1_per_0
            if best is None or depth > best[0]:
                best = (depth, value)
        if best is not None:
            out[token] = best[1]
    return out


# a touched set above this share of all cycles is put in cycle id order (a pass over a bit
# per cycle) before the kernel reads it: its rows are then read in memory order
_SORT_SHARE = 1 / 32
# from this many cycle ids per pool id on, every pool record is filled in one ordered pass
# over the columns, rather than pool by pool along the cycles' hops (a gather per column)
_FILL_ALL_SHARE = 1 / 16


def _aligned_records(n_pools: int) -> np.ndarray:
    """Return float64[n_pools, RECORD_WIDTH] of NaN whose rows start on 64-byte lines."""
    buffer = np.full(n_pools * RECORD_WIDTH + 8, np.nan)
    offset = (-buffer.ctypes.data % 64) // 8
    return buffer[offset : offset + n_pools * RECORD_WIDTH].reshape(n_pools, RECORD_WIDTH)


class CycleSearch:
    """Screens cycles with the numba kernels; keeps scratch that lives across calls.

    The scratch: the cycles as int32 hop codes (`pack_hops`, extended as the CycleSet grows;
    its rows never change), one record per pool id that each kernel call refills for the
    pools it reads (told apart by a per-call epoch), base values by token id and a bit per
    cycle. Not for use by two threads at once.
    """

    def __init__(self, cycles: CycleSet) -> None:
        self.cycles = cycles
        self.evaluated_total = 0  # cycles evaluated since start (metrics read it)
        self._hops = np.empty((0, MAX_HOPS), dtype=np.int32)
        self._n_packed = 0
        self._records = np.empty((0, RECORD_WIDTH), dtype=np.float64)
        self._epoch = 0.0
        self._values = np.zeros(0, dtype=np.float64)
        self._cycle_bits = np.zeros(0, dtype=np.uint64)
        self._sync()

    def _sync(self) -> None:
        """Pack cycles added since the last call; grow the per-pool and per-token scratch."""
        cycles = self.cycles
        n = cycles.n_cycles
        if n > self._hops.shape[0]:
            hops = np.empty((max(n, 2 * self._hops.shape[0]), MAX_HOPS), dtype=np.int32)
            hops[: self._n_packed] = self._hops[: self._n_packed]
            self._hops = hops
            self._cycle_bits = np.zeros(hops.shape[0] // 64 + 1, dtype=np.uint64)
        if n > self._n_packed:
            if cycles.n_pools >= 2**30:
                raise ValueError("pool ids must stay below 2**30 to pack into int32 hop codes")
            pack_hops(
                cycles.pools, cycles.zero_for_one, cycles.length, self._n_packed, n, self._hops
            )
            self._n_packed = n
        if cycles.n_pools > self._records.shape[0]:
            # no epoch equals NaN: every record is filled on first use
            self._records = _aligned_records(max(cycles.n_pools, 2 * self._records.shape[0]))
        if cycles.n_tokens > self._values.shape[0]:
            self._values = np.zeros(max(cycles.n_tokens, 2 * self._values.shape[0]))

    def _columns(self, view: ColumnView) -> tuple[np.ndarray, ...]:
        n = self.cycles.n_pools
        if view.kind.shape[0] < n:
            raise ValueError(f"the state view holds {view.kind.shape[0]} pool ids, the graph {n}")
        csr = view.csr()
        if csr.pool_tick_start.shape[0] < n + 1:
            raise ValueError("the view's CSR ticks do not cover every pool of the graph")
        return (
            view.kind,
            view.fee_pips,
            view.has_state,
            view.reserve0_f,
            view.reserve1_f,
            view.sqrt_price_f,
            view.liquidity_f,
            view.tick,
            csr.ticks,
            csr.liquidity_net,
            csr.sqrt_price_at_tick,
            csr.pool_tick_start,
        )

    def evaluate(
        self,
        view: ColumnView,
        cycle_ids: np.ndarray,
        base_value_wei: dict[int, Fraction],
        params: SearchParams,
    ) -> Evaluation:
        """Run the kernel over `cycle_ids`; cycles whose base has no value get net -inf."""
        ids = np.ascontiguousarray(cycle_ids, dtype=np.int64)
        if ids.shape[0] and (ids.min() < 0 or ids.max() >= self.cycles.n_cycles):
            raise IndexError(f"cycle ids must be in 0..{self.cycles.n_cycles - 1}")
        return self._evaluate(view, ids, base_value_wei, params)

    def _evaluate(
        self,
        view: ColumnView,
        ids: np.ndarray,
        base_value_wei: dict[int, Fraction],
        params: SearchParams,
    ) -> Evaluation:
        """Run the kernel over valid int64 cycle ids."""
        n = ids.shape[0]
        self._sync()
        values = self._values
        values[:] = 0.0
        for token, value in base_value_wei.items():
            values[token] = float(value)
        self._epoch += 1.0
        columns = self._columns(view)
        n_pools = self.cycles.n_pools
        fill_records(
            self._epoch,
            self._records,
            n > _FILL_ALL_SHARE * n_pools,
            ids,
            self._hops,
            *(column[:n_pools] for column in columns[:7]),
        )
        out = (
            np.empty(n),
            np.empty(n),
            np.empty(n, dtype=np.int64),
            np.empty(n),
            np.empty(n),
        )
        found = evaluate_cycles(
            ids,
            self._hops,
            self.cycles.base,
            self._records,
            self._epoch,
            *columns,
            values,
            np.ascontiguousarray(params.gas_coeffs, dtype=np.float64),
            float(params.gas_price_wei),
            params.tip_share_bps / 10_000.0,
            *out,
        )
        self.evaluated_total += n
        return Evaluation(ids, *out, profitable=int(found))

    def touched(
        self,
        view: ColumnView,
        changed_pools: Iterable[int] | np.ndarray,
        base_value_wei: dict[int, Fraction],
        params: SearchParams,
    ) -> Evaluation:
        """Evaluate every cycle through any changed pool (in cycle id order when many)."""
        ids = self.cycles.touching(changed_pools)
        if ids.shape[0] > _SORT_SHARE * self.cycles.n_cycles:
            self._sync()
            ids = sort_by_mark(ids, self._cycle_bits)
        return self._evaluate(view, ids, base_value_wei, params)

    def top(self, evaluation: Evaluation, params: SearchParams) -> list[Screened]:
        """Return up to top_k screened cycles by net profit, no two sharing a pool.

        A cycle qualifies when its float net profit reaches the minimum; pools are taken
        greedily from the best cycle down, since two cycles through one pool cannot both be
        executed at the prices they were screened at.
        """
        net = evaluation.net_wei_f
        qualifying = np.flatnonzero(net >= float(params.min_net_profit_wei))
        if qualifying.shape[0] == 0:
            return []
        order = qualifying[np.argsort(-net[qualifying], kind="stable")]
        taken: set[int] = set()
        out: list[Screened] = []
        pools = self.cycles.pools
        lengths = self.cycles.length
        for i in order:
            c = int(evaluation.cycle_ids[i])
            cycle_pools = {int(p) for p in pools[c, : lengths[c]]}
            if cycle_pools & taken:
                continue
            taken |= cycle_pools
            out.append(
                Screened(
                    cycle_id=c,
                    amount_in_f=float(evaluation.amount_in_f[i]),
                    profit_f=float(evaluation.profit_f[i]),
                    net_wei_f=float(net[i]),
                    gas_units_f=float(evaluation.gas_units_f[i]),
                    ticks_crossed=int(evaluation.ticks_crossed[i]),
                )
            )
            if len(out) >= params.top_k:
                break
        return out

    def full_pass(
        self, view: ColumnView, *, min_log_gain: float = 0.0, max_cycles: int = 64
    ) -> list[NegativeCycle]:
        """Bellman-Ford over the whole graph: negative cycles on -log marginal rates."""
        columns = self._columns(view)
        pools, zfo, length, gain = negative_cycles(
            self.cycles.pool_token0,
            self.cycles.pool_token1,
            self.cycles.n_tokens,
            columns[0],
            columns[1],
            columns[2],
            columns[3],
            columns[4],
            columns[5],
            columns[6],
            float(min_log_gain),
            int(max_cycles),
        )
        return [
            NegativeCycle(
                hops=tuple((int(pools[k, h]), bool(zfo[k, h])) for h in range(int(length[k]))),
                log_gain=float(gain[k]),
            )
            for k in range(pools.shape[0])
        ]
