"""Run every ``bench/bench_*.py``, each in a fresh subprocess, and collect the results.

``python -m bench.run_all [--quick] [--only NAME ...]`` prints one table per module and writes
``bench/results/<module>.json``, ``latest.json`` (list of the results that completed) and
``latest.md``. The exit status is 1 if any module raised, died or timed out; the others are
still run and written.

A subprocess per module keeps JIT caches, threads and memory of one benchmark away from the
next. The child is ``python -m bench.run_all --one PATH --out FILE``: it runs the module's
``run(report)`` through ``harness.run_benchmark`` and writes the result as JSON to FILE;
whatever the benchmark prints, and any traceback, goes straight to the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import harness

__all__ = ["discover", "main"]

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent


@dataclass(frozen=True, slots=True, kw_only=True)
class _Failure:
    name: str
    reason: str


def discover(bench_dir: Path) -> list[Path]:
    """Return the benchmark files ``bench_*.py`` of ``bench_dir``, sorted by name."""
    return sorted(p for p in bench_dir.glob("bench_*.py") if p.is_file())


def _load_module(path: Path) -> ModuleType:
    """Import a benchmark file: as ``bench.<stem>`` when it lives in this package."""
    path = path.resolve()
    if path.parent == BENCH_DIR:
        return importlib.import_module(f"bench.{path.stem}")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _run_one(path: Path, out: Path, *, quick: bool) -> int:
    """Run one benchmark module in this process and write its result to ``out``."""
    try:
        module = _load_module(path)
        run = getattr(module, "run", None)
        if not callable(run):
            raise TypeError(f"{path.name} defines no run(report) function")
        result = harness.run_benchmark(path.stem, run, quick=quick)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    harness.write_json(out, result)
    return 0


def _run_child(path: Path, *, quick: bool, timeout_s: float | None) -> dict[str, Any] | _Failure:
    """Run one benchmark module in a fresh interpreter and return its result or failure."""
    with tempfile.TemporaryDirectory(prefix="arbloop-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            "-m",
            "bench.run_all",
            "--one",
            str(path.resolve()),
            "--out",
            str(out),
        ]
        if quick:
            cmd.append("--quick")
        try:
            proc = subprocess.run(cmd, cwd=PROJECT_ROOT, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return _Failure(name=path.stem, reason=f"timed out after {timeout_s:g} s")
        if proc.returncode < 0:
            return _Failure(name=path.stem, reason=f"killed by signal {-proc.returncode}")
        if proc.returncode != 0:
            return _Failure(name=path.stem, reason=f"raised (exit {proc.returncode}), see above")
        try:
            return json.loads(out.read_text())
        except (OSError, ValueError) as exc:
            return _Failure(name=path.stem, reason=f"wrote no readable result ({exc})")


def _select(paths: list[Path], only: Sequence[str] | None) -> list[Path]:
    """Keep the files named in ``only`` (``bench_x``, ``x`` or ``bench_x.py``)."""
    if not only:
        return paths
    by_name = {p.stem: p for p in paths}
    chosen: list[Path] = []
    for raw in only:
        stem = raw.removesuffix(".py")
        stem = stem if stem.startswith("bench_") else f"bench_{stem}"
        if stem not in by_name:
            known = ", ".join(by_name) or "none"
            raise SystemExit(f"unknown benchmark {raw!r} (known: {known})")
        if by_name[stem] not in chosen:
            chosen.append(by_name[stem])
    return chosen


def _failures_markdown(failures: list[_Failure]) -> str:
    lines = ["## Failed", ""]
    lines += [f"- `{f.name}`: {f.reason}" for f in failures]
    return "\n".join(lines) + "\n"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_all", description="Run the benchmarks under bench/."
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these modules")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR)
    parser.add_argument("--results-dir", type=Path, default=harness.RESULTS_DIR)
    parser.add_argument(
        "--timeout-s", type=float, default=None, help="wall-clock limit per benchmark module"
    )
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks; return the process exit status."""
    args = _parse_args(argv)
    if args.one is not None:
        if args.out is None:
            raise SystemExit("--one needs --out")
        return _run_one(args.one, args.out, quick=args.quick)

    paths = _select(discover(args.bench_dir), args.only)
    if not paths:
        print(f"no benchmarks (bench_*.py) in {args.bench_dir}")
        return 0

    results: list[dict[str, Any]] = []
    failures: list[_Failure] = []
    for path in paths:
        print(f"-- running {path.stem}{' (quick)' if args.quick else ''}", flush=True)
        outcome = _run_child(path, quick=args.quick, timeout_s=args.timeout_s)
        if isinstance(outcome, _Failure):
            failures.append(outcome)
            print(f"!! {outcome.name} FAILED: {outcome.reason}", flush=True)
            continue
        results.append(outcome)
        harness.print_report(outcome)
        harness.write_json(args.results_dir / f"{path.stem}.json", outcome)
        print(flush=True)

    markdown = harness.to_markdown(results)
    if failures:
        markdown += "\n" + _failures_markdown(failures)
    json_path = harness.write_json(args.results_dir / "latest.json", results)
    md_path = args.results_dir / "latest.md"
    md_path.write_text(markdown)
    print(f"wrote {json_path} and {md_path}")
    if failures:
        names = ", ".join(f.name for f in failures)
        print(f"{len(results)} ok, {len(failures)} failed: {names}")
        return 1
    print(f"{len(results)} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
