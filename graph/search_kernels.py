"""numba kernels of the search: each cycle's optimal input, gross profit and net profit.

Units: amounts are raw token units (wei of each token) as float64; `sqrt_price` is
sqrt(token1 / token0) in raw units; fees in pips (millionths). Floats only screen: every
candidate these kernels pick is re-priced in exact integers by `graph.reprice`.

One hop selling `a` is a Moebius map a -> P a / (Q + R a): a V2 pair with fee factor
g = 1 - fee / 1e6 has P = g r_out, Q = r_in, R = g; a V3 pool within its current range is the
same constant product on its virtual reserves (token0 L / s, token1 L s). Maps compose in
closed form, (P1, Q1, R1) then (P2, Q2, R2) = (P1 P2, Q1 Q2, Q2 R1 + R2 P1), so a whole cycle
is one map, profitable iff P > Q, with optimal input a* = (sqrt(P Q) - Q) / R and profit
(sqrt P - sqrt Q)^2 / R. For all-V2 cycles that is the answer. A profitable cycle with V3 hops
is then walked once at a* with the in-range swap formulas, each V3 hop checked against the
input that reaches its next initialized tick (`v3_range_capacity`); only where a hop would
leave its range is the optimum searched over the tick crossings, piece by piece: between
crossings the cycle is again one Moebius map of the extra input, and the profit is concave
(each swap's output is), so the first piece whose own optimum lies inside it holds it.

A V3 pool whose current range has no liquidity screens as unprofitable (its marginal rate is
0), even where crossing to the next initialized tick would pay.

The pieces live beside this module: `graph.search_walk` (the float swap walk and range
check), `graph.search_records` (the pool records `evaluate_cycles` reads),
`graph.search_piecewise` (the optimum across tick crossings) and `graph.negative_cycles`
(Bellman-Ford over -log rates); their public names are importable from here too.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from graph.negative_cycles import negative_cycles
from graph.search_piecewise import crossing_optimum
from graph.search_records import (
    _REC_G,
    _REC_V3,
    RECORD_WIDTH,
    _in_range_out_records,
    fill_records,
)
from graph.search_walk import (
    _FEE_DENOMINATOR,
    KIND_V2,
    KIND_V3,
    MAX_HOPS,
    _helper,
    _in_range_out,
    chain_out_f,
    v3_range_capacity,
)

__all__ = [
    "KIND_V2",
    "KIND_V3",
    "MAX_HOPS",
    "RECORD_WIDTH",
    "chain_out_f",
    "cycle_optimum_f",
    "evaluate_cycles",
    "fill_records",
    "negative_cycles",
    "pack_hops",
    "sort_by_mark",
    "v3_range_capacity",
]


@numba.njit(cache=True, nogil=True, fastmath=False)
def _hop_map(kind, fee_pips, r0, r1, sqrt_price, liquidity, pool, zfo):
    """Return the hop's Moebius map (P, Q, R) at its current state (in range for V3)."""
    g = (_FEE_DENOMINATOR - fee_pips[pool]) / _FEE_DENOMINATOR
    if kind[pool] == KIND_V2:
        if zfo:
            return g * r1[pool], r0[pool], g
        return g * r0[pool], r1[pool], g
    s = sqrt_price[pool]
    liq = liquidity[pool]
    if zfo:
        return g * liq * s, liq / s, g
    return g * liq / s, liq * s, g


