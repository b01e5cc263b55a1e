"""WsRpc and AsyncHttpRpc against a real anvil: chain id, pipelining, subscriptions, getLogs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

import orjson
import pytest

from chains.rpc_async import (
    AsyncHttpRpc,
    ChainIdMismatch,
    RpcResponseError,
    RpcTransportError,
    WsRpc,
)
from chains.rpc_retry import get_logs_adaptive, get_logs_by_block_hash
from sim.anvil import AnvilConfig, AnvilProcess

pytestmark = pytest.mark.integration

EMITTER = "0x00000000000000000000000000000000000e0e01"
TOPIC = "0x" + "ab" * 32
# runtime code: mstore(0, 42); log1(0, 32, TOPIC); stop
EMITTER_CODE = bytes.fromhex("602a600052" + "7f" + "ab" * 32 + "60206000a100")


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 30.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout_s):
            await coro

    asyncio.run(bounded())


async def emit(rpc: WsRpc | AsyncHttpRpc, sender: str) -> str:
    """Send a transaction that makes EMITTER log once; return its hash."""
    return str(
        await rpc.call("eth_sendTransaction", {"from": sender, "to": EMITTER, "gas": "0x10000"})
    )


async def receipt(rpc: WsRpc | AsyncHttpRpc, tx_hash: str) -> dict[str, Any]:
    """Wait for a transaction's receipt: anvil automines a moment after it accepts the tx."""
    while (found := await rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        await asyncio.sleep(0.005)
    return dict(found)


def test_connect_checks_chain_id(anvil: AnvilProcess) -> None:
    async def body() -> None:
        async with await WsRpc.connect(anvil.ws_url, expected_chain_id=anvil.chain_id) as rpc:
            assert rpc.chain_id == anvil.chain_id
            assert int(await rpc.call("eth_blockNumber"), 16) == anvil.block_number()
        with pytest.raises(ChainIdMismatch) as caught:
            await WsRpc.connect(anvil.ws_url, expected_chain_id=anvil.chain_id + 1)
        assert caught.value.node_chain_id == anvil.chain_id

    run(body())


def test_thousand_pipelined_calls(anvil: AnvilProcess) -> None:
    anvil.mine(5)
    head = anvil.block_number()

    async def body() -> None:
        async with await WsRpc.connect(anvil.ws_url, expected_chain_id=anvil.chain_id) as rpc:
            numbers = await asyncio.gather(*(rpc.call("eth_blockNumber") for _ in range(1000)))
            assert numbers == [hex(head)] * 1000
            # different answers per request: each must come back to its own caller
            blocks = await asyncio.gather(
                *(rpc.call("eth_getBlockByNumber", hex(i % (head + 1)), False) for i in range(1000))
            )
            assert [int(b["number"], 16) for b in blocks] == [i % (head + 1) for i in range(1000)]
            batch = await rpc.batch([("eth_chainId", []), ("eth_getBlockByNumber", ["0x1", False])])
            assert int(batch[0], 16) == anvil.chain_id and batch[1]["number"] == "0x1"
            with pytest.raises(RpcResponseError):
                await rpc.call("eth_getBlockByNumber", "not a number", False)

    run(body())


def test_new_heads_subscription(anvil: AnvilProcess) -> None:
    async def body() -> None:
        async with await WsRpc.connect(anvil.ws_url, expected_chain_id=anvil.chain_id) as rpc:
            start = int(await rpc.call("eth_blockNumber"), 16)
            sub = await rpc.subscribe("newHeads")
            anvil.mine(3)
            heads = []
            async for frame in sub.frames():
                assert frame.data.startswith(b"{") and b"parentHash" in frame.data
                heads.append(frame)
                if len(heads) == 3:
                    break
            parsed = [orjson.loads(frame.data)["params"]["result"] for frame in heads]
            assert [int(h["number"], 16) for h in parsed] == [start + 1, start + 2, start + 3]
            for parent, child in itertools.pairwise(parsed):
                assert child["parentHash"] == parent["hash"]
            assert heads[0].received_ns <= heads[1].received_ns <= heads[2].received_ns
            assert await sub.unsubscribe() is True

    run(body())


def test_logs_subscription(anvil: AnvilProcess) -> None:
    anvil.set_code(EMITTER, EMITTER_CODE)
    sender = anvil.call("eth_accounts")[0]

    async def body() -> None:
        async with await WsRpc.connect(anvil.ws_url, expected_chain_id=anvil.chain_id) as rpc:
            sub = await rpc.subscribe("logs", {"address": EMITTER, "topics": [TOPIC]})
            tx_hash = await emit(rpc, sender)
            async with asyncio.timeout(10):
                note = await anext(sub.notifications())
            log = note.result
            assert log["address"].lower() == EMITTER
            assert log["topics"] == [TOPIC]
            assert int(log["data"], 16) == 42
            assert log["transactionHash"] == tx_hash

    run(body())


def test_pending_transactions_subscription(anvil: AnvilProcess) -> None:
    anvil.set_automine(False)
    anvil.set_code(EMITTER, EMITTER_CODE)
    sender = anvil.call("eth_accounts")[0]

    async def body() -> None:
        async with await WsRpc.connect(anvil.ws_url, expected_chain_id=anvil.chain_id) as rpc:
            sub = await rpc.subscribe("newPendingTransactions")
            tx_hash = await emit(rpc, sender)
            async with asyncio.timeout(10):
                note = await anext(sub.notifications())
            assert note.result == tx_hash
            assert await rpc.call("eth_getTransactionReceipt", tx_hash) is None  # still pending

    run(body())


class RefusesWideRanges:
    """Forward to a real node, refusing eth_getLogs over more than max_span blocks."""

    def __init__(self, rpc: AsyncHttpRpc, max_span: int) -> None:
        self.rpc = rpc
        self.max_span = max_span
        self.refused = 0

    async def call(self, method: str, *params: Any) -> Any:
        query = params[0]
        if int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1 > self.max_span:
            self.refused += 1
            raise RpcResponseError(method, -32005, "query returned more than 10000 results")
        return await self.rpc.call(method, *params)


def test_get_logs_adaptive_on_anvil(anvil: AnvilProcess) -> None:
    anvil.set_code(EMITTER, EMITTER_CODE)
    sender = anvil.call("eth_accounts")[0]

    async def body() -> None:
        async with AsyncHttpRpc(anvil.http_url) as rpc:
            assert int(await rpc.call("eth_chainId"), 16) == anvil.chain_id
            first = int(await rpc.call("eth_blockNumber"), 16) + 1
            hashes = []
            for _ in range(12):  # automine: a block each
                hashes.append(await emit(rpc, sender))
                last = int((await receipt(rpc, hashes[-1]))["blockNumber"], 16)
            log_filter = {"address": [EMITTER], "topics": [TOPIC]}
            whole = await rpc.call(
                "eth_getLogs", {**log_filter, "fromBlock": hex(first), "toBlock": hex(last)}
            )
            assert [lg["transactionHash"] for lg in whole] == hashes
            refusing = RefusesWideRanges(rpc, max_span=3)
            split = await get_logs_adaptive(refusing, log_filter, first, last)
            assert split == whole and refusing.refused > 0
            one = await get_logs_by_block_hash(rpc, whole[4]["blockHash"], [EMITTER], [TOPIC])
            assert one == [whole[4]]

    run(body())


def test_node_going_away_fails_calls_and_ends_subscriptions() -> None:
    node = AnvilProcess.start(AnvilConfig())

    async def body() -> None:
        rpc = await WsRpc.connect(node.ws_url, expected_chain_id=node.chain_id)
        sub = await rpc.subscribe("newHeads")
        node.mine()
        frames = sub.frames()
        assert b"parentHash" in (await anext(frames)).data
        node.stop()
        with pytest.raises(RpcTransportError):
            await anext(frames)
        with pytest.raises(RpcTransportError):
            await rpc.call("eth_blockNumber")
        assert isinstance(await rpc.wait_closed(), RpcTransportError)
        await rpc.close()

    try:
        run(body())
    finally:
        node.stop()
