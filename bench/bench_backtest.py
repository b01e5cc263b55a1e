"""Benchmark: replaying a 100,000-block archive of the local world, decode, state and search.

The archive (`sim.world_archive`, 100,000 blocks; 2,000 with ``--quick``) is built on first
use and cached under ``.world/``; the report says whether this run built it and how long the
build took. Each replay starts from the archive's first snapshot in a fresh `PoolTable`.

- decode + state: `sim.archive.iter_blocks` (Parquet read, one column decode per chunk file,
  split by block) and `PoolTable.apply` of each block behind its head record, as the backtest
  feeds the engine; events/s over the whole archive. The same with one `PoolTable.apply` per
  chunk file (`bench.backtest_feed`; same final state, checked), `PoolTable.apply` alone on
  batches built beforehand, and the decode alone (`decode_file` per file, Parquet read
  included): where the time goes.
- decode + state + search: the same, and after each block what the engine does at a head:
  base token values, `CycleSearch.touched` over the cycles through the changed pools, and the
  float screen (`CycleSearch.top`); blocks/s and the whole archive's wall time. The exact
  re-pricing of the screened cycles is not in it.
- baseline, in the same run, on the first blocks of the archive (2,000; 500 with
  ``--quick``) and extrapolated per block to the whole archive: the same logs as web3.py
  receives them, decoded with ``process_log``, dict state, and ``nx.find_negative_cycle``
  over -log rates after every block (`bench.backtest_baseline`). Ours is timed on the same
  blocks for the ratios. The baseline takes V3 state from the Swap event as it is; ours
  replays each swap exactly through the pool's ticks.
- `bot.backtest.run_backtest` (ring, engine with exact re-pricing, risk gate, fills) once on
  the same first blocks, extrapolated (`bench.backtest_e2e`), when the module is importable.

Minimum, median and maximum are over 3 replays (2 with ``--quick``); the baseline runs 3
times (once with ``--quick``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench import harness
from bench.backtest_baseline import BaselineReplay, web3_logs_by_block
from bench.backtest_e2e import time_run_backtest
from bench.backtest_feed import chunk_batches
from bench.harness import Report, Sample, measure
from chains.feeds import pool_index_of
from chains.pool_index import PoolIndex
from chains.registry import Registry
from chains.snapshot import PoolSnapshot
from graph.cycles import CycleSet, TokenIndex, build_cycles
from graph.search import CycleSearch, SearchParams, base_values
from graph.state import PoolTable
from sim.archive import Archive, decode_file, iter_blocks, open_archive
from sim.archive_snapshot import read_snapshot
from sim.world_archive import (
    WorldArchive,
    WorldArchiveConfig,
    archive_registry,
    find_world_archive,
    world_archive,
)

GOAL_EVENTS_PER_S = 1e6
GOAL_FULL_REPLAY_S = 300.0
FULL_BLOCKS = 100_000
QUICK_BLOCKS = 2_000
_PRIORITY_FEE_WEI = 10**9
# literal gas coefficients [base, per V2 hop, per V3 hop, per tick, per parked hop]
_GAS_COEFFS = np.array([21_000.0, 60_000.0, 95_000.0, 22_000.0, 4_000.0])
_MAX_HOPS = 3
T = TypeVar("T")
ARCHIVE_ROOT: Path | None = None  # None: .world in the checkout


@dataclass(slots=True)
class Replay:
    """Everything a replay of one archive reads: the archive, pool ids, snapshot and cycles."""

    world: WorldArchive
    archive: Archive
    registry: Registry
    index: PoolIndex
    snapshot: PoolSnapshot
    tokens: TokenIndex
    cycles: CycleSet
    weth_id: int
    weth: str

    @classmethod
    def open(cls, world: WorldArchive) -> Replay:
        """Open a world archive for replay (pool ids from the world's registry)."""
        registry = archive_registry(world)
        weth = registry.chain.wrapped_native
        assert weth is not None
        tokens, cycles = build_cycles(
            [(p.pool_id, p.token0, p.token1) for p in registry.pools], [weth], max_hops=_MAX_HOPS
        )
        return cls(
            world=world,
            archive=open_archive(world.path, chain_id=registry.chain.chain_id),
            registry=registry,
            index=pool_index_of(registry),
            snapshot=read_snapshot(world.start_snapshot),
            tokens=tokens,
            cycles=cycles,
            weth_id=tokens.id_of(weth),
            weth=weth,
        )

    def table(self) -> PoolTable:
        table = PoolTable()
        table.load_snapshot(self.snapshot)
        return table


@dataclass(frozen=True, slots=True)
class Counts:
    """What one replay went through."""

    blocks: int
    events: int
    cycles_evaluated: int = 0
    screened: int = 0


def replay_state(replay: Replay, last_block: int | None = None) -> tuple[Counts, PoolTable]:
    """Decode the archive and apply every block to a fresh table; return counts and table."""
    table = replay.table()
    blocks = events = 0
    for block in iter_blocks(replay.archive, replay.index, last_block=last_block):
        table.apply(block.with_head())
        blocks += 1
        events += block.records.shape[0]
    return Counts(blocks, events), table


def replay_search(
    replay: Replay, last_block: int | None = None, search: CycleSearch | None = None
) -> Counts:
    """Decode, apply and search every block as the engine does at a head; return the counts."""
    table = replay.table()
    search = search if search is not None else CycleSearch(replay.cycles)
    cycles = replay.cycles
    blocks = events = evaluated = screened = 0
    for block in iter_blocks(replay.archive, replay.index, last_block=last_block):
        changed = table.apply(block.with_head())
        assert block.header is not None
        values: dict[int, Fraction] = base_values(table, cycles, replay.weth_id, cycles.base_tokens)
        params = SearchParams(
            gas_coeffs=_GAS_COEFFS,
            gas_price_wei=block.header.base_fee_wei + _PRIORITY_FEE_WEI,
            tip_share_bps=5_000,
        )
        evaluation = search.touched(table, sorted(changed), values, params)
        screened += len(search.top(evaluation, params))
        evaluated += len(evaluation)
        blocks += 1
        events += block.records.shape[0]
    return Counts(blocks, events, evaluated, screened)


def replay_state_batched(replay: Replay) -> tuple[Counts, PoolTable]:
    """Decode and apply the archive one chunk file per `PoolTable.apply` call."""
    table = replay.table()
    blocks = events = 0
    for records, n_blocks, n_events in chunk_batches(replay.archive, replay.index):
        table.apply(records)
        blocks += n_blocks
        events += n_events
    return Counts(blocks, events), table


def apply_only(replay: Replay, batches: list[np.ndarray]) -> PoolTable:
    """Apply prepared chunk batches to a fresh table (no reading, no decoding)."""
    table = replay.table()
    for records in batches:
        table.apply(records)
    return table


def _same_state(a: PoolTable, b: PoolTable) -> bool:
    columns = ("reserve0_f", "reserve1_f", "sqrt_price_f", "liquidity_f", "tick")
    return a.head == b.head and all(
        np.array_equal(getattr(a, c), getattr(b, c), equal_nan=c != "tick") for c in columns
    )


def decode_only(replay: Replay) -> int:
    """Read and decode every logs file of the archive; return the records decoded."""
    n = 0
    for file in replay.archive.log_files:
        records, _ = decode_file(replay.archive.load_logs(file), replay.index, None)
        n += records.shape[0]
    return n


def replay_baseline(replay: Replay, logs: list[tuple[int, list]]) -> BaselineReplay:
    """Run the web3.py + networkx baseline over prepared blocks of log dicts."""
    baseline = BaselineReplay.start(replay.registry.pools, replay.snapshot, replay.weth)
    for _, block_logs in logs:
        baseline.block(block_logs)
    return baseline


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter_ns()
    result = fn()
    return (time.perf_counter_ns() - start) / 1e9, result


def _per_block(sample: Sample, blocks: int) -> Sample:
    return Sample.from_times(t / blocks for t in sample.times_s)


def archive_config(blocks: int) -> WorldArchiveConfig:
    """Return the config of the archive the benchmark replays (what `--blocks N` builds)."""
    return WorldArchiveConfig(blocks=blocks)


def _archive(report: Report, blocks: int) -> WorldArchive:
    config = archive_config(blocks)
    built = find_world_archive(config, root=ARCHIVE_ROOT) is None
    if built:
        print(f"building the world archive of {blocks:,} blocks (cached for later runs)")
    world = world_archive(
        config, root=ARCHIVE_ROOT, progress=lambda m: print(f"  world archive: {m}", flush=True)
    )
    if built:
        print(f"built {world.path} in {world.build_s:.0f} s", flush=True)
    report.add_value(
        "archive: build",
        world.build_s,
        "s",
        ("built in this run" if built else "cached, built earlier") + f": {world.path.name}",
    )
    report.add_value("archive: size", world.size_bytes / 1e6, "MB", "Parquet chunks + snapshots")
    return world


def _repeat(fn: Callable[[], T], repeats: int) -> tuple[Sample, T]:
    """Time `repeats` calls of fn; return the sample and the last call's result."""
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        result = fn()
        times.append((time.perf_counter_ns() - start) / 1e9)
    return Sample.from_times(times), result


def run(report: Report) -> None:
    world = _archive(report, report.pick(FULL_BLOCKS, QUICK_BLOCKS))
    replay = Replay.open(world)
    repeats = report.pick(3, 2)
    search = CycleSearch(replay.cycles)
    # n_sub: the first blocks of the archive, where the baseline runs; also the warm-up
    # (numba's cached kernels, the first Parquet reads) before any timing
    n_sub = min(report.pick(2_000, 500), world.blocks)
    last_sub = world.first_block + n_sub - 1
    replay_search(replay, last_sub, search)

    state_sample, (counts, per_block_table) = _repeat(lambda: replay_state(replay), repeats)
    batched_sample, (batched_counts, batched_table) = _repeat(
        lambda: replay_state_batched(replay), repeats
    )
    batches = [records for records, _, _ in chunk_batches(replay.archive, replay.index)]
    apply_sample, apply_table = _repeat(lambda: apply_only(replay, batches), repeats)
    batches.clear()
    assert batched_counts == counts
    assert _same_state(per_block_table, batched_table) and _same_state(apply_table, batched_table)
    search_sample, search_counts = _repeat(lambda: replay_search(replay, search=search), repeats)
    decode_sample, decoded = _repeat(lambda: decode_only(replay), repeats)
    assert decoded == counts.events == world.logs, (decoded, counts.events, world.logs)
    assert search_counts.events == counts.events

    # the baseline's log dicts are prepared outside the timing
    tables = [
        replay.archive.load_logs(f)
        for f in replay.archive.log_files
        if f.first_block is not None and f.first_block <= last_sub
    ]
    logs = [(b, ls) for b, ls in web3_logs_by_block(tables) if b <= last_sub]
    sub_events = sum(len(ls) for _, ls in logs)
    base_repeats = report.pick(3, 1)
    base_search_sample, baseline = _repeat(lambda: replay_baseline(replay, logs), base_repeats)
    assert baseline.events == sub_events
    base_search = list(base_search_sample.times_s)
    base_state: list[float] = []
    for _ in range(base_repeats):
        decoder = BaselineReplay.start(replay.registry.pools, replay.snapshot, replay.weth)
        t, _ = _timed(lambda d=decoder: [d.block(ls, search=False) for _, ls in logs])
        base_state.append(t)
    ours_sub_state = measure(lambda: replay_state(replay, last_sub), repeats=repeats, warmup=0)
    ours_sub_search = measure(
        lambda: replay_search(replay, last_sub, search), repeats=repeats, warmup=0
    )

    n, events = counts.blocks, counts.events
    report.add(
        "decode+state: whole archive",
        state_sample,
        work_per_call=events,
        work_unit="events",
        note=f"{n:,} blocks, {events:,} events; iter_blocks + PoolTable.apply per block",
    )
    report.add(
        "decode+state: whole archive, one apply per chunk file",
        batched_sample,
        baseline="decode+state: whole archive",
        work_per_call=events,
        work_unit="events",
        note="bench.backtest_feed: heads interleaved column-wise; same final state",
    )
    report.add(
        "state only: PoolTable.apply per chunk file",
        apply_sample,
        work_per_call=events,
        work_unit="events",
        note="the chunk batches built beforehand: no reading, no decoding",
    )
    report.add(
        "decode+state+search: whole archive",
        search_sample,
        work_per_call=n,
        work_unit="blocks",
        note=(
            f"touched cycles per block: {search_counts.cycles_evaluated:,} evaluated, "
            f"{search_counts.screened:,} screened in all; {replay.cycles.n_cycles} cycles"
        ),
    )
    report.add(
        "decode only: whole archive",
        decode_sample,
        work_per_call=decoded,
        work_unit="events",
        note=f"{len(replay.archive.log_files)} Parquet files read + decode_file",
    )
    base_state_name = "baseline: web3 decode + dict state, per block"
    base_search_name = "baseline: web3 decode + state + nx search, per block"
    report.add(
        base_state_name,
        Sample.from_times(t / n_sub for t in base_state),
        note=f"first {n_sub:,} blocks ({sub_events:,} events); logs as web3 dicts beforehand",
    )
    report.add(
        "ours: decode+state, per block (same blocks)",
        _per_block(ours_sub_state, n_sub),
        baseline=base_state_name,
        note="Parquet read + decode of the whole chunk file included",
    )
    report.add(
        base_search_name,
        Sample.from_times(t / n_sub for t in base_search),
        note=f"nx.find_negative_cycle from WETH after each block; {baseline.cycles_found} found",
    )
    report.add(
        "ours: decode+state+search, per block (same blocks)",
        _per_block(ours_sub_search, n_sub),
        baseline=base_search_name,
    )
    report.add(
        "ours: decode+state+search, per block (whole archive)",
        _per_block(search_sample, n),
        baseline=base_search_name,
    )
    timing = time_run_backtest(world.path, world.first_block, last_sub)
    if timing is None:
        print("bot.backtest.run_backtest is not importable: no run_backtest rows")
    else:
        assert timing.blocks == n_sub and timing.events == sub_events
        report.add_value(
            "run_backtest: per block (same blocks)",
            timing.elapsed_s / n_sub,
            "s",
            f"once, first {n_sub:,} blocks: ring, engine with exact re-pricing, risk, fills; "
            f"{timing.opportunities:,} opportunities priced",
        )
        report.add_value(
            "run_backtest: whole archive, extrapolated",
            timing.elapsed_s / n_sub * n,
            "s",
            f"per block over the first {n_sub:,} blocks x {n:,} blocks (not run in full)",
        )
    base_full_s = float(np.median(base_search)) / n_sub * n
    report.add_value(
        "baseline: whole archive, extrapolated",
        base_full_s,
        "s",
        f"median per block over the first {n_sub:,} blocks x {n:,} blocks (not run in full)",
    )
    report.add_value(
        "goal: decode+state events/s (median)",
        events / state_sample.median_s,
        "events/s",
        f"goal >= {GOAL_EVENTS_PER_S:,.0f} events/s; {events / n:.2f} events per block",
    )
    report.add_value(
        "goal: decode+state+search blocks/s (median)", n / search_sample.median_s, "blocks/s"
    )
    report.add_value(
        "goal: whole archive with search (median)",
        search_sample.median_s,
        "s",
        f"{n:,} blocks; goal < {GOAL_FULL_REPLAY_S:g} s for 100,000 blocks",
    )


if __name__ == "__main__":
    harness.main(run)
