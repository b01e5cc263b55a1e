"""Benchmark: ArbExecutor calldata encoding against eth_abi, and gas per hop against routers.

Encoding: `execute_calldata` (packed plan) against `eth_abi.encode` of the same arguments.
Gas: a 3-hop V2 cycle (one factory, as Router02 needs) and a 2-hop V3 cycle, executed
through a freshly deployed ArbExecutor (flash swap) and the same path through Uniswap's
routers from a user holding WETH (Router02 `swapExactTokensForTokens` for V2, SwapRouter
`exactInput` for V3): what a user without a contract would pay.
"""

from __future__ import annotations

from typing import Any

import eth_abi
from eth_utils import keccak

from bench import harness
from bench.harness import Report, measure
from bot.world_job import default_cache, default_spec
from chains import abi_routers
from chains.arb_executor import (
    Hop,
    Plan,
    deploy_executor,
    execute_calldata,
    set_executor,
)
from chains.snapshot import snapshot_pools
from sim.txs import UnlockedSender, wait_receipt
from sim.world_cache import start_world_node
from sim.world_cycles import find_cycles, legs_by_token, quote_cycle

_DEADLINE = 2**40
_ABI_TYPES = [
    "address",
    "uint128",
    "uint128",
    "uint128",
    "bool",
    "(address,bool,bool,uint24,uint128)[]",
]
_ABI_SELECTOR = keccak(
    text="execute(address,uint128,uint128,uint128,bool,(address,bool,bool,uint24,uint128)[])"
)[:4]


def _sample_plan(hops: int) -> Plan:
    pool = "0x" + "ab" * 20
    return Plan(
        base_token="0x" + "c0" * 20,
        amount_in=10**18,
        min_profit_wei=10**15,
        tip_wei=10**14,
        flash=True,
        hops=tuple(
            Hop(pool=pool, zero_for_one=i % 2 == 0, is_v3=i == 1, fee_pips=3000, amount_out=10**18)
            for i in range(hops)
        ),
    )


def _abi_calldata(plan: Plan) -> bytes:
    hops = [(h.pool, h.zero_for_one, h.is_v3, h.fee_pips, h.amount_out) for h in plan.hops]
    args = [plan.base_token, plan.amount_in, plan.min_profit_wei, plan.tip_wei, plan.flash, hops]
    return _ABI_SELECTOR + eth_abi.encode(_ABI_TYPES, args)


def _send(rpc: Any, params: dict[str, Any], *, check: bool = True) -> int | None:
    """Send and return gasUsed; None for a revert when `check` is off."""
    params = {"gas": hex(1_500_000), **params}
    receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", params), timeout_s=10.0)
    ok = receipt is not None and int(receipt["status"], 16) == 1
    if not ok and check:
        raise RuntimeError(f"transaction reverted: {receipt}")
    return int(receipt["gasUsed"], 16) if ok and receipt is not None else None


def _call(rpc: Any, sender: str, to: str, sig: str, types: list[str], args: list[Any]) -> int:
    data = keccak(text=sig)[:4] + eth_abi.encode(types, args)
    return _send(rpc, {"from": sender, "to": to, "data": "0x" + data.hex()})


def _gas_comparison(report: Report) -> None:
    spec = default_spec()
    node, manifest, _ = start_world_node(spec, default_cache(spec))
    with node, node.rpc() as rpc:
        accounts = rpc.call("eth_accounts")
        owner, bot, user = accounts[1], accounts[2], accounts[4]
        weth = manifest.contracts["weth"]
        executor = deploy_executor(UnlockedSender(rpc, owner), weth)
        set_executor(UnlockedSender(rpc, owner), executor, bot, True)
        _send(
            rpc,
            {
                "from": user,
                "to": weth,
                "data": "0x" + keccak(text="deposit()")[:4].hex(),
                "value": hex(1000 * 10**18),
            },
        )
        for router in ("uniswap_v2_router02", "swap_router"):
            _call(
                rpc,
                user,
                weth,
                "approve(address,uint256)",
                ["address", "uint256"],
                [manifest.contracts[router], 2**256 - 1],
            )
        cycles = find_cycles(legs_by_token(manifest), weth.lower())
        venue = {p.address: p.venue for p in manifest.pools}
        wanted = {
            "v2": [
                c
                for c in cycles
                if len(c) == 3
                and all(not leg.is_v3 and venue[leg.address] == "uniswap_v2" for leg in c)
            ],
            "v3": [c for c in cycles if len(c) == 2 and all(leg.is_v3 for leg in c)],
        }
        pools = {p.address: p for p in manifest.pools}
        for kind, options in wanted.items():
            for cycle in options:
                gas = _one_cycle(rpc, manifest, cycle, pools, user, bot, executor)
                if gas is None:
                    continue
                exec_gas, router_gas = gas
                hops = len(cycle)
                report.add_value(
                    f"{kind} {hops}-hop, ArbExecutor gas per hop", exec_gas / hops, "gas"
                )
                report.add_value(f"{kind} {hops}-hop, router gas per hop", router_gas / hops, "gas")
                report.add_value(
                    f"{kind} {hops}-hop, executor / router", exec_gas / router_gas, "x"
                )
                break


