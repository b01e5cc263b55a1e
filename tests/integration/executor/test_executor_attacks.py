"""ArbExecutor against hostile tokens and a front-running competitor: every attack reverts,
no tip is paid and the executor's balances do not move."""

from __future__ import annotations

from typing import Any

import eth_abi
import pytest
from eth_utils import keccak

from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v3.pool import swap as v3_swap
from chains import abi
from chains import abi_routers as routers
from chains.abi_fn import AbiFunction
from chains.arb_executor import (
    Hop,
    Plan,
    deploy_executor,
    execute_calldata,
    fund_executor_weth,
    set_executor,
)
from chains.rpc import RpcResponseError
from chains.snapshot import snapshot_pools
from sim.hostile import REBASE, HostilePool, create_hostile_pools, deploy_hostile_tokens
from sim.traffic import Traffic, TrafficConfig
from sim.txs import Call, UnlockedSender, decode_revert, wait_receipt
from sim.world_cycles import find_cycles, legs_by_token
from tests.integration.executor.test_executor_exact import _best, _pool_refs

pytestmark = pytest.mark.integration

INVENTORY_WEI = 200 * 10**18
COINBASE = "0x00000000000000000000000000000000c0ffee03"
MAX_UINT256 = 2**256 - 1
DEADLINE = 2**40
LIE_BPS = 5_000
V2_SYNC = AbiFunction("sync()")
_AMOUNTS = [10**15 * 2**k for k in range(16)]
_ERRORS = [
    "NotProfitable(uint256,uint256)",
    "InsufficientOutput(uint256,uint256,uint256)",
    "TransferFailed()",
    "UnexpectedCallback()",
    "BadPlan()",
    "TipFailed()",
    "TransferBlocked(address)",
    "ERC20InsufficientBalance(address,uint256,uint256)",
]
_ERROR_NAMES = {keccak(text=sig)[:4]: sig.split("(")[0] for sig in _ERRORS}


