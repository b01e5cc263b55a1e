"""Pool records of the search: each pool's hop maps and V3 walk columns, one row per pool.

`evaluate_cycles` (graph.search_kernels) reads a cycle's pools from these rows instead of
the pool columns: the first cache line holds what the closed-form screen needs (the hop map
(P, Q) of each direction, g, the epoch, a V3 flag, the fee), the second what the in-range
walk of a profitable cycle needs (sqrt price, liquidity, the range capacity each way).
Units as in `graph.search_walk`. An epoch number marks the rows filled for one search call.
"""

from __future__ import annotations

import numba

from amm_math.uniswap_v2_nb import get_amount_out_f
from amm_math.uniswap_v3.swap_nb import DUST
from graph.search_walk import (
    _FEE_DENOMINATOR,
    KIND_V2,
    MAX_HOPS,
    _helper,
    _in_range_step,
    v3_range_capacity,
)

__all__ = ["RECORD_WIDTH", "fill_records"]

# columns of a pool record (`evaluate_cycles`): column 2 * zero_for_one holds P, the next Q
_REC_P_ONE_FOR_ZERO = 0
_REC_Q_ONE_FOR_ZERO = 1
_REC_P_ZERO_FOR_ONE = 2
_REC_Q_ZERO_FOR_ONE = 3
_REC_G = 4
_REC_EPOCH = 5
_REC_V3 = 6
_REC_FEE_PIPS = 7
# the V3 walk's columns, filled only for pools on a profitable cycle (second cache line)
_REC_SQRT_PRICE = 8
_REC_LIQUIDITY = 9
_REC_CAPACITY_ONE_FOR_ZERO = 10
_REC_CAPACITY_ZERO_FOR_ONE = 11
_REC_WALK_EPOCH = 12
RECORD_WIDTH = 16  # two 64-byte cache lines per pool


@numba.njit(cache=True, nogil=True, fastmath=False)
def fill_records(
    epoch, records, all_pools, cycle_ids, hops, kind, fee_pips, has_state, r0, r1, sqrt_price,
    liquidity,
):  # fmt: skip
    """Fill the screen columns of pool records for `evaluate_cycles` at this epoch.

    Every pool id in one ordered pass when `all_pools` (cheaper once the cycles reach most
    pools), else the pools of `cycle_ids` not yet filled at this epoch. A record holds the
    hop map (P, Q) of each direction with the same float operations as `_hop_map`, g, the
    epoch, a V3 flag and the fee; a pool without state gets P = Q = 0, which no cycle
    through it passes as profitable. One loop for both cases: a call per pool passing the
    columns (numba counts references to each array argument) costs more than the record.
    """
    n = kind.shape[0] if all_pools else cycle_ids.shape[0] * MAX_HOPS
    for k in range(n):
        if all_pools:
            pool = k
        else:
            code = hops[cycle_ids[k // MAX_HOPS], k % MAX_HOPS]
            if code < 0:
                continue
            pool = code >> 1
            if records[pool, _REC_EPOCH] == epoch:
                continue
        fee = fee_pips[pool]
        g = (_FEE_DENOMINATOR - fee) / _FEE_DENOMINATOR
        is_v3 = kind[pool] != KIND_V2
        if not has_state[pool]:
            p0, q0, p1, q1 = 0.0, 0.0, 0.0, 0.0
        elif not is_v3:
            p0, q0, p1, q1 = g * r1[pool], r0[pool], g * r0[pool], r1[pool]
        else:
            s = sqrt_price[pool]
            liq = liquidity[pool]
            p0, q0, p1, q1 = g * liq * s, liq / s, g * liq / s, liq * s
        records[pool, _REC_P_ONE_FOR_ZERO] = p1
        records[pool, _REC_Q_ONE_FOR_ZERO] = q1
        records[pool, _REC_P_ZERO_FOR_ONE] = p0
        records[pool, _REC_Q_ZERO_FOR_ONE] = q0
        records[pool, _REC_G] = g
        records[pool, _REC_EPOCH] = epoch
        records[pool, _REC_V3] = 1.0 if is_v3 else 0.0
        records[pool, _REC_FEE_PIPS] = fee


@_helper
def _fill_walk_record(pool, epoch, records, state):
    """Write a V3 pool's walk columns: sqrt price, liquidity, range capacity each way."""
    _, _, _, _, sqrt_price, liquidity, tick, ticks, _, sqrts, tick_start = state
    s = sqrt_price[pool]
    liq = liquidity[pool]
    start, end = tick_start[pool], tick_start[pool + 1]
    records[pool, _REC_SQRT_PRICE] = s
    records[pool, _REC_LIQUIDITY] = liq
    records[pool, _REC_CAPACITY_ONE_FOR_ZERO] = v3_range_capacity(
        s, liq, tick[pool], ticks, sqrts, start, end, False
    )
    records[pool, _REC_CAPACITY_ZERO_FOR_ONE] = v3_range_capacity(
        s, liq, tick[pool], ticks, sqrts, start, end, True
    )
    records[pool, _REC_WALK_EPOCH] = epoch


@_helper
def _in_range_out_records(hop_pools, hop_zfo, n_hops, records, epoch, state, amount_in):
    """`_in_range_out` reading the pools' records (filled this call) instead of the columns.

    The same float operations, so the same result: V2 reserves are the records' Q of each
    direction, the V3 fee complement is g.
    """
    amount = amount_in
    for h in range(n_hops):
        pool = hop_pools[h]
        zfo = hop_zfo[h]
        if records[pool, _REC_V3] == 0.0:
            r_in = records[pool, _REC_Q_ZERO_FOR_ONE if zfo else _REC_Q_ONE_FOR_ZERO]
            r_out = records[pool, _REC_Q_ONE_FOR_ZERO if zfo else _REC_Q_ZERO_FOR_ONE]
            amount = get_amount_out_f(amount, r_in, r_out, records[pool, _REC_FEE_PIPS])
        elif amount < DUST:
            amount = 0.0
        else:
            if records[pool, _REC_WALK_EPOCH] != epoch:
                _fill_walk_record(pool, epoch, records, state)
            capacity = records[
                pool, _REC_CAPACITY_ZERO_FOR_ONE if zfo else _REC_CAPACITY_ONE_FOR_ZERO
            ]
            amount, in_range = _in_range_step(
                amount,
                records[pool, _REC_G],
                capacity,
                records[pool, _REC_SQRT_PRICE],
                records[pool, _REC_LIQUIDITY],
                zfo,
            )
            if not in_range:
                return 0.0, False
        if amount <= 0.0:
            return 0.0, True
    return amount, True
