"""Hostile tokens, pools, fake pools and spoofed events on the local world."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from chains import abi
from chains import abi_routers as routers
from chains.abi_fn import AbiFunction
from chains.config import configs_dir, load_chain_config
from chains.decode import decode_logs_json
from chains.feeds import pool_index_of
from chains.records import Kind
from chains.registry import Registry, registry_from_manifest
from sim.hostile import (
    FAKE_POOL_CALL_V2,
    FAKE_POOL_CALL_V3,
    REBASE,
    HostilePool,
    HostileTokens,
    create_hostile_pools,
    deploy_event_spoofer,
    deploy_fake_pool,
    deploy_hostile_tokens,
    spoof_events,
)
from sim.txs import Call, TxReverted, UnlockedSender, hex_int
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration

MAX_UINT256 = 2**256 - 1
DEADLINE = 2**40
CALLBACKS_RECEIVED = AbiFunction("callbacksReceived()", "(uint256)")
FAKE_TOKEN0 = AbiFunction("token0()", "(address)")
V3_POOL_FACTORY = AbiFunction("factory()", "(address)")
V3_POOL_LIQUIDITY = AbiFunction("liquidity()", "(uint128)")
FAKE_POOL_ATTACK = AbiFunction("attack(address,bytes)", "(bytes)")
FAKE_POOL_V2_SWAP = AbiFunction("swap(uint256,uint256,address,bytes)")
FAKE_POOL_V3_SWAP = AbiFunction("swap(address,bool,int256,uint160,bytes)", "(int256,int256)")
GET_AMOUNTS_OUT = AbiFunction("getAmountsOut(uint256,address[])", "(uint256[])")


def _view(world: WorldNode, to: str, fn: AbiFunction, *args: Any) -> tuple[Any, ...]:
    out = world.rpc.call("eth_call", {"to": to, "data": "0x" + fn.encode(*args).hex()}, "latest")
    return fn.decode_output(bytes.fromhex(out[2:]))


def _balance(world: WorldNode, token: str, holder: str) -> int:
    return int(_view(world, token, abi.ERC20_BALANCE_OF, holder)[0])


def _send(sender: UnlockedSender, to: str, data: bytes, gas: int = 400_000) -> dict[str, Any]:
    return sender.send(Call(to=to, data=data, gas_units=gas, label=f"call {data[:4].hex()}"))


def _transfer_values(receipt: dict[str, Any], token: str) -> list[tuple[str, str, int]]:
    """Return (from, to, value) of every Transfer event `token` emitted in the receipt."""
    found = []
    for log in receipt["logs"]:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if log["address"].lower() != token.lower() or topics[0] != abi.ERC20_TRANSFER_EVENT.topic0:
            continue
        source, dest, value = abi.ERC20_TRANSFER_EVENT.decode(
            topics, bytes.fromhex(log["data"][2:])
        )
        found.append((source.lower(), dest.lower(), int(value)))
    return found


def _accounts(world: WorldNode) -> tuple[UnlockedSender, UnlockedSender, UnlockedSender]:
    accounts = world.rpc.call("eth_accounts")
    owner = UnlockedSender(world.rpc, world.manifest.deployer)
    return owner, UnlockedSender(world.rpc, accounts[1]), UnlockedSender(world.rpc, accounts[2])


def _registry(world: WorldNode) -> Registry:
    chain = load_chain_config(configs_dir() / "chains" / "local.toml")
    return registry_from_manifest(chain, world.manifest)


def _deploy(world: WorldNode) -> tuple[UnlockedSender, HostileTokens]:
    owner = _accounts(world)[0]
    return owner, deploy_hostile_tokens(owner, fee_bps=300, lie_bps=5_000)


def test_fee_on_transfer_token_delivers_less(world: WorldNode) -> None:
    owner, alice, bob = _accounts(world)
    tokens = deploy_hostile_tokens(owner, fee_bps=300)
    token = tokens.fee_on_transfer
    _send(owner, token, abi.TEST_ERC20_MINT.encode(alice.address, 10_000))

    receipt = _send(alice, token, abi.ERC20_TRANSFER.encode(bob.address, 1_000))

    assert _balance(world, token, bob.address) == 970
    assert _balance(world, token, alice.address) == 9_000
    zero = "0x" + "00" * 20
    assert _transfer_values(receipt, token) == [
        (alice.address.lower(), bob.address.lower(), 970),
        (alice.address.lower(), zero, 30),
    ]


def test_rebasing_token_changes_balances_without_transfers(world: WorldNode) -> None:
    owner, alice, _ = _accounts(world)
    token = deploy_hostile_tokens(owner).rebasing
    _send(owner, token, abi.TEST_ERC20_MINT.encode(alice.address, 1_000))

    receipt = _send(owner, token, REBASE.encode(1, 2))

    assert _transfer_values(receipt, token) == []
    assert _balance(world, token, alice.address) == 500
    _send(owner, token, REBASE.encode(3, 1))
    assert _balance(world, token, alice.address) == 3_000


def test_honeypot_blocks_every_holder_but_the_owner(world: WorldNode) -> None:
    owner, alice, bob = _accounts(world)
    token = deploy_hostile_tokens(owner).honeypot
    _send(owner, token, abi.TEST_ERC20_MINT.encode(owner.address, 1_000))
    _send(owner, token, abi.ERC20_TRANSFER.encode(alice.address, 400))
    assert _balance(world, token, alice.address) == 400

    with pytest.raises(TxReverted):
        _send(alice, token, abi.ERC20_TRANSFER.encode(bob.address, 1))
    assert _balance(world, token, bob.address) == 0


def test_lying_token_events_overstate_the_balance_change(world: WorldNode) -> None:
    owner, alice, bob = _accounts(world)
    token = deploy_hostile_tokens(owner, lie_bps=5_000).lying
    _send(owner, token, abi.TEST_ERC20_MINT.encode(alice.address, 10_000))

    receipt = _send(alice, token, abi.ERC20_TRANSFER.encode(bob.address, 1_000))

    assert _balance(world, token, bob.address) == 1_000
    assert _balance(world, token, alice.address) == 9_000
    assert _transfer_values(receipt, token) == [(alice.address.lower(), bob.address.lower(), 1_500)]


def _pools(world: WorldNode) -> tuple[UnlockedSender, HostileTokens, list[HostilePool]]:
    owner, tokens = _deploy(world)
    return owner, tokens, create_hostile_pools(owner, world.manifest, tokens)


def test_hostile_pools_are_real_pools_with_liquidity(world: WorldNode) -> None:
    _, tokens, pools = _pools(world)
    registry = _registry(world)
    weth = world.manifest.contracts["weth"]
    v3_factory = world.manifest.contracts["uniswap_v3_factory"]

    assert sorted((p.symbol, p.kind) for p in pools) == sorted(
        (s, k) for s in tokens.by_symbol() for k in ("v2", "v3")
    )
    for pool in pools:
        assert {pool.token0, pool.token1} == {pool.token, weth}
        proven = registry.prove(pool.venue, pool.token0, pool.token1, pool.fee_pips)
        assert proven == pool.address
        if pool.kind == "v2":
            reserve0, reserve1, _ = _view(world, pool.address, abi.V2_PAIR_GET_RESERVES)
            assert reserve0 > 0 and reserve1 > 0
        else:
            assert _view(world, pool.address, V3_POOL_FACTORY)[0].lower() == v3_factory.lower()
            assert _view(world, pool.address, V3_POOL_LIQUIDITY)[0] > 0


def test_rebase_leaves_a_pool_below_its_reserves(world: WorldNode) -> None:
    owner, tokens, pools = _pools(world)
    pair = next(p for p in pools if p.symbol == "REBASE" and p.kind == "v2")
    reserves = _view(world, pair.address, abi.V2_PAIR_GET_RESERVES)
    reserve = reserves[0] if pair.token0 == tokens.rebasing else reserves[1]
    assert _balance(world, tokens.rebasing, pair.address) == reserve

    _send(owner, tokens.rebasing, REBASE.encode(1, 2))

    assert _balance(world, tokens.rebasing, pair.address) == reserve // 2
    assert _view(world, pair.address, abi.V2_PAIR_GET_RESERVES) == reserves


def test_honeypot_pool_sells_but_never_buys_back(world: WorldNode) -> None:
    _, tokens, _ = _pools(world)
    _, alice, _ = _accounts(world)
    weth = world.manifest.contracts["weth"]
    router = world.manifest.contracts["uniswap_v2_router02"]
    alice.send(Call(to=weth, data=abi.WETH_DEPOSIT.encode(), value_wei=10**18, label="wrap"))
    _send(alice, weth, abi.ERC20_APPROVE.encode(router, MAX_UINT256))
    _send(alice, tokens.honeypot, abi.ERC20_APPROVE.encode(router, MAX_UINT256))
    buy = routers.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
        10**17, 0, [weth, tokens.honeypot], alice.address, DEADLINE
    )

    _send(alice, router, buy, 500_000)
    bought = _balance(world, tokens.honeypot, alice.address)
    assert bought > 0
    sell = routers.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
        bought, 0, [tokens.honeypot, weth], alice.address, DEADLINE
    )
    with pytest.raises(TxReverted):
        _send(alice, router, sell, 500_000)
    assert _balance(world, tokens.honeypot, alice.address) == bought


def test_spoofed_events_are_ignored_by_decoder_and_registry(world: WorldNode) -> None:
    owner, alice, _ = _accounts(world)
    registry = _registry(world)
    weth = world.manifest.contracts["weth"]
    token = world.manifest.tokens[1].address
    spoofer = deploy_event_spoofer(owner)
    fake = deploy_fake_pool(owner, *sorted([weth, token], key=lambda a: int(a, 16)))
    t0, t1 = sorted([weth, token], key=lambda a: int(a, 16))

    receipts = spoof_events(alice, spoofer, token0=t0, token1=t1, fake_pool=fake)

    blocks = {r["blockHash"] for r in receipts}
    assert len(blocks) == 1
    logs = world.rpc.call("eth_getLogs", {"blockHash": blocks.pop()})
    assert len(logs) == 7 and all(log["address"].lower() == spoofer.lower() for log in logs)
    topic0s = {log["topics"][0] for log in logs}
    for event in (abi.V2_SYNC, abi.V2_SWAP, abi.V3_SWAP, abi.V3_MINT, abi.V3_BURN):
        assert "0x" + event.topic0.hex() in topic0s
    assert "0x" + abi.V2_PAIR_CREATED.topic0.hex() in topic0s
    assert "0x" + abi.V3_POOL_CREATED.topic0.hex() in topic0s
    raw = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": logs})
    result = decode_logs_json(raw, pool_index_of(registry), recv_ns=0)
    assert len(result.records) == 0
    assert result.counts_by_reason() == {"unknown_address": 7}
    block = hex_int(receipts[0]["blockNumber"])
    n_pools = len(registry)
    assert registry.on_created(Kind.PAIR_CREATED, spoofer, t0, t1, None, 0, fake, block) is None
    assert registry.on_created(Kind.POOL_CREATED, spoofer, t0, t1, 3000, 60, fake, block) is None
    assert len(registry) == n_pools and registry.by_address(fake) is None


def test_fake_pool_calls_callbacks_with_chosen_arguments(world: WorldNode) -> None:
    owner, alice, _ = _accounts(world)
    weth = world.manifest.contracts["weth"]
    token = world.manifest.tokens[1].address
    fake = deploy_fake_pool(alice, weth, token)
    target = deploy_fake_pool(owner, weth, token)
    assert _view(world, fake, FAKE_TOKEN0)[0].lower() == weth.lower()
    assert _view(world, fake, abi.V2_PAIR_GET_RESERVES)[0] > 0

    receipt = _send(alice, fake, FAKE_POOL_CALL_V2.encode(target, alice.address, 10**18, 0, b"x"))
    _send(alice, fake, FAKE_POOL_CALL_V3.encode(target, 10**18, -(10**18), b""))

    assert _view(world, target, CALLBACKS_RECEIVED)[0] == 2
    v3_swap = FAKE_POOL_V3_SWAP.encode(alice.address, True, 10**18, 0, b"")
    _send(owner, target, FAKE_POOL_ATTACK.encode(fake, v3_swap))  # target swaps on the fake
    v2_swap = FAKE_POOL_V2_SWAP.encode(0, 10**18, target, b"flash")
    _send(alice, fake, v2_swap)
    assert _view(world, target, CALLBACKS_RECEIVED)[0] == 4
    received = [log for log in receipt["logs"] if log["address"].lower() == target.lower()]
    assert len(received) == 1
    with pytest.raises(TxReverted):  # a contract without the callback reverts the call
        _send(alice, fake, FAKE_POOL_CALL_V2.encode(token, alice.address, 1, 0, b""))
    with pytest.raises(TxReverted):  # so does an address without code
        _send(alice, fake, FAKE_POOL_CALL_V3.encode(alice.address, 1, 0, b""))


def test_fee_on_transfer_pools_pay_less_than_quoted_and_v3_refuses_it(world: WorldNode) -> None:
    _, tokens, _ = _pools(world)
    _, alice, _ = _accounts(world)
    weth = world.manifest.contracts["weth"]
    router = world.manifest.contracts["uniswap_v2_router02"]
    swap_router = world.manifest.contracts["swap_router"]
    fot = tokens.fee_on_transfer
    alice.send(Call(to=weth, data=abi.WETH_DEPOSIT.encode(), value_wei=10**18, label="wrap"))
    for spender in (router, swap_router):
        _send(alice, weth, abi.ERC20_APPROVE.encode(spender, MAX_UINT256))
        _send(alice, fot, abi.ERC20_APPROVE.encode(spender, MAX_UINT256))
    path = [weth, fot]
    quoted = _view(world, router, GET_AMOUNTS_OUT, 10**17, path)[0][-1]

    buy = routers.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(10**17, 0, path, alice.address, DEADLINE)
    _send(alice, router, buy, 500_000)

    got = _balance(world, fot, alice.address)
    assert got == quoted - quoted * 300 // 10_000
    sell = routers.SR_EXACT_INPUT_SINGLE.encode(
        (fot, weth, 3000, alice.address, DEADLINE, got, 0, 0)
    )
    with pytest.raises(TxReverted, match="IIA"):  # the V3 pool sees less than it asked for
        _send(alice, swap_router, sell, 800_000)
