"""numba kernels of the cycle set: the token graph's adjacency, cycle enumeration, the index.

`enumerate_from_bases` walks every cycle from each base token; `enumerate_through_pool`
walks only the loops through one new pool and emits each once per base token on it. Both
run twice: once to count (`fill` false), once to write into arrays of that size.
`index_pools` builds the CSR index pool -> cycle ids; `cycles_touching` answers which cycles
go through a set of pools. Layouts as in `graph.cycles` (pool ids, token ids, -1 past a
cycle's end).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "MAX_HOPS",
    "adjacency",
    "cycles_touching",
    "enumerate_from_bases",
    "enumerate_through_pool",
    "index_pools",
]

MAX_HOPS = 4


@numba.njit(cache=True, nogil=True)
def adjacency(
    pool_token0: np.ndarray, pool_token1: np.ndarray, n_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the directed edges by source token in CSR form.

    (start int64[n_tokens + 1], pool int64[e], to_token int64[e], zero_for_one bool[e]);
    token t's edges are [start[t], start[t + 1]), in pool id order.
    """
    n_pools = pool_token0.shape[0]
    start = np.zeros(n_tokens + 1, dtype=np.int64)
    for p in range(n_pools):
        if pool_token0[p] >= 0:
            start[pool_token0[p] + 1] += 1
            start[pool_token1[p] + 1] += 1
    for t in range(n_tokens):
        start[t + 1] += start[t]
    fill = start[:-1].copy()
    n_edges = start[n_tokens]
    pool = np.empty(n_edges, dtype=np.int64)
    to_token = np.empty(n_edges, dtype=np.int64)
    zero_for_one = np.empty(n_edges, dtype=np.bool_)
    for p in range(n_pools):
        t0 = pool_token0[p]
        if t0 < 0:
            continue
        t1 = pool_token1[p]
        k = fill[t0]
        pool[k], to_token[k], zero_for_one[k] = p, t1, True
        fill[t0] += 1
        k = fill[t1]
        pool[k], to_token[k], zero_for_one[k] = p, t0, False
        fill[t1] += 1
    return start, pool, to_token, zero_for_one


@numba.njit(cache=True, nogil=True)
def _emit(out_pools, out_zfo, out_len, out_base, n, fill, path_pools, path_zfo, length, base):
    if fill:
        for h in range(length):
            out_pools[n, h] = path_pools[h]
            out_zfo[n, h] = path_zfo[h]
        out_len[n] = length
        out_base[n] = base
    return n + 1


@numba.njit(cache=True, nogil=True)
def enumerate_from_bases(
    bases,
    max_hops,
    start,
    edge_pool,
    edge_to,
    edge_zfo,
    fill,
    out_pools,
    out_zfo,
    out_len,
    out_base,
):
    """Walk every cycle from each base; count them, and write them when `fill`."""
    n = 0
    pp = np.empty(MAX_HOPS, dtype=np.int64)
    pz = np.empty(MAX_HOPS, dtype=np.bool_)
    for b in bases:
        for e1 in range(start[b], start[b + 1]):
            x = edge_to[e1]
            pp[0], pz[0] = edge_pool[e1], edge_zfo[e1]
            for e2 in range(start[x], start[x + 1]):
                p2 = edge_pool[e2]
                if p2 == pp[0]:
                    continue
                y = edge_to[e2]
                pp[1], pz[1] = p2, edge_zfo[e2]
                if y == b:
                    n = _emit(out_pools, out_zfo, out_len, out_base, n, fill, pp, pz, 2, b)
                    continue
                if max_hops < 3:
                    continue
                for e3 in range(start[y], start[y + 1]):
                    p3 = edge_pool[e3]
                    if p3 == pp[0] or p3 == p2:
                        continue
                    z = edge_to[e3]
                    pp[2], pz[2] = p3, edge_zfo[e3]
                    if z == b:
                        n = _emit(out_pools, out_zfo, out_len, out_base, n, fill, pp, pz, 3, b)
                        continue
                    if max_hops < 4 or z == x:
                        continue
                    for e4 in range(start[z], start[z + 1]):
                        p4 = edge_pool[e4]
                        if edge_to[e4] != b or p4 == pp[0] or p4 == p2 or p4 == p3:  # noqa: SIM109 (numba)
                            continue
                        pp[3], pz[3] = p4, edge_zfo[e4]
                        n = _emit(out_pools, out_zfo, out_len, out_base, n, fill, pp, pz, 4, b)
    return n


