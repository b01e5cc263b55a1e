"""Backtest parameter sweeps and block-range shards, run in parallel processes or on Ray.

`sweep(base_spec, grid)` runs one backtest per point of the cartesian product of `grid`
(any of min_profit_wei, tip_share_bps, base_tokens, max_hops) and returns, per point, its
parameters and a compact summary (`compact_summary`: the run's figures and a digest of its
per-block candidates, no per-candidate rows). Tasks run in a spawn-context
`ProcessPoolExecutor` (workers = min(tasks, cpu count); one worker runs them in this
process), or as Ray remote functions when a Ray address is given ("local" starts a local
instance bound to 127.0.0.1; a cluster's nodes need arbloop installed and the archive at the
same path). Every task is a picklable (spec, params, shard); a run does not depend on where
it runs, so the results equal a serial run's.

`shards(archive, n)` splits a range at the archive's checkpoint snapshots
(`sim.archive_snapshot`). A shard after the first starts from the checkpoint at the block
before its first block as a replay in progress (`BacktestSpec.start_checkpoint`): the engine
loads the checkpoint's state and, from the shard's first block on, searches the cycles each
block's records touch, as the unsharded run does at that block. `merge_shards` joins the
shards' results: the per-block candidates, what the engine sent and what it saw of the real
arbitrages equal the unsharded run's. A shard does not know the risk gate's state (loss
windows, failure streaks) nor which pools our own fills traded before it (`bot.backtest`
refuses an action on a pool we filled that nothing moved since), so a verdict, a fill and
the PnL may differ from the unsharded run's after a shard's first block; a candidate both
runs fill fills the same.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from bot.backtest import run_backtest
from bot.backtest_model import BacktestResult, BacktestSpec, Opportunity, RealArbitrageSeen
from graph.actions import Candidate
from sim.archive import open_archive
from sim.archive_snapshot import list_snapshots

__all__ = [
    "SWEEP_KEYS",
    "Shard",
    "SweepTask",
    "compact_summary",
    "expand_grid",
    "map_tasks",
    "merge_shards",
    "parse_sweep",
    "run_shard",
    "run_sharded",
    "run_task",
    "shards",
    "start_local_ray",
    "sweep",
    "with_params",
]

SWEEP_KEYS = ("min_profit_wei", "tip_share_bps", "base_tokens", "max_hops")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_RAY_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LARGE_KEYS = ("pools_usable_from", "real_arbitrage_details")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Shard:
    """Blocks first..last of a sharded run; `checkpoint` is the snapshot after first - 1."""

    first_block: int
    last_block: int
    checkpoint: Path | None  # None: the shard starts where the unsharded run starts


@dataclass(frozen=True, slots=True)
class SweepTask:
    """One picklable unit of work: a spec (no callback), its sweep parameters, its shard."""

    spec: BacktestSpec
    params: tuple[tuple[str, Any], ...]
    shard: Shard | None = None


# -- the grid -------------------------------------------------------------------------------


def _parse_value(key: str, text: str) -> Any:
    if key == "base_tokens":
        tokens = tuple(t.strip() for t in text.split("+") if t.strip())
        for token in tokens:
            if token.upper() not in ("WETH", "ETH") and _ADDRESS.match(token) is None:
                raise ValueError(f"--sweep base_tokens: {token!r} is neither WETH nor an address")
        if not tokens or len(set(tokens)) != len(tokens):
            raise ValueError(f"--sweep base_tokens: {text!r}: give distinct tokens joined by +")
        return tokens
    try:
        value = int(text, 10)
    except ValueError:
        raise ValueError(f"--sweep {key}: {text!r} is not an integer") from None
    low, high = {"min_profit_wei": (0, 2**256 - 1), "tip_share_bps": (0, 10_000)}.get(key, (2, 4))
    if not low <= value <= high:
        raise ValueError(f"--sweep {key}: {value} is outside {low}..{high}")
    return value


def parse_sweep(items: Sequence[str]) -> dict[str, list[Any]]:
    """Parse `--sweep KEY=V1,V2,...` options into a grid (base_tokens sets join tokens by +)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or key not in SWEEP_KEYS:
            raise ValueError(
                f"--sweep {item!r}: expected KEY=V1,V2,... with KEY one of {', '.join(SWEEP_KEYS)}"
            )
        if key in grid:
            raise ValueError(f"--sweep {key} given twice")
        parsed = [_parse_value(key, v.strip()) for v in values.split(",") if v.strip()]
        if not parsed:
            raise ValueError(f"--sweep {key}: no values")
        grid[key] = parsed
    return grid


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Return the cartesian product of the grid's value lists, keys in SWEEP_KEYS order."""
    unknown = set(grid) - set(SWEEP_KEYS)
    if unknown:
        raise ValueError(f"unknown sweep keys {sorted(unknown)}; known: {', '.join(SWEEP_KEYS)}")
    keys = [k for k in SWEEP_KEYS if k in grid]
    for key in keys:
        if not grid[key]:
            raise ValueError(f"sweep key {key} has no values")
    product = itertools.product(*(grid[k] for k in keys))
    return [dict(zip(keys, values, strict=True)) for values in product]


