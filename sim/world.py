"""The local world: real Uniswap V2/V3 contracts deployed on anvil from a seed and a spec.

`deploy_world` builds it on a fresh node: WETH9, test tokens, two deployments of the real V2
factory + Router02, the real V3 factory with NonfungiblePositionManager, SwapRouter,
SwapRouter02, QuoterV2, TickLens and UniversalRouter, Multicall3 at its canonical address,
pools with liquidity at prices that disagree across venues, and traffic users funded and
approved. Every pool is then seasoned (`season_pools`), so its storage is that of a pool with
a trading history, as on a live chain. `sim.world_cache` keeps the result as an anvil state
file plus a manifest, so a later start loads the world in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import eth_abi
from eth_utils import keccak, to_checksum_address

from chains import abi
from chains import abi_routers as routers
from chains.abi_fn import AbiFunction
from chains.artifacts import ContractArtifact, load_npm_artifact, load_project_artifact
from chains.rpc import HttpRpc
from sim.txs import Call, UnlockedSender, hex_int, send_unlocked_blocks
from sim.world_liquidity import (
    align_tick,
    position_amounts,
    price_raw,
    sqrt_price_x96_of,
    tick_of_price,
)
from sim.world_manifest import (
    Manifest,
    PoolEntry,
    TokenEntry,
)
from sim.world_spec import V3_TICK_SPACING_BY_FEE_PIPS, PoolSpec, WorldSpec

__all__ = [
    "GENESIS_TIMESTAMP",
    "MULTICALL3_ADDRESS",
    "NPM_ARTIFACTS",
    "PROJECT_ARTIFACTS",
    "deploy_world",
    "season_pools",
    "user_key",
]

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
MAX_UINT256 = 2**256 - 1
DEADLINE = 2**40  # far future: the world's users never want a deadline to bite
_ZERO = "0x" + "00" * 20
_DEPLOYER_ETH_WEI = 10**12 * 10**18
# a pool's seasoning swap sells this fraction of its balance of the input token
_SEASON_SWAP_DIVISOR = 10**7
_V2_PAIR_SYNC = AbiFunction("sync()")
GENESIS_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z: worlds deployed alike are identical
BLOCK_INTERVAL_S = 12

NPM_ARTIFACTS = (
    "WETH9",
    "UniswapV2Factory",
    "UniswapV2Router02",
    "UniswapV3Factory",
    "NonfungiblePositionManager",
    "SwapRouter",
    "SwapRouter02",
    "QuoterV2",
    "TickLens",
    "UniversalRouter",
    "UniswapV2Pair",
    "UniswapV3Pool",
)
PROJECT_ARTIFACTS = ("TestERC20", "Multicall3")


def user_key(seed: int, index: int) -> bytes:
    """Return the private key of traffic user `index` of the world with this seed."""
    return keccak(b"arbloop world user" + seed.to_bytes(32, "big") + index.to_bytes(4, "big"))


def _deploy_call(artifact: ContractArtifact, types: list[str], args: list[Any], label: str) -> Call:
    data = artifact.bytecode + (eth_abi.encode(types, args) if types else b"")
    return Call(to=None, data=data, gas_units=12_000_000, label=f"deploy {label}")


def _call(to: str, data: bytes, label: str, gas_units: int = 400_000, value_wei: int = 0) -> Call:
    return Call(to=to, data=data, gas_units=gas_units, value_wei=value_wei, label=label)


def _eth_call(rpc: HttpRpc, to: str, data: bytes) -> bytes:
    return bytes.fromhex(rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")[2:])


@dataclass(slots=True)
class _Deployment:
    rpc: HttpRpc
    spec: WorldSpec
    deployer: UnlockedSender
    contracts: dict[str, str]
    tokens: dict[str, TokenEntry]
    gas_used: int = 0

    def send(self, call: Call) -> dict[str, Any]:
        receipt = self.deployer.send(call)
        self.gas_used += hex_int(receipt["gasUsed"])
        return receipt

    def deploy(
        self, name: str, artifact: ContractArtifact, types: list[str], args: list[Any]
    ) -> str:
        receipt = self.send(_deploy_call(artifact, types, args, name))
        address = to_checksum_address(receipt["contractAddress"])
        self.contracts[name] = address
        return address

    def blocks(self, items: list[tuple[str, Call]]) -> list[dict[str, Any]]:
        receipts = send_unlocked_blocks(self.rpc, items)
        self.gas_used += sum(hex_int(r["gasUsed"]) for r in receipts)
        return receipts


def _deploy_core(d: _Deployment) -> None:
    spec = d.spec
    d.deploy("weth", load_npm_artifact("WETH9"), [], [])
    d.tokens["WETH"] = TokenEntry(symbol="WETH", address=d.contracts["weth"], decimals=18)
    test_erc20 = load_project_artifact("TestERC20")
    for token in spec.tokens:
        if token.symbol == "WETH":
            continue
        address = d.deploy(
            f"token_{token.symbol}",
            test_erc20,
            ["string", "string", "uint8"],
            [f"Test {token.symbol}", token.symbol, token.decimals],
        )
        d.tokens[token.symbol] = TokenEntry(
            symbol=token.symbol, address=address, decimals=token.decimals
        )
    for venue in spec.v2_venues:
        factory = d.deploy(
            f"{venue}_factory",
            load_npm_artifact("UniswapV2Factory"),
            ["address"],
            [d.deployer.address],
        )
        d.deploy(
            f"{venue}_router02",
            load_npm_artifact("UniswapV2Router02"),
            ["address", "address"],
            [factory, d.contracts["weth"]],
        )
    weth = d.contracts["weth"]
    v3_factory = d.deploy(f"{spec.v3_venue}_factory", load_npm_artifact("UniswapV3Factory"), [], [])
    for fee_pips, spacing in sorted(V3_TICK_SPACING_BY_FEE_PIPS.items()):
        if fee_pips == 100:  # v3-core 1.0.1 ships 500/3000/10000; 100 is enabled by the owner
            d.send(
                _call(
                    v3_factory,
                    abi.V3_FACTORY_ENABLE_FEE_AMOUNT.encode(fee_pips, spacing),
                    "enableFeeAmount(100, 1)",
                )
            )
    npm = d.deploy(
        "nonfungible_position_manager",
        load_npm_artifact("NonfungiblePositionManager"),
        ["address", "address", "address"],
        [v3_factory, weth, _ZERO],
    )
    d.deploy(
        "swap_router",
        load_npm_artifact("SwapRouter"),
        ["address", "address"],
        [v3_factory, weth],
    )
    first_v2_factory = d.contracts[f"{spec.v2_venues[0]}_factory"]
    d.deploy(
        "swap_router02",
        load_npm_artifact("SwapRouter02"),
        ["address", "address", "address", "address"],
        [first_v2_factory, v3_factory, npm, weth],
    )
    d.deploy("quoter_v2", load_npm_artifact("QuoterV2"), ["address", "address"], [v3_factory, weth])
    d.deploy("tick_lens", load_npm_artifact("TickLens"), [], [])
    pair_hash = load_npm_artifact("UniswapV2Pair").init_code_hash()
    pool_hash = load_npm_artifact("UniswapV3Pool").init_code_hash()
    # RouterParameters: permit2, weth9, v2Factory, v3Factory, pairInitCodeHash,
    # poolInitCodeHash, v4PoolManager, v3NFTPositionManager, v4PositionManager, spokePool.
    # No Permit2 artifact exists here: ETH-in flows (WRAP_ETH, then a swap paid by the router).
    d.deploy(
        "universal_router",
        load_npm_artifact("UniversalRouter"),
        ["(address,address,address,address,bytes32,bytes32,address,address,address,address)"],
        [
            (
                _ZERO,
                weth,
                first_v2_factory,
                v3_factory,
                pair_hash,
                pool_hash,
                _ZERO,
                npm,
                _ZERO,
                _ZERO,
            )
        ],
    )
    d.rpc.call(
        "anvil_setCode",
        MULTICALL3_ADDRESS,
        "0x" + load_project_artifact("Multicall3").deployed_bytecode.hex(),
    )
    d.contracts["multicall3"] = MULTICALL3_ADDRESS


def _pool_plan(spec: WorldSpec, rng: random.Random) -> list[tuple[PoolSpec, float]]:
    plan = []
    for pool in spec.pools:
        bps = pool.skew_bps
        if bps is None:
            bps = rng.randint(-spec.max_skew_bps, spec.max_skew_bps)
        plan.append((pool, bps / 10_000))
    return plan


def _sorted_pair(d: _Deployment, pool: PoolSpec) -> tuple[TokenEntry, TokenEntry, bool]:
    a, b = d.tokens[pool.tokens[0]], d.tokens[pool.tokens[1]]
    if int(a.address, 16) < int(b.address, 16):
        return a, b, False
    return b, a, True


def _liquidity_calls(
    d: _Deployment, plan: list[tuple[PoolSpec, float]]
) -> tuple[list[Call], dict[str, int]]:
    """Return the pool-creating calls and the raw amount of each token they need."""
    spec = d.spec
    calls: list[Call] = []
    need: dict[str, int] = dict.fromkeys(d.tokens, 0)
    me = d.deployer.address
    npm = d.contracts["nonfungible_position_manager"]
    for pool, skew in plan:
        t0, t1, flipped = _sorted_pair(d, pool)
        s0, s1 = spec.token(t0.symbol), spec.token(t1.symbol)
        # the skew moves the price of the spec's second token in terms of its first
        skew_01 = skew if not flipped else (1 / (1 + skew) - 1)
        price = price_raw(s0.price_eth, s0.decimals, s1.price_eth, s1.decimals, skew_01)
        label = f"{pool.venue} {t0.symbol}/{t1.symbol}"
        if pool.venue in spec.v2_venues:
            amount0 = int(pool.depth_eth / s0.price_eth * 10**s0.decimals)
            amount1 = int(amount0 * price)
            router = d.contracts[f"{pool.venue}_router02"]
            calls.append(
                _call(
                    d.contracts[f"{pool.venue}_factory"],
                    abi.V2_FACTORY_CREATE_PAIR.encode(t0.address, t1.address),
                    f"createPair {label}",
                    gas_units=3_000_000,
                )
            )
            calls.append(
                _call(
                    router,
                    routers.R02_ADD_LIQUIDITY.encode(
                        t0.address, t1.address, amount0, amount1, 0, 0, me, DEADLINE
                    ),
                    f"addLiquidity {label}",
                )
            )
            need[t0.symbol] += amount0
            need[t1.symbol] += amount1
            continue
        fee = pool.fee_pips
        assert fee is not None
        spacing = V3_TICK_SPACING_BY_FEE_PIPS[fee]
        calls.append(
            _call(
                npm,
                routers.NPM_CREATE_AND_INIT.encode(
                    t0.address, t1.address, fee, sqrt_price_x96_of(price)
                ),
                f"createAndInitialize {label} {fee}",
                gas_units=6_000_000,
            )
        )
        base = align_tick(tick_of_price(price), spacing)
        value_token1_raw = 2 * pool.depth_eth / s1.price_eth * 10**s1.decimals
        for position in spec.v3_positions:
            lower = align_tick(base + position.lower_spacings * spacing, spacing)
            upper = align_tick(base + position.upper_spacings * spacing, spacing)
            if lower >= upper:
                continue
            amount0, amount1 = position_amounts(
                price, lower, upper, value_token1_raw * position.share
            )
            calls.append(
                _call(
                    npm,
                    routers.NPM_MINT.encode(
                        (
                            t0.address,
                            t1.address,
                            fee,
                            lower,
                            upper,
                            amount0,
                            amount1,
                            0,
                            0,
                            me,
                            DEADLINE,
                        )
                    ),
                    f"mint {label} {fee} [{lower}, {upper}]",
                    gas_units=800_000,
                )
            )
            need[t0.symbol] += amount0
            need[t1.symbol] += amount1
    return calls, need


def _approvals(owner: str, token: TokenEntry, spenders: list[str]) -> list[tuple[str, Call]]:
    approve = [abi.ERC20_APPROVE.encode(spender, MAX_UINT256) for spender in spenders]
    return [
        (owner, _call(token.address, data, f"approve {token.symbol}", gas_units=80_000))
        for data in approve
    ]


def _fund(d: _Deployment, need: dict[str, int], users: list[str]) -> None:
    """Mint and wrap what the pools need; fund and approve the traffic users."""
    spec = d.spec
    me = d.deployer.address
    weth = d.contracts["weth"]
    spenders = [d.contracts[f"{v}_router02"] for v in spec.v2_venues] + [
        d.contracts["nonfungible_position_manager"],
        d.contracts["swap_router"],
        d.contracts["swap_router02"],
    ]
    items: list[tuple[str, Call]] = []
    per_user: dict[str, int] = {
        t.symbol: int(spec.user_token_value_eth / t.price_eth * 10**t.decimals) for t in spec.tokens
    }
    for symbol, token in d.tokens.items():
        amount = need[symbol] + need[symbol] // 100 + 1
        if symbol == "WETH":
            deposit = abi.WETH_DEPOSIT.encode()
            items.append((me, _call(weth, deposit, "WETH deposit", value_wei=amount)))
        else:
            for to, value in [(me, amount)] + [(user, per_user[symbol]) for user in users]:
                mint = abi.TEST_ERC20_MINT.encode(to, value)
                items.append((me, _call(token.address, mint, f"mint {symbol}")))
        items += _approvals(me, token, spenders)
    user_eth_wei = int(spec.user_eth * 10**18)
    for user in users:
        d.rpc.call("anvil_setBalance", user, hex(user_eth_wei + per_user["WETH"]))
        deposit = abi.WETH_DEPOSIT.encode()
        items.append((user, _call(weth, deposit, "user WETH", value_wei=per_user["WETH"])))
        for token in d.tokens.values():
            items += _approvals(user, token, spenders)
    for user in users:
        d.rpc.call("anvil_impersonateAccount", user)
    try:
        d.blocks(items)
    finally:
        for user in users:
            d.rpc.call("anvil_stopImpersonatingAccount", user)


def _pool_entries(
    d: _Deployment, plan: list[tuple[PoolSpec, float]], block: int
) -> list[PoolEntry]:
    entries = []
    for pool, _skew in plan:
        t0, t1, _ = _sorted_pair(d, pool)
        if pool.venue in d.spec.v2_venues:
            factory = d.contracts[f"{pool.venue}_factory"]
            out = _eth_call(d.rpc, factory, abi.V2_FACTORY_GET_PAIR.encode(t0.address, t1.address))
            address = abi.V2_FACTORY_GET_PAIR.decode_output(out)[0]
            kind, fee, spacing = "v2", 3000, 0
        else:
            assert pool.fee_pips is not None
            factory = d.contracts[f"{d.spec.v3_venue}_factory"]
            out = _eth_call(
                d.rpc,
                factory,
                abi.V3_FACTORY_GET_POOL.encode(t0.address, t1.address, pool.fee_pips),
            )
            address = abi.V3_FACTORY_GET_POOL.decode_output(out)[0]
            kind, fee, spacing = "v3", pool.fee_pips, V3_TICK_SPACING_BY_FEE_PIPS[pool.fee_pips]
        if int(address, 16) == 0:
            raise RuntimeError(f"pool {pool.venue} {t0.symbol}/{t1.symbol} was not created")
        entries.append(
            PoolEntry(
                address=to_checksum_address(address),
                venue=pool.venue,
                kind=kind,
                token0=t0.address,
                token1=t1.address,
                fee_pips=fee,
                tick_spacing=spacing,
                created_block=block,
            )
        )
    return entries


def season_pools(
    rpc: HttpRpc, pools: Sequence[PoolEntry], *, sender: str, swap_router: str
) -> list[dict[str, Any]]:
    """Leave every pool with the storage a traded pool on a live chain has; return the receipts.

    A pool that was never traded has V2 cumulative prices or V3 fee growth globals still at
    zero, and the first swap that writes one pays a zero-to-nonzero SSTORE (17100 gas more
    than an update) that a pool with a trading history never pays again. A `sync()` of each
    V2 pair (the price unmoved) sets both cumulative prices, and a tiny exact-input swap each
    way in each V3 pool sets both fee growth globals. `sender` holds every token and has
    approved `swap_router`; the node must advance the timestamp from the pools' last block,
    since a pair writes its cumulative prices only when time has passed.
    """
    items: list[tuple[str, Call]] = []
    for pool in pools:
        if pool.kind != "v3":
            sync = _V2_PAIR_SYNC.encode()
            items.append((sender, _call(pool.address, sync, f"sync {pool.address}", 100_000)))
            continue
        for token_in, token_out in ((pool.token0, pool.token1), (pool.token1, pool.token0)):
            balance = _eth_call(rpc, token_in, abi.ERC20_BALANCE_OF.encode(pool.address))
            amount = abi.ERC20_BALANCE_OF.decode_output(balance)[0] // _SEASON_SWAP_DIVISOR + 1
            params = (token_in, token_out, pool.fee_pips, sender, DEADLINE, amount, 0, 0)
            swap = routers.SR_EXACT_INPUT_SINGLE.encode(params)
            label = f"seasoning swap {pool.address}"
            items.append((sender, _call(swap_router, swap, label, gas_units=1_000_000)))
    return send_unlocked_blocks(rpc, items)


def deploy_world(rpc: HttpRpc, spec: WorldSpec, *, cache_key: str = "") -> Manifest:
    """Deploy the world on a fresh node (the deployer's nonce must be 0); return its manifest."""
    chain_id = hex_int(rpc.call("eth_chainId"))
    if chain_id != spec.chain_id:
        raise ValueError(f"node chain id {chain_id} differs from the world spec's {spec.chain_id}")
    deployer = to_checksum_address(rpc.call("eth_accounts")[0])
    if hex_int(rpc.call("eth_getTransactionCount", deployer, "latest")) != 0:
        raise RuntimeError("the world deploys on a fresh node only (deployer nonce is not 0)")
    rpc.call("anvil_setBalance", deployer, hex(_DEPLOYER_ETH_WEI))
    # a fixed block interval makes every timestamp the contracts store (V2 blockTimestampLast,
    # V3 observations) depend only on the genesis timestamp and the block count
    rpc.call("anvil_setBlockTimestampInterval", BLOCK_INTERVAL_S)
    d = _Deployment(
        rpc=rpc, spec=spec, deployer=UnlockedSender(rpc, deployer), contracts={}, tokens={}
    )
    _deploy_core(d)
    rng = random.Random(spec.seed)
    users = [
        to_checksum_address(_address_of_key(user_key(spec.seed, i))) for i in range(spec.users)
    ]
    plan = _pool_plan(spec, rng)
    calls, need = _liquidity_calls(d, plan)
    _fund(d, need, users)
    d.blocks([(deployer, c) for c in calls])
    pools = _pool_entries(d, plan, 0)
    seasoned = season_pools(rpc, pools, sender=deployer, swap_router=d.contracts["swap_router"])
    d.gas_used += sum(hex_int(r["gasUsed"]) for r in seasoned)
    rpc.call("anvil_removeBlockTimestampInterval")
    block = hex_int(rpc.call("eth_blockNumber"))
    pools = [dataclasses.replace(p, created_block=block) for p in pools]
    venues: dict[str, dict[str, str]] = {
        v: {
            "kind": "v2",
            "factory": d.contracts[f"{v}_factory"],
            "router": d.contracts[f"{v}_router02"],
        }
        for v in spec.v2_venues
    }
    venues[spec.v3_venue] = {"kind": "v3", "factory": d.contracts[f"{spec.v3_venue}_factory"]}
    router_list = [
        {"name": f"{v}_router02", "kind": "v2_router02", "address": d.contracts[f"{v}_router02"]}
        for v in spec.v2_venues
    ] + [
        {"name": "swap_router", "kind": "swap_router", "address": d.contracts["swap_router"]},
        {"name": "swap_router02", "kind": "swap_router02", "address": d.contracts["swap_router02"]},
        {
            "name": "universal_router",
            "kind": "universal_router",
            "address": d.contracts["universal_router"],
        },
    ]
    return Manifest(
        cache_key=cache_key,
        spec=str(spec.path),
        spec_sha256=spec.sha256,
        seed=spec.seed,
        chain_id=chain_id,
        deployer=deployer,
        deployment_block=block,
        contracts=dict(d.contracts),
        venues=venues,
        routers=router_list,
        tokens=list(d.tokens.values()),
        pools=pools,
        users=users,
        deploy_gas_used=d.gas_used,
        extra={"prices_eth": {t.symbol: t.price_eth for t in spec.tokens}},
    )


def _address_of_key(key: bytes) -> str:
    from eth_keys import keys

    return keys.PrivateKey(key).public_key.to_checksum_address()
