"""ArbExecutor access control: only executors execute, only pools call back, only the owner
withdraws; guards, unprofitable plans and stray ETH revert."""

from __future__ import annotations

from typing import Any

import eth_abi
import pytest
from eth_utils import keccak, to_checksum_address

from amm_math.uniswap_v2 import get_amount_out
from chains.arb_executor import (
    Hop,
    Plan,
    deploy_executor,
    execute_calldata,
    fund_executor_weth,
    set_executor,
    verify_executor,
    withdraw_calldata,
)
from chains.artifacts import load_project_artifact
from chains.rpc import RpcResponseError
from chains.snapshot import snapshot_pools
from sim.txs import UnlockedSender, wait_receipt

pytestmark = pytest.mark.integration

INVENTORY_WEI = 10 * 10**18
COINBASE = "0x00000000000000000000000000000000c0ffee02"


def _error(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _revert_data(rpc: Any, sender: str, to: str, data: bytes, value_wei: int = 0) -> bytes:
    """eth_call and return the revert data; fail if the call succeeds."""
    params = {"from": sender, "to": to, "data": "0x" + data.hex(), "value": hex(value_wei)}
    try:
        rpc.call("eth_call", params, "latest")
    except RpcResponseError as exc:
        assert isinstance(exc.data, str), exc
        return bytes.fromhex(exc.data.removeprefix("0x"))
    raise AssertionError("call succeeded but should have reverted")


def _send(rpc: Any, sender: str, to: str, data: bytes, value_wei: int = 0) -> dict[str, Any]:
    params = {
        "from": sender,
        "to": to,
        "data": "0x" + data.hex(),
        "value": hex(value_wei),
        "gas": hex(1_000_000),
        "maxPriorityFeePerGas": "0x0",
    }
    receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", params), timeout_s=10.0)
    assert receipt is not None
    return receipt


def _balance(rpc: Any, token: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": token, "data": "0x" + data.hex()}, "latest"), 16)


@pytest.fixture
def setup(world: Any) -> dict[str, Any]:
    """Deploy an executor owned by account 1, allow account 2, fund it with WETH."""
    rpc = world.rpc
    accounts = rpc.call("eth_accounts")
    owner = UnlockedSender(rpc, accounts[1])
    weth = world.manifest.contracts["weth"]
    executor = deploy_executor(owner, weth)
    set_executor(owner, executor, accounts[2], True)
    fund_executor_weth(owner, weth, executor, INVENTORY_WEI)
    rpc.call("anvil_setCoinbase", COINBASE)
    return {
        "rpc": rpc,
        "owner": accounts[1],
        "bot": accounts[2],
        "stranger": accounts[3],
        "weth": weth,
        "executor": executor,
    }


def _two_v2_hops(world: Any, amount_in: int) -> tuple[Plan, int]:
    """Return an inventory plan WETH -> X -> WETH over two V2 pools and its exact profit."""
    weth = world.manifest.contracts["weth"].lower()
    pools = [
        (i, p)
        for i, p in enumerate(world.manifest.pools)
        if p.kind == "v2" and weth in (p.token0.lower(), p.token1.lower())
    ]
    for i, a in pools:
        other = a.token1 if a.token0.lower() == weth else a.token0
        for j, b in pools:
            if j != i and other.lower() in (b.token0.lower(), b.token1.lower()):
                refs = [
                    (k, p.address, p.kind, p.fee_pips, p.tick_spacing) for k, p in ((i, a), (j, b))
                ]
                snap = snapshot_pools(world.rpc, refs)
                zfo_a = a.token0.lower() == weth
                ra0, ra1 = snap.reserves[i]
                mid = get_amount_out(amount_in, *((ra0, ra1) if zfo_a else (ra1, ra0)), a.fee_pips)
                zfo_b = b.token0.lower() == other.lower()
                rb0, rb1 = snap.reserves[j]
                out = get_amount_out(mid, *((rb0, rb1) if zfo_b else (rb1, rb0)), b.fee_pips)
                hops = (
                    Hop(
                        pool=a.address,
                        zero_for_one=zfo_a,
                        is_v3=False,
                        fee_pips=a.fee_pips,
                        amount_out=mid,
                    ),
                    Hop(
                        pool=b.address,
                        zero_for_one=zfo_b,
                        is_v3=False,
                        fee_pips=b.fee_pips,
                        amount_out=out,
                    ),
                )
                plan = Plan(
                    base_token=to_checksum_address(weth),
                    amount_in=amount_in,
                    min_profit_wei=0,
                    tip_wei=0,
                    flash=False,
                    hops=hops,
                )
                return plan, out - amount_in
    raise AssertionError("the world has no two V2 pools sharing WETH and a token")


def test_verify_executor(setup: dict[str, Any]) -> None:
    assert verify_executor(setup["rpc"], setup["executor"])
    assert not verify_executor(setup["rpc"], setup["weth"])


def test_direct_callbacks_revert(world: Any, setup: dict[str, Any]) -> None:
    rpc, executor = setup["rpc"], setup["executor"]
    v2_call = keccak(text="uniswapV2Call(address,uint256,uint256,bytes)")[:4] + eth_abi.encode(
        ["address", "uint256", "uint256", "bytes"], [executor, 1, 0, b"\x01" * 151]
    )
    v3_call = keccak(text="uniswapV3SwapCallback(int256,int256,bytes)")[:4] + eth_abi.encode(
        ["int256", "int256", "bytes"], [10**18, -1, b""]
    )
    unexpected = _error("UnexpectedCallback()")
    for caller in (setup["bot"], setup["stranger"], setup["owner"]):
        assert _revert_data(rpc, caller, executor, v2_call) == unexpected
        assert _revert_data(rpc, caller, executor, v3_call) == unexpected
    # a real pool calling back outside an execution is refused too
    for pool in world.manifest.pools:
        data = v3_call if pool.kind == "v3" else v2_call
        assert _revert_data(rpc, pool.address, executor, data) == unexpected


def test_only_executor_executes(world: Any, setup: dict[str, Any]) -> None:
    plan, _ = _two_v2_hops(world, 10**16)
    data = execute_calldata(plan)
    for caller in (setup["stranger"], setup["owner"]):
        assert _revert_data(setup["rpc"], caller, setup["executor"], data) == _error(
            "NotExecutor()"
        )
    owner = UnlockedSender(setup["rpc"], setup["owner"])
    set_executor(owner, setup["executor"], setup["bot"], False)
    assert _revert_data(setup["rpc"], setup["bot"], setup["executor"], data) == _error(
        "NotExecutor()"
    )


def test_owner_only_admin(setup: dict[str, Any]) -> None:
    rpc, executor, weth = setup["rpc"], setup["executor"], setup["weth"]
    stranger, bot, owner = setup["stranger"], setup["bot"], setup["owner"]
    not_owner = _error("NotOwner()")
    for caller in (stranger, bot):
        data = withdraw_calldata(weth, caller, 1)
        assert _revert_data(rpc, caller, executor, data) == not_owner
        data = keccak(text="setExecutor(address,bool)")[:4] + eth_abi.encode(
            ["address", "bool"], [caller, True]
        )
        assert _revert_data(rpc, caller, executor, data) == not_owner
        data = keccak(text="transferOwnership(address)")[:4] + eth_abi.encode(["address"], [caller])
        assert _revert_data(rpc, caller, executor, data) == not_owner
    before = _balance(rpc, weth, stranger)
    receipt = _send(rpc, owner, executor, withdraw_calldata(weth, stranger, 3 * 10**18))
    assert int(receipt["status"], 16) == 1
    assert _balance(rpc, weth, stranger) - before == 3 * 10**18
    assert _balance(rpc, weth, executor) == INVENTORY_WEI - 3 * 10**18
    # ETH: accepted from the owner, refused from anyone else, withdrawn by the owner only
    assert int(_send(rpc, owner, executor, b"", value_wei=10**18)["status"], 16) == 1
    assert _revert_data(rpc, stranger, executor, b"", value_wei=1) == _error("EthRejected()")
    zero = "0x" + "00" * 20
    assert _revert_data(rpc, stranger, executor, withdraw_calldata(zero, stranger, 1)) == not_owner
    receipt = _send(rpc, owner, executor, withdraw_calldata(zero, stranger, 10**18))
    assert int(receipt["status"], 16) == 1
    assert int(rpc.call("eth_getBalance", executor, "latest"), 16) == 0


def test_guard_mismatch_reverts(world: Any, setup: dict[str, Any]) -> None:
    rpc = setup["rpc"]
    plan, _ = _two_v2_hops(world, 10**16)
    plan = Plan(**{**_fields(plan), "min_profit_wei": 0})
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    number, parent = int(head["number"], 16) + 1, bytes.fromhex(head["hash"][2:])
    failed = _error("GuardFailed()")
    for guard in ((number + 1, parent), (number - 1, parent), (number, b"\x00" * 32)):
        data = execute_calldata(Plan(**{**_fields(plan), "guard": guard}))
        assert _revert_data(rpc, setup["bot"], setup["executor"], data, 0)[:4] == failed


def test_unprofitable_plan_reverts_without_tip(world: Any, setup: dict[str, Any]) -> None:
    rpc, executor, weth = setup["rpc"], setup["executor"], setup["weth"]
    plan, profit = _two_v2_hops(world, 10**16)
    min_profit = max(profit, 0) + 1
    plan = Plan(**{**_fields(plan), "min_profit_wei": min_profit, "tip_wei": 1})
    data = execute_calldata(plan)
    reverted = _revert_data(rpc, setup["bot"], executor, data)
    assert reverted[:4] == _error("NotProfitable(uint256,uint256)")
    before, after = eth_abi.decode(["uint256", "uint256"], reverted[4:])
    assert (before, after - before) == (INVENTORY_WEI, profit)
    coinbase_before = int(rpc.call("eth_getBalance", COINBASE, "latest"), 16)
    receipt = _send(rpc, setup["bot"], executor, data)
    assert int(receipt["status"], 16) == 0
    assert int(rpc.call("eth_getBalance", COINBASE, "latest"), 16) == coinbase_before
    assert _balance(rpc, weth, executor) == INVENTORY_WEI


def test_malformed_plans_revert(world: Any, setup: dict[str, Any]) -> None:
    plan, _ = _two_v2_hops(world, 10**16)
    good = execute_calldata(plan)
    packed_len = int.from_bytes(good[36:68], "big")
    packed = good[68 : 68 + packed_len]
    bad_plans = [packed[:-1], b"\x02" + packed[1:], packed[:2] + b"\x05" + packed[3:]]
    selector = good[:4]
    for bad in bad_plans:
        data = selector + eth_abi.encode(["bytes"], [bad])
        got = _revert_data(setup["rpc"], setup["bot"], setup["executor"], data)
        assert got == _error("BadPlan()")


def _fields(plan: Plan) -> dict[str, Any]:
    return {name: getattr(plan, name) for name in Plan.__slots__}


def _deploy_fake_pool(rpc: Any, sender: str, token0: str, token1: str) -> str:
    """Deploy the test FakePool (it calls swap callbacks with arguments of its choosing)."""
    artifact = load_project_artifact("FakePool")
    args = eth_abi.encode(
        ["address", "address", "address", "uint24"], [token0, token1, sender, 3000]
    )
    params = {
        "from": sender,
        "data": "0x" + (artifact.bytecode + args).hex(),
        "gas": hex(3_000_000),
    }
    receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", params), timeout_s=10.0)
    assert receipt is not None and int(receipt["status"], 16) == 1
    return to_checksum_address(receipt["contractAddress"])


def test_fake_pool_cannot_call_back_or_extract(world: Any, setup: dict[str, Any]) -> None:
    rpc, executor, weth, stranger = (
        setup["rpc"],
        setup["executor"],
        setup["weth"],
        setup["stranger"],
    )
    plan, _ = _two_v2_hops(world, 10**16)
    first = next(p for p in world.manifest.pools if p.address == plan.hops[0].pool)
    other = first.token1 if first.token0.lower() == weth.lower() else first.token0
    fake = _deploy_fake_pool(rpc, stranger, *sorted((weth, other), key=str.lower))
    unexpected = _error("UnexpectedCallback()")
    v2 = keccak(text="callV2(address,address,uint256,uint256,bytes)")[:4] + eth_abi.encode(
        ["address", "address", "uint256", "uint256", "bytes"], [executor, executor, 1, 0, b"\x01"]
    )
    v3 = keccak(text="callV3(address,int256,int256,bytes)")[:4] + eth_abi.encode(
        ["address", "int256", "int256", "bytes"], [executor, 10**18, 0, b""]
    )
    assert _revert_data(rpc, stranger, fake, v2)[:4] == unexpected
    assert _revert_data(rpc, stranger, fake, v3)[:4] == unexpected
    # named in a plan, the fake pool is called back, asks for the input and pays nothing out
    fake_hop = Hop(
        pool=fake,
        zero_for_one=other.lower() < weth.lower(),
        is_v3=True,
        fee_pips=0,
        amount_out=plan.hops[1].amount_out,
    )
    bad = Plan(**{**_fields(plan), "hops": (plan.hops[0], fake_hop)})
    reverted = _revert_data(rpc, setup["bot"], executor, execute_calldata(bad))
    assert reverted[:4] == _error("InsufficientOutput(uint256,uint256,uint256)")
    assert _balance(rpc, weth, executor) == INVENTORY_WEI
