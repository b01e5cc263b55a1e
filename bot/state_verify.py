"""`arbloop state verify`: rebuild the pool table through the live ingest path, compare it.

The table is loaded from a snapshot some blocks back, then the very feed the bot runs
(websocket heads and logs, backfill by block hash, reorgs by parent hash) brings it to the
head; every pool is then compared with the chain at that block, and every difference is
reported. An empty report means ingestion reproduces the chain exactly.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from chains.chain_tracker import ChainTracker
from chains.feeds import Feed, FeedConfig, block_ref
from chains.registry import Registry
from chains.rpc import HttpRpc
from chains.snapshot import diff_against_chain, snapshot_pools
from graph.state import PoolTable

__all__ = ["VerifyReport", "verify_state"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """What a verification covered and every difference it found."""

    from_block: int
    to_block: int
    pools: int
    records: int
    differences: tuple[str, ...]
    elapsed_s: float


async def verify_state(
    *,
    http_url: str,
    ws_url: str,
    chain_id: int,
    registry: Registry,
    blocks_back: int,
    timeout_s: float = 120.0,
) -> VerifyReport:
    """Snapshot `blocks_back` blocks before the head, follow to the head, compare every pool."""
    started = time.perf_counter()
    with HttpRpc(http_url) as rpc:
        latest = rpc.call("eth_getBlockByNumber", "latest", False)
        head_number = int(latest["number"], 16)
        start = max(0, head_number - blocks_back)
        header = rpc.call("eth_getBlockByNumber", hex(start), False)
        pools = [
            (p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing)
            for p in registry.pools
            if p.created_block <= start
        ]
        snapshot = snapshot_pools(rpc, pools, header["hash"])
        table = PoolTable(pools)
        table.load_snapshot(snapshot)
        tracker = ChainTracker(depth=max(128, blocks_back + 8))
        tracker.start(block_ref(header))
        feed = Feed(FeedConfig(ws_url=ws_url, chain_id=chain_id), registry, tracker, table.apply)
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        deadline = time.monotonic() + timeout_s
        try:
            while table.head[0] < head_number:
                if task.done():
                    task.result()
                    raise RuntimeError("the feed stopped before reaching the head")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"table at block {table.head[0]}, head {head_number}")
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
        number, block_hash = table.head
        assert block_hash is not None
        differences = diff_against_chain(table, rpc, "0x" + block_hash.hex())
    return VerifyReport(
        from_block=start,
        to_block=number,
        pools=len(table.pools()),
        records=feed.counts["records"],
        differences=tuple(differences),
        elapsed_s=time.perf_counter() - started,
    )
