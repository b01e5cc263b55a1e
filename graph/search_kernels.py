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
"""

from __future__ import annotations

import math

import numba
import numpy as np

from amm_math.uniswap_v2_nb import get_amount_out_f

# the in-range step formulas of the float swap, so the range check decides as its walk does
from amm_math.uniswap_v3.swap_nb import (
    DUST,
    _amounts_to_target,
    _out_for_in,
    first_tick_index,
    swap_exact_in_f,
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

KIND_V2 = 2
KIND_V3 = 3
_FEE_DENOMINATOR = 1_000_000.0
_MAX_PIECES = 64  # tick crossings the optimum search follows per cycle
MAX_HOPS = 4
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

# Helpers called per cycle or per hop with array arguments run without numba's reference
# counting: with it each array argument costs an atomic increment and decrement per call,
# more than these bodies. They allocate nothing and keep no array past the call.
_helper = numba.njit(cache=True, nogil=True, fastmath=False, _nrt=False)


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


@_helper
def _hop_out(state, pool, zfo, amount):
    """Return (amount out, initialized ticks crossed) of selling `amount` into one pool."""
    kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start = state
    if kind[pool] == KIND_V2:
        if zfo:
            return get_amount_out_f(amount, r0[pool], r1[pool], fee_pips[pool]), 0
        return get_amount_out_f(amount, r1[pool], r0[pool], fee_pips[pool]), 0
    out, _, _, crossed = swap_exact_in_f(
        sqrt_price[pool],
        liquidity[pool],
        tick[pool],
        fee_pips[pool],
        ticks,
        nets,
        sqrts,
        tick_start[pool],
        tick_start[pool + 1],
        zfo,
        amount,
    )
    return out, crossed


@_helper
def _chain_out(hop_pools, hop_zfo, n_hops, state, amount_in):
    """Return (final amount out, ticks crossed) of selling `amount_in` along the hops."""
    amount = amount_in
    crossed = 0
    for h in range(n_hops):
        amount, k = _hop_out(state, hop_pools[h], hop_zfo[h], amount)
        crossed += k
        if amount <= 0.0:
            return 0.0, crossed
    return amount, crossed


@numba.njit(cache=True, nogil=True, fastmath=False)
def chain_out_f(
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
    amount_in,
):
    """Return (final amount out, ticks crossed) of selling `amount_in` along cycle c."""
    state = (kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start)
    return _chain_out(cyc_pools[c], cyc_zfo[c], cyc_len[c], state, amount_in)


@numba.njit(cache=True, nogil=True, fastmath=False)
def v3_range_capacity(sqrt_price, liquidity, current_tick, ticks, sqrts, start, end, zfo):
    """Return the input less fee (raw units) that moves a V3 price to its next initialized tick.

    The amount `swap_exact_in_f` compares its input (times the fee complement) against before
    it crosses: an input below it stays in the current range. -1 when no initialized tick lies
    that way (the float swap then trades nothing) or the range has no liquidity.
    """
    index = first_tick_index(ticks, start, end, current_tick, zfo)
    if not (start <= index < end) or not (liquidity > 0.0):
        return -1.0
    need_less_fee, _ = _amounts_to_target(sqrt_price, sqrts[index], liquidity, zfo)
    return need_less_fee


@_helper
def _in_range_out(hop_pools, hop_zfo, n_hops, state, amount_in):
    """Return (final amount out, True) of selling `amount_in` along the hops; (0, False) when
    a V3 hop would leave its range.

    Same float operations as `_chain_out` where no tick is crossed, so the same result; the
    range check is one binary search over the pool's ticks instead of a walk.
    """
    kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, _nets, sqrts, tick_start = state
    amount = amount_in
    for h in range(n_hops):
        pool = hop_pools[h]
        zfo = hop_zfo[h]
        if kind[pool] == KIND_V2:
            if zfo:
                amount = get_amount_out_f(amount, r0[pool], r1[pool], fee_pips[pool])
            else:
                amount = get_amount_out_f(amount, r1[pool], r0[pool], fee_pips[pool])
        elif amount < DUST:
            amount = 0.0
        else:
            start, end = tick_start[pool], tick_start[pool + 1]
            liq = liquidity[pool]
            capacity = v3_range_capacity(
                sqrt_price[pool], liq, tick[pool], ticks, sqrts, start, end, zfo
            )
            if capacity < 0.0:
                if liq > 0.0:
                    amount = 0.0  # no initialized tick that way: the float swap trades nothing
                else:
                    return 0.0, False
            else:
                fee_complement = (_FEE_DENOMINATOR - fee_pips[pool]) / _FEE_DENOMINATOR
                amount_less_fee = amount * fee_complement
                if not (amount_less_fee < capacity):
                    return 0.0, False
                amount, _ = _out_for_in(sqrt_price[pool], liq, amount_less_fee, zfo)
        if amount <= 0.0:
            return 0.0, True
    return amount, True


@_helper
def _piecewise_optimum(hop_pools, hop_zfo, n_hops, state, fs, js):
    """Return the input maximizing output - input along the hops, over tick crossings.

    Between two inputs at which some hop reaches an initialized tick, every hop stays in one
    range and the increment of the cycle's output is one Moebius map of the increment of
    input (each hop's map taken at its current virtual reserves), so the best input of that
    piece is closed-form. The profit is concave, so the first piece whose best input lies
    inside it holds the optimum; otherwise every hop is advanced to the piece's end (the hop
    that bounds it crosses its tick, through ranges without liquidity at no cost) and the
    next piece is solved. Capped at _MAX_PIECES pieces: the profit still rises at the last
    piece's end, which is then returned. `fs` (float64[5, MAX_HOPS]) and `js` (int64[5,
    MAX_HOPS]) are scratch.
    """
    kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start = state
    n = n_hops
    g, res_in, res_out, s, liq = fs[0], fs[1], fs[2], fs[3], fs[4]
    is_v3, zfos, index, lo, hi = js[0], js[1], js[2], js[3], js[4]
    for h in range(n):
        pool = hop_pools[h]
        zfo = hop_zfo[h]
        zfos[h] = zfo
        g[h] = (_FEE_DENOMINATOR - fee_pips[pool]) / _FEE_DENOMINATOR
        if kind[pool] == KIND_V2:
            is_v3[h] = 0
            # V2 reserves, the input one growing by each input less fee
            res_in[h] = r0[pool] if zfo else r1[pool]
            res_out[h] = r1[pool] if zfo else r0[pool]
            continue
        is_v3[h] = 1
        s[h] = sqrt_price[pool]
        lo[h] = tick_start[pool]
        hi[h] = tick_start[pool + 1]
        index[h] = first_tick_index(ticks, lo[h], hi[h], tick[pool], zfo)
        liq[h] = liquidity[pool] if lo[h] <= index[h] < hi[h] else 0.0
    a_base = 0.0
    for _ in range(_MAX_PIECES):
        p_acc = 1.0
        q_acc = 1.0
        r_acc = 0.0
        d_end = np.inf
        end_hop = -1
        for h in range(n):
            if is_v3[h]:
                if liq[h] > 0.0:
                    virtual_0 = liq[h] / s[h]
                    virtual_1 = liq[h] * s[h]
                    p = g[h] * (virtual_1 if zfos[h] else virtual_0)
                    q = virtual_0 if zfos[h] else virtual_1
                    cap = _amounts_to_target(s[h], sqrts[index[h]], liq[h], zfos[h] != 0)[0] / g[h]
                    # the piece's input at which this hop's input reaches `cap`
                    if h == 0:
                        d_hop = cap
                    elif p_acc > r_acc * cap:
                        d_hop = q_acc * cap / (p_acc - r_acc * cap)
                    else:
                        d_hop = np.inf
                    if d_hop < d_end:
                        d_end = d_hop
                        end_hop = h
                else:
                    p, q = 0.0, 1.0
            else:
                p = g[h] * res_out[h]
                q = res_in[h]
            r_acc = q * r_acc + g[h] * p_acc
            p_acc *= p
            q_acc *= q
        if p_acc > q_acc and r_acc > 0.0 and q_acc > 0.0:
            root_p = math.sqrt(p_acc)
            root_q = math.sqrt(q_acc)
            best = root_q * (root_p - root_q) / r_acc
        else:
            best = 0.0
        if best <= d_end:
            return a_base + best
        # advance every hop by the piece's input d_end
        x = d_end
        for h in range(n):
            x_less_fee = x * g[h]
            if not is_v3[h]:
                out = x_less_fee * res_out[h] / (res_in[h] + x_less_fee)
                res_in[h] += x_less_fee
                res_out[h] -= out
                x = out
                continue
            if not (liq[h] > 0.0):
                x = 0.0
                continue
            need_less_fee, step_out = _amounts_to_target(
                s[h], sqrts[index[h]], liq[h], zfos[h] != 0
            )
            if h != end_hop and x_less_fee < need_less_fee:
                x, s[h] = _out_for_in(s[h], liq[h], x_less_fee, zfos[h] != 0)
                continue
            x = step_out
            # cross this tick, then any ranges without liquidity beyond it
            while True:
                s[h] = sqrts[index[h]]
                if zfos[h]:
                    liq[h] -= nets[index[h]]
                    index[h] -= 1
                else:
                    liq[h] += nets[index[h]]
                    index[h] += 1
                if not (lo[h] <= index[h] < hi[h]):
                    liq[h] = 0.0  # past the last initialized tick: no liquidity
                    break
                if liq[h] > 0.0:
                    break
        a_base += d_end
    return a_base


@_helper
def _crossing_optimum(hop_pools, hop_zfo, n_hops, state, fs, js):
    """Return (amount_in, gross profit, ticks crossed) of a cycle whose closed-form optimum
    leaves a V3 range: the piecewise optimum, priced by the float swap walk."""
    a = _piecewise_optimum(hop_pools, hop_zfo, n_hops, state, fs, js)
    out, crossed = _chain_out(hop_pools, hop_zfo, n_hops, state, a)
    if not (out - a > 0.0):
        return 0.0, 0.0, 0
    return a, out - a, crossed


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
    return _crossing_optimum(cyc_pools[c], cyc_zfo[c], cyc_len[c], state, fs, js)


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
            liq = records[pool, _REC_LIQUIDITY]
            capacity = records[
                pool, _REC_CAPACITY_ZERO_FOR_ONE if zfo else _REC_CAPACITY_ONE_FOR_ZERO
            ]
            if capacity < 0.0:
                if liq > 0.0:
                    amount = 0.0  # no initialized tick that way: the float swap trades nothing
                else:
                    return 0.0, False
            else:
                amount_less_fee = amount * records[pool, _REC_G]
                if not (amount_less_fee < capacity):
                    return 0.0, False
                amount, _ = _out_for_in(records[pool, _REC_SQRT_PRICE], liq, amount_less_fee, zfo)
        if amount <= 0.0:
            return 0.0, True
    return amount, True


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
            out_amount_in[i] = 0.0
            out_profit[i] = 0.0
            out_ticks[i] = 0
            out_gas_units[i] = 0.0
            out_net_wei[i] = -np.inf
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
                a, profit, crossed = _crossing_optimum(hop_pools, hop_zfo, n_hops, state, fs, js)
        if not (profit > 0.0):
            out_amount_in[i] = 0.0
            out_profit[i] = 0.0
            out_ticks[i] = 0
            out_gas_units[i] = 0.0
            out_net_wei[i] = -np.inf
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


@numba.njit(cache=True, nogil=True, fastmath=False)
def _edge_weights(pool_token0, kind, fee_pips, has_state, r0, r1, sqrt_price, liquidity):
    """Return -log(marginal rate after fee) of each pool's two directions (inf: no edge)."""
    n = pool_token0.shape[0]
    w = np.full((n, 2), np.inf)
    for p in range(n):
        if pool_token0[p] < 0 or not has_state[p]:
            continue
        g = (_FEE_DENOMINATOR - fee_pips[p]) / _FEE_DENOMINATOR
        if kind[p] == KIND_V2:
            if r0[p] <= 0.0 or r1[p] <= 0.0:
                continue
            w[p, 0] = -math.log(g * r1[p] / r0[p])
            w[p, 1] = -math.log(g * r0[p] / r1[p])
        elif liquidity[p] > 0.0 and sqrt_price[p] > 0.0:
            two_log_s = 2.0 * math.log(sqrt_price[p])
            w[p, 0] = -(math.log(g) + two_log_s)
            w[p, 1] = -(math.log(g) - two_log_s)
    return w