def with_params(spec: BacktestSpec, params: Mapping[str, Any]) -> BacktestSpec:
    """Return the spec with the strategy's settings replaced by the sweep parameters."""
    strategy = replace(spec.profile.strategy, **{k: params[k] for k in params})
    return replace(spec, profile=replace(spec.profile, strategy=strategy))


# -- running tasks --------------------------------------------------------------------------


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> list[R]:
    """Run fn over tasks (module-level fn, picklable tasks); return the results in task order."""
    if not tasks:
        return []
    if ray_address is not None:
        return _ray_map(fn, tasks, ray_address, workers, on_done)
    count = min(len(tasks), workers or os.cpu_count() or 1)
    results: dict[int, R] = {}
    if count <= 1:
        for i, task in enumerate(tasks):
            results[i] = fn(task)
            if on_done is not None:
                on_done(i + 1, len(tasks))
        return [results[i] for i in range(len(tasks))]
    # spawn: a forked child would inherit the parent's threads (numba, pyarrow) mid-state
    with ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done(len(results), len(tasks))
    return [results[i] for i in range(len(tasks))]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "--ray-address needs Ray: install the extra, pip install -e '.[ray]'"
        ) from None
    return ray


def start_local_ray(num_cpus: int) -> None:
    """Start a local Ray instance whose servers listen on 127.0.0.1 only (no dashboard)."""
    # Ray takes the loopback address as the node's only when it runs without clusters (its
    # setting for single machines); its GCS, raylet and workers then bind 127.0.0.1. Its
    # helper processes read the variable from the environment they inherit.
    os.environ[_RAY_SINGLE_MACHINE] = "0"
    ray = _import_ray()
    constants = ray._private.ray_constants
    before = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False  # read at import: ray may have been imported before
    try:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
        )
    finally:
        constants.ENABLE_RAY_CLUSTER = before


def _ray_map(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    address: str,
    workers: int | None,
    on_done: Callable[[int, int], None] | None,
) -> list[R]:
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        if address == "local":
            start_local_ray(min(len(tasks), workers or os.cpu_count() or 1))
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        remote = ray.remote(fn)
        refs = [remote.remote(task) for task in tasks]
        index = {ref: i for i, ref in enumerate(refs)}
        results: dict[int, R] = {}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                results[index[ref]] = ray.get(ref)
            if on_done is not None:
                on_done(len(results), len(tasks))
        return [results[i] for i in range(len(tasks))]
    finally:
        if started:
            ray.shutdown()


def _candidate_key(c: Candidate) -> tuple[Any, ...]:
    """Return what identifies a candidate across runs (cycle ids depend on the pool order)."""
    hops = tuple((h.pool, h.zero_for_one, h.amount_in, h.amount_out) for h in c.hops)
    return (c.block_number, c.target_block, c.base_token, hops, c.gas_units, c.net_profit_wei)


def candidates_digest(result: BacktestResult) -> str:
    """Return a sha256 over every block's candidates (sorted), to compare runs cheaply."""
    digest = hashlib.sha256()
    for block in sorted(result.candidates_by_block):
        keys = sorted(repr(_candidate_key(c)) for c in result.candidates_by_block[block])
        digest.update(repr((block, keys)).encode())
    return digest.hexdigest()


