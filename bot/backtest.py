"""Backtest: archived blocks through the live engine, its risk gate, and exact fills.

`run_backtest(spec)` composes, in one process, the very parts live mode runs:

    sim.archive (open, check, decode by block)
      -> bot.ring.Ring (each block's records written, then read back, as the ingest hands them)
      -> bot.engine.Engine (graph.state pool table, graph.search, graph.reprice: same code)
      -> bot.risk.RiskGate (admit, then settle with the fill's outcome, so limits act as live)
      -> sim.fills (the candidate filled exactly at the start of its target block)

The pools come from a snapshot stored beside the archive at the block before the range
(`sim.archive_snapshot`), or else from the logs themselves (`chains.registry_logs`: tokens
proven by Transfer logs and CREATE2); without a snapshot a V2 pool is usable from its first
Sync, a V3 pool from its first Swap and in range only (`graph.state`,
`v3_in_range_from_swap`). Gas is priced at the target block's base fee from the archive's
headers; an archive without headers (logs only) takes it from `spec.base_fee_wei`, and the
summary says which. A bad archive raises `sim.archive.ArchiveError` naming file and block.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from bot.backtest_model import (
    BacktestResult,
    BacktestSpec,
    Opportunity,
    PoolUsable,
)
from bot.backtest_real import real_arbitrages, score_real, taken_by
from bot.engine import Action, Engine, EngineConfig, pools_of
from bot.ring import Lapped, Ring, RingReader, RingWriter
from bot.risk import RiskGate, RiskLimits
from chains.config_profile import Profile
from chains.gas_model import load_gas_model
from chains.records import RECORD_DTYPE, Kind
from chains.registry import PoolInfo, Registry
from chains.registry_logs import registry_from_logs
from graph.state import PoolTable
from sim.archive import Archive, ArchiveError, BlockHeader, head_record, iter_blocks, open_archive
from sim.archive_snapshot import list_snapshots, read_snapshot, read_snapshot_pools
from sim.fills import Fill, fill
from sim.inspect import Arbitrage

__all__ = [
    "REPEAT_OF_OWN_FILL",
    "ArchiveError",
    "BacktestResult",
    "BacktestSpec",
    "engine_config",
    "run_backtest",
]

_RING_CAPACITY = 1 << 16
_GAS_LIMIT = 30_000_000  # a synthetic header's: half of it used keeps the base fee level
REPEAT_OF_OWN_FILL = "repeat_of_own_fill"
_STATE_KINDS = (Kind.V2_SYNC, Kind.V3_SWAP, Kind.V3_INITIALIZE, Kind.V3_MINT, Kind.V3_BURN)


def engine_config(profile: Profile, inventory: Mapping[str, int] | None = None) -> EngineConfig:
    """Return the engine's strategy settings for a backtest (no inventory: flash-funded)."""
    weth = profile.chain.wrapped_native
    if weth is None:
        raise ValueError(f"chain {profile.chain.name!r} names no wrapped native token")
    strategy = profile.strategy
    bases = tuple(weth if t.upper() in ("WETH", "ETH") else t for t in strategy.base_tokens)
    return EngineConfig(
        weth=weth,
        base_tokens=bases,
        max_hops=strategy.max_hops,
        tip_share_bps=strategy.tip_share_bps,
        min_net_profit_wei=strategy.min_profit_wei,
        priority_fee_wei=strategy.priority_fee_wei,
        eip1559=profile.chain.eip1559,
        max_amount_in={weth: profile.risk.max_input_wei},
        inventory=dict(inventory or {}),
    )


@dataclass(slots=True)
class _Pools:
    registry: Registry
    table: PoolTable
    unproven: int
    source: str


@dataclass(slots=True)
class _Moves:
    last_event: dict[int, int] = field(default_factory=dict)  # pool id -> last block moving it
    own_fill: dict[int, int] = field(default_factory=dict)  # pool id -> target block we filled


