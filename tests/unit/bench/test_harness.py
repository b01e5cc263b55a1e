"""Tests of the benchmark harness and runner (statistics, ratios, output, subprocess runner)."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench import harness, run_all
from bench.harness import BackgroundLoad, Report, Sample, measure, run_benchmark, to_markdown


def test_sample_statistics_on_known_inputs() -> None:
    s = Sample.from_times([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.min_s, s.median_s, s.max_s, s.mean_s) == (1.0, 3.0, 5.0, 3.0)
    assert s.n == 5
    assert s.percentile(0) == 1.0
    assert s.percentile(100) == 5.0
    assert s.percentile(25) == 2.0
    assert s.percentile(90) == pytest.approx(4.6)
    assert s.times_s == (5.0, 1.0, 3.0, 2.0, 4.0)  # original order is kept


def test_sample_even_count_median_and_single_value() -> None:
    assert Sample.from_times([4.0, 1.0, 2.0, 3.0]).median_s == 2.5
    one = Sample.from_times([7.0])
    assert (one.min_s, one.median_s, one.max_s, one.percentile(99.9)) == (7.0, 7.0, 7.0, 7.0)


def test_sample_percentiles_match_numpy_on_large_sample() -> None:
    rng = np.random.default_rng(1)
    data = rng.lognormal(mean=-11.0, sigma=0.7, size=20_000)
    s = Sample.from_times(data)
    for p in (50, 99, 99.9):
        assert s.percentile(p) == pytest.approx(float(np.percentile(data, p)), rel=1e-12)


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf]])
def test_sample_rejects_empty_and_non_finite(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        Sample.from_times(bad)


def test_sample_rejects_out_of_range_percentile() -> None:
    with pytest.raises(ValueError):
        Sample.from_times([1.0]).percentile(101)


def test_measure_counts_calls_and_reports_per_call_times() -> None:
    calls = []
    s = measure(lambda: calls.append(1), repeats=4, warmup=2, inner=5)
    assert len(calls) == 2 + 4 * 5
    assert s.n == 4
    assert s.inner == 5
    assert all(t >= 0 for t in s.times_s)


def test_ratio_min_median_max_against_slow_baseline() -> None:
    def body(report: Report) -> None:
        report.add("slow", Sample.from_times([4.0, 5.0, 8.0]))
        report.add("fast", Sample.from_times([1.0, 2.0, 4.0]), baseline="slow")

    result = run_benchmark("bench_ratio", body)
    slow, fast = result["entries"]
    assert slow["ratio"] is None
    assert fast["baseline"] == "slow"
    assert fast["ratio"] == {"min": 4.0, "median": 2.5, "max": 2.0}


def test_ratio_of_real_measurements_shows_speedup() -> None:
    def body(report: Report) -> None:
        report.add("slow", measure(lambda: sum(range(20_000)), repeats=3))
        report.add("fast", measure(lambda: None, repeats=3, inner=100), baseline="slow")

    fast = run_benchmark("bench_speed", body)["entries"][1]
    assert fast["ratio"]["median"] > 1.0
    assert fast["ratio"]["min"] > 1.0


def test_throughput_at_min_median_max() -> None:
    report = Report("bench_tp")
    report.add(
        "decode",
        Sample.from_times([0.5, 1.0, 2.0]),
        work_per_call=10_000,
        work_unit="logs",
    )
    (entry,) = report.to_dicts()
    assert entry["throughput"] == {
        "unit": "logs/s",
        "at_min": 20_000.0,
        "at_median": 10_000.0,
        "at_max": 5_000.0,
    }


def test_add_rejects_bad_baseline_and_duplicates() -> None:
    report = Report("bench_x")
    report.add("a", Sample.from_times([1.0]))
    report.add_value("gas", 21_000, "gas")
    with pytest.raises(ValueError, match="duplicate"):
        report.add("a", Sample.from_times([1.0]))
    with pytest.raises(ValueError, match="baseline"):
        report.add("b", Sample.from_times([1.0]), baseline="missing")
    with pytest.raises(ValueError, match="baseline"):
        report.add("c", Sample.from_times([1.0]), baseline="gas")
    with pytest.raises(ValueError, match="unit"):
        report.add("d", Sample.from_times([1.0]), unit="gas", baseline="a")
    assert report.names == ("a", "gas")


def test_report_keeps_insertion_order_and_quick_flag() -> None:
    seen: list[bool] = []

    def body(report: Report) -> None:
        seen.append(report.quick)
        assert report.pick(100, 3) == 3
        report.add_value("z value", 1.5, "ms")
        report.add("a timing", Sample.from_times([1e-6]))
        report.add_value("m value", 2, "gas")

    result = run_benchmark("bench_order", body, quick=True)
    assert seen == [True]
    assert [e["name"] for e in result["entries"]] == ["z value", "a timing", "m value"]
    assert result["quick"] is True


def test_result_is_json_able_and_has_host_and_load() -> None:
    def body(report: Report) -> None:
        report.add("noop", measure(lambda: None, repeats=3, inner=10))

    result = run_benchmark("bench_json", body)
    assert json.loads(json.dumps(result)) == result
    assert result["name"] == "bench_json"
    assert result["host"]["cpu_count"] >= 1
    assert set(result["background_load"]) >= {
        "loadavg_start",
        "loadavg_end",
        "cpu_busy_frac",
        "other_busy_frac",
    }


def test_background_load_reports_busy_fractions_in_range() -> None:
    with BackgroundLoad() as load:
        deadline = harness.time.perf_counter() + 0.3
        while harness.time.perf_counter() < deadline:
            pass
    d = load.as_dict()
    assert d["elapsed_s"] >= 0.3
    if d["cpu_busy_frac"] is not None:
        assert 0.0 <= d["cpu_busy_frac"] <= 1.0
        assert 0.0 <= d["self_busy_frac"] <= 1.0
        assert 0.0 <= d["other_busy_frac"] <= 1.0


def test_markdown_and_table_name_entries_and_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    def body(report: Report) -> None:
        report.add("python loop", Sample.from_times([2e-3, 3e-3, 5e-3]))
        report.add(
            "numba kernel",
            Sample.from_times([1e-6, 2e-6, 4e-6]),
            baseline="python loop",
            work_per_call=1_000,
            work_unit="pools",
        )
        report.add_value("deploy gas used", 1_234_567, "gas")

    result = run_benchmark("bench_md", body)
    md = to_markdown([result])
    for text in ("## bench_md", "python loop", "numba kernel", "vs python loop", "1,234,567 gas"):
        assert text in md
    assert "2.00 µs" in md
    assert "M pools/s" in md

    harness.print_report(result)
    out = capsys.readouterr().out
    assert "numba kernel" in out
    assert "vs python loop" in out
    assert "1500×" in out  # median ratio 3e-3 / 2e-6


def test_format_units() -> None:
    assert harness.format_seconds(3e-9) == "3.00 ns"
    assert harness.format_seconds(12.5e-6) == "12.5 µs"
    assert harness.format_seconds(0.25) == "250 ms"
    assert harness.format_seconds(2.0) == "2.00 s"
    assert harness.format_quantity(2.5e6, "logs/s") == "2.50M logs/s"
    assert harness.format_quantity(21_000, "gas") == "21,000 gas"


def test_main_writes_module_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(report: Report) -> None:
        report.add("noop", measure(lambda: None, repeats=2))
        report.add_value("quick", int(report.quick), "")

    harness.main(run, argv=["--quick", "--results-dir", str(tmp_path)])
    (path,) = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    assert result["quick"] is True
    assert [e["name"] for e in result["entries"]] == ["noop", "quick"]
    assert "noop" in capsys.readouterr().out


_GOOD_BENCH = """
from bench import harness


