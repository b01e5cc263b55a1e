"""Traffic through every real router on the world: the logs it produces, and the mempool."""

from __future__ import annotations

import pytest

from sim.traffic import Traffic, TrafficConfig
from sim.traffic_actions import ACTIONS
from tests.integration.conftest import WorldNode
from tests.integration.test_world import create2_mismatches

pytestmark = pytest.mark.integration

# the pool events a successful transaction of each action must emit (at least these)
EXPECTED_EVENTS: dict[str, set[str]] = {
    "v2_exact_in": {"v2_swap", "v2_sync"},
    "v2_exact_out": {"v2_swap", "v2_sync"},
    "v2_multihop": {"v2_swap", "v2_sync"},
    "v2_eth_in": {"v2_swap", "v2_sync"},
    "v3_exact_in": {"v3_swap"},
    "v3_exact_out": {"v3_swap"},
    "v3_multihop": {"v3_swap"},
    "v3_swap": {"v3_swap"},
    "v2_swap": {"v2_swap", "v2_sync"},
    "v3_mint": {"v3_mint"},
    "v3_burn": {"v3_burn"},
    "v2_add": {"v2_mint", "v2_sync"},
    "v2_remove": {"v2_burn", "v2_sync"},
}


def test_traffic_through_every_router_produces_the_expected_logs(world: WorldNode) -> None:
    world.node.set_automine(False)
    config = TrafficConfig(seed=11, txs_per_block=10, new_pool_probability=0.5)
    traffic = Traffic(world.rpc, world.manifest, config)
    first = world.node.block_number()
    traffic.run(40)
    assert world.node.block_number() == first + 40
    stats = traffic.stats
    landed = [tx for tx in traffic.sent if tx.status == "success"]
    assert len(landed) >= 300
    assert stats.total("rejected") == 0
    # reverts are allowed (an exact-output swap can ask more than a thin pool holds) but rare
    assert stats.total("reverted") <= 0.05 * len(traffic.sent)
    for action in [a.name for a in ACTIONS] + ["new_pool"]:
        assert any(tx.action == action for tx in landed), f"no successful {action}"
    for tx in landed:
        expected = EXPECTED_EVENTS.get(tx.action)
        if expected is not None:
            assert expected <= set(tx.meta["events"]), (tx.action, tx.meta["events"])
        if tx.action == "eth_in_swap":
            assert {"v2_swap", "v3_swap"} & set(tx.meta["events"])
    routers = {tx.router for tx in landed}
    assert {"router02", "swap_router", "swap_router02", "universal_router"} <= routers
    assert {"position_manager", "factory"} <= routers
    # new pools: both kinds, created through the real factories, proven by CREATE2
    kinds = {p.kind for p in stats.new_pools}
    assert kinds == {"v2", "v3"}
    assert stats.events["pair_created"] >= 1 and stats.events["pool_created"] >= 1
    assert create2_mismatches(world, stats.new_pools) == []
    # ticks were initialized and cleared: mints and burns of positions
    assert stats.events["v3_mint"] >= 5 and stats.events["v3_burn"] >= 2


def test_transactions_wait_in_the_mempool_until_a_block_is_mined(world: WorldNode) -> None:
    world.node.set_automine(False)
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=5, txs_per_block=6))
    traffic.refresh()
    block = world.node.block_number()
    txs = traffic.build_block()
    traffic.send(txs)
    assert len(txs) >= 6
    assert traffic.settle() == []
    for tx in txs:
        pending = world.rpc.call("eth_getTransactionByHash", tx.tx_hash)
        assert pending is not None and pending["blockNumber"] is None
        assert pending["input"] != "0x"
    assert world.node.block_number() == block
    world.node.mine()
    settled = traffic.settle()
    assert {tx.tx_hash for tx in settled} == {tx.tx_hash for tx in txs}
    assert {tx.block_number for tx in settled} == {block + 1}


def test_raw_transactions_are_what_the_node_holds(world: WorldNode) -> None:
    world.node.set_automine(False)
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=8, txs_per_block=3))
    traffic.refresh()
    txs = traffic.build_block()
    traffic.send(txs)
    for tx in txs:
        raw = world.rpc.call("eth_getRawTransactionByHash", tx.tx_hash)
        assert raw == "0x" + tx.raw.hex()
