"""numba kernels of the search: each cycle's optimal input, gross profit and net profit.

Units: amounts are raw token units (wei of each token) as float64; `sqrt_price` is
sqrt(token1 / token0) in raw units; fees in pips (millionths). Floats only screen: every
candidate these kernels pick is re-priced in exact integers by `graph.reprice`.

One hop selling `a` is a Moebius map a -> P a / (Q + R a): a V2 pair with fee factor
g = 1 - fee / 1e6 has P = g r_out, Q = r_in, R = g; a V3 pool within its current range is the
same constant product on its virtual reserves (token0 L / s, token1 L s). Maps compose in
closed form, (P1, Q1, R1) then (P2, Q2, R2) = (P1 P2, Q1 Q2, Q2 R1 + R2 P1), so a whole cycle
is one map, profitable iff P > Q, with optimal input a* = (sqrt(P Q) - Q) / R and profit
(sqrt P - sqrt Q)^2 / R. For all-V2 cycles that is the answer. A cycle with V3 hops is then
walked at a* with the tick-crossing float swap; when a V3 hop would leave its range, the
profit (concave in the input: each swap's output is concave) is maximized by golden-section
search over the chained swaps across the CSR ticks, inside a bracket found by doubling.

A V3 pool whose current range has no liquidity screens as unprofitable (its marginal rate is
0), even where crossing to the next initialized tick would pay.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from amm_math.uniswap_v2_nb import get_amount_out_f
from amm_math.uniswap_v3.swap_nb import swap_exact_in_f

__all__ = [
    "KIND_V2",
    "KIND_V3",
    "chain_out_f",
    "cycle_optimum_f",
    "evaluate_cycles",
    "negative_cycles",
]

KIND_V2 = 2
KIND_V3 = 3
_FEE_DENOMINATOR = 1_000_000.0
_GOLDEN = 0.6180339887498949
_GOLDEN_STEPS = 56  # shrinks the bracket by 0.618**56 ~ 2e-12
_MAX_DOUBLINGS = 80


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
def _hop_out(
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
    pool,
    zfo,
    amount,
):
    """Return (amount out, initialized ticks crossed) of selling `amount` into one pool."""
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
    amount = amount_in
    crossed = 0
    for h in range(cyc_len[c]):
        amount, k = _hop_out(
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
            cyc_pools[c, h],
            cyc_zfo[c, h],
            amount,
        )
        crossed += k
        if amount <= 0.0:
            return 0.0, crossed
    return amount, crossed


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

    (0, 0, 0) when the cycle is not profitable at its current marginal rates.
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
    args = (
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
    )
    out, crossed = chain_out_f(c, *args, a_star)
    if crossed == 0:
        return a_star, out - a_star, 0
    # the optimum leaves a range: bracket it by doubling, then golden-section search
    low = 0.0
    high = a_star
    best = out - a_star
    for _ in range(_MAX_DOUBLINGS):
        out2, _ = chain_out_f(c, *args, 2.0 * high)
        if out2 - 2.0 * high <= best:
            break
        low = high
        high = 2.0 * high
        best = out2 - high
    high = 2.0 * high
    x1 = high - _GOLDEN * (high - low)
    x2 = low + _GOLDEN * (high - low)
    f1 = chain_out_f(c, *args, x1)[0] - x1
    f2 = chain_out_f(c, *args, x2)[0] - x2
    for _ in range(_GOLDEN_STEPS):
        if f1 < f2:
            low = x1
            x1, f1 = x2, f2
            x2 = low + _GOLDEN * (high - low)
            f2 = chain_out_f(c, *args, x2)[0] - x2
        else:
            high = x2
            x2, f2 = x1, f1
            x1 = high - _GOLDEN * (high - low)
            f1 = chain_out_f(c, *args, x1)[0] - x1
    a = x1 if f1 >= f2 else x2
    out, crossed = chain_out_f(c, *args, a)
    if out - a <= 0.0:
        return 0.0, 0.0, 0
    return a, out - a, crossed


@numba.njit(cache=True, nogil=True, fastmath=False)
def evaluate_cycles(
    cycle_ids,
    cyc_pools,
    cyc_zfo,
    cyc_len,
    cyc_base,
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

    gas_coeffs = [base, per V2 hop, per V3 hop, per tick crossed, per parked hop] (gas units);
    base_value_wei[t] is the value in wei of one raw unit of base token t; tip_share is the
    share of (gross - gas cost) paid as tip. A cycle through a pool without state (or not
    profitable) gets amount 0 and net -inf. Returns how many cycles were profitable gross.
    """
    found = 0
    for i in range(cycle_ids.shape[0]):
        c = cycle_ids[i]
        usable = True
        n_v3 = 0
        parked = 0
        for h in range(cyc_len[c]):
            pool = cyc_pools[c, h]
            if not has_state[pool]:
                usable = False
            if kind[pool] == KIND_V3:
                n_v3 += 1
                if h > 0:
                    parked += 1
        out_amount_in[i] = 0.0
        out_profit[i] = 0.0
        out_ticks[i] = 0
        out_gas_units[i] = 0.0
        out_net_wei[i] = -np.inf
        if not usable:
            continue
        a, profit, crossed = cycle_optimum_f(
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
        )
        if profit <= 0.0:
            continue
        found += 1
        n_v2 = cyc_len[c] - n_v3
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
    `min_gain_log` (a cycle's gross marginal return is exp(log_gain)). Each is taken from an
    edge still relaxable after n_tokens - 1 rounds, by walking predecessors back into it.
    """
    w = _edge_weights(pool_token0, kind, fee_pips, has_state, r0, r1, sqrt_price, liquidity)
    n_pools = pool_token0.shape[0]
    dist = np.zeros(n_tokens)
    pred_pool = np.full(n_tokens, -1, dtype=np.int64)
    pred_dir = np.zeros(n_tokens, dtype=np.int64)
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
        if not changed:
            break
    out_pools = np.full((max_cycles, n_tokens), -1, dtype=np.int64)
    out_zfo = np.zeros((max_cycles, n_tokens), dtype=np.bool_)
    out_len = np.zeros(max_cycles, dtype=np.int64)
    out_gain = np.zeros(max_cycles)
    k = 0
    on_cycle = np.zeros(n_tokens, dtype=np.int64)
    stamp = 0
    for v in range(n_tokens):
        if k >= max_cycles:
            break
        if pred_pool[v] < 0:
            continue
        # walk back n_tokens steps: we are then on a cycle of the predecessor graph, if any
        x = v
        for _ in range(n_tokens):
            if pred_pool[x] < 0:
                break
            p = pred_pool[x]
            x = pool_token0[p] if pred_dir[x] == 0 else pool_token1[p]
        if pred_pool[x] < 0:
            continue
        stamp += 1
        y = x
        length = 0
        ok = True
        while on_cycle[y] != stamp:
            on_cycle[y] = stamp
            p = pred_pool[y]
            if p < 0 or length >= n_tokens:
                ok = False
                break
            y = pool_token0[p] if pred_dir[y] == 0 else pool_token1[p]
            length += 1
        if not ok or y != x:
            continue
        # collect the cycle forward: predecessors give it backwards
        tmp_pools = np.empty(length, dtype=np.int64)
        tmp_dirs = np.empty(length, dtype=np.int64)
        y = x
        for i in range(length):
            tmp_pools[length - 1 - i] = pred_pool[y]
            tmp_dirs[length - 1 - i] = pred_dir[y]
            p = pred_pool[y]
            y = pool_token0[p] if pred_dir[y] == 0 else pool_token1[p]
        gain = 0.0
        for i in range(length):
            gain -= w[tmp_pools[i], tmp_dirs[i]]
        if gain <= min_gain_log:
            continue
        # canonical rotation: smallest pool id first, so each cycle is reported once
        first = 0
        for i in range(1, length):
            if tmp_pools[i] < tmp_pools[first]:
                first = i
        duplicate = False
        for j in range(k):
            if out_len[j] != length:
                continue
            same = True
            for i in range(length):
                if out_pools[j, i] != tmp_pools[(first + i) % length]:
                    same = False
                    break
            if same:
                duplicate = True
                break
        if duplicate:
            continue
        for i in range(length):
            out_pools[k, i] = tmp_pools[(first + i) % length]
            out_zfo[k, i] = tmp_dirs[(first + i) % length] == 0
        out_len[k] = length
        out_gain[k] = gain
        k += 1
    return out_pools[:k], out_zfo[:k], out_len[:k], out_gain[:k]
