"""numba search of a cycle's float optimum across V3 tick crossings, piece by piece.

For a cycle whose closed-form optimum (`graph.search_kernels`) leaves a V3 range. Between
two inputs at which some hop reaches an initialized tick, every hop stays in one range, so
the cycle is again one Moebius map of the extra input and that piece's best input is
closed-form; the profit is concave (each swap's output is), so the first piece whose own
optimum lies inside it holds it. Units as in `graph.search_walk`.
"""

from __future__ import annotations

import math

import numpy as np

from amm_math.uniswap_v3.swap_nb import _amounts_to_target, _out_for_in, first_tick_index
from graph.search_walk import _FEE_DENOMINATOR, KIND_V2, _chain_out, _helper

__all__ = ["crossing_optimum"]

_MAX_PIECES = 64  # tick crossings the optimum search follows per cycle


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
def crossing_optimum(hop_pools, hop_zfo, n_hops, state, fs, js):
    """Return (amount_in, gross profit, ticks crossed) of a cycle whose closed-form optimum
    leaves a V3 range: the piecewise optimum, priced by the float swap walk."""
    a = _piecewise_optimum(hop_pools, hop_zfo, n_hops, state, fs, js)
    out, crossed = _chain_out(hop_pools, hop_zfo, n_hops, state, a)
    if not (out - a > 0.0):
        return 0.0, 0.0, 0
    return a, out - a, crossed
