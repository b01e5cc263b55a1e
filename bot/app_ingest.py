"""The ingest process: one node connection's feed writing the record ring and the byte ring.

`ingest_main(spec)` runs in a child process started by the supervisor (`bot/app.py`). It
attaches the shared-memory rings the supervisor created, rebuilds the registry from the pools
it was given, starts the chain tracker at the block it was told (the snapshot's block, or the
engine's head after a restart) and runs `chains.feeds.Feed` until the stop event is set: heads,
pool logs (backfilled by block hash, reorgs announced) and, when asked, decoded pending swaps
with their raw bytes. It never blocks the ring (single writer); it exits on the stop event or
on SIGTERM, and the supervisor restarts it if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.byte_ring import ByteRing
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.ring import Ring
from chains.chain_tracker import BlockRef, ChainTracker
from chains.config_chain import ChainConfig
from chains.decode import DecodeResult
from chains.feeds import Feed, FeedConfig
from chains.mempool import MempoolDecoder, RouterInfo
from chains.records import RECORD_DTYPE
from chains.registry import PoolInfo, Registry

__all__ = ["IngestSpec", "ingest_main", "router_table_of"]


@dataclass(frozen=True, slots=True)
class IngestSpec:
    """Everything the ingest child needs, picklable."""

    ring_name: str
    byte_ring_name: str
    ws_url: str
    chain: ChainConfig
    pools: tuple[dict[str, Any], ...]  # PoolInfo.to_json() of every registry pool
    routers: tuple[tuple[str, RouterInfo], ...]
    start: tuple[int, bytes, bytes]  # (number, hash, parent hash) the tracker starts at
    pending: bool
    weth: str | None
    metrics_port: int | None = None  # None: no exporter; the exporter binds 127.0.0.1 only
    log_path: Path | None = None  # JSON lines; None: stderr


def router_table_of(chain: ChainConfig) -> dict[str, RouterInfo]:
    """Map a chain's configured routers to the venues they trade (first V2 and V3 venues)."""
    v2 = [v.name for v in chain.venues if v.kind == "v2"]
    v3 = [v.name for v in chain.venues if v.kind == "v3"]
    table = {}
    for router in chain.routers:
        v2_venue = v2[0] if v2 else None
        if router.kind == "v2_router02":
            named = router.name.removesuffix("_router02")
            v2_venue = named if named in v2 else v2_venue
        table[router.address] = RouterInfo(
            kind=router.kind, v2_venue=v2_venue, v3_venue=v3[0] if v3 else None
        )
    return table


def ingest_main(spec: IngestSpec, stop: Any) -> None:
    """Run the feed until `stop` (a multiprocessing Event) is set or SIGTERM arrives."""
    configure_logging(level=logging.INFO, path=spec.log_path)
    metrics = Metrics()
    if spec.metrics_port is not None:
        metrics.serve("127.0.0.1", spec.metrics_port)

    def on_decoded(result: DecodeResult, source: str, recv_ns: int, decode_ns: int) -> None:
        if source == "subscription":
            waited = time.monotonic_ns() - decode_ns - recv_ns
            metrics.observe_stage("receive", max(waited, 0) / 1e9)
            metrics.observe_stage("decode", decode_ns / 1e9)
        else:  # the block's complete backfill: every log of the block counted once
            metrics.observe_rejected(result.counts)

    ring = Ring.attach(spec.ring_name, RECORD_DTYPE)
    raw_ring = ByteRing.attach(spec.byte_ring_name)
    writer = ring.writer()
    registry = Registry(spec.chain)
    registry.restore(PoolInfo.from_json(p) for p in spec.pools)
    tracker = ChainTracker()
    tracker.start(BlockRef(number=spec.start[0], hash=spec.start[1], parent_hash=spec.start[2]))
    mempool = None
    if spec.pending:
        mempool = MempoolDecoder(dict(spec.routers), registry.pool_id_of, weth=spec.weth)
    feed = Feed(
        FeedConfig(ws_url=spec.ws_url, chain_id=spec.chain.chain_id, pending=spec.pending),
        registry,
        tracker,
        writer.publish,
        mempool=mempool,
        pending_sink=writer.publish if spec.pending else None,
        store_raw=raw_ring.write if spec.pending else None,
        on_decoded=on_decoded,
    )

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, done.set)
            loop.add_signal_handler(signal.SIGINT, done.set)

        async def watch() -> None:
            while not done.is_set():
                if stop.is_set():
                    done.set()
                    return
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        try:
            await feed.run(done)
        finally:
            watcher.cancel()

    try:
        asyncio.run(main())
    finally:
        # the writer is not marked closed: a restarted ingest continues the same stream
        metrics.stop()
        ring.close()
        raw_ring.close()
