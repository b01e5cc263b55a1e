"""The pool registry on the local world: bootstrap, discovery from factory logs, resume."""

from __future__ import annotations

from pathlib import Path

import eth_abi
import pytest
from eth_utils import to_checksum_address

from chains import abi
from chains.artifacts import load_npm_artifact
from chains.config import ChainConfig, configs_dir, load_chain_config, resolve_with_manifest
from chains.records import Kind
from chains.registry import ProofError, Registry, registry_from_manifest
from chains.registry_cache import load_cache, sync_registry
from chains.registry_discovery import LiquidityFilter, discover
from sim.traffic import Traffic, TrafficConfig
from sim.txs import Call, UnlockedSender, hex_int
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration

WORLD_POOLS = 24


def local_chain(world: WorldNode) -> ChainConfig:
    """Return the local chain config with the world's factories filled in."""
    chain = load_chain_config(configs_dir() / "chains" / "local.toml")
    return resolve_with_manifest(chain, world.manifest.to_json())


def test_registry_from_manifest_proves_every_world_pool(world: WorldNode) -> None:
    chain = load_chain_config(configs_dir() / "chains" / "local.toml")
    registry = registry_from_manifest(chain, world.manifest)
    assert len(registry) == len(world.manifest.pools) == WORLD_POOLS
    for pool, entry in zip(registry.pools, world.manifest.pools, strict=True):
        assert (pool.address, pool.venue, pool.kind) == (entry.address, entry.venue, entry.kind)
        assert (pool.token0, pool.token1, pool.fee_pips) == (
            entry.token0,
            entry.token1,
            entry.fee_pips,
        )
        assert pool.tick_spacing == entry.tick_spacing
        assert registry.prove(pool.venue, pool.token1, pool.token0, pool.fee_pips) == pool.address
    codes = world.rpc.batch([("eth_getCode", [p.address, "latest"]) for p in registry.pools])
    assert all(len(code) > 2 for code in codes)


def test_discover_finds_exactly_the_manifest_pools(world: WorldNode) -> None:
    registry = Registry(local_chain(world))
    head = world.manifest.deployment_block
    result = discover(world.rpc, registry, 0, head, step=7, liquidity=LiquidityFilter())
    manifest = {p.address: p for p in world.manifest.pools}
    assert {p.address for p in registry.pools} == set(manifest)
    assert len(registry) == WORLD_POOLS and result.refused == ()
    assert registry.tracked_ids() == tuple(range(WORLD_POOLS))
    for pool in registry.pools:
        entry = manifest[pool.address]
        assert (pool.venue, pool.token0, pool.token1) == (entry.venue, entry.token0, entry.token1)
        assert (pool.fee_pips, pool.tick_spacing) == (entry.fee_pips, entry.tick_spacing)
    # discovery's ids follow (block, log index) of the creation events
    logs = world.rpc.call(
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": hex(head),
            "topics": [
                ["0x" + abi.V2_PAIR_CREATED.topic0.hex(), "0x" + abi.V3_POOL_CREATED.topic0.hex()]
            ],
        },
    )
    order = sorted(logs, key=lambda log: (hex_int(log["blockNumber"]), hex_int(log["logIndex"])))
    created = [_created_address(log) for log in order]
    assert [p.address for p in registry.pools] == created
    # the world creates its pools in manifest order, so both bootstraps agree on every id
    assert [p.address for p in registry.pools] == [p.address for p in world.manifest.pools]


def _created_address(log: dict) -> str:
    topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
    data = bytes.fromhex(log["data"][2:])
    if topics[0] == abi.V2_PAIR_CREATED.topic0:
        return to_checksum_address(abi.V2_PAIR_CREATED.decode(topics, data)[2])
    return to_checksum_address(abi.V3_POOL_CREATED.decode(topics, data)[4])


def test_resumed_discovery_gives_a_new_pool_the_next_id(world: WorldNode, tmp_path: Path) -> None:
    chain = local_chain(world)
    first = sync_registry(world.rpc, chain, tmp_path, start_block=0, liquidity=LiquidityFilter())
    assert len(first.registry) == WORLD_POOLS and not first.resumed
    last = first.scanned_to

    world.node.set_automine(False)
    traffic = Traffic(
        world.rpc, world.manifest, TrafficConfig(seed=5, new_pool_probability=1.0, txs_per_block=0)
    )
    traffic.run(3)
    new_pools = traffic.stats.new_pools
    assert len(new_pools) == 3  # one a block
    assert {p.kind for p in new_pools} == {"v2", "v3"}

    second = sync_registry(world.rpc, chain, tmp_path, start_block=0, liquidity=LiquidityFilter())
    assert second.resumed and not second.rescanned and second.scanned_from == last + 1
    registry = second.registry
    assert registry.pools[:WORLD_POOLS] == first.registry.pools
    added = registry.pools[WORLD_POOLS:]
    assert [p.address for p in added] == [p.address for p in new_pools]
    assert [p.pool_id for p in added] == list(range(WORLD_POOLS, WORLD_POOLS + len(new_pools)))
    assert all(p.tracked for p in added)
    for pool, entry in zip(added, new_pools, strict=True):
        assert (pool.venue, pool.fee_pips, pool.created_block) == (
            entry.venue,
            entry.fee_pips,
            entry.created_block,
        )
    cached = load_cache(tmp_path / f"registry-{chain.chain_id}.json")
    assert cached is not None and cached.pools == registry.pools


def test_a_contract_at_a_non_create2_address_is_never_added(world: WorldNode) -> None:
    chain = local_chain(world)
    registry = registry_from_manifest(chain, world.manifest)
    weth = world.manifest.token("WETH").address
    link = world.manifest.token("LINK").address
    # a second, unconfigured deployment of the real V2 factory creates a real pair
    deployer = UnlockedSender(world.rpc, world.manifest.deployer)
    factory_code = load_npm_artifact("UniswapV2Factory").bytecode
    receipt = deployer.send(
        Call(
            to=None,
            data=factory_code + eth_abi.encode(["address"], [deployer.address]),
            gas_units=6_000_000,
            label="deploy rogue factory",
        )
    )
    rogue_factory = to_checksum_address(receipt["contractAddress"])
    receipt = deployer.send(
        Call(
            to=rogue_factory,
            data=abi.V2_FACTORY_CREATE_PAIR.encode(weth, link),
            gas_units=5_000_000,
            label="rogue pair",
        )
    )
    (log,) = [
        log
        for log in receipt["logs"]
        if bytes.fromhex(log["topics"][0][2:]) == abi.V2_PAIR_CREATED.topic0
    ]
    rogue_pair = _created_address(log)
    assert len(world.rpc.call("eth_getCode", rogue_pair, "latest")) > 2

    head = hex_int(world.rpc.call("eth_blockNumber"))
    before = registry.pools
    result = discover(world.rpc, registry, world.manifest.deployment_block, head)
    assert result.added == () and registry.pools == before
    # neither its own factory nor a configured one makes it a venue pool
    for factory in (rogue_factory, chain.venue("uniswap_v2").factory):
        assert factory is not None
        got = registry.on_created(Kind.PAIR_CREATED, factory, weth, link, None, 0, rogue_pair, head)
        assert got is None
    with pytest.raises(ProofError):
        registry.add("uniswap_v2", weth, link, None, head, address=rogue_pair)
    assert registry.by_address(rogue_pair) is None and len(registry) == WORLD_POOLS
