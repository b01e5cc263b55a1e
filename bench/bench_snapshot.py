"""Benchmark: cold-start snapshot of 1,000 V2 pools and of V3 pools with their ticks.

A fresh anvil gets the real UniswapV2Factory, 46 test tokens and 1,000 pairs (every pair of
tokens until 1,000), Multicall3 at its canonical address, and a V3 lab (the real V3 factory)
with one pool per fee tier (tick spacings 1, 10, 60, 200), 25 positions each. Each scenario is
read at one pinned block hash three ways: one `eth_call` per read (the baseline, what a
loop over web3 calls does), one JSON-RPC batch of plain `eth_call`s, and
`chains.snapshot.snapshot_pools` (Multicall3 `aggregate3` inside JSON-RPC batches). Loading
the snapshot into a `graph.state.PoolTable` is timed too.
"""

from __future__ import annotations

import itertools
import random

import eth_abi

from bench import harness
from bench.harness import Report, measure
from chains import abi
from chains.artifacts import load_npm_artifact, load_project_artifact
from chains.rpc import HttpRpc
from chains.snapshot import MULTICALL3_ADDRESS, PoolRef, snapshot_pools
from graph.state import PoolTable
from sim.anvil import AnvilConfig, AnvilProcess
from sim.txs import Call, send_unlocked_blocks
from sim.v3_lab import TICK_SPACING_BY_FEE_PIPS, PositionOp, V3Lab

N_PAIRS = 1_000
N_TOKENS = 46  # 46 * 45 / 2 = 1,035 token pairs
_BLOCK_GAS_UNITS = 900_000_000


def _deploy_pairs(rpc: HttpRpc, n_pairs: int) -> list[PoolRef]:
    """Deploy the V2 factory, test tokens and `n_pairs` pairs; return them as pool refs."""
    me = rpc.call("eth_accounts")[0]
    factory_code = load_npm_artifact("UniswapV2Factory").bytecode + eth_abi.encode(
        ["address"], [me]
    )
    erc20 = load_project_artifact("TestERC20").bytecode
    deploys = [(me, Call(to=None, data=factory_code, gas_units=6_000_000))]
    for i in range(N_TOKENS):
        args = eth_abi.encode(["string", "string", "uint8"], [f"Bench {i}", f"B{i}", 18])
        deploys.append((me, Call(to=None, data=erc20 + args, gas_units=3_000_000)))
    receipts = send_unlocked_blocks(rpc, deploys, block_gas_units=_BLOCK_GAS_UNITS)
    factory = receipts[0]["contractAddress"]
    tokens = [r["contractAddress"] for r in receipts[1:]]
    combos = list(itertools.combinations(tokens, 2))[:n_pairs]
    creates = [
        (me, Call(to=factory, data=abi.V2_FACTORY_CREATE_PAIR.encode(a, b), gas_units=3_000_000))
        for a, b in combos
    ]
    send_unlocked_blocks(rpc, creates, block_gas_units=_BLOCK_GAS_UNITS)
    calls = [
        ("eth_call", [{"to": factory, "data": "0x" + abi.V2_FACTORY_GET_PAIR.encode(a, b).hex()}])
        for a, b in combos
    ]
    pairs = ["0x" + reply[-40:] for reply in rpc.batch(calls)]
    return [PoolRef(i, pair, "v2", 3000, 0) for i, pair in enumerate(pairs)]


def _deploy_v3(rpc: HttpRpc, first_id: int) -> list[PoolRef]:
    """Deploy a V3 lab with one pool per fee tier and 25 random positions in each."""
    lab = V3Lab.deploy(rpc)
    rng = random.Random(7)
    refs = []
    for i, (fee, spacing) in enumerate(sorted(TICK_SPACING_BY_FEE_PIPS.items())):
        pool = lab.create_pool(fee, 2**96)
        ops = []
        for _ in range(25):
            lower = rng.randint(-400, 399) * spacing
            upper = lower + rng.randint(1, 200) * spacing
            ops.append(
                PositionOp(kind="mint", tick_lower=lower, tick_upper=upper, liquidity=10**18)
            )
        lab.modify(pool, ops)
        refs.append(PoolRef(first_id + i, pool, "v3", fee, spacing))
    return refs


def _one_call_per_read(rpc: HttpRpc, pools: list[PoolRef], block_hash: str) -> None:
    """The baseline: one eth_call round trip per pool read (V2 reserves)."""
    data = "0x" + abi.V2_PAIR_GET_RESERVES.encode().hex()
    for pool in pools:
        rpc.call("eth_call", {"to": pool.address, "data": data}, {"blockHash": block_hash})


def run(report: Report) -> None:
    repeats = report.pick(7, 2)
    config = AnvilConfig(gas_limit=1_000_000_000)
    with AnvilProcess.start(config) as node, node.rpc(timeout_s=120.0) as rpc:
        rpc.call(
            "anvil_setCode",
            MULTICALL3_ADDRESS,
            "0x" + load_project_artifact("Multicall3").deployed_bytecode.hex(),
        )
        v2 = _deploy_pairs(rpc, report.pick(N_PAIRS, 200))
        v3 = _deploy_v3(rpc, len(v2))
        block_hash = rpc.call("eth_getBlockByNumber", "latest", False)["hash"]
        n = len(v2)

        report.add(
            f"{n} V2 pools, one eth_call each",
            measure(lambda: _one_call_per_read(rpc, v2, block_hash), repeats=repeats),
            work_per_call=n,
            work_unit="pools",
        )
        report.add(
            f"{n} V2 pools, JSON-RPC batch of eth_calls",
            measure(
                lambda: snapshot_pools(rpc, v2, block_hash, use_multicall=False), repeats=repeats
            ),
            baseline=f"{n} V2 pools, one eth_call each",
            work_per_call=n,
            work_unit="pools",
        )
        report.add(
            f"{n} V2 pools, snapshot_pools (Multicall3)",
            measure(lambda: snapshot_pools(rpc, v2, block_hash), repeats=repeats),
            baseline=f"{n} V2 pools, one eth_call each",
            work_per_call=n,
            work_unit="pools",
        )
        snap = snapshot_pools(rpc, v2, block_hash)
        report.add_value(f"{n} V2 pools, JSON-RPC requests (Multicall3)", snap.requests, "requests")

        plain = snapshot_pools(rpc, v3, block_hash, use_multicall=False)
        report.add(
            "4 V3 pools + ticks, JSON-RPC batch of eth_calls",
            measure(
                lambda: snapshot_pools(rpc, v3, block_hash, use_multicall=False),
                repeats=report.pick(5, 1),
            ),
            note=f"{plain.eth_calls} reads",
        )
        report.add(
            "4 V3 pools + ticks, snapshot_pools (Multicall3)",
            measure(lambda: snapshot_pools(rpc, v3, block_hash), repeats=report.pick(5, 1)),
            baseline="4 V3 pools + ticks, JSON-RPC batch of eth_calls",
        )
        both = snapshot_pools(rpc, v2 + v3, block_hash)
        ticks = sum(len(state.ticks) for state in both.v3_states.values())
        report.add_value("V3 initialized ticks read", ticks, "ticks")

        def load() -> None:
            PoolTable().load_snapshot(both)

        report.add(
            f"load {n + len(v3)} pools into PoolTable",
            measure(load, repeats=repeats),
            work_per_call=n + len(v3),
            work_unit="pools",
        )


if __name__ == "__main__":
    harness.main(run)
