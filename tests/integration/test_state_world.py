"""The pool table against the world: a snapshot, then traffic's logs, then a reorg, all exact."""

from __future__ import annotations

from typing import Any

import eth_abi
import numpy as np
import pytest

from chains import abi
from chains.records import Kind, empty_records, set_value
from chains.rpc import HttpRpc
from chains.snapshot import (
    MULTICALL3_AGGREGATE3,
    PoolRef,
    decode_aggregate3,
    diff_against_chain,
    diff_states,
    encode_aggregate3,
    snapshot_pools,
)
from graph.state import PoolTable
from sim.traffic import Traffic, TrafficConfig
from sim.world_manifest import Manifest

pytestmark = pytest.mark.integration

_POOL_EVENTS = {
    abi.V2_SYNC.topic0: (Kind.V2_SYNC, abi.V2_SYNC),
    abi.V2_SWAP.topic0: (Kind.V2_SWAP, abi.V2_SWAP),
    abi.V2_MINT.topic0: (Kind.V2_MINT, abi.V2_MINT),
    abi.V2_BURN.topic0: (Kind.V2_BURN, abi.V2_BURN),
    abi.V3_SWAP.topic0: (Kind.V3_SWAP, abi.V3_SWAP),
    abi.V3_MINT.topic0: (Kind.V3_MINT, abi.V3_MINT),
    abi.V3_BURN.topic0: (Kind.V3_BURN, abi.V3_BURN),
    abi.V3_INITIALIZE.topic0: (Kind.V3_INITIALIZE, abi.V3_INITIALIZE),
}


def _hash32(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value[2:]), dtype=np.uint8)


class LogsToRecords:
    """Turn a block's logs into records: the world's pools by manifest order, new pools after."""

    def __init__(self, manifest: Manifest) -> None:
        self.pool_ids = {int(p.address, 16): i for i, p in enumerate(manifest.pools)}
        self.factories = {int(v["factory"], 16) for v in manifest.venues.values()}

    def block(self, rpc: HttpRpc, number: int) -> tuple[str, np.ndarray]:
        """Return (block hash, records: BLOCK_HEAD then every pool log) of block `number`."""
        block = rpc.call("eth_getBlockByNumber", hex(number), False)
        logs = rpc.call("eth_getLogs", {"blockHash": block["hash"]})
        rows = [self._log(log) for log in logs]
        rows = [row for row in rows if row is not None]
        records = empty_records(1 + len(rows))
        head = records[0]
        head["kind"] = Kind.BLOCK_HEAD
        head["pool_id"] = -1
        head["block_number"] = number
        head["block_hash"] = _hash32(block["hash"])
        head["tx_hash"] = _hash32(block["parentHash"])
        set_value(head, 0, int(block["timestamp"], 16))
        for record, (log, kind, pool_id, values, fields) in zip(records[1:], rows, strict=True):
            record["kind"] = kind
            record["pool_id"] = pool_id
            record["block_number"] = number
            record["block_hash"] = _hash32(log["blockHash"])
            record["tx_hash"] = _hash32(log["transactionHash"])
            record["log_index"] = int(log["logIndex"], 16)
            record["tx_index"] = int(log["transactionIndex"], 16)
            for name, value in fields.items():
                record[name] = value
            for i, value in enumerate(values):
                set_value(record, i, value)
        return block["hash"], records

    def _log(self, log: dict[str, Any]) -> tuple[Any, ...] | None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if not topics:
            return None
        data = bytes.fromhex(log["data"][2:])
        address = int(log["address"], 16)
        if address in self.factories and topics[0] in (
            abi.V2_PAIR_CREATED.topic0,
            abi.V3_POOL_CREATED.topic0,
        ):
            if topics[0] == abi.V2_PAIR_CREATED.topic0:
                token0, token1, pool, _ = abi.V2_PAIR_CREATED.decode(topics, data)
                kind, fields = Kind.PAIR_CREATED, {"aux": 3000}
            else:
                token0, token1, fee, spacing, pool = abi.V3_POOL_CREATED.decode(topics, data)
                kind, fields = Kind.POOL_CREATED, {"aux": fee, "tick": spacing}
            pool_id = self.pool_ids.setdefault(int(pool, 16), len(self.pool_ids))
            values = (int(token0, 16), int(token1, 16), int(pool, 16))
            return log, kind, pool_id, values, fields
        if topics[0] not in _POOL_EVENTS or address not in self.pool_ids:
            return None
        kind, event = _POOL_EVENTS[topics[0]]
        args = event.decode(topics, data)
        fields: dict[str, int] = {}
        if kind == Kind.V2_SYNC:
            values = args
        elif kind == Kind.V2_SWAP:
            values = args[1:5]
        elif kind in (Kind.V2_MINT, Kind.V2_BURN):
            values = args[1:3]
        elif kind == Kind.V3_SWAP:
            values = args[2:6]
            fields = {"tick": args[6]}
        elif kind == Kind.V3_MINT:
            values = args[4:7]
            fields = {"tick_lower": args[2], "tick_upper": args[3]}
        elif kind == Kind.V3_BURN:
            values = args[3:6]
            fields = {"tick_lower": args[1], "tick_upper": args[2]}
        else:
            values = (0, 0, args[0])
            fields = {"tick": args[1]}
        return log, kind, self.pool_ids[address], tuple(int(v) for v in values), fields