def _synthetic_hash(number: int) -> bytes:
    return hashlib.sha256(b"arbloop-backtest-block:%d" % number).digest()


def _load_pools(archive: Archive, profile: Profile, checkpoint: Path | None = None) -> _Pools:
    """Start from the checkpoint given, else the snapshot at the block before the archive's
    range, else from the logs alone."""
    snapshots = list_snapshots(archive.path) if archive.path.is_dir() else {}
    start = checkpoint if checkpoint is not None else snapshots.get(archive.first_block - 1)
    registry = Registry(profile.chain)
    if start is not None:
        registry.restore(read_snapshot_pools(start))
        snapshot = read_snapshot(start)
        # pools the snapshot holds no state for (none, from a complete one) follow the logs
        table = PoolTable(pools_of(registry.pools), v3_in_range_from_swap=True)
        table.load_snapshot(snapshot)
        return _Pools(registry, table, 0, f"snapshot {start.name}")
    found = registry_from_logs(profile.chain, archive.logs_table())
    table = PoolTable(pools_of(found.registry.pools), v3_in_range_from_swap=True)
    return _Pools(found.registry, table, len(found.unproven), "pool logs (no snapshot)")


def _head(
    archive: Archive, number: int, records: np.ndarray, parent: bytes, base_fee_wei: int | None
) -> tuple[np.ndarray, BlockHeader]:
    """Return the block's BLOCK_HEAD record: its header's, or a synthetic one without headers."""
    header = archive.header(number)
    if header is None:
        assert base_fee_wei is not None
        header = BlockHeader(
            number=number,
            block_hash=_synthetic_hash(number),
            parent_hash=parent,
            timestamp_s=0,
            base_fee_wei=base_fee_wei,
            gas_used=_GAS_LIMIT // 2,
            gas_limit=_GAS_LIMIT,
        )
        if len(records):
            records["block_hash"] = np.frombuffer(header.block_hash, dtype=np.uint8)
    return head_record(header, source=records["source"][0] if len(records) else 0), header


@contextmanager
def _work_dir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="arbloop-backtest-") as temp:
        yield Path(temp)


