"""ArbExecutor on the world: profitable cycles execute to the wei that exact math predicts."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import eth_abi
import pytest
from eth_utils import keccak

from chains.arb_executor import (
    Hop,
    Plan,
    decode_executed_profit,
    deploy_executor,
    execute_calldata,
    fund_executor_weth,
    set_executor,
    verify_executor,
)
from chains.rpc import RpcResponseError
from chains.snapshot import PoolSnapshot, snapshot_pools
from sim.traffic import Traffic, TrafficConfig
from sim.txs import UnlockedSender, wait_receipt
from sim.world_cycles import CycleQuote, Leg, find_cycles, legs_by_token, quote_cycle

pytestmark = pytest.mark.integration

TARGET_CYCLES = 200
MAX_ROUNDS = 900
INVENTORY_WEI = 500 * 10**18
COINBASE = "0x00000000000000000000000000000000c0ffee01"
_AMOUNTS = [10**15 * 2**k for k in range(18)]  # 0.001 .. ~131 WETH


def _best(snap: PoolSnapshot, cycle: tuple[Leg, ...], cap_wei: int) -> CycleQuote | None:
    """Size the input by a doubling scan and a short integer ternary refinement."""
    best: CycleQuote | None = None
    for amount in _AMOUNTS:
        if amount > cap_wei:
            break
        q = quote_cycle(snap, cycle, amount)
        if q is None or q.profit <= 0:
            if best is not None:
                break
            if q is not None and amount == _AMOUNTS[0]:
                return None  # unprofitable at the margin: larger sizes only lose more
            continue
        if best is None or q.profit > best.profit:
            best = q
        else:
            break
    if best is None:
        return None
    lo, hi = best.amount_in // 2, min(best.amount_in * 2, cap_wei)
    for _ in range(12):
        m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        q1, q2 = quote_cycle(snap, cycle, m1), quote_cycle(snap, cycle, m2)
        p1 = q1.profit if q1 is not None else -1
        p2 = q2.profit if q2 is not None else -1
        for q in (q1, q2):
            if q is not None and q.profit > best.profit:
                best = q
        if p1 < p2:
            lo = m1
        else:
            hi = m2
    return best


def _balance(rpc: Any, token: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": token, "data": "0x" + data.hex()}, "latest"), 16)


def _eth_balance(rpc: Any, address: str) -> int:
    return int(rpc.call("eth_getBalance", address, "latest"), 16)


def _pool_refs(world: Any) -> list[tuple[int, str, str, int, int]]:
    return [
        (i, p.address, p.kind, p.fee_pips, p.tick_spacing)
        for i, p in enumerate(world.manifest.pools)
    ]


def _send_execute(world: Any, sender: str, executor: str, plan: Plan) -> dict[str, Any]:
    """Send execute(plan) with no priority fee, so the coinbase only gains the tip."""
    params = {
        "from": sender,
        "to": executor,
        "data": "0x" + execute_calldata(plan).hex(),
        "gas": hex(1_500_000),
        "maxPriorityFeePerGas": "0x0",
    }
    tx_hash = world.rpc.call("eth_sendTransaction", params)
    receipt = wait_receipt(world.rpc, tx_hash, timeout_s=10.0)
    assert receipt is not None
    if int(receipt["status"], 16) != 1:
        block = hex(int(receipt["blockNumber"], 16) - 1)
        try:
            world.rpc.call("eth_call", params, block)
        except RpcResponseError as exc:
            raise AssertionError(f"execute reverted: {exc.message} {exc.data}") from exc
        raise AssertionError(f"execute reverted: {receipt}")
    return receipt


def test_random_cycles_execute_exactly(world: Any) -> None:
    rpc = world.rpc
    accounts = rpc.call("eth_accounts")
    owner, bot = UnlockedSender(rpc, accounts[1]), accounts[2]
    weth = world.manifest.contracts["weth"]
    executor = deploy_executor(owner, weth)
    assert verify_executor(rpc, executor)
    set_executor(owner, executor, bot, True)
    fund_executor_weth(owner, weth, executor, INVENTORY_WEI)
    rpc.call("anvil_setCoinbase", COINBASE)

    cycles = find_cycles(legs_by_token(world.manifest), weth.lower())
    traffic = Traffic(rpc, world.manifest, TrafficConfig(seed=7))
    rng = random.Random(11)
    refs = _pool_refs(world)
    counts: Counter[str] = Counter()
    gas_used: list[int] = []
    gas_by: dict[str, list[int]] = {}
    executed = 0
    for round_ in range(MAX_ROUNDS):
        if executed >= TARGET_CYCLES:
            break
        if round_ % 2 == 1:
            traffic.step()
        snap = snapshot_pools(rpc, refs)
        flash = executed % 2 == 0
        cap = 10**24 if flash else _balance(rpc, weth, executor)
        quotes = [(c, q) for c in cycles if (q := _best(snap, c, cap)) is not None]
        if not quotes:
            continue
        # favour the shape executed least so far, so 2/3 hops and V2/V3 mixes all get covered
        shapes = {c: _shape(c) for c, _ in quotes}
        fewest = min(counts[s] for s in shapes.values())
        pool = [(c, q) for c, q in quotes if counts[shapes[c]] == fewest]
        cycle, quote = rng.choice(pool)
        tip = quote.profit // 4 if rng.random() < 0.75 else 0
        head = rpc.call("eth_getBlockByNumber", "latest", False)
        guard = (int(head["number"], 16) + 1, bytes.fromhex(head["hash"][2:]))
        plan = Plan(
            base_token=weth,
            amount_in=quote.amount_in,
            min_profit_wei=quote.profit,
            tip_wei=tip,
            flash=flash,
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
            guard=guard if rng.random() < 0.5 else None,
        )
        weth_before = _balance(rpc, weth, executor)
        coinbase_before = _eth_balance(rpc, COINBASE)
        receipt = _send_execute(world, bot, executor, plan)
        assert _balance(rpc, weth, executor) - weth_before == quote.profit - tip
        assert _eth_balance(rpc, COINBASE) - coinbase_before == tip
        assert decode_executed_profit(receipt, executor) == (quote.profit, tip)
        after = snapshot_pools(rpc, refs)
        for pool_id, reserves in quote.reserves.items():
            assert after.reserves[pool_id] == reserves
        for pool_id, state in quote.v3_states.items():
            got = after.v3_states[pool_id]
            assert (got.sqrt_price_x96, got.tick, got.liquidity) == (
                state.sqrt_price_x96,
                state.tick,
                state.liquidity,
            )
        counts[shapes[cycle]] += 1
        counts["flash" if flash else "inventory"] += 1
        counts["guarded" if plan.guard is not None else "unguarded"] += 1
        gas_used.append(int(receipt["gasUsed"], 16))
        mode_shape = f"{'flash' if flash else 'inventory'}/{shapes[cycle]}"
        gas_by.setdefault(mode_shape, []).append(gas_used[-1])
        executed += 1
    print(f"executed {executed} cycles: {dict(counts)}")
    if gas_used:
        print(f"gas per execution: min {min(gas_used)} max {max(gas_used)}")
        print(f"mean {sum(gas_used) // len(gas_used)}")
        for key, gases in sorted(gas_by.items()):
            print(f"  {key}: n={len(gases)} mean gas {sum(gases) // len(gases)}")
    assert executed >= TARGET_CYCLES, dict(counts)


def _shape(cycle: tuple[Leg, ...]) -> str:
    """Name a cycle's shape, e.g. '3hop:v2-v3-v2'."""
    kinds = "-".join("v3" if leg.is_v3 else "v2" for leg in cycle)
    return f"{len(cycle)}hop:{kinds}"
