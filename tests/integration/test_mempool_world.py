"""The mempool decoder against the world's traffic: decoded swaps match the Swap logs they emit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from amm_math import uniswap_v2 as v2
from chains import abi
from chains import abi_routers as r
from chains.mempool import (
    MempoolDecoder,
    PendingSwap,
    to_records,
    write_tx_records,
)
from chains.mempool_tx import raw_from_json
from chains.records import Kind, empty_records, get_value
from sim.traffic import SentTx, Traffic, TrafficConfig
from sim.world_manifest import PoolEntry
from sim.world_routers import router_table
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration

SWAP_ACTIONS = {
    "v2_exact_in",
    "v2_exact_out",
    "v2_multihop",
    "v2_eth_in",
    "v3_exact_in",
    "v3_exact_out",
    "v3_multihop",
    "v3_swap",
    "v2_swap",
    "eth_in_swap",
}
ROUTERS = {"router02", "swap_router", "swap_router02", "universal_router"}
MULTICALL_SELECTORS = {
    "0x" + r.SR_MULTICALL.selector.hex(),
    "0x" + r.SR02_MULTICALL_DEADLINE.selector.hex(),
}


class PoolIds:
    """Pool ids by position in the market's growing pool list (the traffic adds new pools)."""

    def __init__(self, pools: list[PoolEntry]) -> None:
        self.pools = pools
        self._by_key: dict[tuple[str, frozenset[str], int | None], int] = {}
        self._by_address: dict[str, int] = {}
        self._seen = 0

    def _sync(self) -> None:
        for pool_id in range(self._seen, len(self.pools)):
            pool = self.pools[pool_id]
            fee = pool.fee_pips if pool.kind == "v3" else None
            key = (pool.venue, frozenset((pool.token0.lower(), pool.token1.lower())), fee)
            self._by_key[key] = pool_id
            self._by_address[pool.address.lower()] = pool_id
        self._seen = len(self.pools)

    def of(self, venue: str, token_a: str, token_b: str, fee_pips: int | None) -> int | None:
        self._sync()
        return self._by_key.get((venue, frozenset((token_a.lower(), token_b.lower())), fee_pips))

    def of_address(self, address: str) -> int | None:
        self._sync()
        return self._by_address.get(address.lower())


@dataclass(frozen=True, slots=True)
class Leg:
    """One Swap log: the pool, its direction, what it was paid and paid out."""

    pool_id: int
    zero_for_one: bool
    amount_in: int
    amount_out: int
    reserves_before: tuple[int, int] | None  # V2 (in, out) before the swap, from its Sync


def swap_legs(receipt: dict[str, Any], pool_ids: PoolIds) -> list[Leg]:
    """Return the receipt's Swap logs in log order (V2 reserves from the Sync before each)."""
    legs = []
    synced: dict[str, tuple[int, int]] = {}
    for log in receipt["logs"]:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        data = bytes.fromhex(log["data"][2:])
        address = log["address"].lower()
        if topics and topics[0] == abi.V2_SYNC.topic0:
            synced[address] = abi.V2_SYNC.decode(topics, data)
        if not topics or topics[0] not in (abi.V2_SWAP.topic0, abi.V3_SWAP.topic0):
            continue
        pool_id = pool_ids.of_address(address)
        assert pool_id is not None, address
        if topics[0] == abi.V2_SWAP.topic0:
            _, in0, in1, out0, out1, _ = abi.V2_SWAP.decode(topics, data)
            zero_for_one = in0 > 0
            paid, got = (in0, out1) if zero_for_one else (in1, out0)
            after0, after1 = synced[address]  # a pair syncs before it logs Swap
            before = (
                (after0 - paid, after1 + got) if zero_for_one else (after1 - paid, after0 + got)
            )
            legs.append(Leg(pool_id, zero_for_one, paid, got, before))
        else:
            _, _, amount0, amount1, _, _, _ = abi.V3_SWAP.decode(topics, data)
            zero_for_one = amount0 > 0
            paid, got = (amount0, -amount1) if zero_for_one else (amount1, -amount0)
            legs.append(Leg(pool_id, zero_for_one, paid, got, None))
    return legs