def _registry(manifest: Manifest) -> list[PoolRef]:
    return [
        PoolRef(i, p.address, p.kind, p.fee_pips, p.tick_spacing)
        for i, p in enumerate(manifest.pools)
    ]


def _loaded_table(world: Any) -> tuple[PoolTable, int]:
    snapshot = snapshot_pools(world.rpc, _registry(world.manifest))
    assert snapshot.v3_states and snapshot.reserves
    assert any(state.ticks for state in snapshot.v3_states.values())
    table = PoolTable()
    table.load_snapshot(snapshot)
    assert diff_states(table, snapshot) == []
    return table, snapshot.block_number


def _follow(table: PoolTable, conv: LogsToRecords, rpc: HttpRpc, first: int, last: int) -> None:
    for number in range(first, last + 1):
        block_hash, records = conv.block(rpc, number)
        table.apply(records)
        assert table.head == (number, bytes.fromhex(block_hash[2:]))


def _block_number(rpc: HttpRpc) -> int:
    return int(rpc.call("eth_blockNumber"), 16)


def test_snapshot_with_and_without_multicall_agree(world: Any) -> None:
    pools = _registry(world.manifest)
    block = world.rpc.call("eth_getBlockByNumber", "latest", False)["hash"]
    batched = snapshot_pools(world.rpc, pools, block)
    plain = snapshot_pools(world.rpc, pools, block, use_multicall=False)
    assert (batched.reserves, batched.v3_states) == (plain.reserves, plain.v3_states)
    assert batched.requests < plain.requests == plain.eth_calls


def test_table_follows_twenty_blocks_of_traffic(world: Any) -> None:
    table, start = _loaded_table(world)
    conv = LogsToRecords(world.manifest)
    world.node.set_automine(False)
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=3))
    for _ in range(20):
        traffic.run(1)
        _follow(table, conv, world.rpc, table.head[0] + 1, _block_number(world.rpc))
        assert diff_against_chain(table, world.rpc) == []
    assert table.head[0] == start + 20
    events = traffic.stats.events
    assert all(events[name] for name in ("v2_sync", "v3_swap", "v3_mint", "v3_burn")), events
    # seed 3 creates a pair: the table took it from PairCreated and followed its Sync
    assert events["pair_created"] and len(table.pools()) > len(world.manifest.pools)


def test_table_follows_a_three_block_reorg(world: Any) -> None:
    table, _ = _loaded_table(world)
    conv = LogsToRecords(world.manifest)
    world.node.set_automine(False)
    Traffic(world.rpc, world.manifest, TrafficConfig(seed=3)).run(4)
    _follow(table, conv, world.rpc, table.head[0] + 1, _block_number(world.rpc))
    ancestor_number, ancestor_hash = table.head
    saved = world.node.snapshot()

    Traffic(world.rpc, world.manifest, TrafficConfig(seed=5)).run(3)
    _follow(table, conv, world.rpc, ancestor_number + 1, ancestor_number + 3)
    assert diff_against_chain(table, world.rpc) == []
    old_head = table.head

    assert world.node.revert(saved)
    reorg = empty_records(1)
    reorg["kind"] = Kind.REORG
    reorg["pool_id"] = -1
    reorg["block_number"] = ancestor_number
    reorg["block_hash"] = np.frombuffer(ancestor_hash, dtype=np.uint8)
    set_value(reorg[0], 0, 3)
    assert table.apply(reorg)
    assert table.head == (ancestor_number, ancestor_hash)
    assert diff_against_chain(table, world.rpc) == []

    Traffic(world.rpc, world.manifest, TrafficConfig(seed=11)).run(3)
    _follow(table, conv, world.rpc, ancestor_number + 1, ancestor_number + 3)
    assert table.head[0] == old_head[0] and table.head != old_head
    assert diff_against_chain(table, world.rpc) == []


def test_aggregate3_codec_matches_eth_abi() -> None:
    calls = [("0x" + "ab" * 20, b"\x01\x02\x03"), ("0x" + "cd" * 20, bytes(range(70)))]
    calls.append(("0x" + "00" * 20, b""))
    expected = MULTICALL3_AGGREGATE3.encode([(to, True, data) for to, data in calls])
    assert encode_aggregate3(calls) == expected
    results = [(True, b"xyz"), (False, b"\x08\xc3"), (True, bytes(100)), (True, b"")]
    encoded = eth_abi.encode(["(bool,bytes)[]"], [results])
    assert decode_aggregate3(encoded) == [b"xyz", None, bytes(100), b""]
