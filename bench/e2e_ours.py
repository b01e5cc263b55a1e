"""Our pipeline, end to end in one process: websocket frame -> ... -> signed bundle at the relay.

The real parts, wired as `bot.app_ingest` and `bot.app_engine` wire them: `chains.feeds.Feed`
on the world's websocket (logs and heads; each head's logs completed by eth_getLogs by block
hash, decoded in one batch) publishing into a `bot.ring.Ring`; a reader task takes each batch
off the ring into `bot.engine.Engine.on_records` (state, search, exact re-pricing) and hands
each action to the timed `bot.executor.Executor` (risk gate, nonce, calldata, signature,
audit intent, eth_callBundle at the local builder, handoff to the relay). Ingest and engine
share one event loop here instead of two processes: the ring is the same shared-memory ring,
without the cross-process wake-up.

The clock of an opportunity starts at the first websocket frame of its block (a log or the
head, whichever came off the socket first: `recv_ns` as the feed stamps it) and stops at the
handoff. Stage durations come from timing the stages where they run: decoding (the feed's
`decode_logs_json`, wrapped for the run), the feed's wait for the head and its backfill, the
ring, the engine's own `BlockReport.stage_ns`, and the executor's collaborators.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.e2e_exec import ExecutorRig, TimedExecutor, build_executor, drop_after_handoff
from bench.e2e_world import BlockMade, WorldInfo, WorldProcess
from bot.engine import Engine, EngineConfig
from bot.executor import FeeQuote
from bot.ring import Lapped, Ring
from bot.tx_sign import TxSigner
from chains import feeds
from chains.artifacts import repo_root
from chains.chain_tracker import BlockRef, ChainTracker
from chains.config_profile import load_profile
from chains.gas_model import load_gas_model
from chains.records import RECORD_DTYPE, Kind
from chains.registry import PoolInfo, Registry
from chains.rpc import HttpRpc
from chains.snapshot import snapshot_pools
from graph.state import PoolTable

__all__ = ["OURS_STAGES", "Opportunity", "run_ours"]

RING_CAPACITY = 1 << 16
_BATCH = 4096
_BLOCK_WAIT_S = 10.0
INVENTORY_WEI = 50 * 10**18

OURS_STAGES = (
    "first frame -> head frame",
    "decode (subscription frames)",
    "feed: head frame -> block emit",
    "feed: eth_getLogs by hash + merge",
    "decode (backfill)",
    "ring write",
    "ring read",
    "state",
    "search",
    "reprice",
    "engine other",
    "risk",
    "audit verdict",
    "calldata + sign",
    "audit intent",
    "simulate",
    "other (loop wake-ups, nonce, hashes)",
)
# decoded while the feed waits for the head: inside "first frame -> head frame", not added
_OVERLAPPING = frozenset({"decode (subscription frames)", "other (loop wake-ups, nonce, hashes)"})


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One opportunity carried to the relay: its latency and stage breakdown (ns)."""

    block_number: int
    latency_ns: int  # first frame of the block -> handoff
    from_head_ns: int  # head frame -> handoff
    stages_ns: dict[str, int]
    logs_in_block: int


@dataclass(slots=True)
class _Block:
    """What the feed and the decoder saw of one block, while it is in flight."""

    first_frame_ns: int = 0
    head_ns: int = 0
    decode_sub_ns: int = 0
    decode_backfill_ns: int = 0
    backfill_start_ns: int = 0
    sink_ns: int = 0
    published_ns: int = 0


@dataclass(slots=True)
class _Run:
    blocks: dict[int, _Block] = field(default_factory=dict)
    done_block: int = -1
    done: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    opportunities: list[Opportunity] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    logs_by_block: dict[int, int] = field(default_factory=dict)
    record: bool = False

    def block(self, number: int) -> _Block:
        return self.blocks.setdefault(number, _Block())


