"""Benchmark harness: timing samples, background load, reports, tables and Markdown.

A benchmark module ``bench/bench_<name>.py`` defines ``run(report: Report) -> None`` and ends with
``if __name__ == "__main__": harness.main(run)``. Inside ``run`` it times code with ``measure`` (or
builds a ``Sample`` from its own timings with ``Sample.from_times``) and records results with
``report.add`` / ``report.add_value``. Ratios against a baseline entry and throughput are
computed here; see ``bench/README.md`` for how to read them.

Only the standard library is imported, so the harness itself adds nothing to a benchmark's
start-up time or memory.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "RESULTS_DIR",
    "BackgroundLoad",
    "Report",
    "Sample",
    "format_quantity",
    "format_seconds",
    "main",
    "measure",
    "print_report",
    "run_benchmark",
    "to_markdown",
    "write_json",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_PERCENTILES_IN_JSON = (50.0, 90.0, 99.0, 99.9)
_MAX_RAW_TIMES_IN_JSON = 200
# Fewer /proc/stat ticks (summed over cores) than this make the CPU fractions meaningless.
_MIN_STAT_TICKS = 50


# --------------------------------------------------------------------------------------------
# Samples and timing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """Per-call measurements (seconds for timings) with order statistics."""

    times_s: tuple[float, ...]
    inner: int = 1
    _sorted: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.times_s:
            raise ValueError("a Sample needs at least one measurement")
        if not all(math.isfinite(t) for t in self.times_s):
            raise ValueError("a Sample holds finite numbers only")
        if self.inner < 1:
            raise ValueError(f"inner must be >= 1, got {self.inner}")
        object.__setattr__(self, "_sorted", tuple(sorted(self.times_s)))

    @classmethod
    def from_times(cls, times_s: Iterable[float]) -> Sample:
        """Build a Sample from measurements taken by the caller (seconds per event)."""
        return cls(times_s=tuple(float(t) for t in times_s))

    @property
    def n(self) -> int:
        """Return the number of measurements."""
        return len(self.times_s)

    @property
    def min_s(self) -> float:
        """Return the smallest measurement (seconds)."""
        return self._sorted[0]

    @property
    def max_s(self) -> float:
        """Return the largest measurement (seconds)."""
        return self._sorted[-1]

    @property
    def median_s(self) -> float:
        """Return the median measurement (seconds; mean of the two middle ones for even n)."""
        return self.percentile(50.0)

    @property
    def mean_s(self) -> float:
        """Return the arithmetic mean (seconds)."""
        return math.fsum(self.times_s) / len(self.times_s)

    def percentile(self, p: float) -> float:
        """Return the p-th percentile, p in [0, 100], interpolating linearly between ranks."""
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"percentile must be within [0, 100], got {p}")
        data = self._sorted
        rank = p / 100.0 * (len(data) - 1)
        lo = math.floor(rank)
        hi = min(lo + 1, len(data) - 1)
        frac = rank - lo
        return data[lo] + (data[hi] - data[lo]) * frac


def measure(
    fn: Callable[[], object], *, repeats: int = 7, warmup: int = 1, inner: int = 1
) -> Sample:
    """Time ``fn``: ``warmup`` untimed calls, then ``repeats`` rounds of ``inner`` calls each.

    Each round is timed with ``time.perf_counter_ns``; the Sample holds one per-call time in
    seconds per round (round time / inner). The garbage collector is left as it is.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if inner < 1:
        raise ValueError(f"inner must be >= 1, got {inner}")
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    calls = range(inner)
    times_s: list[float] = []
    for _ in range(repeats):
        start_ns = clock()
        for _ in calls:
            fn()
        elapsed_ns = clock() - start_ns
        times_s.append(elapsed_ns / inner / 1e9)
    return Sample(times_s=tuple(times_s), inner=inner)


# --------------------------------------------------------------------------------------------
# Background load
# --------------------------------------------------------------------------------------------


def _read_machine_ticks() -> tuple[int, int, int] | None:
    """Return (busy, total, cpu lines) clock ticks of all cores from /proc/stat, or None."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    if not lines or not lines[0].startswith("cpu "):
        return None
    values = [int(v) for v in lines[0].split()[1:9]]
    values += [0] * (8 - len(values))
    user, nice, system, idle, iowait, irq, softirq, steal = values
    total = user + nice + system + idle + iowait + irq + softirq + steal
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return total - idle - iowait, total, cpus


def _read_self_ticks() -> int | None:
    """Return this process's CPU clock ticks (utime+stime, plus waited-for children), or None."""
    try:
        text = Path("/proc/self/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name start at field 3 ("state").
    rest = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(v) for v in rest[11:15])
    return utime + stime + cutime + cstime


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