def _one_cycle(
    rpc: Any, manifest: Any, cycle: Any, pools: Any, user: str, bot: str, executor: str
) -> tuple[int, int] | None:
    """Dislocate the cycle's last pool, then return (executor gas, router gas) of the cycle."""
    weth = manifest.contracts["weth"]
    last, token_x = pools[cycle[-1].address], cycle[-2].token_out
    push = _weth_balance(rpc, weth, last.address) // 5
    if last.kind == "v2":
        data = abi_routers.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
            push, 0, [weth, token_x], user, _DEADLINE
        )
        _send(
            rpc,
            {
                "from": user,
                "to": manifest.contracts["uniswap_v2_router02"],
                "data": "0x" + data.hex(),
            },
        )
    else:
        params = (weth, token_x, last.fee_pips, user, _DEADLINE, push, 0, 0)
        data = abi_routers.SR_EXACT_INPUT_SINGLE.encode(params)
        _send(
            rpc, {"from": user, "to": manifest.contracts["swap_router"], "data": "0x" + data.hex()}
        )
    refs = [
        (i, p.address, p.kind, p.fee_pips, p.tick_spacing) for i, p in enumerate(manifest.pools)
    ]
    snap = snapshot_pools(rpc, refs)
    amount = 10**16
    q = quote_cycle(snap, cycle, amount)
    if q is None or q.profit <= 0:
        return None
    outs = q.outs
    tokens = [weth] + [leg.token_out for leg in cycle]
    if not cycle[0].is_v3:
        data = abi_routers.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
            amount, 0, tokens, user, _DEADLINE
        )
        to = manifest.contracts["uniswap_v2_router02"]
    else:
        path = abi_routers.encode_v3_path(tokens, [pools[leg.address].fee_pips for leg in cycle])
        data = abi_routers.SR_EXACT_INPUT.encode((path, user, _DEADLINE, amount, 0))
        to = manifest.contracts["swap_router"]
    snapshot_id = rpc.call("evm_snapshot")
    router_gas = _send(rpc, {"from": user, "to": to, "data": "0x" + data.hex()})
    rpc.call("evm_revert", snapshot_id)
    plan = Plan(
        base_token=weth,
        amount_in=amount,
        min_profit_wei=outs[-1] - amount,
        tip_wei=0,
        flash=True,
        hops=tuple(
            Hop(
                pool=leg.address,
                zero_for_one=leg.zero_for_one,
                is_v3=leg.is_v3,
                fee_pips=0 if leg.is_v3 else leg.fee_pips,
                amount_out=got,
            )
            for leg, got in zip(cycle, outs, strict=True)
        ),
    )
    exec_gas = _send(
        rpc,
        {"from": bot, "to": executor, "data": "0x" + execute_calldata(plan).hex()},
        check=False,
    )
    if exec_gas is None or router_gas is None:
        return None
    return exec_gas, router_gas


def _weth_balance(rpc: Any, weth: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": weth, "data": "0x" + data.hex()}, "latest"), 16)


def run(report: Report) -> None:
    repeats = report.pick(15, 3)
    for hops in (2, 3):
        plan = _sample_plan(hops)
        report.add(
            f"{hops}-hop plan, eth_abi.encode",
            measure(lambda p=plan: _abi_calldata(p), repeats=repeats, inner=2000),
        )
        report.add(
            f"{hops}-hop plan, execute_calldata",
            measure(lambda p=plan: execute_calldata(p), repeats=repeats, inner=2000),
            baseline=f"{hops}-hop plan, eth_abi.encode",
        )
    _gas_comparison(report)


if __name__ == "__main__":
    harness.main(run)