@contextlib.contextmanager
def _timed_decoder(run: _Run) -> Iterator[None]:
    """Time every `decode_logs_json` call of the feed, per block, for the duration of a run."""
    original = feeds.decode_logs_json

    def timed(raw: bytes, index: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        result = original(raw, index, **kwargs)
        spent = time.perf_counter_ns() - start
        records = result.records
        backfill = kwargs.get("source", feeds.SOURCE_FEED) == feeds.SOURCE_BACKFILL
        if records.shape[0]:
            block = run.block(int(records["block_number"][0]))
            if backfill:
                block.decode_backfill_ns += spent
            else:
                block.decode_sub_ns += spent
                recv = int(kwargs["recv_ns"])
                if block.first_frame_ns == 0 or recv < block.first_frame_ns:
                    block.first_frame_ns = recv
        return result

    feeds.decode_logs_json = timed
    try:
        yield
    finally:
        feeds.decode_logs_json = original


class _StampedFeed(feeds.Feed):
    """The feed, with the start of each block's backfill stamped (for the stage breakdown)."""

    run_state: _Run

    async def _emit_block(self, ws: Any, header: dict[str, Any], recv_ns: int) -> None:
        block = self.run_state.block(int(header["number"], 16))
        block.backfill_start_ns = time.monotonic_ns()
        block.head_ns = recv_ns
        await super()._emit_block(ws, header, recv_ns)


def engine_config(weth: str) -> EngineConfig:
    """The engine's settings from the default profile, as `bot.app` derives them."""
    profile = load_profile(repo_root() / "configs" / "local.toml")
    strategy = profile.strategy
    return EngineConfig(
        weth=weth,
        base_tokens=(weth,),
        max_hops=strategy.max_hops,
        tip_share_bps=strategy.tip_share_bps,
        min_net_profit_wei=strategy.min_profit_wei,
        priority_fee_wei=strategy.priority_fee_wei,
        eip1559=profile.chain.eip1559,
        inventory={weth: INVENTORY_WEI},
        max_amount_in={weth: profile.risk.max_input_wei},
    )


def _pool_tuples(pools: list[PoolInfo]) -> list[tuple[int, str, str, int, int]]:
    return [(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in pools]


async def run_ours(
    world: WorldProcess,
    info: WorldInfo,
    *,
    opportunities: int,
    warmup_blocks: int,
    max_blocks: int,
    workdir: Path,
    on_block: Callable[[BlockMade], None] | None = None,
) -> tuple[list[Opportunity], dict[str, int]]:
    """Drive blocks until `opportunities` bundles were handed off (or max_blocks were mined)."""
    run = _Run()
    pools = [PoolInfo.from_json(p) for p in info.pools]
    registry = Registry(info.chain)
    registry.restore(pools)
    rpc = HttpRpc(info.http_url, timeout_s=10.0)
    latest = rpc.call("eth_getBlockByNumber", "latest", False)
    table = PoolTable(_pool_tuples(pools))
    snapshot = snapshot_pools(rpc, _pool_tuples(pools), latest["hash"])
    table.load_snapshot(snapshot)
    snapshot_block = snapshot.block_number
    engine = Engine(
        table=table,
        pools=pools,
        gas_model=load_gas_model(repo_root() / "configs" / "gas" / "local.toml"),
        config=engine_config(info.weth),
    )
    engine.mark_all_changed()
    signer = TxSigner(info.executor_key).address
    signer_nonce = int(rpc.call("eth_getTransactionCount", signer, "latest"), 16)
    rig = build_executor(
        cls=TimedExecutor,
        key=info.executor_key,
        relay_key=info.relay_key,
        builder_url=info.builder_url,
        chain_id=info.chain_id,
        executor_address=info.executor,
        weth=info.weth,
        chain_nonce=signer_nonce,
        head_block=snapshot_block,
        workdir=workdir,
    )
    ring = Ring.create(RING_CAPACITY, RECORD_DTYPE)
    writer = ring.writer()
    reader = ring.reader(start="head", on_lap="head")

    def sink(records: np.ndarray) -> None:
        sink_ns = time.monotonic_ns()
        writer.publish(records)
        published_ns = time.monotonic_ns()
        heads = records[records["kind"] == Kind.BLOCK_HEAD]
        for head in heads:
            block = run.block(int(head["block_number"]))
            block.sink_ns = sink_ns
            block.published_ns = published_ns
        run.wake.set()

    tracker = ChainTracker()
    tracker.start(
        BlockRef(
            number=int(latest["number"], 16),
            hash=bytes.fromhex(latest["hash"][2:]),
            parent_hash=bytes.fromhex(latest["parentHash"][2:]),
        )
    )
    feed = _StampedFeed(
        feeds.FeedConfig(ws_url=info.ws_url, chain_id=info.chain_id), registry, tracker, sink
    )
    feed.run_state = run
    stop = asyncio.Event()
    with _timed_decoder(run):
        feed_task = asyncio.create_task(feed.run(stop))
        engine_task = asyncio.create_task(_engine_loop(run, reader, engine, rig, snapshot_block))
        try:
            await _drive(run, world, opportunities, warmup_blocks, max_blocks, on_block)
        finally:
            stop.set()
            engine_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await engine_task
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(feed_task, 5.0)
            await rig.relay.close()
            rig.audit.close()
            rpc.close()
            ring.close()
            ring.unlink()
    run.outcomes["simulations ok"] = rig.simulator.ok
    run.outcomes["simulations failed"] = rig.simulator.failed
    return run.opportunities, run.outcomes


async def _drive(
    run: _Run,
    world: WorldProcess,
    opportunities: int,
    warmup_blocks: int,
    max_blocks: int,
    on_block: Callable[[BlockMade], None] | None,
) -> None:
    loop = asyncio.get_running_loop()
    for i in range(max_blocks):
        if len(run.opportunities) >= opportunities:
            return
        run.record = i >= warmup_blocks
        made = await loop.run_in_executor(None, world.block)
        run.logs_by_block[made.number] = made.pool_logs
        if on_block is not None:
            on_block(made)
        deadline = time.monotonic() + _BLOCK_WAIT_S
        while run.done_block < made.number:
            run.done.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"block {made.number} did not come through the pipeline")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.done.wait(), remaining)
        for number in [n for n in run.blocks if n < made.number - 4]:
            del run.blocks[number]