class BackgroundLoad:
    """Sample machine load over a window; use as a context manager, then read ``as_dict()``.

    The CPU fractions are of all cores listed in /proc/stat (1.0 = every core busy for the
    whole window); "self" counts this process's threads and its waited-for children, "other"
    is the rest of the machine. The resolution is one clock tick (usually 10 ms) per core, so
    the fractions are None for windows shorter than about 50 ticks summed over all cores.
    """

    def __init__(self) -> None:
        self._start_ns: int | None = None
        self._end_ns: int | None = None
        self._loadavg_start: list[float] | None = None
        self._loadavg_end: list[float] | None = None
        self._machine_start: tuple[int, int, int] | None = None
        self._machine_end: tuple[int, int, int] | None = None
        self._self_start: int | None = None
        self._self_end: int | None = None

    def __enter__(self) -> BackgroundLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Open the window."""
        self._loadavg_start = _loadavg()
        self._machine_start = _read_machine_ticks()
        self._self_start = _read_self_ticks()
        self._start_ns = time.perf_counter_ns()

    def stop(self) -> None:
        """Close the window."""
        self._end_ns = time.perf_counter_ns()
        self._machine_end = _read_machine_ticks()
        self._self_end = _read_self_ticks()
        self._loadavg_end = _loadavg()

    def as_dict(self) -> dict[str, Any]:
        """Return the window's figures as a JSON-able dict (None where unavailable)."""
        if self._start_ns is None or self._end_ns is None:
            raise RuntimeError("BackgroundLoad window was not started and stopped")
        busy_frac = self_frac = other_frac = None
        stat_cpus = stat_ticks = None
        if self._machine_start is not None and self._machine_end is not None:
            busy = self._machine_end[0] - self._machine_start[0]
            total = self._machine_end[1] - self._machine_start[1]
            stat_cpus = self._machine_end[2]
            stat_ticks = total
            if total >= _MIN_STAT_TICKS:
                busy_frac = busy / total
                if self._self_start is not None and self._self_end is not None:
                    own = self._self_end - self._self_start
                    self_frac = min(own / total, 1.0)
                    other_frac = max(busy - own, 0) / total
        return {
            "elapsed_s": (self._end_ns - self._start_ns) / 1e9,
            "loadavg_start": self._loadavg_start,
            "loadavg_end": self._loadavg_end,
            "cpu_count": os.cpu_count(),
            "stat_cpus": stat_cpus,
            "stat_ticks": stat_ticks,
            "cpu_busy_frac": _round(busy_frac),
            "self_busy_frac": _round(self_frac),
            "other_busy_frac": _round(other_frac),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _SampleEntry:
    name: str
    sample: Sample
    unit: str
    baseline: str | None
    work_per_call: float | None
    work_unit: str | None
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _ValueEntry:
    name: str
    value: float
    unit: str
    note: str


def _ratio(numerator: float, denominator: float) -> float | None:
    if numerator <= 0 or denominator <= 0:
        return None
    return numerator / denominator


class Report:
    """Collect the results of one benchmark module, in insertion order."""

    def __init__(self, name: str = "", *, quick: bool = False) -> None:
        self.name = name
        self.quick = quick
        self._entries: dict[str, _SampleEntry | _ValueEntry] = {}

    def pick(self, full: int, quick: int) -> int:
        """Return ``quick`` in quick mode, else ``full`` (e.g. repeats or event counts)."""
        return quick if self.quick else full

    @property
    def names(self) -> tuple[str, ...]:
        """Return the entry names in insertion order."""
        return tuple(self._entries)

    def add(
        self,
        name: str,
        sample: Sample,
        *,
        unit: str = "s",
        baseline: str | None = None,
        work_per_call: float | None = None,
        work_unit: str | None = None,
        note: str = "",
    ) -> None:
        """Record a Sample; ``baseline`` names an earlier sample entry with the same unit."""
        self._check_new(name)
        if baseline is not None:
            base = self._entries.get(baseline)
            if not isinstance(base, _SampleEntry):
                raise ValueError(f"{name}: baseline {baseline!r} is not an earlier sample entry")
            if base.unit != unit:
                raise ValueError(f"{name}: unit {unit!r} differs from baseline's {base.unit!r}")
        if work_per_call is not None:
            if unit != "s":
                raise ValueError(f"{name}: throughput needs a timing sample (unit 's')")
            if work_per_call <= 0:
                raise ValueError(f"{name}: work_per_call must be > 0, got {work_per_call}")
        self._entries[name] = _SampleEntry(
            name=name,
            sample=sample,
            unit=unit,
            baseline=baseline,
            work_per_call=work_per_call,
            work_unit=work_unit,
            note=note,
        )

    def add_value(self, name: str, value: float, unit: str, note: str = "") -> None:
        """Record a single figure (e.g. gas used, a p99 latency in seconds with unit 's')."""
        self._check_new(name)
        self._entries[name] = _ValueEntry(name=name, value=value, unit=unit, note=note)

    def _check_new(self, name: str) -> None:
        if not name:
            raise ValueError("entry name must not be empty")
        if name in self._entries:
            raise ValueError(f"duplicate entry name {name!r}")

    def to_dicts(self) -> list[dict[str, Any]]:
        """Return the entries as JSON-able dicts with ratios and throughput computed."""
        return [self._entry_dict(entry) for entry in self._entries.values()]

    def _entry_dict(self, entry: _SampleEntry | _ValueEntry) -> dict[str, Any]:
        if isinstance(entry, _ValueEntry):
            return {
                "kind": "value",
                "name": entry.name,
                "value": entry.value,
                "unit": entry.unit,
                "note": entry.note,
            }
        s = entry.sample
        out: dict[str, Any] = {
            "kind": "sample",
            "name": entry.name,
            "unit": entry.unit,
            "n": s.n,
            "inner": s.inner,
            "min": s.min_s,
            "median": s.median_s,
            "max": s.max_s,
            "mean": s.mean_s,
            "percentiles": {f"p{p:g}": s.percentile(p) for p in _PERCENTILES_IN_JSON},
            "baseline": entry.baseline,
            "ratio": None,
            "work_per_call": entry.work_per_call,
            "work_unit": entry.work_unit,
            "throughput": None,
            "note": entry.note,
        }
        if s.n <= _MAX_RAW_TIMES_IN_JSON:
            out["times"] = list(s.times_s)
        if entry.baseline is not None:
            base = self._entries[entry.baseline]
            assert isinstance(base, _SampleEntry)
            b = base.sample
            out["ratio"] = {
                "min": _ratio(b.min_s, s.min_s),
                "median": _ratio(b.median_s, s.median_s),
                "max": _ratio(b.max_s, s.max_s),
            }
        if entry.work_per_call is not None:
            work = entry.work_per_call
            out["throughput"] = {
                "unit": f"{entry.work_unit or 'calls'}/s",
                "at_min": _ratio(work, s.min_s),
                "at_median": _ratio(work, s.median_s),
                "at_max": _ratio(work, s.max_s),
            }
        return out


def _host_facts() -> dict[str, Any]:
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def run_benchmark(
    module_name: str, fn: Callable[[Report], None], *, quick: bool = False
) -> dict[str, Any]:
    """Run one benchmark body with a fresh Report inside a BackgroundLoad window."""
    report = Report(module_name, quick=quick)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with BackgroundLoad() as load:
        fn(report)
    background = load.as_dict()
    return {
        "name": module_name,
        "started_at": started_at,
        "elapsed_s": background["elapsed_s"],
        "quick": quick,
        "host": _host_facts(),
        "entries": report.to_dicts(),
        "background_load": background,
    }


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------

_TIME_SCALES = ((1e-6, 1e9, "ns"), (1e-3, 1e6, "µs"), (1.0, 1e3, "ms"))
_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _fmt_number(x: float) -> str:
    ax = abs(x)
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _time_scale(seconds: float) -> tuple[float, str]:
    for limit, factor, unit in _TIME_SCALES:
        if abs(seconds) < limit * 0.9995:  # so 999.7 µs prints as 1.00 ms, not 1000 µs
            return factor, unit
    return 1.0, "s"


def format_seconds(seconds: float) -> str:
    """Format seconds in ns, µs, ms or s, whichever keeps 1 <= value < 1000."""
    factor, unit = _time_scale(seconds)
    return f"{_fmt_number(seconds * factor)} {unit}"


def format_quantity(value: float, unit: str) -> str:
    """Format a value with its unit: adaptive time for 's', SI prefixes for rates ('x/s')."""
    if unit == "s":
        return format_seconds(value)
    if unit.endswith("/s"):
        for limit, prefix in _SI_PREFIXES:
            if abs(value) >= limit:
                return f"{_fmt_number(value / limit)}{prefix} {unit}"
        return f"{_fmt_number(value)} {unit}"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,} {unit}".rstrip()
    return f"{value:.4g} {unit}".rstrip()


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{_fmt_number(x)}×"


