"""The baseline pipeline, built the ordinary way, on the same world and the same kind of blocks.

- receive: web3.py v8 `AsyncWeb3` with `WebSocketProvider`, `eth.subscribe("logs", ...)` on
  the V2 pools' Sync events and `eth.subscribe("newHeads")`, read with
  `socket.process_subscriptions()`;
- decode: `contract.events.Sync().process_log(log)`;
- search: a networkx `DiGraph` of tokens, one edge per direction (the best pool's rate),
  weighted by -log(rate after fee), updated per log, `nx.find_negative_cycle` from WETH;
- amounts: plain Python Uniswap V2 formulas, the input found by ternary search on the
  profit;
- signing: eth-account `Account.sign_transaction`.

Steps outside the comparison run the same code as ours: the risk gate, the audit log, the calldata
encoder, eth_callBundle at the local builder and the handoff (`bench.e2e_exec`). It searches
the V2 pools only (plain formulas have no V3 tick math), less work than ours does.

A sample starts when the first websocket frame of its block leaves web3's socket reader
(`socket_recv`, stamped by a subclass of the provider) and stops at the handoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
from eth_account import Account
from web3 import AsyncWeb3, WebSocketProvider

from bench.e2e_baseline_search import Market, Pool, price_cycle, weth_cycle
from bench.e2e_exec import ExecutorRig, TimedExecutor, build_executor, drop_after_handoff
from bench.e2e_world import WorldInfo, WorldProcess
from bot.executor import FeeQuote
from bot.executor_plan import plan_of
from bot.tx_sign import Eip1559Tx, SignedTx, TxSigner
from chains import abi
from chains.arb_executor import execute_calldata
from chains.registry import PoolInfo
from graph.actions import Candidate
from graph.gas import next_base_fee

__all__ = ["BASELINE_STAGES", "BaselineOpportunity", "run_baseline"]

_SYNC_ABI = [
    {
        "anonymous": False,
        "inputs": [
            {"indexed": False, "name": "reserve0", "type": "uint112"},
            {"indexed": False, "name": "reserve1", "type": "uint112"},
        ],
        "name": "Sync",
        "type": "event",
    }
]
_PRIORITY_FEE_WEI = 10**9
_BLOCK_WAIT_S = 10.0

BASELINE_STAGES = (
    "first frame -> log frame",
    "queued behind earlier logs",
    "web3 process_log",
    "graph update",
    "nx.find_negative_cycle",
    "amounts (python V2 formulas)",
    "risk",
    "audit verdict",
    "calldata + sign",
    "audit intent",
    "simulate",
    "other",
)


@dataclass(frozen=True, slots=True)
class BaselineOpportunity:
    """One opportunity the baseline carried to the relay."""

    block_number: int
    latency_ns: int
    stages_ns: dict[str, int]


class _StampedProvider(WebSocketProvider):
    """web3's websocket provider, with each subscription message stamped as it is read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: dict[str, deque[int]] = {}

    async def socket_recv(self) -> Any:
        raw = await self._ws.recv()
        recv_ns = time.monotonic_ns()
        message = json.loads(raw)
        if isinstance(message, dict) and message.get("method") == "eth_subscription":
            sub = message["params"]["subscription"]
            self.arrivals.setdefault(sub, deque()).append(recv_ns)
        return message


class EthAccountExecutor(TimedExecutor):
    """The executor: the same plan and calldata, the transaction signed by eth-account."""

    account_key: bytes
    executor_address: str
    weth_address: str
    chain_id: int

    def build(
        self, candidate: Candidate, *, nonce: int, fees: FeeQuote, parent_hash: bytes | None
    ) -> tuple[Eip1559Tx, SignedTx]:
        start = time.perf_counter_ns()
        assert parent_hash is not None
        # the baseline's cycles start and end at WETH: the contract pays the tip
        plan = plan_of(
            candidate,
            weth=self.weth_address,
            guard=(candidate.target_block, parent_hash),
            tip_as_priority_fee=False,
        )
        tx = Eip1559Tx(
            chain_id=self.chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=fees.priority_fee_wei,
            max_fee_per_gas=fees.max_fee_per_gas(),
            gas=self.gas_limit(candidate),
            to=self.executor_address,
            value=0,
            data=execute_calldata(plan),
        )
        signed = Account.sign_transaction(
            {
                "type": 2,
                "chainId": tx.chain_id,
                "nonce": tx.nonce,
                "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
                "maxFeePerGas": tx.max_fee_per_gas,
                "gas": tx.gas,
                "to": AsyncWeb3.to_checksum_address(tx.to),
                "value": 0,
                "data": tx.data,
                "accessList": [],
            },
            self.account_key,
        )
        out = SignedTx(raw=bytes(signed.raw_transaction), tx_hash=bytes(signed.hash), nonce=nonce)
        self.clock.add("calldata + sign", time.perf_counter_ns() - start)
        return tx, out