def check_against_logs(swaps: list[PendingSwap], legs: list[Leg]) -> list[str]:
    """Return how decoded hops, amounts and limits disagree with the Swap logs (in order)."""
    if [h for s in swaps for h in s.hops] != [(g.pool_id, g.zero_for_one) for g in legs]:
        return [f"hops {[s.hops for s in swaps]} but logs {legs}"]
    problems = []
    at = 0
    for swap in swaps:
        mine = legs[at : at + len(swap.hops)]
        at += len(swap.hops)
        actual_in, actual_out = mine[0].amount_in, mine[-1].amount_out
        if not swap.exact_output:
            if actual_in != swap.amount_in:
                problems.append(f"exact in {swap.amount_in}, paid {actual_in}")
            if actual_out < swap.amount_out:
                problems.append(f"min out {swap.amount_out}, got {actual_out}")
            continue
        if actual_in > swap.amount_in:
            problems.append(f"max in {swap.amount_in}, paid {actual_in}")
        v2_replayed = mine[0].reserves_before is not None and swap.router != "v2_router02"
        if not v2_replayed and actual_out != swap.amount_out:
            problems.append(f"exact out {swap.amount_out}, got {actual_out}")
        if mine[0].reserves_before is not None:
            # V2: the first pair is paid getAmountsIn(amount_out) over the pre-swap reserves;
            # SwapRouter02 and UniversalRouter then swap what that buys (>= amount_out)
            need = swap.amount_out
            for leg in reversed(mine):
                assert leg.reserves_before is not None
                need = v2.get_amount_in(need, *leg.reserves_before)
            if actual_in != need:
                problems.append(f"V2 exact out {swap.amount_out} needs {need}, paid {actual_in}")
            if actual_out < swap.amount_out:
                problems.append(f"exact out {swap.amount_out}, got {actual_out}")
    return problems