def _sample_cells(entry: dict[str, Any]) -> list[str]:
    """Return the cells name | n | min | median | max | throughput | vs baseline | note."""
    unit = entry["unit"]
    lo, mid, hi = (format_quantity(entry[k], unit) for k in ("min", "median", "max"))
    throughput = ""
    if entry["throughput"] is not None:
        tp = entry["throughput"]
        vals = [tp[k] for k in ("at_min", "at_median", "at_max")]
        ref_tp = tp["at_median"] or 0.0
        scale = next(((lim, p) for lim, p in _SI_PREFIXES if ref_tp >= lim), (1.0, ""))
        parts = ["-" if v is None else _fmt_number(v / scale[0]) + scale[1] for v in vals]
        throughput = " / ".join(parts) + f" {tp['unit']}"
    vs = ""
    if entry["ratio"] is not None:
        r = entry["ratio"]
        vs = " / ".join(_fmt_ratio(r[k]) for k in ("min", "median", "max"))
        vs += f" vs {entry['baseline']}"
    return [entry["name"], str(entry["n"]), lo, mid, hi, throughput, vs, entry["note"]]


def _fmt_load(load: dict[str, Any]) -> str:
    parts = [f"{load['elapsed_s']:.1f} s window"]
    la0, la1 = load.get("loadavg_start"), load.get("loadavg_end")
    if la0 and la1:
        parts.append(f"loadavg(1m) {la0[0]:.2f} → {la1[0]:.2f}")
    if load.get("cpu_busy_frac") is not None:
        cpus = load.get("stat_cpus") or load.get("cpu_count")
        text = f"CPU busy {load['cpu_busy_frac']:.0%} of {cpus} cores"
        if load.get("other_busy_frac") is not None:
            text += (
                f" (this benchmark {load['self_busy_frac']:.0%}, "
                f"other processes {load['other_busy_frac']:.0%})"
            )
        parts.append(text)
    elif load.get("stat_ticks") is not None:
        parts.append("window too short for CPU figures")
    return "; ".join(parts)