async def _engine_loop(
    run: _Run, reader: Any, engine: Engine, rig: ExecutorRig, snapshot_block: int
) -> None:
    while True:
        await run.wake.wait()
        run.wake.clear()
        while True:
            read_start = time.perf_counter_ns()
            batch = reader.read_batch(_BATCH)
            if isinstance(batch, Lapped):
                raise RuntimeError("the engine reader was lapped")
            if batch.shape[0] == 0:
                reader.confirm()
                break
            records = batch.copy()
            if not reader.confirm():
                raise RuntimeError("the ring was overwritten while reading")
            records = records[records["block_number"] > snapshot_block]
            read_ns = time.perf_counter_ns() - read_start
            if records.shape[0] == 0:
                continue
            await _process(run, records, engine, rig, read_ns)


async def _process(
    run: _Run, records: np.ndarray, engine: Engine, rig: ExecutorRig, read_ns: int
) -> None:
    heads = records[records["kind"] == Kind.BLOCK_HEAD]
    start = time.perf_counter_ns()
    actions, reports = engine.on_records(records)
    engine_ns = time.perf_counter_ns() - start
    stage_ns = reports[-1].stage_ns if reports else {}
    number = int(heads["block_number"][-1]) if heads.shape[0] else -1
    block = run.blocks.get(number)
    for action in actions[:1] if block is not None else ():
        rig.clock.reset()
        result = await rig.executor.submit(
            action.candidate,
            fees=FeeQuote(action.next_base_fee_wei, action.priority_fee_wei),
            parent_hash=action.parent_hash,
            input_value_wei=action.input_value_wei,
        )
        run.outcomes[result.outcome] = run.outcomes.get(result.outcome, 0) + 1
        if result.outcome != "sent":
            engine.not_sent(action)
            continue
        handoff_ns = rig.clock.handoff_ns
        drop_after_handoff(rig, result.intent_id, action.candidate.target_block)
        if not run.record:
            continue
        run.opportunities.append(
            _opportunity(run, block, number, handoff_ns, stage_ns, engine_ns, read_ns, rig)
        )
    for report in reports:
        run.done_block = max(run.done_block, report.number)
    if heads.shape[0]:
        run.done_block = max(run.done_block, number)
    run.done.set()


def _opportunity(
    run: _Run,
    block: _Block,
    number: int,
    handoff_ns: int,
    engine_stage_ns: dict[str, int],
    engine_ns: int,
    read_ns: int,
    rig: ExecutorRig,
) -> Opportunity:
    first = block.head_ns if block.first_frame_ns == 0 else min(block.first_frame_ns, block.head_ns)
    stages = dict.fromkeys(OURS_STAGES, 0)
    stages["first frame -> head frame"] = max(block.head_ns - first, 0)
    stages["decode (subscription frames)"] = block.decode_sub_ns
    backfill_total = block.sink_ns - block.backfill_start_ns
    stages["feed: head frame -> block emit"] = max(block.backfill_start_ns - block.head_ns, 0)
    stages["feed: eth_getLogs by hash + merge"] = max(backfill_total - block.decode_backfill_ns, 0)
    stages["decode (backfill)"] = block.decode_backfill_ns
    stages["ring write"] = block.published_ns - block.sink_ns
    stages["ring read"] = read_ns
    for name in ("state", "search", "reprice"):
        stages[name] = engine_stage_ns.get(name, 0)
    stages["engine other"] = max(engine_ns - sum(engine_stage_ns.values()), 0)
    executor_parts = rig.clock.stages_ns
    for name, ns in executor_parts.items():
        stages[name] = ns
    latency = handoff_ns - first
    accounted = sum(v for k, v in stages.items() if k not in _OVERLAPPING)
    stages["other (loop wake-ups, nonce, hashes)"] = max(latency - accounted, 0)
    return Opportunity(
        block_number=number,
        latency_ns=latency,
        from_head_ns=handoff_ns - block.head_ns,
        stages_ns=stages,
        logs_in_block=run.logs_by_block.get(number, 0),
    )