@dataclass(slots=True)
class _State:
    market: Market
    weth: str
    base_fee_next_wei: int = 0
    head_number: int = -1
    head_hash: bytes = b""
    first_frame: dict[int, int] = field(default_factory=dict)
    syncs_seen: dict[int, int] = field(default_factory=dict)
    submitted: set[int] = field(default_factory=set)
    opportunities: list[BaselineOpportunity] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    record: bool = False
    progress: asyncio.Event = field(default_factory=asyncio.Event)


async def run_baseline(
    world: WorldProcess,
    info: WorldInfo,
    *,
    opportunities: int,
    warmup_blocks: int,
    max_blocks: int,
    workdir: Path,
) -> tuple[list[BaselineOpportunity], dict[str, int]]:
    """Drive blocks until `opportunities` bundles were handed off (or max_blocks were mined)."""
    pools = {
        p.address.lower(): Pool.of(p)
        for p in (PoolInfo.from_json(d) for d in info.pools)
        if p.kind == "v2"
    }
    state = _State(market=Market(pools), weth=info.weth.lower())
    provider = _StampedProvider(info.ws_url)
    async with AsyncWeb3(provider) as w3:
        nonce = await w3.eth.get_transaction_count(TxSigner(info.executor_key).address)
        head = await w3.eth.get_block("latest")
        rig = build_executor(
            cls=EthAccountExecutor,
            key=info.executor_key,
            relay_key=info.relay_key,
            builder_url=info.builder_url,
            chain_id=info.chain_id,
            executor_address=info.executor,
            weth=info.weth,
            chain_nonce=nonce,
            head_block=head["number"],
            workdir=workdir,
        )
        executor = rig.executor
        assert isinstance(executor, EthAccountExecutor)
        executor.account_key = info.executor_key
        executor.executor_address = info.executor
        executor.weth_address = info.weth
        executor.chain_id = info.chain_id
        await _load_reserves(w3, state)
        _on_head(state, head, info)
        pair = w3.eth.contract(abi=_SYNC_ABI)
        heads_id = await w3.eth.subscribe("newHeads")
        logs_id = await w3.eth.subscribe(
            "logs",
            {
                "address": [AsyncWeb3.to_checksum_address(a) for a in pools],
                "topics": [["0x" + abi.V2_SYNC.topic0.hex()]],
            },
        )
        reader = asyncio.create_task(
            _read(w3, provider, state, pair, rig, info, str(heads_id), str(logs_id))
        )
        try:
            await _drive(state, world, opportunities, warmup_blocks, max_blocks, reader)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await rig.relay.close()
            rig.audit.close()
    state.outcomes["simulations ok"] = rig.simulator.ok
    state.outcomes["simulations failed"] = rig.simulator.failed
    return state.opportunities, state.outcomes


async def _load_reserves(w3: AsyncWeb3, state: _State) -> None:
    selector = "0x0902f1ac"  # getReserves()
    for address, pool in state.market.pools.items():
        out = await w3.eth.call({"to": AsyncWeb3.to_checksum_address(address), "data": selector})
        pool.reserve0 = int.from_bytes(out[:32], "big")
        pool.reserve1 = int.from_bytes(out[32:64], "big")
    for pool in state.market.pools.values():
        state.market.set_pair_edges(pool.token0, pool.token1)


def _on_head(state: _State, head: Any, info: WorldInfo) -> None:
    state.head_number = int(head["number"])
    state.head_hash = bytes(head["hash"])
    state.base_fee_next_wei = next_base_fee(
        int(head["baseFeePerGas"]), int(head["gasUsed"]), int(head["gasLimit"]), info.chain.eip1559
    )