def test_every_pending_swap_decodes_and_matches_its_swap_logs(world: WorldNode) -> None:
    world.node.set_automine(False)
    manifest = world.manifest
    traffic = Traffic(world.rpc, manifest, TrafficConfig(seed=23, txs_per_block=10))
    pool_ids = PoolIds(traffic.market.pools)
    weth = manifest.contracts["weth"]
    from_json = MempoolDecoder(router_table(manifest), pool_ids.of, weth=weth)
    from_raw = MempoolDecoder(router_table(manifest), pool_ids.of, weth=weth)
    ring = bytearray()

    def store_raw(raw: bytes) -> tuple[int, int]:
        ring.extend(raw)
        return len(ring) - len(raw), len(raw)

    decoded: Counter[tuple[str, str, str]] = Counter()
    matched: Counter[tuple[str, str, str]] = Counter()
    reverted: Counter[tuple[str, str, str]] = Counter()
    key_of: dict[str, tuple[str, str, str]] = {}
    records_written = 0
    for _ in range(20):
        traffic.refresh()
        txs = traffic.build_block()
        traffic.send(txs)
        pending: list[SentTx] = [tx for tx in txs if tx.status == "pending"]
        objects = world.rpc.batch([("eth_getTransactionByHash", [tx.tx_hash]) for tx in pending])
        by_hash: dict[str, list[PendingSwap]] = {}
        for tx, obj in zip(pending, objects, strict=True):
            assert obj is not None and obj["blockNumber"] is None
            swaps = from_json.decode_json(obj)
            assert from_raw.decode_raw(tx.raw) == swaps
            assert raw_from_json(obj) == tx.raw
            is_swap = tx.router in ROUTERS and tx.action in SWAP_ACTIONS
            assert bool(swaps) == is_swap, (tx.router, tx.action)
            if not swaps:
                continue
            kinds = "+".join(sorted({pool_ids.pools[pid].kind for pid, _ in swaps[0].hops}))
            wrapped = obj["input"][:10] in MULTICALL_SELECTORS
            mode = f"{'out' if swaps[0].exact_output else 'in'} {kinds}" + " multicall" * wrapped
            key = (tx.router, tx.action, mode)
            decoded[key] += 1
            by_hash[tx.tx_hash] = swaps
            key_of[tx.tx_hash] = key
            for swap in swaps:
                assert swap.sender == tx.sender and swap.tx_hash == tx.tx_hash
                assert swap.native_in == (tx.action in ("v2_eth_in", "eth_in_swap"))
                assert swap.deadline in (0, 2**40)
            out = empty_records(len(swaps))
            n = write_tx_records(swaps, tx.raw, out, store_raw)
            records_written += n
            for rec, swap in zip(out, swaps, strict=True):
                assert rec["kind"] == Kind.PENDING_SWAP and rec["n_hops"] == len(swap.hops)
                assert get_value(rec, 0) == swap.amount_in and get_value(rec, 1) == swap.amount_out
                offset, length = int(rec["raw_offset"]), int(rec["raw_len"])
                assert bytes(ring[offset : offset + length]) == tx.raw
        world.node.mine()
        settled = traffic.settle()
        swapped = [tx for tx in settled if tx.tx_hash in by_hash]
        receipts = world.rpc.batch([("eth_getTransactionReceipt", [tx.tx_hash]) for tx in swapped])
        for tx, receipt in zip(swapped, receipts, strict=True):
            if tx.status != "success":
                reverted[key_of[tx.tx_hash]] += 1
                continue
            legs = swap_legs(receipt, pool_ids)
            assert check_against_logs(by_hash[tx.tx_hash], legs) == [], (tx.router, tx.action, legs)
            matched[key_of[tx.tx_hash]] += 1

    print("\ndecoded / matched (reverted) per router, action and exact in/out:")
    for key in sorted(decoded):
        router, action, mode = key
        counts = f"{decoded[key]:3d} / {matched[key]:3d} ({reverted[key]})"
        print(f"  {router:17s} {action:13s} {mode:18s} {counts}")
    print("decoder counts:", dict(sorted(from_json.counts.items())))
    print("records written:", records_written, "raw ring bytes:", len(ring))
    assert {action for _, action, _ in matched} == SWAP_ACTIONS
    assert {router for router, _, _ in matched} == ROUTERS
    for router in ROUTERS - {"universal_router"}:  # the traffic's UR calls are all exact in
        modes = {mode.split()[0] for name, _, mode in matched if name == router}
        assert modes == {"in", "out"}, router
    assert {mode for name, _, mode in matched if name == "universal_router"} == {"in v2", "in v3"}
    assert any(mode.endswith("multicall") for name, _, mode in matched if name == "swap_router02")
    assert sum(matched.values()) + sum(reverted.values()) == sum(decoded.values())
    assert sum(reverted.values()) <= 0.05 * sum(decoded.values())
    assert from_json.counts == from_raw.counts
    assert from_json.counts["malformed"] == 0 and from_json.counts["unknown_pool"] == 0


def test_records_point_at_the_raw_bytes(world: WorldNode) -> None:
    world.node.set_automine(False)
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=4, txs_per_block=8))
    pool_ids = PoolIds(traffic.market.pools)
    decoder = MempoolDecoder(router_table(world.manifest), pool_ids.of)
    traffic.refresh()
    txs = traffic.build_block()
    traffic.send(txs)
    swaps = [s for tx in txs for s in decoder.decode_raw(tx.raw)]
    assert swaps
    out = empty_records(len(swaps))
    locations = [(17 * i, 100 + i) for i in range(len(swaps))]
    assert to_records(swaps, out, locations) == len(swaps)
    assert [(int(r["raw_offset"]), int(r["raw_len"])) for r in out] == locations
    assert np.all(out["kind"] == Kind.PENDING_SWAP)
