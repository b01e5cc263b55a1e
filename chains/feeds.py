"""The ingest feed: a node's heads, pool logs and pending swaps turned into records.

The subscription is a hint, the chain is the truth. `Feed` subscribes to `newHeads`, `logs`
(the registry's pools and factories, the pool topics) and, when asked, to
`newPendingTransactions`. Every head goes through `ChainTracker`: a head that extends ours is
applied; a gap is backfilled block by block (blocks by number, then linked by parent hash); a
head that does not link is followed back by parent hash to a block we hold, and the
replaced blocks are announced with one REORG record (anvil does not set `removed`, and real
nodes are unreliable about it). The logs of every adopted block are completed with
`eth_getLogs` by block hash, merged with what the subscription delivered, applied once per
(block hash, tx hash, log index) and emitted in log order after the block's BLOCK_HEAD record.
New pools from PairCreated/PoolCreated get their id from the registry (CREATE2-proven) and
are followed by the backfill at once. On a disconnect the feed reconnects with backoff,
resubscribes and catches up from the newest head, which backfills whatever was missed.

Records go to `sink(records)`; pending swaps to `pending_sink(records)` with their signed raw
bytes stored through `store_raw` (the byte ring lives in `bot`, which chains never imports).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from chains import abi
from chains.chain_tracker import (
    Advance,
    BlockRef,
    ChainTracker,
    Duplicate,
    Gap,
    NeedAncestors,
    Reorg,
    ReorgTooDeep,
)
from chains.decode import DecodeResult, decode_logs_json
from chains.mempool import MempoolDecoder, write_tx_records
from chains.pool_admit import admit_created_pools
from chains.pool_index import PoolIndex
from chains.records import RECORD_DTYPE, Kind, empty_records, set_value
from chains.registry import Registry
from chains.rpc import RpcError
from chains.rpc_async import ChainIdMismatch, WsRpc
from chains.rpc_retry import RECONNECT_POLICY, Backoff

_log = logging.getLogger(__name__)

__all__ = ["Feed", "FeedConfig", "block_ref", "head_record", "pool_index_of"]

POOL_TOPICS = [
    "0x" + event.topic0.hex()
    for event in (
        abi.V2_SYNC,
        abi.V2_SWAP,
        abi.V2_MINT,
        abi.V2_BURN,
        abi.V3_SWAP,
        abi.V3_MINT,
        abi.V3_BURN,
        abi.V3_INITIALIZE,
        abi.V2_PAIR_CREATED,
        abi.V3_POOL_CREATED,
    )
]
SOURCE_FEED = 0
SOURCE_BACKFILL = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedConfig:
    """Where the feed connects and what it follows."""

    ws_url: str
    chain_id: int
    pending: bool = False
    call_timeout_s: float = 10.0


def block_ref(header: dict[str, Any]) -> BlockRef:
    """Return a tracker reference from a JSON block header."""
    return BlockRef(
        number=int(header["number"], 16),
        hash=bytes.fromhex(header["hash"][2:]),
        parent_hash=bytes.fromhex(header["parentHash"][2:]),
    )


def head_record(header: dict[str, Any], recv_ns: int) -> np.ndarray:
    """Return a one-record BLOCK_HEAD batch for a JSON block header."""
    record = empty_records(1)
    ref = block_ref(header)
    record["kind"] = Kind.BLOCK_HEAD
    record["pool_id"] = -1
    record["block_number"] = ref.number
    record["block_hash"] = np.frombuffer(ref.hash, dtype=np.uint8)
    record["tx_hash"] = np.frombuffer(ref.parent_hash, dtype=np.uint8)
    record["recv_ns"] = recv_ns
    for i, key in enumerate(("timestamp", "baseFeePerGas", "gasUsed", "gasLimit")):
        set_value(record[0], i, int(header.get(key, "0x0"), 16))
    return record


def pool_index_of(registry: Registry) -> PoolIndex:
    """Return the decoder's address index: every registry pool and every configured factory."""
    entries: list[tuple[str, int, str]] = [(p.address, p.pool_id, p.kind) for p in registry.pools]
    for factory in registry.factories:
        venue = registry.venue_of_factory(factory)
        assert venue is not None
        entries.append((factory, -1, f"{venue.kind}_factory"))
    return PoolIndex.from_pools(entries)