@numba.njit(cache=True, nogil=True, fastmath=False)
def cycle_optimum_f(
    c,
    cyc_pools,
    cyc_zfo,
    cyc_len,
    kind,
    fee_pips,
    r0,
    r1,
    sqrt_price,
    liquidity,
    tick,
    ticks,
    nets,
    sqrts,
    tick_start,
):
    """Return (amount_in, gross profit, ticks crossed) of cycle c at its float optimum.

    (0, 0, 0) when the cycle is not profitable at its current marginal rates, or its float
    swaps make no gross profit at the optimum.
    """
    p_acc = 1.0
    q_acc = 1.0
    r_acc = 0.0
    has_v3 = False
    for h in range(cyc_len[c]):
        pool = cyc_pools[c, h]
        if kind[pool] == KIND_V3:
            has_v3 = True
        p, q, r = _hop_map(kind, fee_pips, r0, r1, sqrt_price, liquidity, pool, cyc_zfo[c, h])
        r_acc = q * r_acc + r * p_acc
        p_acc *= p
        q_acc *= q
    if not (p_acc > q_acc) or not (r_acc > 0.0) or not (q_acc > 0.0):
        return 0.0, 0.0, 0
    root_p = math.sqrt(p_acc)
    root_q = math.sqrt(q_acc)
    a_star = root_q * (root_p - root_q) / r_acc
    if not has_v3:
        return a_star, (root_p - root_q) * (root_p - root_q) / r_acc, 0
    state = (kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start)
    out, in_range = _in_range_out(cyc_pools[c], cyc_zfo[c], cyc_len[c], state, a_star)
    if in_range:
        # a V3 hop trading nothing (dust, or no initialized tick that way) loses the input
        if not (out - a_star > 0.0):
            return 0.0, 0.0, 0
        return a_star, out - a_star, 0
    fs = np.empty((5, MAX_HOPS))
    js = np.empty((5, MAX_HOPS), dtype=np.int64)
    return crossing_optimum(cyc_pools[c], cyc_zfo[c], cyc_len[c], state, fs, js)


@numba.njit(cache=True, nogil=True, fastmath=False)
def pack_hops(cyc_pools, cyc_zfo, cyc_len, first, stop, out):
    """Write cycles [first, stop) into out[first:stop] as hop codes (-1 past the end).

    A hop's code is 2 * pool id + 1 if it sells token0 (zero_for_one), else 2 * pool id:
    one int32 row of 16 bytes per cycle, so a cycle costs one cache line read.
    """
    for c in range(first, stop):
        for h in range(MAX_HOPS):
            if h < cyc_len[c]:
                out[c, h] = 2 * cyc_pools[c, h] + (1 if cyc_zfo[c, h] else 0)
            else:
                out[c, h] = -1


# de Bruijn sequence and table: the index of a uint64's lowest set bit in a multiply
_DEBRUIJN_64 = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_INDEX = np.array(
    [
        0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
        62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
        63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
        46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
    ],
    dtype=np.int64,
)  # fmt: skip


@numba.njit(cache=True, nogil=True, fastmath=False)
def sort_by_mark(ids, bits):
    """Return distinct `ids` in ascending order by setting their bits and scanning the bits.

    `bits` (uint64, at least (largest id + 64) // 64 words) is all zero on entry and on
    return. Cheaper than a comparison sort once the ids are a fair share of the bits: the
    bitmap of all cycles stays in cache, and a word is read once for its 64 ids.
    """
    high = -1
    for c in ids:
        bits[c >> 6] |= np.uint64(1) << np.uint64(c & 63)
        high = max(high, c)
    out = np.empty(ids.shape[0], dtype=np.int64)
    k = 0
    for word_index in range((high >> 6) + 1):
        word = bits[word_index]
        if word == 0:
            continue
        bits[word_index] = 0
        base = word_index << 6
        while word != 0:
            lowest = word & (~word + np.uint64(1))
            out[k] = base + _DEBRUIJN_INDEX[(lowest * _DEBRUIJN_64) >> np.uint64(58)]
            k += 1
            word ^= lowest
    return out[:k]


@_helper
def _write_no_candidate(i, out_amount_in, out_profit, out_ticks, out_gas_units, out_net_wei):
    """Write row i of `evaluate_cycles`' outputs for a cycle that is no candidate."""
    out_amount_in[i] = 0.0
    out_profit[i] = 0.0
    out_ticks[i] = 0
    out_gas_units[i] = 0.0
    out_net_wei[i] = -np.inf