def _balance(rpc: Any, token: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": token, "data": "0x" + data.hex()}, "latest"), 16)


def _eth_balance(rpc: Any, address: str, block: str = "latest") -> int:
    return int(rpc.call("eth_getBalance", address, block), 16)


def _execute_params(bot: str, executor: str, plan: Plan) -> dict[str, Any]:
    """Return execute(plan) transaction params with no priority fee."""
    return {
        "from": bot,
        "to": executor,
        "data": "0x" + execute_calldata(plan).hex(),
        "gas": hex(1_500_000),
        "maxPriorityFeePerGas": "0x0",
    }


def _reason(rpc: Any, params: dict[str, Any], block: str) -> str:
    """Replay a call at `block` and name its revert (custom error or string)."""
    try:
        rpc.call("eth_call", params, block)
    except RpcResponseError as exc:
        data = exc.data
        if not (isinstance(data, str) and data.startswith("0x")):
            return exc.message
        raw = bytes.fromhex(data[2:])
        if raw[:4] in _ERROR_NAMES:
            return _ERROR_NAMES[raw[:4]]
        return decode_revert(raw)
    return "(no revert on replay)"


def _setup_executor(world: Any) -> tuple[UnlockedSender, str, str, str]:
    """Deploy and fund an executor; return (owner, bot, executor, weth)."""
    rpc = world.rpc
    accounts = rpc.call("eth_accounts")
    owner, bot = UnlockedSender(rpc, accounts[1]), accounts[2]
    weth = world.manifest.contracts["weth"]
    executor = deploy_executor(owner, weth)
    set_executor(owner, executor, bot, True)
    fund_executor_weth(owner, weth, executor, INVENTORY_WEI)
    rpc.call("anvil_setCoinbase", COINBASE)
    return owner, bot, executor, weth


def _tx_call(sender: UnlockedSender, to: str, data: bytes, gas: int = 400_000) -> None:
    sender.send(Call(to=to, data=data, gas_units=gas, label=f"call {data[:4].hex()}"))


def _quote_hostile(
    rpc: Any, weth: str, legs: list[HostilePool], amount_in: int, lie_bps: int
) -> tuple[int, ...] | None:
    """Naive exact outputs of WETH -> T -> WETH through `legs`, as if T were honest.

    With lie_bps > 0 the second hop's input is the amount T's Transfer event reports.
    """
    refs = [(i, p.address, p.kind, p.fee_pips, p.tick_spacing) for i, p in enumerate(legs)]
    snap = snapshot_pools(rpc, refs)
    outs: list[int] = []
    amount = amount_in
    token_in = weth
    for i, pool in enumerate(legs):
        zfo = pool.token0.lower() == token_in.lower()
        if pool.kind == "v3":
            state = snap.v3_states[i]
            result = v3_swap(state, zfo, amount)
            paid, got = (
                (result.amount0, -result.amount1) if zfo else (result.amount1, -result.amount0)
            )
            if paid != amount:
                return None
        else:
            r0, r1 = snap.reserves[i]
            r_in, r_out = (r0, r1) if zfo else (r1, r0)
            got = get_amount_out(amount, r_in, r_out, pool.fee_pips)
        if got <= 0:
            return None
        outs.append(got)
        amount = got * (10_000 + lie_bps) // 10_000 if i == 0 else got
        token_in = pool.token1 if zfo else pool.token0
    return tuple(outs)


def _hostile_plan(
    rpc: Any, weth: str, legs: list[HostilePool], flash: bool, lie_bps: int
) -> tuple[Plan, int]:
    """Size the naive cycle for the best predicted profit; return (plan, predicted profit)."""
    best: tuple[int, int, tuple[int, ...]] | None = None
    for amount in _AMOUNTS:
        outs = _quote_hostile(rpc, weth, legs, amount, lie_bps)
        if outs is None:
            continue
        profit = outs[-1] - amount
        if profit > 0 and (best is None or profit > best[0]):
            best = (profit, amount, outs)
    assert best is not None, "the naive math must predict a profit"
    profit, amount_in, outs = best
    token_in = weth
    hops = []
    for pool, out in zip(legs, outs, strict=True):
        zfo = pool.token0.lower() == token_in.lower()
        hops.append(
            Hop(
                pool=pool.address,
                zero_for_one=zfo,
                is_v3=pool.kind == "v3",
                fee_pips=0 if pool.kind == "v3" else pool.fee_pips,
                amount_out=out,
            )
        )
        token_in = pool.token1 if zfo else pool.token0
    plan = Plan(
        base_token=weth,
        amount_in=amount_in,
        min_profit_wei=profit,
        tip_wei=max(profit // 4, 1),
        flash=flash,
        hops=tuple(hops),
    )
    return plan, profit


def _skew_v2(
    owner: UnlockedSender, weth: str, token: str, pair: HostilePool, cheap_token: bool
) -> None:
    """Move the V2 pair's price away from the V3 pool's: donate T (or WETH), then sync."""
    if cheap_token:
        _tx_call(owner, token, abi.TEST_ERC20_MINT.encode(pair.address, 25_000 * 10**18))
    else:
        amount = 25 * 10**18
        owner.send(Call(to=weth, data=abi.WETH_DEPOSIT.encode(), value_wei=amount, label="wrap"))
        _tx_call(owner, weth, abi.ERC20_TRANSFER.encode(pair.address, amount))
    _tx_call(owner, pair.address, V2_SYNC.encode())


_HOSTILE_CASES = [
    (symbol, order, mode)
    for symbol in ("FOT", "REBASE", "HONEY", "LIAR")
    for order in ("v2-v3", "v3-v2")
    for mode in ("inventory", "flash")
    # HONEY v3-v2 is left out: the V3 pool pays HONEY straight into the V2 pair, both pools are
    # whitelisted, the executor never holds HONEY, so that cycle is genuinely profitable
    if not (symbol == "HONEY" and order == "v3-v2")
]
_EXPECTED = {
    # the first revert that fires, per token and order (both modes agree)
    ("FOT", "v2-v3"): {"TransferFailed"},
    ("FOT", "v3-v2"): {"UniswapV2: K"},
    ("REBASE", "v2-v3"): {"UniswapV2: K"},
    ("REBASE", "v3-v2"): {"UniswapV2: INSUFFICIENT_INPUT_AMOUNT", "UniswapV2: K"},
    ("HONEY", "v2-v3"): {"TransferFailed"},
    ("LIAR", "v2-v3"): {"InsufficientOutput"},
    ("LIAR", "v3-v2"): {"UniswapV2: K"},
}


@pytest.mark.parametrize(("symbol", "order", "mode"), _HOSTILE_CASES)
def test_hostile_token_cycle_reverts_without_tip(
    world: Any, symbol: str, order: str, mode: str
) -> None:
    rpc = world.rpc
    _, bot, executor, weth = _setup_executor(world)
    token_owner = UnlockedSender(rpc, world.manifest.deployer)
    tokens = deploy_hostile_tokens(token_owner, fee_bps=300, lie_bps=LIE_BPS)
    pools = create_hostile_pools(token_owner, world.manifest, tokens)
    token = tokens.by_symbol()[symbol]
    pair = next(p for p in pools if p.symbol == symbol and p.kind == "v2")
    v3_pool = next(p for p in pools if p.symbol == symbol and p.kind == "v3")
    # v2-v3 buys T where it is cheap (V2), v3-v2 sells T where it is dear (V2)
    _skew_v2(token_owner, weth, token, pair, cheap_token=order == "v2-v3")
    legs = [pair, v3_pool] if order == "v2-v3" else [v3_pool, pair]
    plan, profit = _hostile_plan(
        rpc, weth, legs, mode == "flash", LIE_BPS if symbol == "LIAR" else 0
    )
    assert profit > 0 and plan.tip_wei > 0
    if symbol == "REBASE":
        _tx_call(token_owner, token, REBASE.encode(1, 2))  # after sizing, before execution

    weth_before = _balance(rpc, weth, executor)
    eth_before = _eth_balance(rpc, executor)
    token_before = _balance(rpc, token, executor)
    coinbase_before = _eth_balance(rpc, COINBASE)
    params = _execute_params(bot, executor, plan)
    receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", params), timeout_s=10.0)
    assert receipt is not None
    block = rpc.call("eth_getBlockByNumber", receipt["blockNumber"], False)
    assert len(block["transactions"]) == 1
    reason = _reason(rpc, params, hex(int(receipt["blockNumber"], 16) - 1))
    print(f"{symbol} {order} {mode}: predicted profit {profit}, reverted with {reason}")

    assert int(receipt["status"], 16) == 0, f"{symbol} {order} {mode} executed: {receipt}"
    assert reason in _EXPECTED[(symbol, order)], reason
    assert _eth_balance(rpc, COINBASE) == coinbase_before  # no tip, no priority fee
    assert _balance(rpc, weth, executor) == weth_before
    assert _eth_balance(rpc, executor) == eth_before
    assert _balance(rpc, token, executor) == token_before


def _find_opportunity(
    world: Any, weth: str, cap: int, first_v3: bool
) -> tuple[tuple[Any, ...], Any]:
    """Run world traffic until a cycle with that first-pool kind, swappable by a router, pays."""
    rpc = world.rpc
    cycles = [
        c
        for c in find_cycles(legs_by_token(world.manifest), weth.lower())
        if c[0].is_v3 == first_v3
        and (not first_v3 or world.manifest.pools[c[0].pool_id].venue == "uniswap_v3")
    ]
    traffic = Traffic(rpc, world.manifest, TrafficConfig(seed=23))
    refs = _pool_refs(world)
    for _ in range(400):
        snap = snapshot_pools(rpc, refs)
        quotes = [(c, q) for c in cycles if (q := _best(snap, c, cap)) is not None]
        if quotes:
            return max(quotes, key=lambda cq: cq[1].profit)
        traffic.step()
    raise AssertionError("no profitable cycle appeared")


def _competitor_call(world: Any, leg: Any, weth: str, amount_in: int, user: str) -> dict[str, Any]:
    """Params of a router swap of `amount_in` WETH through `leg`'s pool, same direction."""
    entry = world.manifest.pools[leg.pool_id]
    if leg.is_v3:
        router = world.manifest.contracts["swap_router"]
        data = routers.SR_EXACT_INPUT_SINGLE.encode(
            (weth, leg.token_out, entry.fee_pips, user, DEADLINE, amount_in, 0, 0)
        )
    else:
        router = world.manifest.contracts[f"{entry.venue}_router02"]
        data = routers.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
            amount_in, 0, [weth, leg.token_out], user, DEADLINE
        )
    return {"from": user, "to": router, "data": "0x" + data.hex(), "gas": hex(800_000)}


@pytest.mark.parametrize("first", ["v2", "v3"])
@pytest.mark.parametrize("mode", ["inventory", "flash"])
def test_competing_swap_first_makes_ours_revert_without_tip(
    world: Any, mode: str, first: str
) -> None:
    rpc = world.rpc
    _, bot, executor, weth = _setup_executor(world)
    cycle, quote = _find_opportunity(world, weth, INVENTORY_WEI, first == "v3")
    tip = max(quote.profit // 4, 1)
    plan = Plan(
        base_token=weth,
        amount_in=quote.amount_in,
        min_profit_wei=quote.profit,
        tip_wei=tip,
        flash=mode == "flash",
        hops=tuple(
            Hop(
                pool=leg.address,
                zero_for_one=leg.zero_for_one,
                is_v3=leg.is_v3,
                fee_pips=0 if leg.is_v3 else leg.fee_pips,
                amount_out=out,
            )
            for leg, out in zip(cycle, quote.outs, strict=True)
        ),
    )
    ours = _execute_params(bot, executor, plan)
    ours["gas"] = hex(8_000_000)  # a swap after the price moved may cross many more ticks
    assert _reason(rpc, ours, "latest") == "(no revert on replay)", "our plan must work alone"

    user = UnlockedSender(rpc, rpc.call("eth_accounts")[3])
    competitor_in = max(quote.amount_in, 10**17)
    user.send(Call(to=weth, data=abi.WETH_DEPOSIT.encode(), value_wei=competitor_in, label="wrap"))
    theirs = _competitor_call(world, cycle[0], weth, competitor_in, user.address)
    _tx_call(user, weth, abi.ERC20_APPROVE.encode(theirs["to"], MAX_UINT256))
    theirs["maxPriorityFeePerGas"] = hex(10**9)

    weth_before = _balance(rpc, weth, executor)
    eth_before = _eth_balance(rpc, executor)
    coinbase_before = _eth_balance(rpc, COINBASE)
    rpc.call("evm_setAutomine", False)
    try:
        their_hash = rpc.call("eth_sendTransaction", theirs)
        our_hash = rpc.call("eth_sendTransaction", ours)
        rpc.call("evm_mine")
    finally:
        rpc.call("evm_setAutomine", True)
    their_receipt = wait_receipt(rpc, their_hash, timeout_s=10.0)
    our_receipt = wait_receipt(rpc, our_hash, timeout_s=10.0)
    assert their_receipt is not None and our_receipt is not None
    assert their_receipt["blockNumber"] == our_receipt["blockNumber"]
    assert int(their_receipt["transactionIndex"], 16) < int(our_receipt["transactionIndex"], 16)
    block = rpc.call("eth_getBlockByNumber", our_receipt["blockNumber"], False)
    assert len(block["transactions"]) == 2
    base_fee = int(block["baseFeePerGas"], 16)

    # ours reverted, so the state after this block is the one it met: the competitor's swap
    reason = _reason(rpc, ours, our_receipt["blockNumber"])
    shape = "-".join("v3" if leg.is_v3 else "v2" for leg in cycle)
    print(f"competitor {mode} {shape}: ours reverted with {reason}")

    assert int(their_receipt["status"], 16) == 1
    assert int(our_receipt["status"], 16) == 0
    expected = {"NotProfitable", "InsufficientOutput", "UniswapV2: K"}
    if mode == "flash" and cycle[0].is_v3:
        # the V3 flash callback runs hops 1.. before hop 0's output is checked, so hop 1 first
        # fails to pay the planned input out of the short hop-0 output
        expected.add("TransferFailed")
    assert reason in expected, reason
    priority = sum(
        (int(r["effectiveGasPrice"], 16) - base_fee) * int(r["gasUsed"], 16)
        for r in (their_receipt, our_receipt)
    )
    our_priority = (int(our_receipt["effectiveGasPrice"], 16) - base_fee) * int(
        our_receipt["gasUsed"], 16
    )
    assert our_priority == 0
    assert _eth_balance(rpc, COINBASE) - coinbase_before == priority  # the competitor's fee only
    assert _balance(rpc, weth, executor) == weth_before
    assert _eth_balance(rpc, executor) == eth_before