class Feed:
    """One node connection's ingest: heads, logs and pending swaps to record sinks."""

    def __init__(
        self,
        config: FeedConfig,
        registry: Registry,
        tracker: ChainTracker,
        sink: Callable[[np.ndarray], object],
        *,
        mempool: MempoolDecoder | None = None,
        pending_sink: Callable[[np.ndarray], object] | None = None,
        store_raw: Callable[[bytes], tuple[int, int]] | None = None,
        on_decoded: Callable[[DecodeResult, str, int, int], object] | None = None,
    ) -> None:
        if config.pending and (mempool is None or pending_sink is None or store_raw is None):
            raise ValueError("pending swaps need a mempool decoder, a pending sink and store_raw")
        self.config = config
        self.registry = registry
        self.tracker = tracker
        self.sink = sink
        self.mempool = mempool
        self.pending_sink = pending_sink
        self.store_raw = store_raw
        # observer of each decode: (result, "subscription" | "backfill", recv_ns, decode_ns)
        self.on_decoded = on_decoded
        self.index = pool_index_of(registry)
        self.counts: Counter[str] = Counter()
        self._held: dict[bytes, list[np.ndarray]] = {}
        self._ws: WsRpc | None = None
        self._head_lock = asyncio.Lock()
        self._last_counts: dict[str, int] = {}

    def addresses(self) -> list[str]:
        """Return the log filter's addresses: every pool and every configured factory."""
        return [p.address for p in self.registry.pools] + list(self.registry.factories)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the node until `stop` is set, reconnecting after every disconnect."""
        backoff = Backoff(RECONNECT_POLICY)
        while not stop.is_set():
            try:
                ws = await WsRpc.connect(
                    self.config.ws_url,
                    expected_chain_id=self.config.chain_id,
                    timeout_s=self.config.call_timeout_s,
                )
            except ChainIdMismatch:
                raise
            except (RpcError, OSError):
                self.counts["connect_failures"] += 1
                await backoff.wait()
                continue
            self._ws = ws
            backoff.reset()
            self.counts["connects"] += 1
            try:
                await self._session(ws, stop)
            except (RpcError, OSError) as exc:
                _log.warning("node connection lost (%s); reconnecting", type(exc).__name__)
                self.counts["disconnects"] += 1
            finally:
                self._ws = None
                await ws.close()
            if not stop.is_set():
                await backoff.wait()

    async def drop_connection(self) -> None:
        """Close the current socket, as a network failure would (the feed reconnects)."""
        if self._ws is not None:
            await self._ws.close()

    async def _session(self, ws: WsRpc, stop: asyncio.Event) -> None:
        heads = await ws.subscribe("newHeads")
        logs = await ws.subscribe("logs", self._log_filter())
        tasks = [
            asyncio.create_task(self._follow_heads(ws, heads)),
            asyncio.create_task(self._hold_logs(logs)),
            asyncio.create_task(stop.wait()),
        ]
        if self.config.pending:
            pending = await ws.subscribe("newPendingTransactions")
            tasks.append(asyncio.create_task(self._follow_pending(ws, pending)))
        latest = await ws.call("eth_getBlockByNumber", "latest", False)
        await self._on_head(ws, latest)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a stream that failed raises its error here
            if not stop.is_set():
                raise RpcError("a subscription ended")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, RpcError, OSError):
                    await task

    def _log_filter(self) -> dict[str, Any]:
        return {"address": self.addresses(), "topics": [POOL_TOPICS]}

    async def _follow_heads(self, ws: WsRpc, heads: Any) -> None:
        async for note in heads.notifications():
            await self._on_head(ws, note.result, note.received_ns)

    async def _hold_logs(self, logs: Any) -> None:
        """Decode subscription frames at once and hold their records until their block."""
        async for frame in logs.frames():
            start = time.monotonic_ns()
            result = decode_logs_json(frame.data, self.index, recv_ns=frame.received_ns)
            if self.on_decoded is not None:
                elapsed = time.monotonic_ns() - start
                self.on_decoded(result, "subscription", frame.received_ns, elapsed)
            for reason, n in result.counts_by_reason().items():
                self.counts[f"subscription_{reason}"] += n
            for record in result.records:
                block_hash = record["block_hash"].tobytes()
                self._held.setdefault(block_hash, []).append(record.copy())

    async def _follow_pending(self, ws: WsRpc, pending: Any) -> None:
        assert self.mempool is not None and self.pending_sink is not None
        assert self.store_raw is not None
        async for note in pending.notifications():
            raw_hex = await ws.call("eth_getRawTransactionByHash", note.result)
            if not raw_hex:
                self.counts["pending_gone"] += 1
                continue
            raw = bytes.fromhex(raw_hex[2:])
            swaps = self.mempool.decode_raw(raw)
            if not swaps:
                continue
            out = empty_records(len(swaps))
            n = write_tx_records(swaps, raw, out, self.store_raw, recv_ns=note.received_ns)
            self.pending_sink(out[:n])
            self.counts["pending_swaps"] += n

    async def _on_head(self, ws: WsRpc, header: dict[str, Any], recv_ns: int | None = None) -> None:
        # one head at a time: the catch-up head and subscription heads must not interleave
        async with self._head_lock:
            await self._on_head_locked(ws, header, recv_ns)

    async def _on_head_locked(self, ws: WsRpc, header: dict[str, Any], recv_ns: int | None) -> None:
        recv_ns = time.monotonic_ns() if recv_ns is None else recv_ns
        ref = block_ref(header)
        verdict = self.tracker.on_head(ref)
        if isinstance(verdict, Duplicate):
            self.counts["duplicate_heads"] += 1
            return
        if isinstance(verdict, Advance):
            await self._emit_block(ws, header, recv_ns)
            return
        headers = [header]
        if isinstance(verdict, Gap):
            numbers = range(verdict.first, verdict.last + 1)
            fetched = await ws.batch([("eth_getBlockByNumber", (hex(n), False)) for n in numbers])
            headers = [*fetched, header]
            self.counts["gap_blocks"] += len(fetched)
            _log.info(
                "head %d: blocks %d..%d missed, fetched", ref.number, verdict.first, verdict.last
            )
            if not self._links(headers):
                headers = await self._branch_to_known(ws, header)
        elif isinstance(verdict, NeedAncestors):
            headers = await self._branch_to_known(ws, header)
        result = self.tracker.on_branch([block_ref(h) for h in headers])
        if isinstance(result, Reorg):
            _log.warning("reorg of depth %d at head %d", result.depth, ref.number)
            self.counts["reorgs"] += 1
            self.counts["reorged_blocks"] += result.depth
            self.sink(_reorg_record(result, recv_ns))
        for h in headers:
            await self._emit_block(ws, h, recv_ns)

    def _links(self, headers: list[dict[str, Any]]) -> bool:
        refs = [block_ref(h) for h in headers]
        if not self.tracker.holds(refs[0].parent_hash):
            return False
        return all(b.parent_hash == a.hash for a, b in itertools.pairwise(refs))

    async def _branch_to_known(self, ws: WsRpc, header: dict[str, Any]) -> list[dict[str, Any]]:
        """Follow parent hashes back from a head to a block we hold; return oldest first."""
        branch = [header]
        while not self.tracker.holds(bytes.fromhex(branch[0]["parentHash"][2:])):
            if len(branch) > self.tracker.depth:
                raise ReorgTooDeep("the new branch does not meet the tracked chain")
            parent = await ws.call("eth_getBlockByHash", branch[0]["parentHash"], False)
            if parent is None:
                raise RpcError(f"node forgot block {branch[0]['parentHash']}")
            branch.insert(0, parent)
        return branch

    async def _emit_block(self, ws: WsRpc, header: dict[str, Any], recv_ns: int) -> None:
        """Emit BLOCK_HEAD then the block's pool logs, complete and each once, in log order."""
        block_hash = header["hash"]
        key = bytes.fromhex(block_hash[2:])
        held = self._held.pop(key, [])
        number = int(header["number"], 16)
        for stale in [h for h, recs in self._held.items() if recs[0]["block_number"] <= number]:
            del self._held[stale]
        while True:
            logs = await ws.call(
                "eth_getLogs",
                {"blockHash": block_hash, "address": self.addresses(), "topics": [POOL_TOPICS]},
            )
            raw = orjson.dumps({"jsonrpc": "2.0", "id": 0, "result": logs})
            records = self._block_records(raw, held, recv_ns)
            # a pool created in this block may have logs after its creation log (Initialize,
            # Mint, Swap): ask again with it in the filter and the index
            if not self._admit_new_pools(records):
                break
        for reason, n in self._last_counts.items():
            self.counts[f"logs_{reason}"] += n
        keep = [
            self.tracker.first_seen(key, r["tx_hash"].tobytes(), int(r["log_index"]))
            for r in records
        ]
        records = records[np.asarray(keep, dtype=bool)]
        records = records[records["pool_id"] >= 0]  # unproven creations are dropped
        self.counts["blocks"] += 1
        self.counts["records"] += len(records)
        self.sink(np.concatenate([head_record(header, recv_ns), records]))

    def _block_records(self, raw: bytes, held: list[Any], recv_ns: int) -> np.ndarray:
        """Decode a block's backfill reply, merge the held subscription records, sort by log."""
        start = time.monotonic_ns()
        result = decode_logs_json(raw, self.index, recv_ns=recv_ns, source=SOURCE_BACKFILL)
        if self.on_decoded is not None:
            self.on_decoded(result, "backfill", recv_ns, time.monotonic_ns() - start)
        self._last_counts = result.counts_by_reason()
        parts = [*held, *result.records]
        if not parts:
            return empty_records(0)
        records = np.array(parts, dtype=RECORD_DTYPE)
        order = np.lexsort((records["source"], records["log_index"]))
        return records[order]

    def _admit_new_pools(self, records: np.ndarray) -> int:
        """Give PairCreated/PoolCreated pools their registry id (-1 when unproven).

        Return how many pools the decoder's index did not know yet: backfill by block hash
        asks for their logs (the logs subscription keeps its filter until the next reconnect).
        """
        admitted = admit_created_pools(records, self.registry, self.index)
        self.counts["unproven_pools"] += admitted.unproven
        self.counts["new_pools"] += admitted.added
        return admitted.added


def _reorg_record(reorg: Reorg, recv_ns: int) -> np.ndarray:
    record = empty_records(1)
    record["kind"] = Kind.REORG
    record["pool_id"] = -1
    record["block_number"] = reorg.ancestor.number
    record["block_hash"] = np.frombuffer(reorg.ancestor.hash, dtype=np.uint8)
    record["recv_ns"] = recv_ns
    set_value(record[0], 0, reorg.depth)
    return record
