"""The local world on a real anvil: reload parity, CREATE2 parity, determinism, arbitrage."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from chains import abi
from chains.artifacts import repo_root
from chains.config import load_chain_config, resolve_with_manifest
from chains.create2 import v2_pair_address, v3_pool_address
from sim.world import MULTICALL3_ADDRESS
from sim.world_cache import WorldCache, start_world_node
from sim.world_manifest import Manifest, PoolEntry
from sim.world_reads import read_pool_states
from tests.integration.conftest import WORLD_SPEC, WorldNode

pytestmark = pytest.mark.integration

LOCAL_CHAIN = repo_root() / "configs" / "chains" / "local.toml"


def _comparable(manifest: Manifest) -> dict[str, object]:
    data = manifest.to_json()
    data.pop("spec")
    return data


def test_world_reloads_from_its_dump_identically(tmp_path: Path) -> None:
    cache = WorldCache(directory=tmp_path / "cache")
    node, deployed, loaded = start_world_node(WORLD_SPEC, cache)
    with node, node.rpc() as rpc:
        assert not loaded
        before = read_pool_states(rpc, deployed.pools)
        block_before = node.block_number()
    assert cache.state_path.exists() and cache.manifest_path.exists()
    node, reloaded, loaded = start_world_node(WORLD_SPEC, cache)
    with node, node.rpc() as rpc:
        assert loaded
        assert reloaded == deployed
        after = read_pool_states(rpc, reloaded.pools)
        assert node.block_number() == block_before
    assert after == before
    assert len(after) == len(deployed.pools) > 20


def test_same_spec_and_seed_give_the_same_world(tmp_path: Path, world: WorldNode) -> None:
    node, again, loaded = start_world_node(
        WORLD_SPEC, WorldCache(directory=tmp_path / "other"), rebuild=True
    )
    with node, node.rpc() as rpc:
        assert not loaded
        assert _comparable(again) == _comparable(world.manifest)
        assert read_pool_states(rpc, again.pools) == read_pool_states(
            world.rpc, world.manifest.pools
        )


def test_cache_with_another_key_is_not_reused(tmp_path: Path) -> None:
    cache = WorldCache(directory=tmp_path / "cache")
    node, _, _ = start_world_node(WORLD_SPEC, cache)
    node.stop()
    text = cache.manifest_path.read_text()
    cache.manifest_path.write_text(text.replace('"cache_key": "', '"cache_key": "stale'))
    node, _, loaded = start_world_node(WORLD_SPEC, cache)
    node.stop()
    assert not loaded


def _expected_address(chain_venues: dict[str, bytes], factory: str, pool: PoolEntry) -> str:
    init_hash = chain_venues[pool.venue]
    if pool.kind == "v2":
        return v2_pair_address(factory, pool.token0, pool.token1, init_hash)
    return v3_pool_address(factory, pool.token0, pool.token1, pool.fee_pips, init_hash)


def create2_mismatches(world: WorldNode, pools: list[PoolEntry]) -> list[str]:
    """Return pools whose manifest, CREATE2 and factory addresses do not all agree."""
    chain = resolve_with_manifest(load_chain_config(LOCAL_CHAIN), world.manifest.to_json())
    init_hashes = {v.name: v.init_code_hash for v in chain.venues}
    factories = {v.name: v.factory for v in chain.venues}
    calls = []
    for pool in pools:
        factory = factories[pool.venue]
        assert factory is not None
        if pool.kind == "v2":
            data = abi.V2_FACTORY_GET_PAIR.encode(pool.token1, pool.token0)
        else:
            data = abi.V3_FACTORY_GET_POOL.encode(pool.token1, pool.token0, pool.fee_pips)
        calls.append(("eth_call", [{"to": factory, "data": "0x" + data.hex()}, "latest"]))
    answers = world.rpc.batch(calls)
    bad = []
    for pool, answer in zip(pools, answers, strict=True):
        factory = factories[pool.venue]
        assert factory is not None
        on_chain = "0x" + answer[-40:]
        computed = _expected_address(init_hashes, factory, pool)
        if not (computed.lower() == on_chain.lower() == pool.address.lower()):
            bad.append(f"{pool.venue} {pool.address}: create2 {computed}, factory {on_chain}")
    return bad


def test_create2_parity_for_every_pool(world: WorldNode) -> None:
    assert create2_mismatches(world, world.manifest.pools) == []
    kinds = {(p.venue, p.fee_pips) for p in world.manifest.pools}
    assert {("uniswap_v3", f) for f in (100, 500, 3000, 10000)} <= kinds
    assert {("uniswap_v2", 3000), ("sushiswap", 3000)} <= kinds


def test_every_contract_has_code_and_multicall3_is_canonical(world: WorldNode) -> None:
    rpc = world.rpc
    for name, address in world.manifest.contracts.items():
        assert len(rpc.call("eth_getCode", address, "latest")) > 2, name
    assert world.manifest.contracts["multicall3"] == MULTICALL3_ADDRESS
    get_block_number = abi.AbiFunction("getBlockNumber()", "(uint256)")
    aggregate3 = abi.AbiFunction("aggregate3((address,bool,bytes)[])", "((bool,bytes)[])")
    data = aggregate3.encode([(MULTICALL3_ADDRESS, False, get_block_number.encode())])
    out = rpc.call("eth_call", {"to": MULTICALL3_ADDRESS, "data": "0x" + data.hex()}, "latest")
    ((ok, ret),) = aggregate3.decode_output(bytes.fromhex(out[2:]))[0]
    assert ok and int.from_bytes(ret, "big") == world.node.block_number()


def test_token_decimals_are_mixed_and_real(world: WorldNode) -> None:
    rpc = world.rpc
    for token in world.manifest.tokens:
        out = rpc.call(
            "eth_call",
            {"to": token.address, "data": "0x" + abi.ERC20_DECIMALS.encode().hex()},
            "latest",
        )
        assert int(out, 16) == token.decimals
    assert {t.decimals for t in world.manifest.tokens} >= {6, 8, 18}


def _marginal_rates(world: WorldNode) -> list[tuple[str, str, float, str]]:
    """Return (token in, token out, output per input after fee, pool) for every pool side."""
    states = read_pool_states(world.rpc, world.manifest.pools)
    edges = []
    for pool in world.manifest.pools:
        state = states[pool.address]
        # token1 per token0: reserves for V2, sqrtPriceX96 squared for V3
        price = state[1] / state[0] if pool.kind == "v2" else (state[0] / 2**96) ** 2
        fee = 1 - pool.fee_pips / 1_000_000
        edges.append((pool.token0, pool.token1, price * fee, pool.address))
        edges.append((pool.token1, pool.token0, fee / price, pool.address))
    return edges


def test_prices_disagree_so_cyclic_arbitrage_exists(world: WorldNode) -> None:
    edges = _marginal_rates(world)
    weth = world.manifest.contracts["weth"]
    profitable = []
    for a, b in itertools.permutations(edges, 2):
        closes = a[0] == weth and a[1] == b[0] and b[1] == weth and a[3] != b[3]
        if closes and a[2] * b[2] > 1:
            profitable.append((a[3], b[3], a[2] * b[2]))
    for a, b, c in itertools.permutations(edges, 3):
        closes = a[0] == weth and a[1] == b[0] and b[1] == c[0] and c[1] == weth
        if closes and len({a[3], b[3], c[3]}) == 3 and a[2] * b[2] * c[2] > 1:
            profitable.append((a[3], b[3], c[3], a[2] * b[2] * c[2]))
    assert len(profitable) >= 3, "the world must start with WETH cycles that pay after fees"
    best = max(p[-1] for p in profitable)
    assert math.isfinite(best) and best > 1.001
