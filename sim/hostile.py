"""Hostile contracts on the local world: deploy them, pool them with WETH, spoof pool events.

The tokens (`contracts/src/test/`) are a fee-on-transfer token, a rebasing token, a honeypot
and a token whose Transfer events lie. `create_hostile_pools` pairs each with WETH on the
world's real Uniswap V2 factory + Router02 and V3 factory + NonfungiblePositionManager, with
liquidity, so routes through them can be tried. The deploying sender owns every token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import eth_abi
from eth_utils import to_checksum_address

from chains import abi
from chains import abi_routers as routers
from chains.abi_fn import AbiFunction
from chains.artifacts import load_project_artifact
from sim.txs import Call, UnlockedSender
from sim.world_liquidity import MAX_TICK, MIN_TICK, align_tick, sqrt_price_x96_of
from sim.world_manifest import Manifest
from sim.world_spec import V3_TICK_SPACING_BY_FEE_PIPS

__all__ = [
    "FAKE_POOL_CALL_V2",
    "FAKE_POOL_CALL_V3",
    "FEE_SET_EXEMPT",
    "HONEYPOT_SET_WHITELISTED",
    "REBASE",
    "HostilePool",
    "HostileTokens",
    "create_hostile_pools",
    "deploy_contract",
    "deploy_event_spoofer",
    "deploy_fake_pool",
    "deploy_hostile_tokens",
    "spoof_events",
]

MAX_UINT256 = 2**256 - 1
DEADLINE = 2**40
_ZERO = "0x" + "00" * 20

REBASE = AbiFunction("rebase(uint256,uint256)")
HONEYPOT_SET_WHITELISTED = AbiFunction("setWhitelisted(address,bool)")
FEE_SET_EXEMPT = AbiFunction("setFeeExempt(address,bool)")
FAKE_POOL_CALL_V2 = AbiFunction("callV2(address,address,uint256,uint256,bytes)", "(bytes)")
FAKE_POOL_CALL_V3 = AbiFunction("callV3(address,int256,int256,bytes)", "(bytes)")
SPOOF_V2_SYNC = AbiFunction("emitV2Sync(uint112,uint112)")
SPOOF_V2_SWAP = AbiFunction("emitV2Swap(address,uint256,uint256,uint256,uint256,address)")
SPOOF_PAIR_CREATED = AbiFunction("emitPairCreated(address,address,address,uint256)")
SPOOF_V3_SWAP = AbiFunction("emitV3Swap(address,address,int256,int256,uint160,uint128,int24)")
SPOOF_V3_MINT = AbiFunction("emitV3Mint(address,address,int24,int24,uint128,uint256,uint256)")
SPOOF_V3_BURN = AbiFunction("emitV3Burn(address,int24,int24,uint128,uint256,uint256)")
SPOOF_POOL_CREATED = AbiFunction("emitPoolCreated(address,address,uint24,int24,address)")


@dataclass(frozen=True, slots=True, kw_only=True)
class HostileTokens:
    """Addresses of the four hostile tokens (all owned by their deployer)."""

    fee_on_transfer: str
    rebasing: str
    honeypot: str
    lying: str
    decimals: int

    def by_symbol(self) -> dict[str, str]:
        """Return symbol -> address ("FOT", "REBASE", "HONEY", "LIAR")."""
        return {
            "FOT": self.fee_on_transfer,
            "REBASE": self.rebasing,
            "HONEY": self.honeypot,
            "LIAR": self.lying,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HostilePool:
    """A real Uniswap pool pairing WETH with a hostile token."""

    symbol: str
    token: str
    address: str
    venue: str
    kind: str
    token0: str
    token1: str
    fee_pips: int
    tick_spacing: int


def deploy_contract(
    sender: UnlockedSender, name: str, types: Sequence[str] = (), args: Sequence[Any] = ()
) -> str:
    """Deploy project artifact `name` with constructor arguments; return its address."""
    artifact = load_project_artifact(name)
    data = artifact.bytecode + (eth_abi.encode(list(types), list(args)) if types else b"")
    receipt = sender.send(Call(to=None, data=data, gas_units=6_000_000, label=f"deploy {name}"))
    return to_checksum_address(receipt["contractAddress"])


def deploy_hostile_tokens(
    sender: UnlockedSender, *, decimals: int = 18, fee_bps: int = 300, lie_bps: int = 5_000
) -> HostileTokens:
    """Deploy the fee-on-transfer, rebasing, honeypot and lying tokens from `sender`."""
    erc20 = ["string", "string", "uint8"]
    return HostileTokens(
        fee_on_transfer=deploy_contract(
            sender,
            "FeeOnTransferToken",
            [*erc20, "uint16"],
            ["Fee On Transfer", "FOT", decimals, fee_bps],
        ),
        rebasing=deploy_contract(sender, "RebasingToken", erc20, ["Rebasing", "REBASE", decimals]),
        honeypot=deploy_contract(sender, "HoneypotToken", erc20, ["Honeypot", "HONEY", decimals]),
        lying=deploy_contract(
            sender, "LyingToken", [*erc20, "uint16"], ["Lying", "LIAR", decimals, lie_bps]
        ),
        decimals=decimals,
    )


def deploy_fake_pool(
    sender: UnlockedSender, token0: str, token1: str, factory: str = _ZERO, fee_pips: int = 3000
) -> str:
    """Deploy a FakePool that claims these tokens, factory and fee."""
    return deploy_contract(
        sender,
        "FakePool",
        ["address", "address", "address", "uint24"],
        [token0, token1, factory, fee_pips],
    )


def deploy_event_spoofer(sender: UnlockedSender) -> str:
    """Deploy an EventSpoofer."""
    return deploy_contract(sender, "EventSpoofer")


def _send(sender: UnlockedSender, to: str, data: bytes, label: str, gas: int = 400_000) -> Any:
    return sender.send(Call(to=to, data=data, gas_units=gas, label=label))


def _eth_call(sender: UnlockedSender, to: str, data: bytes) -> bytes:
    out = sender.rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")
    return bytes.fromhex(out[2:])


def _sorted(a: str, b: str) -> tuple[str, str]:
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def create_hostile_pools(
    sender: UnlockedSender,
    manifest: Manifest,
    tokens: HostileTokens,
    *,
    weth_amount: int = 100 * 10**18,
    token_amount: int = 100_000 * 10**18,
    v2_venue: str = "uniswap_v2",
    v3_fee_pips: int = 3000,
) -> list[HostilePool]:
    """Pool every hostile token with WETH on V2 and V3 (full range); return the pools.

    `sender` must own the tokens. Honeypot pools are whitelisted so they can pay out.
    """
    contracts = manifest.contracts
    weth = contracts["weth"]
    v2_factory = contracts[f"{v2_venue}_factory"]
    router = contracts[f"{v2_venue}_router02"]
    v3_factory = manifest.venues["uniswap_v3"]["factory"]
    npm = contracts["nonfungible_position_manager"]
    me = sender.address
    spacing = V3_TICK_SPACING_BY_FEE_PIPS[v3_fee_pips]
    symbols = tokens.by_symbol()
    deposit = 2 * weth_amount * len(symbols)
    sender.send(Call(to=weth, data=abi.WETH_DEPOSIT.encode(), value_wei=deposit, label="wrap"))
    for spender in (router, npm):
        _send(sender, weth, abi.ERC20_APPROVE.encode(spender, MAX_UINT256), "approve WETH")
    pools: list[HostilePool] = []
    for symbol, token in symbols.items():
        _send(sender, token, abi.TEST_ERC20_MINT.encode(me, 2 * token_amount), f"mint {symbol}")
        for spender in (router, npm):
            _send(sender, token, abi.ERC20_APPROVE.encode(spender, MAX_UINT256), "approve")
        t0, t1 = _sorted(token, weth)
        amount0, amount1 = (
            (token_amount, weth_amount) if t0 == token else (weth_amount, token_amount)
        )
        create = abi.V2_FACTORY_CREATE_PAIR.encode(t0, t1)
        _send(sender, v2_factory, create, f"createPair {symbol}", 3_000_000)
        pair_out = _eth_call(sender, v2_factory, abi.V2_FACTORY_GET_PAIR.encode(t0, t1))
        pair = to_checksum_address(abi.V2_FACTORY_GET_PAIR.decode_output(pair_out)[0])
        init = routers.NPM_CREATE_AND_INIT.encode(
            t0, t1, v3_fee_pips, sqrt_price_x96_of(amount1 / amount0)
        )
        _send(sender, npm, init, f"createAndInitialize {symbol}", 6_000_000)
        get_pool = abi.V3_FACTORY_GET_POOL.encode(t0, t1, v3_fee_pips)
        pool_out = _eth_call(sender, v3_factory, get_pool)
        pool = to_checksum_address(abi.V3_FACTORY_GET_POOL.decode_output(pool_out)[0])
        if symbol == "HONEY":
            for address in (pair, pool):
                whitelist = HONEYPOT_SET_WHITELISTED.encode(address, True)
                _send(sender, token, whitelist, "whitelist pool")
        add = routers.R02_ADD_LIQUIDITY.encode(t0, t1, amount0, amount1, 0, 0, me, DEADLINE)
        _send(sender, router, add, f"addLiquidity {symbol}", 3_000_000)
        lower = align_tick(MIN_TICK, spacing)
        upper = align_tick(MAX_TICK, spacing)
        mint = routers.NPM_MINT.encode(
            (t0, t1, v3_fee_pips, lower, upper, amount0, amount1, 0, 0, me, DEADLINE)
        )
        _send(sender, npm, mint, f"mint V3 {symbol}", 1_000_000)
        pools.append(
            HostilePool(
                symbol=symbol,
                token=token,
                address=pair,
                venue=v2_venue,
                kind="v2",
                token0=t0,
                token1=t1,
                fee_pips=3000,
                tick_spacing=0,
            )
        )
        pools.append(
            HostilePool(
                symbol=symbol,
                token=token,
                address=pool,
                venue="uniswap_v3",
                kind="v3",
                token0=t0,
                token1=t1,
                fee_pips=v3_fee_pips,
                tick_spacing=spacing,
            )
        )
    return pools


def spoof_events(
    sender: UnlockedSender,
    spoofer: str,
    *,
    token0: str,
    token1: str,
    fake_pool: str,
    fee_pips: int = 3000,
    tick_spacing: int = 60,
) -> list[dict[str, Any]]:
    """Emit one of each Uniswap-looking event from `spoofer`, all in one block; return receipts."""
    me = sender.address
    price = sqrt_price_x96_of(1.0)
    datas = [
        SPOOF_V2_SYNC.encode(10**24, 1),
        SPOOF_V2_SWAP.encode(me, 10**18, 0, 0, 10**24, me),
        SPOOF_V3_SWAP.encode(me, me, 10**18, -(10**24), price * 1000, 10**20, 138_000),
        SPOOF_V3_MINT.encode(me, me, -tick_spacing, tick_spacing, 10**20, 10**18, 10**18),
        SPOOF_V3_BURN.encode(me, -tick_spacing, tick_spacing, 10**20, 10**18, 10**18),
        SPOOF_PAIR_CREATED.encode(token0, token1, fake_pool, 1),
        SPOOF_POOL_CREATED.encode(token0, token1, fee_pips, tick_spacing, fake_pool),
    ]
    calls = [Call(to=spoofer, data=d, gas_units=100_000, label="spoof") for d in datas]
    return sender.send_blocks(calls)