def _through_ring(writer: RingWriter, reader: RingReader, batch: np.ndarray) -> np.ndarray:
    """Write a block's records to the ring and read them back as the engine does live."""
    parts = []
    for start in range(0, len(batch), _RING_CAPACITY // 2):
        writer.publish(batch[start : start + _RING_CAPACITY // 2])
        while reader.available():
            view = reader.read_batch(_RING_CAPACITY)
            if isinstance(view, Lapped):
                raise RuntimeError(f"backtest ring lapped: {view.lost} records lost")
            parts.append(view.copy())
            if not reader.confirm():
                raise RuntimeError("backtest ring overwritten while reading")
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def run_backtest(spec: BacktestSpec) -> BacktestResult:
    """Replay the archive through ring, engine, risk gate and fills; return the result."""
    profile = spec.profile
    archive = open_archive(spec.archive, chain_id=profile.chain.chain_id)
    if not archive.headers and spec.base_fee_wei is None:
        raise ArchiveError(
            f"{archive.log_files[0].name}: blocks {archive.first_block}..{archive.last_block}: "
            "the archive has no block headers: give the base fee (--base-fee-gwei)"
        )
    first = archive.first_block if spec.first_block is None else spec.first_block
    last = archive.last_block if spec.last_block is None else spec.last_block
    first, last = max(first, archive.first_block), min(last, archive.last_block)
    pools = _load_pools(archive, profile, spec.start_checkpoint)
    if spec.start_checkpoint is not None and pools.table.head[0] != first - 1:
        raise ArchiveError(
            f"{spec.start_checkpoint.name}: the checkpoint is at block {pools.table.head[0]}, "
            f"the replay starts at block {first}: it must be block {first - 1}"
        )
    config = engine_config(profile, spec.inventory)
    engine = Engine(
        table=pools.table,
        pools=pools.registry.pools,
        gas_model=load_gas_model(spec.gas_model_path),
        config=config,
    )
    if spec.start_checkpoint is None:
        engine.mark_all_changed()
    # else the checkpoint is mid-run state: every cycle was searched when it last changed,
    # so the first block searches what its records touch, as the uninterrupted replay does
    result = BacktestResult(
        archive=str(spec.archive),
        chain=profile.chain.name,
        chain_id=profile.chain.chain_id,
        first_block=first,
        last_block=last,
        base_fee_source=(
            "block headers of the archive"
            if archive.headers
            else f"--base-fee-gwei flag: {spec.base_fee_wei} wei (the archive has no headers)"
        ),
        gas_model=str(spec.gas_model_path),
        pools_unproven=pools.unproven,
    )
    result.notes.append(f"pools from {pools.source}")
    usable: dict[int, int] = {}
    moves = _Moves()
    for spec_ in pools.table.pools():
        row = pools.table.row(spec_.pool_id)
        if row is not None and (row.reserves is not None or row.v3 is not None):
            usable[spec_.pool_id] = pools.table.head[0]  # the snapshot's block
    arbs: list[Arbitrage] = []
    if spec.inspect:
        try:
            arbs = real_arbitrages(archive.path, first, last)
        except ValueError as exc:  # an export the inspector does not read (CSV, ethereum-etl)
            result.notes.append(f"no hit rate: the inspector could not read the archive: {exc}")
    clock = [0.0]
    started = time.perf_counter()
    with _work_dir(spec.work_dir) as work, Ring.create(_RING_CAPACITY, RECORD_DTYPE) as ring:
        risk = RiskGate(
            RiskLimits.from_profile(profile),
            state_path=work / "risk_state.json",
            kill_switch_path=work / "KILL",
            clock=lambda: clock[0],
            durable=False,  # the same decisions, without a file written per verdict
        )
        writer, reader = ring.writer(), ring.reader(start="head")
        _, snapshot_hash = pools.table.head
        parent = bytes(32) if snapshot_hash is None else snapshot_hash
        total = last - first + 1
        for block in iter_blocks(archive, pools.registry, first_block=first, last_block=last):
            records = block.records.copy()
            head, header = _head(archive, block.number, records, parent, spec.base_fee_wei)
            parent = header.block_hash
            clock[0] = float(header.timestamp_s or 12 * (block.number - first))
            batch = _through_ring(writer, reader, np.concatenate([head, records]))
            start_ns = time.perf_counter_ns()
            actions, reports = engine.on_records(batch)
            latency_ns = time.perf_counter_ns() - start_ns
            _note_usable(usable, moves, pools.table, records, block.number)
            fills = _settle(spec, archive, engine, risk, actions, moves)
            for report in reports:
                result.dropped.update(report.dropped)
                result.candidates_by_block.setdefault(report.number, []).extend(report.candidates)
                sent = {a.candidate.candidate_id: a for a in report.actions}
                for candidate in report.candidates:
                    verdict, filled = fills.get(candidate.candidate_id, (None, None))
                    result.opportunities.append(
                        Opportunity(
                            candidate=candidate,
                            sent=candidate.candidate_id in sent,
                            verdict=verdict,
                            fill=filled,
                            engine_latency_ns=latency_ns,
                            taken_by=taken_by(candidate, arbs),
                        )
                    )
            result.latency_ns_by_block[block.number] = latency_ns
            result.blocks += 1
            result.events += len(records)
            if spec.on_block is not None:
                spec.on_block(result.blocks, total)
        result.verdicts.update(risk.verdict_counts)
    result.elapsed_s = time.perf_counter() - started
    result.pools = _pools_usable(pools.registry.pools, usable, pools.table)
    repeats = sum(o.verdict == REPEAT_OF_OWN_FILL for o in result.opportunities)
    if repeats:
        result.notes.append(
            f"{repeats} actions not sent: their pools had not moved since our own fill, which "
            "the archive does not hold (the same opportunity again)"
        )
    if pools.table.in_range_only:
        result.notes.append(
            "V3 pools known from Swap events only are usable inside their current "
            "tick-spacing interval (no tick map without a snapshot)"
        )
    if arbs:
        result.real_arbitrages = score_real(
            arbs,
            result.candidates_by_block,
            pools.registry,
            {p.pool_id: p for p in result.pools},
            base_tokens=config.base_tokens,
            max_hops=config.max_hops,
        )
    return result


def _note_usable(
    usable: dict[int, int], moves: _Moves, table: PoolTable, records: np.ndarray, number: int
) -> None:
    """Remember the first block after which each pool's state is known, and its last event."""
    moved = set(records["pool_id"][np.isin(records["kind"], _STATE_KINDS)].tolist())
    for pool_id in moved:
        moves.last_event[pool_id] = number
    for pool_id in moved - usable.keys():
        row = table.row(pool_id)
        if row is not None and (row.reserves is not None or row.v3 is not None):
            usable[pool_id] = number


def _settle(
    spec: BacktestSpec,
    archive: Archive,
    engine: Engine,
    risk: RiskGate,
    actions: list[Action],
    moved: _Moves,
) -> dict[str, tuple[str, Fill | None]]:
    """Gate each action as live, fill the admitted ones at the start of their target block."""
    out: dict[str, tuple[str, Fill | None]] = {}
    for action in actions:
        candidate = action.candidate
        # the archive never holds our own fills: a pool we traded that no real event moved
        # since still shows the state before our trade, and the same opportunity again
        if any(moved.own_fill.get(p, -1) > moved.last_event.get(p, -1) for p in candidate.pools):
            engine.not_sent(action)
            out[candidate.candidate_id] = (REPEAT_OF_OWN_FILL, None)
            continue
        intent_id = f"backtest-{candidate.candidate_id}"
        verdict = risk.admit(candidate, intent_id, input_value_wei=action.input_value_wei)
        if not verdict.approved:
            engine.not_sent(action)
            out[candidate.candidate_id] = (verdict.reason or "refused", None)
            continue
        target = archive.header(candidate.target_block)
        if target is not None:
            base_fee = target.base_fee_wei
        elif archive.headers:
            base_fee = action.next_base_fee_wei  # past the archive's last header: predicted
        else:
            assert spec.base_fee_wei is not None
            base_fee = spec.base_fee_wei
        # a base token other than WETH is valued as the engine valued it for this candidate
        value = (
            None
            if candidate.base_token.lower() == engine.config.weth.lower() or candidate.profit == 0
            else Fraction(candidate.profit_wei, candidate.profit)
        )
        filled = fill(
            candidate,
            engine.table,
            base_fee,
            priority_fee_wei=action.priority_fee_wei,
            wei_per_unit=value,
        )
        risk.settle(
            intent_id,
            outcome="included" if filled.outcome == "included" else "expired",
            loss_wei=max(0, -filled.net_wei),
            pnl_wei=filled.net_wei,
            at_block=candidate.target_block,
        )
        out[candidate.candidate_id] = ("approved", filled)
        if filled.outcome == "included":
            for pool_id in candidate.pools:
                moved.own_fill[pool_id] = candidate.target_block
    return out


def _pools_usable(
    pools: tuple[PoolInfo, ...], usable: dict[int, int], table: PoolTable
) -> list[PoolUsable]:
    return [
        PoolUsable(
            pool_id=p.pool_id,
            address=p.address,
            kind=p.kind,
            venue=p.venue,
            first_seen_block=p.created_block,
            usable_from_block=usable.get(p.pool_id),
            in_range_only=p.pool_id in table.in_range_only,
        )
        for p in pools
    ]