@numba.njit(cache=True, nogil=True)
def _emit_rotated(
    out_pools,
    out_zfo,
    out_len,
    out_base,
    n,
    fill,
    ring_tokens,
    ring_pools,
    ring_zfo,
    length,
    is_base,
):
    """Emit the loop ring_tokens[0] -> ... once per base token on it, rotated to start there."""
    for k in range(length):
        t = ring_tokens[k]
        if not is_base[t]:
            continue
        if fill:
            for h in range(length):
                out_pools[n, h] = ring_pools[(k + h) % length]
                out_zfo[n, h] = ring_zfo[(k + h) % length]
            out_len[n] = length
            out_base[n] = t
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def enumerate_through_pool(
    pool_id,
    t0,
    t1,
    is_base,
    max_hops,
    start,
    edge_pool,
    edge_to,
    edge_zfo,
    fill,
    out_pools,
    out_zfo,
    out_len,
    out_base,
):
    """Walk every loop through `pool_id` (both directions); emit it once per base on it."""
    n = 0
    tokens = np.empty(MAX_HOPS, dtype=np.int64)
    rp = np.empty(MAX_HOPS, dtype=np.int64)
    rz = np.empty(MAX_HOPS, dtype=np.bool_)
    for direction in range(2):
        u, v = (t0, t1) if direction == 0 else (t1, t0)
        tokens[0], rp[0], rz[0] = u, pool_id, direction == 0
        tokens[1] = v
        for e2 in range(start[v], start[v + 1]):
            p2 = edge_pool[e2]
            if p2 == pool_id:
                continue
            y = edge_to[e2]
            rp[1], rz[1] = p2, edge_zfo[e2]
            if y == u:
                n = _emit_rotated(
                    out_pools, out_zfo, out_len, out_base, n, fill, tokens, rp, rz, 2, is_base
                )
                continue
            if max_hops < 3:
                continue
            tokens[2] = y
            for e3 in range(start[y], start[y + 1]):
                p3 = edge_pool[e3]
                if p3 == pool_id or p3 == p2:  # noqa: SIM109 (numba)
                    continue
                z = edge_to[e3]
                rp[2], rz[2] = p3, edge_zfo[e3]
                if z == u:
                    n = _emit_rotated(
                        out_pools, out_zfo, out_len, out_base, n, fill, tokens, rp, rz, 3, is_base
                    )
                    continue
                if max_hops < 4 or z == v:
                    continue
                tokens[3] = z
                for e4 in range(start[z], start[z + 1]):
                    p4 = edge_pool[e4]
                    if edge_to[e4] != u or p4 == pool_id or p4 == p2 or p4 == p3:  # noqa: SIM109 (numba)
                        continue
                    rp[3], rz[3] = p4, edge_zfo[e4]
                    n = _emit_rotated(
                        out_pools, out_zfo, out_len, out_base, n, fill, tokens, rp, rz, 4, is_base
                    )
    return n


@numba.njit(cache=True, nogil=True)
def index_pools(pools: np.ndarray, length: np.ndarray, n_pools: int, first: int, stop: int):
    """Return the CSR index pool -> cycle ids over cycles [first, stop) (a counting sort)."""
    start = np.zeros(n_pools + 1, dtype=np.int64)
    for c in range(first, stop):
        for h in range(length[c]):
            start[pools[c, h] + 1] += 1
    for p in range(n_pools):
        start[p + 1] += start[p]
    fill = start[:-1].copy()
    ids = np.empty(start[n_pools], dtype=np.int64)
    for c in range(first, stop):
        for h in range(length[c]):
            p = pools[c, h]
            ids[fill[p]] = c
            fill[p] += 1
    return start, ids


@numba.njit(cache=True, nogil=True)
def cycles_touching(
    changed_pools: np.ndarray,
    index_start: np.ndarray,
    index_ids: np.ndarray,
    pools: np.ndarray,
    length: np.ndarray,
    indexed_cycles: int,
    n_cycles: int,
    pool_mark: np.ndarray,
    cycle_mark: np.ndarray,
) -> np.ndarray:
    """Return the ids of the cycles through any of `changed_pools`, each once.

    Cycles below `indexed_cycles` come from the CSR index, the tail above it from a scan.
    `pool_mark` (uint8[>= n_pools]) and `cycle_mark` (uint8[>= n_cycles]) are scratch
    arrays, all zero on entry and on return; the cost is the size of the answer (plus the
    tail), not the number of cycles held.
    """
    n_index_pools = index_start.shape[0] - 1
    total = 0
    for p in changed_pools:
        if p < n_index_pools:
            total += index_start[p + 1] - index_start[p]
    out = np.empty(total + (n_cycles - indexed_cycles), dtype=np.int64)
    count = 0
    for p in changed_pools:
        pool_mark[p] = 1
        if p < n_index_pools:
            for k in range(index_start[p], index_start[p + 1]):
                c = index_ids[k]
                if cycle_mark[c] == 0:
                    cycle_mark[c] = 1
                    out[count] = c
                    count += 1
    for c in range(indexed_cycles, n_cycles):
        for h in range(length[c]):
            if pool_mark[pools[c, h]]:
                if cycle_mark[c] == 0:
                    cycle_mark[c] = 1
                    out[count] = c
                    count += 1
                break
    for p in changed_pools:
        pool_mark[p] = 0
    for k in range(count):
        cycle_mark[out[k]] = 0
    return out[:count]
