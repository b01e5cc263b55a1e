"""The end-to-end benchmark's core on a real world, with a handful of opportunities.

Needs anvil (fails, never skips, without it). Checks the report's structure and that every
sample is a real handoff after simulation, never the timings themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import bench_e2e
from bench.e2e_baseline import BASELINE_STAGES
from bench.e2e_ours import OURS_STAGES
from bench.harness import Report, run_benchmark

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the benchmark's core: 20 of our opportunities, 5 of the baseline's."""
    workdir = Path(tmp_path_factory.mktemp("e2e"))

    def body(report: Report) -> None:
        bench_e2e.measure_e2e(
            report, opportunities=20, baseline_opportunities=5, warmup_blocks=2, workdir=workdir
        )

    return run_benchmark("bench_e2e", body, quick=True)


def test_both_pipelines_carry_opportunities_to_the_relay(result: dict) -> None:
    by_name = {e["name"]: e for e in result["entries"]}
    ours = by_name[bench_e2e.OURS_NAME]
    baseline = by_name[bench_e2e.BASELINE_NAME]
    assert ours["n"] == 20
    assert baseline["n"] == 5
    assert ours["baseline"] == bench_e2e.BASELINE_NAME
    assert ours["min"] > 0 and baseline["min"] > 0
    assert set(ours["percentiles"]) >= {"p50", "p99", "p99.9"}
    assert by_name["ours opportunities"]["value"] == 20
    # every sample is a bundle that was simulated successfully, then handed off
    sent = by_name["ours executor outcome: sent"]["value"]
    assert sent >= 20
    assert by_name["ours executor outcome: simulations ok"]["value"] >= sent


def test_stage_breakdown_is_reported_for_each_stage(result: dict) -> None:
    names = {e["name"] for e in result["entries"]}
    assert {f"ours stage: {s}" for s in OURS_STAGES} <= names
    assert {f"baseline stage: {s}" for s in BASELINE_STAGES} <= names
    by_name = {e["name"]: e for e in result["entries"]}
    assert by_name["ours stage: simulate"]["baseline"] == "baseline stage: simulate"
    assert by_name["ours stage: simulate"]["min"] > 0
    assert by_name["ours stage: calldata + sign"]["min"] > 0
    for label in ("ours", "baseline"):
        p50 = by_name[f"{label} p50"]["value"]
        assert p50 <= by_name[f"{label} p99"]["value"] <= by_name[f"{label} p99.9"]["value"]
