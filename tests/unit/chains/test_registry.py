"""The pool registry: CREATE2 proofs, id assignment, discovery from logs, the disk cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import eth_abi
import pytest

from chains import abi
from chains.config import ChainConfig, configs_dir, load_chain_config
from chains.records import Kind
from chains.registry import PoolInfo, ProofError, Registry, registry_from_manifest
from chains.registry_cache import cache_path, load_cache, sync_registry
from chains.registry_discovery import (
    LiquidityFilter,
    apply_liquidity_filter,
    discover,
    fetch_creation_logs,
    parse_creation_log,
)
from chains.rpc import RpcResponseError

USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
DAI = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
WBTC = "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"
UNI_V2_FACTORY = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"
SUSHI_FACTORY = "0xC0AEe478e3658e2610c5F7A4A2E1777cE9e4f2Ac"
UNI_V3_FACTORY = "0x1F98431c8aD98523631AE4a59f267346ea31F984"
OTHER_FACTORY = "0x115934131916C8b277DD010Ee02de363c09d037c"
USDC_WETH_V2 = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
USDC_WETH_V3_500 = "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"
SPOOF = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module")
def mainnet() -> ChainConfig:
    return load_chain_config(configs_dir() / "chains" / "mainnet.toml")


# -- proofs and ids -----------------------------------------------------------------------


def test_prove_matches_real_mainnet_pools(mainnet: ChainConfig) -> None:
    registry = Registry(mainnet)
    assert registry.prove("uniswap_v2", WETH, USDC) == USDC_WETH_V2
    assert registry.prove("uniswap_v2", USDC, WETH, 3000) == USDC_WETH_V2
    assert registry.prove("uniswap_v3", WETH, USDC, 500) == USDC_WETH_V3_500
    assert registry.prove("sushiswap", WETH, USDC) != USDC_WETH_V2
    with pytest.raises(ValueError, match="not a configured tier"):
        registry.prove("uniswap_v3", WETH, USDC, 2500)
    with pytest.raises(ValueError, match="needs fee_pips"):
        registry.prove("uniswap_v3", WETH, USDC)
    with pytest.raises(ValueError, match="not 500"):
        registry.prove("uniswap_v2", WETH, USDC, 500)
    with pytest.raises(KeyError):
        registry.prove("curve", WETH, USDC)


def test_add_assigns_dense_stable_ids(mainnet: ChainConfig) -> None:
    registry = Registry(mainnet)
    a = registry.add("uniswap_v2", WETH, USDC, None, 10_000_835, address=USDC_WETH_V2.lower())
    b = registry.add("uniswap_v3", USDC, WETH, 500, 12_376_729)
    c = registry.add("sushiswap", DAI, WETH, 3000, 10_829_331)
    assert [p.pool_id for p in registry.pools] == [0, 1, 2]
    assert a == PoolInfo(
        pool_id=0,
        address=USDC_WETH_V2,
        venue="uniswap_v2",
        kind="v2",
        token0=USDC,
        token1=WETH,
        fee_pips=3000,
        tick_spacing=0,
        created_block=10_000_835,
    )
    assert (b.address, b.kind, b.fee_pips, b.tick_spacing) == (USDC_WETH_V3_500, "v3", 500, 10)
    assert (c.token0, c.token1) == (DAI, WETH)
    # the same pool again keeps its id; nothing new is assigned
    assert registry.add("uniswap_v3", WETH, USDC, 500, 99) is b
    assert len(registry) == 3
    assert registry.by_address(USDC_WETH_V3_500.lower()) is b
    assert registry.by_id(2) is c
    assert registry.by_address(SPOOF) is None
    with pytest.raises(IndexError):
        registry.by_id(3)
    assert registry.factories[UNI_V3_FACTORY] == "uniswap_v3"
    assert registry.tracked_ids() == (0, 1, 2)
    registry.set_tracked(1, False)
    assert registry.tracked_ids() == (0, 2)
    assert registry.by_id(1).tracked is False


def test_spoofed_address_never_gets_an_id(mainnet: ChainConfig) -> None:
    registry = Registry(mainnet)
    with pytest.raises(ProofError, match="CREATE2 gives"):
        registry.add("uniswap_v2", WETH, USDC, None, 1, address=SPOOF)
    # the real Uniswap pool is not a SushiSwap pool
    with pytest.raises(ProofError):
        registry.add("sushiswap", WETH, USDC, None, 1, address=USDC_WETH_V2)
    # the V3 0.05% pool is not the 0.30% pool
    with pytest.raises(ProofError):
        registry.add("uniswap_v3", WETH, USDC, 3000, 1, address=USDC_WETH_V3_500)
    assert len(registry) == 0
    assert registry.by_address(SPOOF) is None


def test_on_created_admits_only_proven_pools_of_configured_factories(
    mainnet: ChainConfig,
) -> None:
    registry = Registry(mainnet)
    pair = Kind.PAIR_CREATED
    pool = Kind.POOL_CREATED
    assert registry.on_created(pair, OTHER_FACTORY, USDC, WETH, None, 0, USDC_WETH_V2, 5) is None
    assert registry.on_created(pair, UNI_V2_FACTORY, USDC, WETH, None, 0, SPOOF, 5) is None
    # a PoolCreated from a V2 factory, or a PairCreated from the V3 factory, is nonsense
    assert registry.on_created(pool, UNI_V2_FACTORY, USDC, WETH, 500, 10, SPOOF, 5) is None
    assert registry.on_created(pair, UNI_V3_FACTORY, USDC, WETH, None, 0, SPOOF, 5) is None
    # a tier whose tick spacing disagrees with the configured one
    bad = registry.on_created(pool, UNI_V3_FACTORY, USDC, WETH, 500, 60, USDC_WETH_V3_500, 5)
    assert bad is None
    assert registry.on_created(pair, UNI_V2_FACTORY, USDC, USDC, None, 0, SPOOF, 5) is None
    assert len(registry) == 0
    got = registry.on_created(pair, UNI_V2_FACTORY.lower(), USDC, WETH, None, 0, USDC_WETH_V2, 5)
    assert got is not None and got.pool_id == 0 and got.created_block == 5
    got = registry.on_created(pool, UNI_V3_FACTORY, USDC, WETH, 500, 10, USDC_WETH_V3_500, 6)
    assert got is not None and got.pool_id == 1 and got.tick_spacing == 10
    with pytest.raises(ValueError, match="creation kind"):
        registry.on_created(Kind.V2_SYNC, UNI_V2_FACTORY, USDC, WETH, None, 0, USDC_WETH_V2, 5)


def test_unresolved_local_config_is_refused() -> None:
    local = load_chain_config(configs_dir() / "chains" / "local.toml")
    with pytest.raises(ValueError, match="resolve the chain config"):
        Registry(local)


def _local_manifest(local: ChainConfig) -> dict[str, Any]:
    factories = {
        "uniswap_v2": "0x1111111111111111111111111111111111111111",
        "sushiswap": "0x2222222222222222222222222222222222222222",
        "uniswap_v3": "0x3333333333333333333333333333333333333333",
    }
    venues = {name: {"kind": local.venue(name).kind, "factory": f} for name, f in factories.items()}
    manifest: dict[str, Any] = {
        "format": 1,
        "chain_id": 31337,
        "contracts": {"weth": WETH},
        "venues": venues,
        "pools": [],
    }
    resolved = replace(
        local, venues=tuple(replace(v, factory=factories[v.name]) for v in local.venues)
    )
    scratch = Registry(resolved)
    for venue, a, b, fee, spacing in [
        ("uniswap_v3", WETH, USDC, 500, 10),
        ("uniswap_v2", WETH, USDC, 3000, 0),
        ("sushiswap", DAI, WETH, 3000, 0),
    ]:
        info = scratch.add(venue, a, b, fee, 7)
        manifest["pools"].append(
            {
                "address": info.address,
                "venue": venue,
                "kind": info.kind,
                "token0": info.token0,
                "token1": info.token1,
                "fee_pips": fee,
                "tick_spacing": spacing,
                "created_block": 7,
            }
        )
    return manifest


def test_registry_from_manifest_keeps_manifest_order_and_proves() -> None:
    local = load_chain_config(configs_dir() / "chains" / "local.toml")
    manifest = _local_manifest(local)
    registry = registry_from_manifest(local, manifest)
    assert [p.address for p in registry.pools] == [p["address"] for p in manifest["pools"]]
    assert [p.venue for p in registry.pools] == ["uniswap_v3", "uniswap_v2", "sushiswap"]
    manifest["pools"][1]["address"] = SPOOF
    with pytest.raises(ProofError):
        registry_from_manifest(local, manifest)


# -- discovery over a canned node ---------------------------------------------------------


def _word(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def pair_created(factory: str, a: str, b: str, pair: str, block: int, index: int) -> dict:
    t0, t1 = sorted((a, b), key=lambda x: int(x, 16))
    data = eth_abi.encode(["address", "uint256"], [pair, 1])
    return {
        "address": factory.lower(),
        "topics": ["0x" + abi.V2_PAIR_CREATED.topic0.hex(), _word(t0), _word(t1)],
        "data": "0x" + data.hex(),
        "blockNumber": hex(block),
        "logIndex": hex(index),
        "removed": False,
    }


def pool_created(
    factory: str, a: str, b: str, fee: int, spacing: int, pool: str, block: int, index: int
) -> dict:
    t0, t1 = sorted((a, b), key=lambda x: int(x, 16))
    data = eth_abi.encode(["int24", "address"], [spacing, pool])
    return {
        "address": factory.lower(),
        "topics": [
            "0x" + abi.V3_POOL_CREATED.topic0.hex(),
            _word(t0),
            _word(t1),
            "0x" + fee.to_bytes(32, "big").hex(),
        ],
        "data": "0x" + data.hex(),
        "blockNumber": hex(block),
        "logIndex": hex(index),
        "removed": False,
    }


class FakeNode:
    """Canned answers for eth_getLogs, eth_getBlockByNumber, eth_blockNumber and eth_call."""

    def __init__(self, *, head: int, max_range: int | None = None, fork: str = "a") -> None:
        self.head = head
        self.max_range = max_range
        self.fork = fork
        self.genesis = "0x" + "00" * 32
        self.logs: list[dict[str, Any]] = []
        self.calls: dict[str, str] = {}  # pool address (lower) -> eth_call result
        self.ranges: list[tuple[int, int]] = []

    def block_hash(self, number: int) -> str:
        return self.genesis if number == 0 else f"0x{self.fork}{number:063x}"

    def call(self, method: str, *params: Any) -> Any:
        if method == "eth_blockNumber":
            return hex(self.head)
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            return None if number > self.head else {"hash": self.block_hash(number)}
        if method == "eth_getLogs":
            query = params[0]
            lo, hi = int(query["fromBlock"], 16), int(query["toBlock"], 16)
            self.ranges.append((lo, hi))
            if self.max_range is not None and hi - lo + 1 > self.max_range:
                raise RpcResponseError(method, -32005, "query returned more than 10000 results")
            wanted = {a.lower() for a in query["address"]}
            topics = set(query["topics"][0])
            # a real node answers in chain order; shuffle to check the registry sorts
            return [
                log
                for log in reversed(self.logs)
                if lo <= int(log["blockNumber"], 16) <= hi
                and log["address"] in wanted
                and log["topics"][0] in topics
            ]
        if method == "eth_call":
            return self.calls.get(params[0]["to"].lower(), "0x")
        raise AssertionError(f"unexpected {method}")

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        return [self.call(m, *p) for m, p in calls]


def _reserves(r0: int, r1: int) -> str:
    return "0x" + eth_abi.encode(["uint112", "uint112", "uint32"], [r0, r1, 1]).hex()


def _liquidity(value: int) -> str:
    return "0x" + eth_abi.encode(["uint128"], [value]).hex()


def _canned(registry: Registry, node: FakeNode) -> dict[str, str]:
    """Put five creation logs on the node (one foreign, one spoofed); return the names."""
    p_usdc = registry.prove("uniswap_v2", USDC, WETH)
    p_dai = registry.prove("sushiswap", DAI, WETH)
    p_v3 = registry.prove("uniswap_v3", WBTC, WETH, 3000)
    node.logs += [
        pair_created(UNI_V2_FACTORY, WETH, USDC, p_usdc, 40, 3),
        pool_created(UNI_V3_FACTORY, WETH, WBTC, 3000, 60, p_v3, 30, 9),
        pair_created(SUSHI_FACTORY, DAI, WETH, p_dai, 40, 1),
        pair_created(OTHER_FACTORY, DAI, USDC, SPOOF, 35, 0),
        pair_created(UNI_V2_FACTORY, DAI, USDC, SPOOF, 36, 0),
    ]
    return {"usdc": p_usdc, "dai": p_dai, "v3": p_v3}


def test_discover_orders_by_block_and_log_index_and_splits_refused_ranges(
    mainnet: ChainConfig,
) -> None:
    node = FakeNode(head=100, max_range=16)
    registry = Registry(mainnet)
    names = _canned(registry, node)
    result = discover(node, registry, 0, 100, step=50)
    assert [p.address for p in registry.pools] == [names["v3"], names["dai"], names["usdc"]]
    assert [p.created_block for p in registry.pools] == [30, 40, 40]
    assert result.logs == 4  # the foreign factory's log is not even asked for
    assert [r.pool for r in result.refused] == [SPOOF]
    assert result.added == registry.pools
    # the node refused 50-block ranges: every answered range fits its limit
    answered = [(lo, hi) for lo, hi in node.ranges if hi - lo + 1 <= 16]
    assert result.get_logs_requests == len(node.ranges) > 2
    assert sorted(answered)[0][0] == 0 and max(hi for _, hi in answered) == 100
    # discovering the same blocks again adds nothing and keeps every id
    again = discover(node, registry, 0, 100, step=50)
    assert again.added == () and len(registry) == 3


def test_removed_logs_are_ignored(mainnet: ChainConfig) -> None:
    node = FakeNode(head=10)
    registry = Registry(mainnet)
    address = registry.prove("uniswap_v2", USDC, WETH)
    log = pair_created(UNI_V2_FACTORY, WETH, USDC, address, 5, 0)
    node.logs.append({**log, "removed": True})
    assert discover(node, registry, 0, 10).added == ()


def test_liquidity_filter_marks_untracked_but_keeps_ids(mainnet: ChainConfig) -> None:
    node = FakeNode(head=100)
    registry = Registry(mainnet)
    names = _canned(registry, node)
    node.calls[names["usdc"].lower()] = _reserves(5_000 * 10**6, 2 * 10**18)
    node.calls[names["dai"].lower()] = _reserves(10**18, 10**15)  # too little WETH
    # the V3 pool answers 0x (no code): it holds nothing
    weth_min = LiquidityFilter(min_reserve_by_token=((WETH, 10**18),))
    result = discover(node, registry, 0, 100, liquidity=weth_min)
    assert len(registry) == 3
    assert set(result.untracked) == {0, 1}
    assert registry.tracked_ids() == (2,)
    assert [p.tracked for p in result.added] == [False, False, True]
    node.calls[names["v3"].lower()] = _liquidity(10**12)
    assert apply_liquidity_filter(node, registry, [0, 1], weth_min) == (1,)
    assert registry.tracked_ids() == (0, 2)


# -- the disk cache -----------------------------------------------------------------------


def test_cache_round_trip_and_resume_from_last_block(mainnet: ChainConfig, tmp_path: Path) -> None:
    node = FakeNode(head=100)
    registry = Registry(mainnet)
    names = _canned(registry, node)
    first = sync_registry(node, mainnet, tmp_path, start_block=10, step=25)
    assert (first.resumed, first.rescanned, first.scanned_from, first.scanned_to) == (
        False,
        False,
        10,
        100,
    )
    cached = load_cache(cache_path(tmp_path, 1))
    assert cached is not None and cached.last_block == 100
    assert cached.last_block_hash == node.block_hash(100)
    assert cached.pools == first.registry.pools
    assert json.loads(cache_path(tmp_path, 1).read_text())["chain_id"] == 1

    # a new pool at block 150; the node moves on to 200
    p_new = first.registry.prove("uniswap_v3", USDC, WETH, 500)
    node.logs.append(pool_created(UNI_V3_FACTORY, USDC, WETH, 500, 10, p_new, 150, 4))
    node.head = 200
    node.ranges.clear()
    second = sync_registry(node, mainnet, tmp_path, start_block=10, step=25)
    assert (second.resumed, second.rescanned, second.scanned_from) == (True, False, 101)
    assert min(lo for lo, _ in node.ranges) == 101
    assert [p.address for p in second.registry.pools] == [
        names["v3"],
        names["dai"],
        names["usdc"],
        p_new,
    ]
    assert second.registry.pools[:3] == first.registry.pools
    assert second.discovery.added == (second.registry.by_id(3),)

    # nothing new: nothing to scan, same registry
    node.ranges.clear()
    third = sync_registry(node, mainnet, tmp_path, start_block=10, step=25)
    assert node.ranges == [] and third.registry.pools == second.registry.pools


def test_mismatching_block_hash_rescans_from_safe_depth(
    mainnet: ChainConfig, tmp_path: Path
) -> None:
    node = FakeNode(head=100)
    registry = Registry(mainnet)
    names = _canned(registry, node)
    sync_registry(node, mainnet, tmp_path, start_block=0, step=1000)
    # a reorg replaced blocks 90..: the pool of block 95 never happened; another one did
    node.fork = "b"
    p_late = registry.prove("sushiswap", WBTC, WETH)
    p_new = registry.prove("uniswap_v2", WBTC, USDC)
    node.logs.append(pair_created(SUSHI_FACTORY, WBTC, WETH, p_late, 95, 0))
    sync_registry(node, mainnet, tmp_path, start_block=0, step=1000)
    node.logs[-1] = pair_created(UNI_V2_FACTORY, WBTC, USDC, p_new, 97, 0)
    node.fork = "c"
    node.ranges.clear()
    result = sync_registry(
        node,
        mainnet,
        tmp_path,
        start_block=0,
        step=1000,
        reorg_depth=20,
        liquidity=LiquidityFilter(),
    )
    assert result.rescanned and result.scanned_from == 80
    assert node.ranges == [(80, 100)]
    ids = {p.address: p.pool_id for p in result.registry.pools}
    assert ids == {names["v3"]: 0, names["dai"]: 1, names["usdc"]: 2, p_late: 3, p_new: 4}
    # the reorged-away pool keeps its id but, holding nothing, is not tracked
    assert result.registry.by_id(3).tracked is False


def test_cache_of_another_chain_or_venues_is_not_used(mainnet: ChainConfig, tmp_path: Path) -> None:
    node = FakeNode(head=50)
    registry = Registry(mainnet)
    _canned(registry, node)
    sync_registry(node, mainnet, tmp_path, start_block=0, step=1000)
    node.genesis = "0x" + "11" * 32
    result = sync_registry(node, mainnet, tmp_path, start_block=0, step=1000)
    assert not result.resumed and result.scanned_from == 0 and len(result.registry) == 3


def test_pool_info_json_round_trip(mainnet: ChainConfig) -> None:
    registry = Registry(mainnet)
    info = registry.add("uniswap_v3", USDC, WETH, 500, 3)
    assert PoolInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
    with pytest.raises(TypeError):
        PoolInfo.from_json({**info.to_json(), "surprise": 1})


def test_malformed_creation_logs_are_skipped_and_a_refused_block_raises(
    mainnet: ChainConfig,
) -> None:
    node = FakeNode(head=10, max_range=0)
    registry = Registry(mainnet)
    with pytest.raises(RpcResponseError):
        discover(node, registry, 5, 6)
    good = pair_created(UNI_V2_FACTORY, WETH, USDC, USDC_WETH_V2, 5, 0)
    assert parse_creation_log({**good, "data": "0x1234"}) is None
    assert parse_creation_log({**good, "topics": good["topics"][:2]}) is None
    parsed = parse_creation_log(good)
    assert parsed is not None and (parsed.kind, parsed.pool) == (Kind.PAIR_CREATED, USDC_WETH_V2)
    node.max_range = None
    node.logs.append(good)
    assert fetch_creation_logs(node, [UNI_V2_FACTORY], 0, 10) == [good]