@_helper
def _pred_source(pool_token0, pool_token1, pred_pool, pred_dir, v):
    """Return the token the predecessor edge of v comes from."""
    p = pred_pool[v]
    return pool_token0[p] if pred_dir[v] == 0 else pool_token1[p]


@numba.njit(cache=True, nogil=True, fastmath=False)
def _collect_cycles(
    pool_token0,
    pool_token1,
    w,
    pred_pool,
    pred_dir,
    walk_of,
    walk_counter,
    min_gain_log,
    out_pools,
    out_zfo,
    out_len,
    out_gain,
):
    """Add the cycles of the predecessor graph whose gain exceeds min_gain_log to the outputs.

    Each token is walked once: a walk from v follows predecessors, stamping tokens with its
    own id, until a token without predecessor, one stamped by an earlier walk (its cycle, if
    any, is already taken), or one of its own (a new cycle). `walk_of` holds ids below
    `walk_counter` on entry. Returns (cycles held in the outputs, next walk counter).
    """
    n_tokens = pred_pool.shape[0]
    max_cycles = out_pools.shape[0]
    first_walk = walk_counter
    k = 0
    tmp_pools = np.empty(n_tokens, dtype=np.int64)
    tmp_dirs = np.empty(n_tokens, dtype=np.int64)
    for v in range(n_tokens):
        if k >= max_cycles:
            break
        if walk_of[v] >= first_walk or pred_pool[v] < 0:
            continue
        walk = walk_counter
        walk_counter += 1
        x = v
        while pred_pool[x] >= 0 and walk_of[x] < first_walk:
            walk_of[x] = walk
            x = _pred_source(pool_token0, pool_token1, pred_pool, pred_dir, x)
        if walk_of[x] != walk:
            continue
        # x is on a new cycle: collect it forward (predecessors give it backwards)
        length = 1
        y = _pred_source(pool_token0, pool_token1, pred_pool, pred_dir, x)
        while y != x:
            length += 1
            y = _pred_source(pool_token0, pool_token1, pred_pool, pred_dir, y)
        y = x
        gain = 0.0
        for i in range(length):
            tmp_pools[length - 1 - i] = pred_pool[y]
            tmp_dirs[length - 1 - i] = pred_dir[y]
            gain -= w[pred_pool[y], pred_dir[y]]
            y = _pred_source(pool_token0, pool_token1, pred_pool, pred_dir, y)
        if gain <= min_gain_log:
            continue
        # canonical rotation: smallest pool id first (a pool can appear on one cycle only
        # within one predecessor graph, so the cycles of one graph are distinct)
        first = 0
        for i in range(1, length):
            if tmp_pools[i] < tmp_pools[first]:
                first = i
        for i in range(length):
            out_pools[k, i] = tmp_pools[(first + i) % length]
            out_zfo[k, i] = tmp_dirs[(first + i) % length] == 0
        out_len[k] = length
        out_gain[k] = gain
        k += 1
    return k, walk_counter


