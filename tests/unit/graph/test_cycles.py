"""Cycle enumeration: equal to a brute force and to networkx; incremental growth and the index."""

from __future__ import annotations

import math
import random
from collections import Counter

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.cycles import CycleSet, build_cycles
from tests.unit.graph.random_graphs import (
    Edge,
    Hops,
    brute_cycles,
    cycle_set_of,
    random_edges,
    token_address,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def graphs(draw, max_tokens: int = 500, max_pools: int = 600):
    """Draw (n_tokens, edges, bases): a random multigraph with a dense core and base tokens."""
    n_tokens = draw(st.integers(2, max_tokens))
    n_pools = draw(st.integers(1, min(max_pools, 3 * n_tokens)))
    # a core wide enough that parallel pools stay few: the cycle count stays countable
    core = max(draw(st.integers(2, 60)), math.isqrt(2 * n_pools))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    edges = random_edges(rng, n_tokens, n_pools, core)
    core = min(core, n_tokens)
    bases = draw(st.lists(st.integers(0, core - 1), min_size=1, max_size=4))
    return n_tokens, edges, bases


def cycle_set(edges: list[Edge], n_tokens: int, bases: list[int], max_hops: int) -> CycleSet:
    n_pools = 1 + max(p for p, _, _ in edges)
    t0 = np.full(n_pools, -1, dtype=np.int64)
    t1 = np.full(n_pools, -1, dtype=np.int64)
    for pool, a, b in edges:
        t0[pool], t1[pool] = a, b
    return CycleSet(t0, t1, n_tokens, bases, max_hops=max_hops)


def assert_valid(cycles: CycleSet, edges: list[Edge]) -> None:
    """Every cycle is a loop from its base through distinct pools and distinct tokens."""
    by_pool = {p: (a, b) for p, a, b in edges}
    for c in range(cycles.n_cycles):
        hops = cycles.cycle(c)
        token = int(cycles.base[c])
        seen = [token]
        for pool, zfo in hops:
            a, b = by_pool[pool]
            assert token == (a if zfo else b)
            token = b if zfo else a
            seen.append(token)
        assert token == seen[0]
        assert len(set(seen[:-1])) == len(hops)
        assert len({p for p, _ in hops}) == len(hops)
        assert cycles.tokens(c) == tuple(seen)
        assert (cycles.pools[c, len(hops) :] == -1).all()


def networkx_cycles(edges: list[Edge], bases: list[int], max_hops: int) -> set[tuple[int, Hops]]:
    """Return the (base, hops) cycles from networkx simple_cycles on an expanded DiGraph.

    Each pool direction is its own node between the two tokens, so parallel pools are
    distinct paths; a loop is listed by networkx once and becomes one cycle per base on it.
    """
    # a loop of L hops through a base stays within L // 2 hops of it: only that
    # neighbourhood is handed to networkx (its cycles elsewhere are not ours to list)
    adjacent: dict[int, set[int]] = {}
    for _, a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    near = set(bases)
    frontier = set(bases)
    for _ in range(max_hops // 2):
        frontier = {n for t in frontier for n in adjacent.get(t, ())} - near
        near |= frontier
    graph = nx.DiGraph()
    for pool, a, b in edges:
        if a not in near or b not in near:
            continue
        graph.add_edge(("t", a), ("e", pool, True))
        graph.add_edge(("e", pool, True), ("t", b))
        graph.add_edge(("t", b), ("e", pool, False))
        graph.add_edge(("e", pool, False), ("t", a))
    base_set = set(bases)
    out: set[tuple[int, Hops]] = set()
    for loop in nx.simple_cycles(graph, length_bound=2 * max_hops):
        k = next(i for i, node in enumerate(loop) if node[0] == "t")
        loop = loop[k:] + loop[:k]  # a token first, then edge, token, edge, ...
        tokens = [node[1] for node in loop[0::2]]
        hops = [(node[1], node[2]) for node in loop[1::2]]
        if len({p for p, _ in hops}) != len(hops):
            continue  # one pool both ways: not a cycle of distinct pools
        for i, token in enumerate(tokens):
            if token in base_set:
                out.add((token, tuple(hops[i:] + hops[:i])))
    return out


@SETTINGS
@given(graphs(), st.sampled_from([2, 3]))
def test_cycles_equal_brute_force(graph, max_hops) -> None:
    n_tokens, edges, bases = graph
    cycles = cycle_set(edges, n_tokens, bases, max_hops)
    held = cycle_set_of(cycles)
    assert len(held) == len(set(held)), "a cycle is held twice"
    assert set(held) == brute_cycles(edges, bases, max_hops)
    assert_valid(cycles, edges)


@settings(SETTINGS, max_examples=12)
@given(graphs(max_pools=250), st.sampled_from([2, 3]))
def test_cycles_agree_with_networkx(graph, max_hops) -> None:
    n_tokens, edges, bases = graph
    cycles = cycle_set(edges, n_tokens, bases, max_hops)
    assert set(cycle_set_of(cycles)) == networkx_cycles(edges, bases, max_hops)


@SETTINGS
@given(graphs(max_tokens=40, max_pools=80), st.sampled_from([2, 3, 4]))
def test_cycles_up_to_four_hops_on_small_graphs(graph, max_hops) -> None:
    n_tokens, edges, bases = graph
    cycles = cycle_set(edges, n_tokens, bases, max_hops)
    held = cycle_set_of(cycles)
    assert len(held) == len(set(held))
    assert set(held) == brute_cycles(edges, bases, max_hops)
    assert set(held) == networkx_cycles(edges, bases, max_hops)
    assert_valid(cycles, edges)


@SETTINGS
@given(graphs(max_tokens=120, max_pools=200), st.sampled_from([2, 3, 4]), st.randoms())
def test_incremental_add_pool_equals_building_at_once(graph, max_hops, rnd) -> None:
    n_tokens, edges, bases = graph
    if max_hops == 4:
        edges = edges[:80]
    whole = cycle_set(edges, n_tokens, bases, max_hops)
    # start from no pools, few tokens; add tokens and pools in a random order
    grown = CycleSet([], [], max(bases) + 1, bases, max_hops=max_hops)
    order = list(edges)
    rnd.shuffle(order)
    total = 0
    for pool, a, b in order:
        while grown.n_tokens <= max(a, b):
            grown.add_token()
        total += grown.add_pool(pool, a, b)
        assert grown.n_cycles == total
    assert Counter(cycle_set_of(grown)) == Counter(cycle_set_of(whole))
    assert_valid(grown, edges)
    # touching: exactly the cycles through the changed pools
    pools = [p for p, _, _ in edges]
    for _ in range(5):
        changed = rnd.sample(pools, k=rnd.randint(1, min(4, len(pools))))
        expected = np.flatnonzero(np.isin(grown.pools, changed).any(axis=1))
        got = grown.touching(changed)
        assert len(got) == len(set(got.tolist()))
        assert sorted(got.tolist()) == expected.tolist()


def test_touching_across_the_tail_and_after_folding_it_in() -> None:
    """Grow past the 1024-cycle tail so the index is rebuilt; touching stays exact throughout."""
    rng = random.Random(7)
    n_tokens = 12
    edges = []
    for a in range(n_tokens):
        for b in range(a + 1, n_tokens):
            for _ in range(2):  # parallel pools
                edges.append((len(edges), a, b))
    rng.shuffle(edges)
    cycles = CycleSet([], [], n_tokens, [0, 1, 5], max_hops=3)
    saw_tail = saw_folded = False
    for i, (pool, a, b) in enumerate(edges):
        cycles.add_pool(pool, a, b)
        tail = cycles.n_cycles - cycles._indexed_cycles
        saw_tail |= tail > 0 and cycles._indexed_cycles > 0
        saw_folded |= tail == 0 and cycles.n_cycles > 1024
        if i % 7 == 0 or i == len(edges) - 1:
            added = [p for p, _, _ in edges[: i + 1]]
            for changed in ([pool], rng.sample(added, min(3, len(added))), [pool, pool, -1, 10**6]):
                valid = [p for p in changed if p >= 0]  # -1 pads the pools array
                expected = np.flatnonzero(np.isin(cycles.pools, valid).any(axis=1))
                got = cycles.touching(changed)
                assert sorted(got.tolist()) == expected.tolist()
                assert len(got) == len(set(got.tolist()))
    assert cycles.n_cycles > 2 * 1024
    assert saw_tail and saw_folded, "the test must cover both the tail scan and the index"
    whole = cycle_set(edges, n_tokens, [0, 1, 5], 3)
    assert Counter(cycle_set_of(cycles)) == Counter(cycle_set_of(whole))
    # a numpy array of changed pools answers the same, and the scratch marks are left clean
    arr = np.array([edges[0][0], edges[1][0]], dtype=np.int64)
    assert sorted(cycles.touching(arr).tolist()) == sorted(cycles.touching(arr.tolist()).tolist())
    assert not cycles._pool_mark.any() and not cycles._cycle_mark.any()


def test_both_directions_and_one_cycle_per_base() -> None:
    # triangle 0-1-2 with bases 0 and 1: each direction is a cycle, once per base on it
    tokens, cycles = build_cycles(
        [
            (0, token_address(0), token_address(1)),
            (1, token_address(1), token_address(2)),
            (2, token_address(2), token_address(0)),
        ],
        [token_address(0), token_address(1)],
    )
    assert cycles.n_cycles == 4
    assert Counter(int(b) for b in cycles.base) == {0: 2, 1: 2}
    assert tokens.get(token_address(2).upper()) == 2


def test_validation_errors() -> None:
    with pytest.raises(ValueError, match="max_hops"):
        CycleSet([0], [1], 2, [0], max_hops=1)
    with pytest.raises(ValueError, match="max_hops"):
        CycleSet([0], [1], 2, [0], max_hops=5)
    with pytest.raises(ValueError, match="base token"):
        CycleSet([0], [1], 2, [])
    with pytest.raises(ValueError, match="base token id"):
        CycleSet([0], [1], 2, [2])
    with pytest.raises(ValueError, match="base token id"):
        CycleSet([0], [1], 2, [-1])
    with pytest.raises(ValueError, match="below n_tokens"):
        CycleSet([0], [2], 2, [0])
    with pytest.raises(ValueError, match="distinct"):
        CycleSet([1], [1], 2, [0])
    with pytest.raises(ValueError, match="both tokens or neither"):
        CycleSet([0], [-1], 2, [0])
    with pytest.raises(ValueError, match="one length"):
        CycleSet([0, 1], [1], 2, [0])
    cycles = CycleSet([0], [1], 3, [0])
    with pytest.raises(ValueError, match="already"):
        cycles.add_pool(0, 1, 2)
    with pytest.raises(ValueError, match="bad token ids"):
        cycles.add_pool(1, 1, 1)
    with pytest.raises(ValueError, match="bad token ids"):
        cycles.add_pool(1, 0, 3)
    with pytest.raises(ValueError, match="bad token ids"):
        cycles.add_pool(1, -1, 2)
    with pytest.raises(IndexError):
        cycles.cycle(0)  # one pool makes no cycle
    with pytest.raises(ValueError, match="given twice"):
        build_cycles([(0, token_address(0), token_address(1))] * 2, [token_address(0)])
