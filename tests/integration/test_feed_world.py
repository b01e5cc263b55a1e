"""The feed follows the world: 200+ blocks of traffic, a dropped socket, a gap, reorgs.

Parity: after every disruption the pool table fed by the feed equals the chain exactly
(`diff_against_chain` is empty): reserves, prices, ticks, liquidity, every tick's net/gross.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from chains.artifacts import repo_root
from chains.chain_tracker import ChainTracker
from chains.config import load_chain_config, resolve_with_manifest
from chains.feeds import Feed, FeedConfig, block_ref
from chains.registry import registry_from_manifest
from chains.snapshot import diff_against_chain, snapshot_pools
from graph.state import PoolTable
from sim.traffic import Traffic, TrafficConfig
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration

LOCAL_CHAIN = repo_root() / "configs" / "chains" / "local.toml"


class Harness:
    """A feed into a pool table, driven by traffic on the world node."""

    def __init__(self, world: WorldNode) -> None:
        self.world = world
        chain = resolve_with_manifest(load_chain_config(LOCAL_CHAIN), world.manifest.to_json())
        self.registry = registry_from_manifest(chain, world.manifest)
        pools = [
            (p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in self.registry.pools
        ]
        snapshot = snapshot_pools(world.rpc, pools)
        self.table = PoolTable(pools)
        self.table.load_snapshot(snapshot)
        tracker = ChainTracker()
        tracker.start(block_ref(world.rpc.call("eth_getBlockByHash", snapshot.block_hash, False)))
        config = FeedConfig(ws_url=world.node.ws_url, chain_id=world.manifest.chain_id)
        self.feed = Feed(config, self.registry, tracker, self.table.apply)
        self.traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=7))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.feed.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)

    async def blocks(self, n: int, traffic: Traffic | None = None) -> None:
        users = traffic or self.traffic
        for _ in range(n):
            await asyncio.to_thread(users.step)

    async def caught_up(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        latest = await asyncio.to_thread(
            self.world.rpc.call, "eth_getBlockByNumber", "latest", False
        )
        target = (int(latest["number"], 16), bytes.fromhex(latest["hash"][2:]))
        while self.table.head != target:
            assert self.task is not None
            if self.task.done():
                self.task.result()
            assert time.monotonic() < deadline, f"table at {self.table.head}, chain {target}"
            await asyncio.sleep(0.01)

    async def parity(self) -> None:
        await self.caught_up()
        diffs = await asyncio.to_thread(diff_against_chain, self.table, self.world.rpc)
        assert diffs == []


def test_feed_keeps_the_table_equal_to_the_chain(world: WorldNode) -> None:
    world.node.set_automine(False)
    h = Harness(world)

    async def scenario() -> None:
        h.start()
        await h.blocks(80)
        await h.parity()
        # (a) the websocket drops mid-stream and comes back
        await h.feed.drop_connection()
        await h.blocks(30)
        await h.parity()
        # (c) a gap: blocks mined while the feed is down
        await h.halt()
        await h.blocks(15)
        h.start()
        await h.parity()
        # (b) reorgs of depth 1 and 3: revert the node, mine a longer different branch
        for depth, seed in ((1, 101), (3, 103)):
            snapshot_id = await asyncio.to_thread(world.node.snapshot)
            await h.blocks(depth)
            await h.caught_up()
            assert await asyncio.to_thread(world.node.revert, snapshot_id)
            other = Traffic(world.rpc, world.manifest, TrafficConfig(seed=seed))
            await h.blocks(depth + 1, other)
            await h.parity()
        await h.blocks(80)
        await h.parity()
        await h.halt()

    asyncio.run(scenario())
    counts = h.feed.counts

    assert counts["blocks"] >= 200
    assert counts["disconnects"] + counts["connects"] >= 3
    assert counts["gap_blocks"] >= 14
    assert counts["reorgs"] == 2 and counts["reorged_blocks"] == 4
    assert counts["logs_accepted"] > 1000
    assert h.traffic.stats.total("success") > 1000


def test_spoofed_pool_events_are_ignored_and_counted(world: WorldNode) -> None:
    """A contract emitting the exact V2 Sync topic is not a pool: no record, counted."""
    from chains import abi
    from chains.decode import decode_logs_json
    from chains.feeds import pool_index_of
    from sim.txs import Call, UnlockedSender

    h = Harness(world)
    spoofer = "0x" + "5b" * 20
    # mem[0:32] = 42, mem[32:64] = 7, LOG1(mem[0:64], Sync topic0), STOP
    code = bytes.fromhex("602a6000526007602052") + b"\x7f" + abi.V2_SYNC.topic0
    code += bytes.fromhex("60406000a100")
    world.rpc.call("anvil_setCode", spoofer, "0x" + code.hex())
    sender = UnlockedSender(world.rpc, world.rpc.call("eth_accounts")[1])
    receipt = sender.send(Call(to=spoofer, data=b"", gas_units=100_000))
    assert len(receipt["logs"]) == 1 and receipt["logs"][0]["topics"][0] == "0x" + (
        abi.V2_SYNC.topic0.hex()
    )
    import orjson

    logs = world.rpc.call("eth_getLogs", {"blockHash": receipt["blockHash"]})
    raw = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": logs})
    result = decode_logs_json(raw, pool_index_of(h.registry), recv_ns=0)
    assert len(result.records) == 0
    assert result.counts_by_reason() == {"unknown_address": 1}
    assert diff_against_chain(h.table, world.rpc, receipt["blockHash"]) == []


def test_a_lapped_reader_resyncs_from_a_snapshot(world: WorldNode) -> None:
    """Feed -> shared-memory ring -> a reader that stalls, is lapped, resyncs, ends exact."""
    from bot.ring import Lapped, Ring

    world.node.set_automine(False)
    h = Harness(world)
    ring = Ring.create(128)
    writer = ring.writer()
    reader = ring.reader(start="oldest")
    h.feed.sink = writer.publish
    floor = {"number": h.table.head[0]}
    laps: list[int] = []

    def resync() -> None:
        """Answer a lap: reload every registry pool (new ones too) at the chain's head."""
        pools = [
            (p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in h.registry.pools
        ]
        with world.node.rpc() as rpc:
            snapshot = snapshot_pools(rpc, pools)
        h.table.load_snapshot(snapshot)
        floor["number"] = snapshot.block_number

    async def consume(stop: asyncio.Event, stalled: asyncio.Event) -> None:
        while not stop.is_set():
            if stalled.is_set():
                await asyncio.sleep(0.005)
                continue
            got = reader.read_batch(64)
            if isinstance(got, Lapped):
                laps.append(got.lost)
                await asyncio.to_thread(resync)
                continue
            if len(got) == 0:
                await asyncio.sleep(0.001)
                continue
            batch = got.copy()
            if not reader.confirm():
                continue  # overwritten while copied: the next read reports the lap
            h.table.apply(batch[batch["block_number"] > floor["number"]])

    async def scenario() -> None:
        stop, stalled = asyncio.Event(), asyncio.Event()
        consumer = asyncio.create_task(consume(stop, stalled))
        h.start()
        await h.blocks(10)
        await h.parity()
        stalled.set()  # the engine stalls while the feed keeps writing
        await h.blocks(40)
        stalled.clear()
        await h.blocks(5)
        await h.parity()
        await h.halt()
        stop.set()
        await consumer

    try:
        asyncio.run(scenario())
    finally:
        ring.close()
        ring.unlink()
    assert laps and laps[0] > 0


def test_pending_swaps_reach_the_pending_sink_with_their_raw_bytes(world: WorldNode) -> None:
    """newPendingTransactions -> raw bytes -> decoded PENDING_SWAP records + the byte ring."""
    from bot.byte_ring import ByteRing
    from chains.mempool import MempoolDecoder
    from chains.records import Kind
    from sim.world_routers import router_table
    from tests.integration.test_mempool_world import SWAP_ACTIONS

    world.node.set_automine(False)
    h = Harness(world)
    raw_ring = ByteRing.create(1 << 20)
    pending: list = []
    decoder = MempoolDecoder(router_table(world.manifest), h.registry.pool_id_of)
    config = FeedConfig(ws_url=world.node.ws_url, chain_id=world.manifest.chain_id, pending=True)
    h.feed = Feed(
        config,
        h.registry,
        h.feed.tracker,
        h.table.apply,
        mempool=decoder,
        pending_sink=pending.append,
        store_raw=raw_ring.write,
    )
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=31, txs_per_block=12))

    async def scenario() -> list:
        h.start()
        await h.caught_up()
        await asyncio.sleep(0.2)  # subscriptions are live
        traffic.refresh()
        txs = traffic.build_block()
        await asyncio.to_thread(traffic.send, txs)
        swaps = [tx for tx in txs if tx.action in SWAP_ACTIONS]
        deadline = time.monotonic() + 10
        while sum(len(b) for b in pending) < len(swaps):
            assert time.monotonic() < deadline, (len(swaps), h.feed.counts, decoder.counts)
            await asyncio.sleep(0.01)
        await h.halt()
        return swaps

    try:
        swaps = asyncio.run(scenario())
        records = [r for batch in pending for r in batch]
        assert {r["kind"] for r in records} == {Kind.PENDING_SWAP}
        by_hash = {"0x" + r["tx_hash"].tobytes().hex(): r for r in records}
        for tx in swaps:
            record = by_hash[tx.tx_hash]
            raw = raw_ring.read(int(record["raw_offset"]), int(record["raw_len"]))
            assert raw == tx.raw
        assert len(swaps) >= 5
    finally:
        raw_ring.close()
        raw_ring.unlink()