@numba.njit(cache=True, nogil=True, fastmath=False)
def evaluate_cycles(
    cycle_ids,
    hops,
    cyc_base,
    records,
    epoch,
    kind,
    fee_pips,
    has_state,
    r0,
    r1,
    sqrt_price,
    liquidity,
    tick,
    ticks,
    nets,
    sqrts,
    tick_start,
    base_value_wei,
    gas_coeffs,
    gas_price_wei,
    tip_share,
    out_amount_in,
    out_profit,
    out_ticks,
    out_gas_units,
    out_net_wei,
):
    """Evaluate cycles: optimal input, gross profit (base units), gas units, net profit (wei).

    `hops` holds the cycles as `pack_hops` codes. `records` (float64[>= n_pools,
    RECORD_WIDTH]) holds the pools' records, filled by `fill_records` at `epoch` for every
    pool of these cycles (a number no earlier fill used); the V3 walk's columns are filled
    here, for the pools of profitable cycles, the first time this epoch meets them.

    gas_coeffs = [base, per V2 hop, per V3 hop, per tick crossed, per parked hop] (gas units);
    base_value_wei[t] is the value in wei of one raw unit of base token t; tip_share is the
    share of (gross - gas cost) paid as tip. A cycle through a pool without state (or not
    profitable) gets amount 0 and net -inf. Returns how many cycles were profitable gross.

    The hop maps are composed as the records are read, so a cycle unprofitable at its
    marginal rates (most of them) costs one record per hop; a profitable one with V3 hops is
    walked once at the closed-form optimum with a range check, and searched over its tick
    crossings only where that optimum leaves a range.
    """
    state = (kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start)
    hop_pools = np.empty(MAX_HOPS, dtype=np.int64)
    hop_zfo = np.empty(MAX_HOPS, dtype=np.bool_)
    fs = np.empty((5, MAX_HOPS))
    js = np.empty((5, MAX_HOPS), dtype=np.int64)
    found = 0
    for i in range(cycle_ids.shape[0]):
        c = cycle_ids[i]
        p_acc = 1.0
        q_acc = 1.0
        r_acc = 0.0
        for h in range(MAX_HOPS):
            code = hops[c, h]
            if code < 0:
                break
            pool = code >> 1
            column = 2 * (code & 1)  # the record's (P, Q) of this direction
            p = records[pool, column]
            q = records[pool, column + 1]
            r_acc = q * r_acc + records[pool, _REC_G] * p_acc
            p_acc *= p
            q_acc *= q
        if not (p_acc > q_acc) or not (r_acc > 0.0) or not (q_acc > 0.0):
            _write_no_candidate(i, out_amount_in, out_profit, out_ticks, out_gas_units, out_net_wei)
            continue
        # what only a profitable cycle needs: its hops and their kinds
        n_hops = 0
        n_v3 = 0
        parked = 0
        for h in range(MAX_HOPS):
            code = hops[c, h]
            if code < 0:
                break
            hop_pools[h] = code >> 1
            hop_zfo[h] = (code & 1) == 1
            if records[code >> 1, _REC_V3] != 0.0:
                n_v3 += 1
                if h > 0:
                    parked += 1
            n_hops += 1
        root_p = math.sqrt(p_acc)
        root_q = math.sqrt(q_acc)
        a = root_q * (root_p - root_q) / r_acc
        if n_v3 == 0:
            profit = (root_p - root_q) * (root_p - root_q) / r_acc
            crossed = 0
        else:
            out, in_range = _in_range_out_records(
                hop_pools, hop_zfo, n_hops, records, epoch, state, a
            )
            if in_range:
                profit = out - a
                crossed = 0
            else:
                a, profit, crossed = crossing_optimum(hop_pools, hop_zfo, n_hops, state, fs, js)
        if not (profit > 0.0):
            _write_no_candidate(i, out_amount_in, out_profit, out_ticks, out_gas_units, out_net_wei)
            continue
        found += 1
        n_v2 = n_hops - n_v3
        gas_units = (
            gas_coeffs[0]
            + n_v2 * gas_coeffs[1]
            + n_v3 * gas_coeffs[2]
            + crossed * gas_coeffs[3]
            + parked * gas_coeffs[4]
        )
        margin = profit * base_value_wei[cyc_base[c]] - gas_units * gas_price_wei
        tip = margin * tip_share if margin > 0.0 else 0.0
        out_amount_in[i] = a
        out_profit[i] = profit
        out_ticks[i] = crossed
        out_gas_units[i] = gas_units
        out_net_wei[i] = margin - tip
    return found
