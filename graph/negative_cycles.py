"""numba Bellman-Ford over the token graph: negative cycles of -log marginal rates.

A full pass that finds profitable loops without enumerating cycles: each pool gives two
edges weighted -log(marginal rate after fee) at its current state (a V3 pool's in-range
price), and a cycle whose weights sum below zero has a gross marginal return above one.
Units as in `graph.search_walk`; the rates are marginal, so a cycle found here is a lead for
the per-cycle search, not a priced trade.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from graph.search_walk import _FEE_DENOMINATOR, KIND_V2, _helper

__all__ = ["negative_cycles"]


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
