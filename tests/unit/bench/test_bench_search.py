"""Smoke tests of the search benchmark: tiny graphs, the report's structure, never timings."""

from __future__ import annotations

import numpy as np
import pytest

from bench import bench_search, search_graphs
from bench.harness import Report, run_benchmark
from graph.cycles import CycleSet
from graph.state import PoolTable


@pytest.fixture(scope="module")
def tiny_result() -> dict:
    """Run the benchmark in quick mode on tiny graphs."""
    patch = pytest.MonkeyPatch()
    patch.setattr(bench_search, "v2_dense_graph", lambda n: search_graphs.v2_dense_graph(12))
    patch.setattr(bench_search, "mainnet_graph", lambda n: search_graphs.mainnet_graph(400, seed=3))
    patch.setattr(bench_search, "CHANGED_POOLS", 20)

    def body(report: Report) -> None:
        report.pick = lambda full, quick: min(quick, 3)  # type: ignore[method-assign]
        bench_search.run(report)

    try:
        return run_benchmark("bench_search", body, quick=True)
    finally:
        patch.undo()


def test_report_holds_every_section(tiny_result: dict) -> None:
    names = [e["name"] for e in tiny_result["entries"]]
    for expected in (
        "full: python closed form (sample)",
        "full: bare numba closed form",
        "full: evaluate_cycles kernel",
        "full: CycleSearch.evaluate",
        "networkx negative_edge_cycle",
        "full_pass (numba Bellman-Ford)",
        "touched 20 uniform: per block",
        "touched 20 activity: per block",
        "touching 20 uniform: CycleSet.touching",
        "touching 20 activity: CycleSet.touching",
        "touched uniform: p50",
        "touched activity: p99",
        "CycleSet construction",
        "add_pool: new venue of an existing pair",
        "graph: cycles",
    ):
        assert expected in names


def test_samples_have_baselines_and_cycle_throughput(tiny_result: dict) -> None:
    by_name = {e["name"]: e for e in tiny_result["entries"]}
    kernel = by_name["full: evaluate_cycles kernel"]
    assert kernel["baseline"] == "full: bare numba closed form"
    assert kernel["throughput"]["unit"] == "cycles/s"
    assert (
        by_name["full: bare numba closed form"]["baseline"] == "full: python closed form (sample)"
    )
    assert by_name["touched 20 uniform: per block"]["baseline"] == "networkx negative_edge_cycle"
    assert by_name["touched 20 activity: per block"]["n"] == 3
    assert by_name["touching 20 uniform: CycleSet.touching"]["n"] == 3
    profile = by_name["touched uniform: evaluate_cycles on 5 draws' cycles"]
    assert profile["throughput"]["unit"] == "cycles/s"
    screened = by_name["touched uniform: kernel per cycle, screened out"]
    assert screened["baseline"] == "touched uniform: evaluate_cycles on 5 draws' cycles"
    evaluated = by_name["full: cycles evaluated"]["value"]
    assert evaluated == 2 * 4 * (12 * 11 // 2) + 2 * 12  # 3-cycles, 2-cycles via parallel pools


def test_dense_graph_cycle_count_matches_formula() -> None:
    graph = search_graphs.v2_dense_graph(20, weth_pools_per_token=2)
    cycles = CycleSet(graph.token0, graph.token1, graph.n_tokens, [0], max_hops=3)
    assert int(np.count_nonzero(cycles.length == 3)) == (20 * 19 // 2) * 2 * 2**2


def test_mainnet_graph_is_hub_heavy_and_loads() -> None:
    graph = search_graphs.mainnet_graph(600, seed=2)
    assert 550 <= graph.n_pools <= 600
    degrees = graph.token_degrees()
    weth = graph.hub_ids["WETH"]
    assert degrees[weth] == degrees.max()
    hub = np.array(list(graph.hub_ids.values()))
    assert np.isin(graph.token0, hub).mean() + np.isin(graph.token1, hub).mean() > 0.5
    assert 0 < graph.is_v3.sum() < graph.n_pools
    table = PoolTable()
    table.load_snapshot(graph.snapshot)
    assert table.has_state[: graph.n_pools].all()
    assert table.csr().ticks.shape[0] >= 4 * int(graph.is_v3.sum())