def compact_summary(result: BacktestResult) -> dict[str, Any]:
    """Return the run's summary without its per-pool and per-arbitrage lists, plus a digest."""
    summary = {k: v for k, v in result.summary().items() if k not in _LARGE_KEYS}
    summary["candidates_sha256"] = candidates_digest(result)
    return summary


def run_task(task: SweepTask) -> Any:
    """Run one task: the compact summary, or for a shard its (trimmed) result to merge."""
    spec = with_params(task.spec, dict(task.params))
    if spec.work_dir is not None:
        # the risk gate keeps its state in the work folder: one folder per task, never shared
        span = None if task.shard is None else (task.shard.first_block, task.shard.last_block)
        tag = hashlib.sha256(repr((task.params, span)).encode()).hexdigest()[:16]
        spec = replace(spec, work_dir=spec.work_dir / f"task-{tag}")
    if task.shard is not None:
        return run_shard(spec, task.shard)
    return compact_summary(run_backtest(spec))


def sweep(
    base_spec: BacktestSpec,
    grid: Mapping[str, Sequence[Any]],
    *,
    n_shards: int = 1,
    workers: int | None = None,
    ray_address: str | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Run a backtest per grid point (each in n_shards shards); return (params, summary)s."""
    points = expand_grid(grid) if grid else [{}]
    spec = replace(base_spec, on_block=None)
    parts = [None] if n_shards <= 1 else shards(spec.archive, n_shards, spec)
    tasks = [SweepTask(spec=spec, params=tuple(p.items()), shard=s) for p in points for s in parts]
    started = time.perf_counter()
    outputs = map_tasks(run_task, tasks, workers=workers, ray_address=ray_address, on_done=on_done)
    rows = []
    for i, params in enumerate(points):
        chunk = outputs[i * len(parts) : (i + 1) * len(parts)]
        if n_shards > 1:
            merged = merge_shards(with_params(spec, params), chunk)
            merged.elapsed_s = time.perf_counter() - started
            rows.append((params, compact_summary(merged)))
        else:
            rows.append((params, chunk[0]))
    return rows


# -- shards ---------------------------------------------------------------------------------


def shards(archive: Path, n: int, spec: BacktestSpec | None = None) -> list[Shard]:
    """Split the range (the spec's, else the archive's) into at most n shards at checkpoints."""
    if n < 1:
        raise ValueError(f"need at least one shard, got {n}")
    opened = open_archive(archive)
    first = opened.first_block if spec is None or spec.first_block is None else spec.first_block
    last = opened.last_block if spec is None or spec.last_block is None else spec.last_block
    first, last = max(first, opened.first_block), min(last, opened.last_block)
    checkpoints = list_snapshots(opened.path) if opened.path.is_dir() else {}
    # a shard may start after any checkpoint inside the range (its first block is that + 1)
    cuts = sorted(b for b in checkpoints if first <= b < last)
    chosen: list[int] = []
    for i in range(1, n):
        target = first - 1 + (last - first + 1) * i / n
        if not cuts:
            break
        best = min(cuts, key=lambda b: (abs(b - target), b))
        if best not in chosen:
            chosen.append(best)
    chosen.sort()
    starts = [first, *(b + 1 for b in chosen)]
    ends = [*(b for b in chosen), last]
    return [
        Shard(s, e, None if i == 0 else checkpoints[s - 1])
        for i, (s, e) in enumerate(zip(starts, ends, strict=True))
    ]


def run_shard(spec: BacktestSpec, shard: Shard) -> BacktestResult:
    """Run one shard; its result covers shard.first_block..last_block only."""
    return run_backtest(
        replace(
            spec,
            first_block=shard.first_block,
            last_block=shard.last_block,
            start_checkpoint=shard.checkpoint,
        )
    )


def merge_shards(spec: BacktestSpec, results: Sequence[BacktestResult]) -> BacktestResult:
    """Join shard results (in block order) into the result of the whole range."""
    head = results[0]
    merged = BacktestResult(
        archive=str(spec.archive),
        chain=head.chain,
        chain_id=head.chain_id,
        first_block=head.first_block,
        last_block=results[-1].last_block,
        base_fee_source=head.base_fee_source,
        gas_model=head.gas_model,
        pools_unproven=head.pools_unproven,
    )
    pools = {}
    for r in results:
        merged.blocks += r.blocks
        merged.events += r.events
        merged.elapsed_s = max(merged.elapsed_s, r.elapsed_s)
        merged.opportunities += r.opportunities
        merged.candidates_by_block.update(r.candidates_by_block)
        merged.latency_ns_by_block.update(r.latency_ns_by_block)
        merged.real_arbitrages += r.real_arbitrages
        merged.dropped.update(r.dropped)
        merged.verdicts.update(r.verdicts)
        merged.notes += [n for n in r.notes if n not in merged.notes]
        for p in r.pools:
            if pools.get(p.pool_id) is None or pools[p.pool_id].usable_from_block is None:
                pools[p.pool_id] = p
    merged.pools = [pools[k] for k in sorted(pools)]
    # a real arbitrage in a shard's first block is seen by a candidate of the block before,
    # and a shard's last candidates target the next shard's first block: match across shards
    merged.real_arbitrages = [
        _rematch(r, merged.candidates_by_block) for r in merged.real_arbitrages
    ]
    merged.opportunities = [_retake(o, merged.real_arbitrages) for o in merged.opportunities]
    if len(results) > 1:
        merged.notes.append(
            f"{len(results)} shards from checkpoint snapshots ("
            + ", ".join(f"{r.first_block}..{r.last_block}" for r in results)
            + "): each starts without the risk gate's state and the memory of our earlier fills, "
            "so verdicts, fills and PnL after a shard's start may differ from one unsharded run"
        )
    return merged


def _pools_of(pools: Sequence[str]) -> frozenset[str]:
    return frozenset(p.lower() for p in pools)


def _rematch(
    real: RealArbitrageSeen, by_block: Mapping[int, Sequence[Candidate]]
) -> RealArbitrageSeen:
    key = _pools_of(real.pools)
    matches = [
        c
        for block in (real.block - 1, real.block)
        for c in by_block.get(block, ())
        if _pools_of([h.pool for h in c.hops]) == key
    ]
    if bool(matches) == real.seen and len(matches) == len(real.matches):
        return real
    if not matches:
        saw = (
            f"not seen: no profitable candidate on these pools after block {real.block - 1} "
            f"or {real.block}"
        )
    else:
        best = max(matches, key=lambda c: c.net_profit_wei)
        saw = (
            f"candidate at block {best.block_number}: amount_in {best.amount_in}, "
            f"profit {best.profit}, net {best.net_profit_wei} wei"
        )
    rows = tuple(
        {
            "block": c.block_number,
            "candidate_id": c.candidate_id,
            "amount_in": c.amount_in,
            "profit": c.profit,
            "net_profit_wei": c.net_profit_wei,
        }
        for c in matches
    )
    return replace(real, seen=bool(matches), saw=saw, matches=rows)


def _retake(o: Opportunity, reals: Sequence[RealArbitrageSeen]) -> Opportunity:
    pools = _pools_of([h.pool for h in o.candidate.hops])
    taken = tuple(
        r.transaction_hash
        for r in reals
        if r.block == o.candidate.target_block and pools & _pools_of(r.pools)
    )
    return o if taken == o.taken_by else replace(o, taken_by=taken)


def run_sharded(
    spec: BacktestSpec,
    n_shards: int,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
) -> BacktestResult:
    """Run the spec's range in up to n_shards shards in parallel; return the merged result."""
    parts = shards(spec.archive, n_shards, spec)
    plain = replace(spec, on_block=None)
    tasks = [SweepTask(spec=plain, params=(), shard=s) for s in parts]
    started = time.perf_counter()
    results = map_tasks(run_task, tasks, workers=workers, ray_address=ray_address)
    merged = merge_shards(spec, results)
    merged.elapsed_s = time.perf_counter() - started
    return merged
