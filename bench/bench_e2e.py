"""Benchmark: end to end, from a block's first websocket frame to the signed bundle at the relay.

On the embedded world (anvil mining only through the local builder, the ArbExecutor deployed
and funded; `bench.e2e_world`, in a child process as the supervisor hosts it), each block
carries seeded user swaps (`sim.traffic`) that push pools out of line. For each block the
bot's pipeline (`bench.e2e_ours`: feed -> ring -> engine -> executor) produces at most one
bundle (one executor account, one nonce per block). A sample is one opportunity: the clock
starts when the block's first websocket frame comes off the socket and stops when the signed
bundle is handed to the relay client's send; simulation (eth_callBundle at the builder), the
audit writes and signing are inside it, the send's HTTP round trip is not.

The baseline, in the same run on the same world: the pipeline built the ordinary way
(`bench.e2e_baseline`: web3.py subscription, `process_log`, networkx negative-cycle search
over the V2 pools, plain-Python amounts, eth-account signing), with the same risk gate,
audit log, calldata encoder and simulation. Reported: p50 / p99 / p99.9 and min / median /
max of both, their ratio, and the per-stage breakdown (median per stage).
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import harness
from bench.e2e_baseline import BASELINE_STAGES, run_baseline
from bench.e2e_ours import OURS_STAGES, run_ours
from bench.e2e_world import WorldProcess
from bench.harness import Report, Sample

GOAL_P50_S = 1e-3
GOAL_P99_S = 5e-3
OURS_NAME = "ours: first frame -> bundle at relay"
BASELINE_NAME = "baseline: first frame -> bundle at relay"
# stages that are the same step in both pipelines: ours is compared with the baseline's
_SHARED_STAGES = ("risk", "audit verdict", "calldata + sign", "audit intent", "simulate")


def _percentiles(report: Report, label: str, sample: Sample) -> None:
    for p in (50.0, 99.0, 99.9):
        report.add_value(f"{label} p{p:g}", sample.percentile(p), "s")


def _stage_samples(stages: list[dict[str, int]], names: tuple[str, ...]) -> dict[str, Sample]:
    return {name: Sample.from_times(s[name] / 1e9 for s in stages) for name in names}


def measure_e2e(
    report: Report,
    *,
    opportunities: int,
    baseline_opportunities: int,
    warmup_blocks: int,
    workdir: Path,
) -> None:
    """Run both pipelines on one world and record the results in report."""
    with WorldProcess(workdir / "world-cache") as world:
        info = world.start()
        base_dir = workdir / "baseline"
        base_dir.mkdir()
        baseline, base_outcomes = asyncio.run(
            run_baseline(
                world,
                info,
                opportunities=baseline_opportunities,
                warmup_blocks=warmup_blocks,
                max_blocks=warmup_blocks + 20 * baseline_opportunities,
                workdir=base_dir,
            )
        )
        ours_dir = workdir / "ours"
        ours_dir.mkdir()
        ours, ours_outcomes = asyncio.run(
            run_ours(
                world,
                info,
                opportunities=opportunities,
                warmup_blocks=warmup_blocks,
                max_blocks=warmup_blocks + 20 * opportunities,
                workdir=ours_dir,
            )
        )
    if not ours or not baseline:
        raise RuntimeError(
            f"too few opportunities: ours {len(ours)} ({ours_outcomes}), "
            f"baseline {len(baseline)} ({base_outcomes})"
        )
    base_sample = Sample.from_times(o.latency_ns / 1e9 for o in baseline)
    ours_sample = Sample.from_times(o.latency_ns / 1e9 for o in ours)
    report.add(
        BASELINE_NAME,
        base_sample,
        note="web3.py + networkx + eth-account; V2 pools only; same risk/audit/simulation",
    )
    report.add(OURS_NAME, ours_sample, baseline=BASELINE_NAME, note="every pool, exact re-pricing")
    report.add(
        "ours: head frame -> bundle at relay",
        Sample.from_times(o.from_head_ns / 1e9 for o in ours),
        baseline=BASELINE_NAME,
    )
    base_stages = _stage_samples([o.stages_ns for o in baseline], BASELINE_STAGES)
    for name, sample in base_stages.items():
        report.add(f"baseline stage: {name}", sample)
    for name, sample in _stage_samples([o.stages_ns for o in ours], OURS_STAGES).items():
        shared = f"baseline stage: {name}" if name in _SHARED_STAGES else None
        report.add(f"ours stage: {name}", sample, baseline=shared)
    _percentiles(report, "ours", ours_sample)
    _percentiles(report, "baseline", base_sample)
    report.add_value(
        "ours p50 / goal (1 ms)", ours_sample.percentile(50) / GOAL_P50_S, "x", note="<= 1 meets"
    )
    report.add_value(
        "ours p99 / goal (5 ms)", ours_sample.percentile(99) / GOAL_P99_S, "x", note="<= 1 meets"
    )
    report.add_value("ours opportunities", len(ours), "opportunities")
    report.add_value("baseline opportunities", len(baseline), "opportunities")
    report.add_value(
        "pool logs per block (median)",
        statistics.median(o.logs_in_block for o in ours),
        "logs",
    )
    for label, outcomes in (("ours", ours_outcomes), ("baseline", base_outcomes)):
        for outcome, n in sorted(outcomes.items()):
            report.add_value(f"{label} executor outcome: {outcome}", n, "bundles")


def run(report: Report) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="arbloop-bench-e2e-"))
    try:
        measure_e2e(
            report,
            opportunities=report.pick(1000, 20),
            baseline_opportunities=report.pick(150, 10),
            warmup_blocks=report.pick(20, 3),
            workdir=workdir,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    harness.main(run)