def run(report):
    report.add("noop", harness.measure(lambda: None, repeats=report.pick(5, 2)))
    report.add_value("quick", int(report.quick), "")
"""

_BAD_BENCH = """
def run(report):
    raise RuntimeError("deliberate failure in bench_bad")
"""


def _write_benches(bench_dir: Path) -> None:
    bench_dir.mkdir()
    (bench_dir / "bench_good.py").write_text(textwrap.dedent(_GOOD_BENCH))
    (bench_dir / "bench_bad.py").write_text(textwrap.dedent(_BAD_BENCH))
    (bench_dir / "helper.py").write_text("raise AssertionError('not a benchmark')\n")


def test_run_all_writes_good_results_and_fails_on_raise(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bench_dir, results_dir = tmp_path / "benches", tmp_path / "results"
    _write_benches(bench_dir)
    argv = ["--bench-dir", str(bench_dir), "--results-dir", str(results_dir), "--quick"]

    assert run_all.main(argv) == 1

    latest = json.loads((results_dir / "latest.json").read_text())
    assert [r["name"] for r in latest] == ["bench_good"]
    entries = {e["name"]: e for e in latest[0]["entries"]}
    assert entries["noop"]["n"] == 2
    assert entries["quick"]["value"] == 1
    assert (results_dir / "bench_good.json").exists()
    md = (results_dir / "latest.md").read_text()
    assert "## bench_good" in md
    assert "bench_bad" in md
    out, err = capfd.readouterr()
    assert "deliberate failure in bench_bad" in err
    assert "FAILED" in out


def test_run_all_only_selects_one_module(tmp_path: Path) -> None:
    bench_dir, results_dir = tmp_path / "benches", tmp_path / "results"
    _write_benches(bench_dir)
    argv = ["--bench-dir", str(bench_dir), "--results-dir", str(results_dir)]

    assert run_all.main([*argv, "--only", "good"]) == 0
    latest = json.loads((results_dir / "latest.json").read_text())
    assert [r["name"] for r in latest] == ["bench_good"]
    with pytest.raises(SystemExit):
        run_all.main([*argv, "--only", "missing"])


def test_run_all_without_benchmarks_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--bench-dir", str(tmp_path), "--results-dir", str(tmp_path / "results")]
    assert run_all.main(argv) == 0
    assert "no benchmarks" in capsys.readouterr().out
    assert not (tmp_path / "results").exists()