@numba.njit(cache=True, nogil=True, fastmath=False)
def negative_cycles(
    pool_token0,
    pool_token1,
    n_tokens,
    kind,
    fee_pips,
    has_state,
    r0,
    r1,
    sqrt_price,
    liquidity,
    min_gain_log,
    max_cycles,
):
    """Bellman-Ford on -log rates from a virtual source: return negative cycles found.

    Returns (pools int64[k, n_tokens], zero_for_one bool[k, n_tokens], length int64[k],
    log_gain float64[k]) for up to `max_cycles` distinct cycles whose summed log rate exceeds
    `min_gain_log` (a cycle's gross marginal return is exp(log_gain)). After each relaxation
    round the predecessor graph is searched for cycles (any cycle there has negative weight,
    and one appears within n_tokens rounds when a negative cycle exists); the pass stops at
    the first round that yields one above the threshold and reports that round's cycles.
    """
    w = _edge_weights(pool_token0, kind, fee_pips, has_state, r0, r1, sqrt_price, liquidity)
    n_pools = pool_token0.shape[0]
    dist = np.zeros(n_tokens)
    pred_pool = np.full(n_tokens, -1, dtype=np.int64)
    pred_dir = np.zeros(n_tokens, dtype=np.int64)
    out_pools = np.full((max_cycles, n_tokens), -1, dtype=np.int64)
    out_zfo = np.zeros((max_cycles, n_tokens), dtype=np.bool_)
    out_len = np.zeros(max_cycles, dtype=np.int64)
    out_gain = np.zeros(max_cycles)
    walk_of = np.full(n_tokens, -1, dtype=np.int64)
    walk_counter = 0
    k = 0
    for _ in range(n_tokens):
        changed = False
        for p in range(n_pools):
            for d in range(2):
                if w[p, d] == np.inf:
                    continue
                u = pool_token0[p] if d == 0 else pool_token1[p]
                v = pool_token1[p] if d == 0 else pool_token0[p]
                nd = dist[u] + w[p, d]
                if nd < dist[v] - 1e-15 * max(1.0, abs(dist[v])):
                    dist[v] = nd
                    pred_pool[v] = p
                    pred_dir[v] = d
                    changed = True
        if not changed or max_cycles <= 0:
            break
        k, walk_counter = _collect_cycles(
            pool_token0,
            pool_token1,
            w,
            pred_pool,
            pred_dir,
            walk_of,
            walk_counter,
            min_gain_log,
            out_pools,
            out_zfo,
            out_len,
            out_gain,
        )
        if k > 0:
            break
    return out_pools[:k], out_zfo[:k], out_len[:k], out_gain[:k]