_SAMPLE_HEADERS = [
    "name",
    "n",
    "min",
    "median",
    "max",
    "throughput (at min / median / max)",
    "vs baseline (min / median / max)",
    "note",
]
_VALUE_HEADERS = ["name", "value", "note"]


def _split_entries(result: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    samples = [_sample_cells(e) for e in result["entries"] if e["kind"] == "sample"]
    values = [
        [e["name"], format_quantity(e["value"], e["unit"]), e["note"]]
        for e in result["entries"]
        if e["kind"] == "value"
    ]
    return samples, values


def _text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    keep = [i for i in range(len(headers)) if i < 2 or any(row[i] for row in rows)]
    headers = [headers[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    numeric = {"n", "min", "median", "max", "value"}

    def line(cells: list[str]) -> str:
        out = []
        for cell, width, head in zip(cells, widths, headers, strict=True):
            out.append(cell.rjust(width) if head in numeric else cell.ljust(width))
        return "  ".join(out).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _header_line(result: dict[str, Any]) -> str:
    host = result["host"]
    mode = ", quick" if result.get("quick") else ""
    return (
        f"{result['started_at']}, {host['cpu_count']} CPUs, {host['platform']}, "
        f"Python {host['python']}{mode}"
    )


def print_report(result: dict[str, Any], *, file: TextIO | None = None) -> None:
    """Print one benchmark result as a plain-text table."""
    out = file if file is not None else sys.stdout
    samples, values = _split_entries(result)
    lines = [f"== {result['name']} ==  ({_header_line(result)})"]
    if samples:
        lines += _text_table(_SAMPLE_HEADERS, samples)
    if values:
        lines += ["", *_text_table(_VALUE_HEADERS, values)]
    if not samples and not values:
        lines.append("(no entries)")
    lines.append(f"background load: {_fmt_load(result['background_load'])}")
    print("\n".join(lines), file=out, flush=True)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(results: list[dict[str, Any]]) -> str:
    """Render results as Markdown: one section per benchmark module with its tables."""
    lines = ["# Benchmark results", ""]
    if not results:
        lines += ["No benchmark results.", ""]
    for result in results:
        samples, values = _split_entries(result)
        lines += [f"## {result['name']}", "", f"_{_header_line(result)}_", ""]
        if samples:
            lines += [*_md_table(_SAMPLE_HEADERS, samples), ""]
        if values:
            lines += [*_md_table(_VALUE_HEADERS, values), ""]
        lines += [f"Background load: {_fmt_load(result['background_load'])}.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Entry point of a benchmark module
# --------------------------------------------------------------------------------------------


def write_json(path: Path, obj: object) -> Path:
    """Write ``obj`` as indented JSON to ``path``, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    return path


def _module_name(run: Callable[[Report], None]) -> str:
    module = getattr(run, "__module__", None) or "__main__"
    if module != "__main__":
        return module.rpartition(".")[2]
    try:
        return Path(inspect.getfile(run)).stem
    except TypeError:
        return "benchmark"


def main(run: Callable[[Report], None], *, argv: Sequence[str] | None = None) -> None:
    """Run a benchmark module alone: parse --quick, print its table, write results/<name>.json."""
    name = _module_name(run)
    parser = argparse.ArgumentParser(prog=name, description=f"Run benchmark {name}.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    result = run_benchmark(name, run, quick=args.quick)
    print_report(result)
    path = write_json(args.results_dir / f"{name}.json", result)
    print(f"wrote {path}")