async def _drive(
    state: _State,
    world: WorldProcess,
    opportunities: int,
    warmup_blocks: int,
    max_blocks: int,
    reader: asyncio.Task[None],
) -> None:
    loop = asyncio.get_running_loop()
    for i in range(max_blocks):
        if len(state.opportunities) >= opportunities:
            return
        state.record = i >= warmup_blocks
        made = await loop.run_in_executor(None, world.block)
        deadline = time.monotonic() + _BLOCK_WAIT_S
        while state.head_number < made.number or state.syncs_seen.get(made.number, 0) < (
            made.v2_syncs
        ):
            if reader.done():
                reader.result()
            state.progress.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"block {made.number} did not come through the baseline")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.progress.wait(), remaining)
        for number in [n for n in state.first_frame if n < made.number - 4]:
            del state.first_frame[number]
            state.syncs_seen.pop(number, None)


async def _read(
    w3: AsyncWeb3,
    provider: _StampedProvider,
    state: _State,
    pair: Any,
    rig: ExecutorRig,
    info: WorldInfo,
    heads_id: str,
    logs_id: str,
) -> None:
    async for message in w3.socket.process_subscriptions():
        sub = str(message["subscription"])
        arrivals = provider.arrivals.get(sub) or provider.arrivals.get(sub.lower())
        recv_ns = arrivals.popleft() if arrivals else time.monotonic_ns()
        result = message["result"]
        if sub == heads_id:
            _on_head(state, result, info)
            state.first_frame.setdefault(state.head_number, recv_ns)
        elif sub == logs_id:
            await _on_sync(state, result, recv_ns, pair, rig)
        state.progress.set()


async def _on_sync(state: _State, log: Any, recv_ns: int, pair: Any, rig: ExecutorRig) -> None:
    stages = dict.fromkeys(BASELINE_STAGES, 0)
    picked_ns = time.monotonic_ns()
    number = int(log["blockNumber"])
    first = state.first_frame.setdefault(number, recv_ns)
    start = time.perf_counter_ns()
    event = pair.events.Sync().process_log(log)
    stages["web3 process_log"] = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    pool = state.market.pools[str(event["address"]).lower()]
    pool.reserve0, pool.reserve1 = event["args"]["reserve0"], event["args"]["reserve1"]
    state.market.set_pair_edges(pool.token0, pool.token1)
    stages["graph update"] = time.perf_counter_ns() - start
    state.syncs_seen[number] = state.syncs_seen.get(number, 0) + 1
    if number in state.submitted or number != state.head_number:
        return
    start = time.perf_counter_ns()
    try:
        cycle = nx.find_negative_cycle(state.market.graph, state.weth, weight="weight")
    except nx.NetworkXError:
        cycle = None
    stages["nx.find_negative_cycle"] = time.perf_counter_ns() - start
    rotated = None if cycle is None else weth_cycle(cycle, state.weth)
    if rotated is None:
        return
    start = time.perf_counter_ns()
    candidate = price_cycle(
        state.market,
        rotated,
        weth=state.weth,
        block_number=number,
        block_hash=state.head_hash,
        next_base_fee_wei=state.base_fee_next_wei,
        priority_fee_wei=_PRIORITY_FEE_WEI,
    )
    amounts_ns = time.perf_counter_ns() - start
    stages["amounts (python V2 formulas)"] = amounts_ns
    if candidate is None:
        return
    rig.clock.reset()
    result = await rig.executor.submit(
        candidate,
        fees=FeeQuote(state.base_fee_next_wei, _PRIORITY_FEE_WEI),
        parent_hash=state.head_hash,
        input_value_wei=candidate.amount_in,
    )
    state.outcomes[result.outcome] = state.outcomes.get(result.outcome, 0) + 1
    if result.outcome != "sent":
        return
    state.submitted.add(number)
    handoff_ns = rig.clock.handoff_ns
    drop_after_handoff(rig, result.intent_id, candidate.target_block)
    if not state.record:
        return
    stages.update(rig.clock.stages_ns)
    stages["first frame -> log frame"] = recv_ns - first
    stages["queued behind earlier logs"] = picked_ns - recv_ns
    latency = handoff_ns - first
    stages["other"] = max(latency - sum(stages.values()), 0)
    state.opportunities.append(BaselineOpportunity(number, latency, stages))
