"""WsRpc, AsyncHttpRpc and log-range splitting against small scripted servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from chains.rpc_async import (
    AsyncHttpRpc,
    ChainIdMismatch,
    RpcResponseError,
    RpcTimeout,
    RpcTransportError,
    SubscriptionOverflow,
    WsRpc,
)
from chains.rpc_retry import (
    Backoff,
    RetryPolicy,
    RpcHttpStatus,
    RpcRetryExhausted,
    get_logs_adaptive,
    get_logs_by_block_hash,
    is_range_refusal,
    is_retryable,
)

CHAIN_ID = 31337
FAST_RETRY = RetryPolicy(attempts=4, base_delay_s=0.001, max_delay_s=0.01, jitter=0.5)
Reply = dict[str, Any]


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 10.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout_s):
            await coro

    asyncio.run(bounded())


def ok(rid: Any, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result})


def err(rid: Any, code: int, message: str) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})


# ------------------------------------------------------------------------------------------
# a scripted websocket node
# ------------------------------------------------------------------------------------------

WsHandler = Callable[[ServerConnection, Any], Awaitable[None]]


@asynccontextmanager
async def ws_node(handler: WsHandler, *, chain_id: int = CHAIN_ID) -> AsyncIterator[str]:
    """Serve a websocket JSON-RPC node: eth_chainId is answered, the rest goes to handler."""

    async def connection(ws: ServerConnection) -> None:
        async for raw in ws:
            message = orjson.loads(raw)
            if isinstance(message, dict) and message["method"] == "eth_chainId":
                await ws.send(ok(message["id"], hex(chain_id)).decode())
            else:
                await handler(ws, message)

    async with serve(connection, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def echo(ws: ServerConnection, message: Any) -> None:
    await ws.send(ok(message["id"], [message["method"], *message["params"]]).decode())


def test_ws_call_and_chain_id() -> None:
    async def body() -> None:
        async with ws_node(echo) as url:
            rpc = await WsRpc.connect(url, expected_chain_id=CHAIN_ID)
            async with rpc:
                assert rpc.chain_id == CHAIN_ID
                assert await rpc.call("eth_getBalance", "0xab", "latest") == [
                    "eth_getBalance",
                    "0xab",
                    "latest",
                ]

    run(body())


def test_ws_refuses_wrong_chain_id() -> None:
    async def body() -> None:
        async with ws_node(echo, chain_id=1) as url:
            with pytest.raises(ChainIdMismatch) as caught:
                await WsRpc.connect(url, expected_chain_id=CHAIN_ID)
            assert caught.value.node_chain_id == 1
            assert caught.value.expected_chain_id == CHAIN_ID
            assert "1" in str(caught.value) and str(CHAIN_ID) in str(caught.value)
            # None accepts any chain
            async with await WsRpc.connect(url, expected_chain_id=None) as rpc:
                assert rpc.chain_id == 1

    run(body())


def test_ws_pipelined_calls_answered_out_of_order() -> None:
    count = 200
    held: list[Any] = []

    async def reverse(ws: ServerConnection, message: Any) -> None:
        held.append(message)
        if len(held) == count:
            for m in reversed(held):
                await ws.send(ok(m["id"], m["params"][0] * 2).decode())

    async def body() -> None:
        async with ws_node(reverse) as url, await WsRpc.connect(url, expected_chain_id=None) as rpc:
            results = await asyncio.gather(*(rpc.call("double", i) for i in range(count)))
            assert results == [2 * i for i in range(count)]

    run(body())


def test_ws_batch_in_call_order_and_errors() -> None:
    async def batch(ws: ServerConnection, message: Any) -> None:
        replies = [
            err(m["id"], 3, "execution reverted") if m["method"] == "bad" else ok(m["id"], m["id"])
            for m in message
        ]
        await ws.send(b"[" + b",".join(reversed(replies)) + b"]", text=True)

    async def body() -> None:
        async with ws_node(batch) as url, await WsRpc.connect(url, expected_chain_id=None) as rpc:
            ids = await rpc.batch([("a", []), ("b", [1]), ("c", [2, 3])])
            assert ids == sorted(ids) and len(set(ids)) == 3
            assert await rpc.batch([]) == []
            with pytest.raises(RpcResponseError) as caught:
                await rpc.batch([("a", []), ("bad", [])])
            assert caught.value.code == 3 and caught.value.method == "bad"

    run(body())


def test_ws_response_error_and_retry_on_rate_limit() -> None:
    attempts = {"n": 0}

    async def limited(ws: ServerConnection, message: Any) -> None:
        if message["method"] == "eth_call":
            await ws.send(err(message["id"], -32000, "execution reverted").decode())
            return
        attempts["n"] += 1
        if attempts["n"] < 3:
            await ws.send(err(message["id"], -32005, "request rate exceeded").decode())
        else:
            await ws.send(ok(message["id"], "0x10").decode())

    async def body() -> None:
        async with ws_node(limited) as url:
            async with await WsRpc.connect(url, expected_chain_id=None, retry=FAST_RETRY) as rpc:
                assert await rpc.call("eth_blockNumber") == "0x10"
                assert attempts["n"] == 3
                with pytest.raises(RpcResponseError) as caught:
                    await rpc.call("eth_call", {})
                assert caught.value.code == -32000
            attempts["n"] = 0
            async with await WsRpc.connect(url, expected_chain_id=None) as rpc:
                with pytest.raises(RpcResponseError) as caught:  # no retry by default
                    await rpc.call("eth_blockNumber")
                assert caught.value.code == -32005 and attempts["n"] == 1

    run(body())


def test_ws_timeout_leaves_client_usable() -> None:
    async def sometimes(ws: ServerConnection, message: Any) -> None:
        if message["method"] != "never":
            await echo(ws, message)

    async def body() -> None:
        async with (
            ws_node(sometimes) as url,
            await WsRpc.connect(url, expected_chain_id=None) as rpc,
        ):
            with pytest.raises(RpcTimeout):
                await rpc.call("never", timeout_s=0.05)
            assert await rpc.call("x") == ["x"]

    run(body())


def test_ws_subscription_frames_and_notifications() -> None:
    sub_id = "0xfeed"
    unsubscribed: list[Any] = []

    async def node(ws: ServerConnection, message: Any) -> None:
        if message["method"] == "eth_subscribe":
            # the first notifications follow the reply at once, in the same TCP segment
            out = [ok(message["id"], sub_id)]
            for n in range(3):
                note = {"subscription": sub_id, "result": {"number": hex(n)}}
                out.append(
                    orjson.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": note})
                )
            for frame in out:
                await ws.send(frame, text=True)
        elif message["method"] == "eth_unsubscribe":
            unsubscribed.append(message["params"])
            await ws.send(ok(message["id"], True).decode())

    async def body() -> None:
        async with ws_node(node) as url, await WsRpc.connect(url, expected_chain_id=None) as rpc:
            sub = await rpc.subscribe("newHeads")
            assert sub.id == sub_id and sub.kind == "newHeads"
            frames = sub.frames()
            first = await anext(frames)
            assert isinstance(first.data, bytes) and b'"0x0"' in first.data
            notes = sub.notifications()
            second = await anext(notes)
            assert second.result == {"number": "0x1"}
            assert second.received_ns >= first.received_ns > 0
            assert await sub.unsubscribe() is True
            assert unsubscribed == [[sub_id]]
            # the frame already queued is still delivered, then the iterator ends
            assert [n.result["number"] async for n in sub.notifications()] == ["0x2"]

    run(body())


def test_ws_disconnect_fails_pending_calls_and_ends_subscriptions() -> None:
    async def node(ws: ServerConnection, message: Any) -> None:
        if message["method"] == "eth_subscribe":
            await ws.send(ok(message["id"], "0x1").decode())
            note = {
                "jsonrpc": "2.0",
                "method": "eth_subscription",
                "params": {"subscription": "0x1", "result": "0xaa"},
            }
            await ws.send(orjson.dumps(note), text=True)
        elif message["method"] == "die":
            ws.transport.abort()  # no close frame: a dropped connection
        # "hang" is never answered

    async def body() -> None:
        async with ws_node(node) as url:
            rpc = await WsRpc.connect(url, expected_chain_id=None)
            sub = await rpc.subscribe("newPendingTransactions")
            hang = asyncio.ensure_future(rpc.call("hang"))
            await asyncio.sleep(0.01)
            with pytest.raises(RpcTransportError):
                await rpc.call("die")
            with pytest.raises(RpcTransportError):
                await hang
            seen = []
            with pytest.raises(RpcTransportError):
                async for note in sub.notifications():
                    seen.append(note.result)
            assert seen == ["0xaa"]
            assert not rpc.is_connected
            assert isinstance(await rpc.wait_closed(), RpcTransportError)
            with pytest.raises(RpcTransportError):
                await rpc.call("x")
            await rpc.close()

    run(body())


def test_ws_close_ends_subscriptions_cleanly_and_overflow() -> None:
    async def node(ws: ServerConnection, message: Any) -> None:
        if message["method"] == "eth_subscribe":
            sub_id = hex(message["id"])
            await ws.send(ok(message["id"], sub_id).decode())
            for n in range(5):
                note = {"subscription": sub_id, "result": n}
                await ws.send(
                    orjson.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": note}),
                    text=True,
                )
        else:
            await echo(ws, message)

    async def body() -> None:
        async with ws_node(node) as url:
            rpc = await WsRpc.connect(url, expected_chain_id=None, max_queued_frames=2)
            sub = await rpc.subscribe("logs", {"address": []})
            await rpc.call("sync")  # every notification was read before this answer
            with pytest.raises(SubscriptionOverflow):
                [n async for n in sub.notifications()]
            await rpc.close()
            rpc = await WsRpc.connect(url, expected_chain_id=None)
            sub = await rpc.subscribe("logs", {})
            await rpc.call("sync")
            await rpc.close()
            assert len([n async for n in sub.frames()]) == 5  # queued frames, then a clean end
            with pytest.raises(RpcTransportError):
                await rpc.call("x")

    run(body())


def test_ws_fragmented_messages_keep_their_order() -> None:
    def note(n: int) -> bytes:
        params = {"subscription": "0x9", "result": n}
        return orjson.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": params})

    async def node(ws: ServerConnection, message: Any) -> None:
        if message["method"] == "eth_subscribe":
            await ws.send(ok(message["id"], "0x9").decode())
            await ws.send(note(0), text=True)
            frame = note(1)
            await ws.send([frame[:10], frame[10:]], text=True)  # one message, two frames
            await ws.send(note(2), text=True)
        else:
            reply = ok(message["id"], "big")
            await ws.send([reply[:5], reply[5:]], text=True)

    async def body() -> None:
        async with ws_node(node) as url, await WsRpc.connect(url, expected_chain_id=None) as rpc:
            sub = await rpc.subscribe("newHeads")
            got = []
            async for n in sub.notifications():
                got.append(n.result)
                if len(got) == 3:
                    break
            assert got == [0, 1, 2]
            assert await rpc.call("after") == "big"

    run(body())


def test_ws_bad_frame_fails_the_connection() -> None:
    async def node(ws: ServerConnection, message: Any) -> None:
        await ws.send("this is not json")

    async def body() -> None:
        async with ws_node(node) as url:
            rpc = await WsRpc.connect(url, expected_chain_id=None)
            with pytest.raises(RpcTransportError, match="bad frame"):
                await rpc.call("x")
            await rpc.close()

    run(body())


def test_ws_connect_refused() -> None:
    async def body() -> None:
        async with ws_node(echo) as url:
            pass  # the port is free again
        with pytest.raises(RpcTransportError):
            await WsRpc.connect(url, expected_chain_id=None, timeout_s=2.0)

    run(body())


# ------------------------------------------------------------------------------------------
# a scripted HTTP node
# ------------------------------------------------------------------------------------------

HttpScript = Callable[[Any], tuple[int, Any, dict[str, str]]]


@asynccontextmanager
async def http_node(
    script: HttpScript, *, chunked: bool = False, close_after_reply: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Serve HTTP/1.1 JSON-RPC with keep-alive; script(request) -> (status, body, headers)."""
    state: dict[str, Any] = {"connections": 0, "requests": []}

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                request = orjson.loads(await reader.readexactly(length))
                state["requests"].append(request)
                status, reply, headers = script(request)
                if asyncio.iscoroutine(reply):
                    reply = await reply
                body = reply if isinstance(reply, bytes) else orjson.dumps(reply)
                head = f"HTTP/1.1 {status} X\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in headers.items()
                )
                if chunked:
                    half = len(body) // 2
                    parts = [body[:half], body[half:]]
                    payload = (
                        b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
                    )
                    writer.write(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + payload)
                else:
                    writer.write(
                        head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                    )
                await writer.drain()
                if close_after_reply:  # without saying so: the client finds out on reuse
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state["url"] = f"http://127.0.0.1:{port}/rpc"
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


def result_of(request: Any, result: Any) -> Any:
    return {"jsonrpc": "2.0", "id": request["id"], "result": result}


def test_http_call_batch_keep_alive_and_chunked() -> None:
    def script(request: Any) -> tuple[int, Any, dict[str, str]]:
        if isinstance(request, list):
            return 200, [result_of(r, r["params"]) for r in reversed(request)], {}
        return 200, result_of(request, request["method"]), {}

    async def body() -> None:
        for chunked in (False, True):
            async with http_node(script, chunked=chunked) as node, AsyncHttpRpc(node["url"]) as rpc:
                for _ in range(5):
                    assert await rpc.call("eth_blockNumber") == "eth_blockNumber"
                assert await rpc.batch([("a", [1]), ("b", [2, 3])]) == [[1], [2, 3]]
                assert node["connections"] == 1  # one kept-alive connection served all
                many = await asyncio.gather(*(rpc.call(f"m{i}") for i in range(20)))
                assert many == [f"m{i}" for i in range(20)]

    run(body())


def test_http_reopens_a_stale_kept_alive_connection() -> None:
    def script(request: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, result_of(request, "0x1"), {}

    async def body() -> None:
        async with (
            http_node(script, close_after_reply=True) as node,
            AsyncHttpRpc(node["url"], retry=FAST_RETRY) as rpc,
        ):
            for _ in range(3):
                assert await rpc.call("eth_blockNumber") == "0x1"
                await asyncio.sleep(0.01)  # let the server's close arrive
            assert node["connections"] == 3 and len(node["requests"]) == 3

    run(body())


def test_http_retries_rate_limits_then_succeeds() -> None:
    answers = iter(
        [
            (200, {"jsonrpc": "2.0", "id": 0, "error": {"code": -32005, "message": "limit"}}, {}),
            (429, b"slow down", {"Retry-After": "0"}),
            (503, b"unavailable", {}),
        ]
    )

    def script(request: Any) -> tuple[int, Any, dict[str, str]]:
        status, reply, headers = next(answers, (200, None, {}))
        if reply is None:
            return 200, result_of(request, "0x5"), {}
        if isinstance(reply, dict):
            reply = {**reply, "id": request["id"]}
        return status, reply, headers

    async def body() -> None:
        async with http_node(script) as node, AsyncHttpRpc(node["url"], retry=FAST_RETRY) as rpc:
            assert await rpc.call("eth_blockNumber") == "0x5"
            assert len(node["requests"]) == 4

    run(body())


def test_http_retry_exhausted_and_no_retry_on_other_errors() -> None:
    def script(request: Any) -> tuple[int, Any, dict[str, str]]:
        if request["method"] == "eth_call":
            error = {"code": -32000, "message": "execution reverted"}
            return 200, {"jsonrpc": "2.0", "id": request["id"], "error": error}, {}
        return 503, b"down", {}

    async def body() -> None:
        policy = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.002)
        async with http_node(script) as node, AsyncHttpRpc(node["url"], retry=policy) as rpc:
            with pytest.raises(RpcRetryExhausted) as caught:
                await rpc.call("eth_blockNumber")
            assert caught.value.attempts == 3
            assert isinstance(caught.value.last_error, RpcHttpStatus)
            assert caught.value.last_error.status == 503
            assert len(node["requests"]) == 3
            with pytest.raises(RpcResponseError):
                await rpc.call("eth_call")
            assert len(node["requests"]) == 4

    run(body())


def test_http_timeout_and_refused() -> None:
    async def late(request: Any) -> Any:
        await asyncio.sleep(1.0)
        return result_of(request, "late")

    def script(request: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, late(request), {}

    async def body() -> None:
        async with http_node(script) as node:
            async with AsyncHttpRpc(node["url"], timeout_s=0.05) as rpc:
                with pytest.raises(RpcTimeout):
                    await rpc.call("eth_blockNumber")
            url = node["url"]
        async with AsyncHttpRpc(url) as rpc:
            with pytest.raises(RpcTransportError):
                await rpc.call("eth_blockNumber")

    run(body())


# ------------------------------------------------------------------------------------------
# eth_getLogs range splitting
# ------------------------------------------------------------------------------------------


def chain_logs(last_block: int) -> list[dict[str, Any]]:
    """Two logs in every third block, as a node would return them."""
    return [
        {"blockNumber": hex(b), "logIndex": hex(i)}
        for b in range(0, last_block + 1, 3)
        for i in range(2)
    ]


def test_get_logs_adaptive_splits_refused_ranges() -> None:
    max_span = 7
    logs = chain_logs(200)

    def script(request: Any) -> tuple[int, Any, dict[str, str]]:
        query = request["params"][0]
        lo, hi = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        assert query["address"] == ["0xpool"]
        if hi - lo + 1 > max_span:
            error = {"code": -32005, "message": "query returned more than 10000 results"}
            return 200, {"jsonrpc": "2.0", "id": request["id"], "error": error}, {}
        found = [lg for lg in logs if lo <= int(lg["blockNumber"], 16) <= hi]
        return 200, result_of(request, found), {}

    async def body() -> None:
        async with http_node(script) as node, AsyncHttpRpc(node["url"], retry=FAST_RETRY) as rpc:
            got = await get_logs_adaptive(rpc, {"address": ["0xpool"]}, 0, 200)
            assert got == logs  # all of them, in order, none twice
            queries = [
                (r["params"][0]["fromBlock"], r["params"][0]["toBlock"]) for r in node["requests"]
            ]
            assert len(queries) == len(set(queries))  # a refused range is not retried as is
            got = await get_logs_adaptive(
                rpc, {"address": ["0xpool"]}, 5, 40, max_blocks_per_query=4
            )
            assert got == [lg for lg in logs if 5 <= int(lg["blockNumber"], 16) <= 40]
            with pytest.raises(ValueError):
                await get_logs_adaptive(rpc, {"fromBlock": "0x0"}, 0, 1)

    run(body())


def test_get_logs_adaptive_raises_what_splitting_cannot_fix() -> None:
    class Refuses:
        def __init__(self, message: str) -> None:
            self.message = message
            self.calls = 0

        async def call(self, method: str, *params: Any) -> Any:
            self.calls += 1
            raise RpcResponseError(method, -32602, self.message)

    async def body() -> None:
        too_big = Refuses("block range too large")
        with pytest.raises(RpcResponseError):
            await get_logs_adaptive(too_big, {}, 0, 3)
        assert too_big.calls == 3  # [0,3] -> [0,1] -> [0,0], which is final
        other = Refuses("invalid address")
        with pytest.raises(RpcResponseError):
            await get_logs_adaptive(other, {}, 0, 100)
        assert other.calls == 1

    run(body())


def test_get_logs_by_block_hash() -> None:
    class Recorder:
        params: Any = None

        async def call(self, method: str, *params: Any) -> Any:
            assert method == "eth_getLogs"
            self.params = params
            return [{"logIndex": "0x0"}]

    async def body() -> None:
        rec = Recorder()
        got = await get_logs_by_block_hash(rec, "0xhash", ["0xa"], ["0xt", None, ("0x1", "0x2")])
        assert got == [{"logIndex": "0x0"}]
        assert rec.params == (
            {"blockHash": "0xhash", "address": ["0xa"], "topics": ["0xt", None, ["0x1", "0x2"]]},
        )

    run(body())


# ------------------------------------------------------------------------------------------
# classification and backoff
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "retryable", "range_refusal"),
    [
        (RpcResponseError("m", -32005, "query returned more than 10000 results"), False, True),
        (RpcResponseError("m", -32005, "project ID request rate exceeded"), True, False),
        (RpcResponseError("m", -32005, "limit"), True, False),
        (RpcResponseError("m", -32602, "Log response size exceeded."), False, True),
        (RpcResponseError("m", -32000, "exceed maximum block range: 5000"), False, True),
        (RpcResponseError("m", -32600, "eth_getLogs is limited to a 10,000 range"), False, True),
        (RpcResponseError("m", -32000, "execution reverted"), False, False),
        (RpcHttpStatus("u", 429, b"", None), True, False),
        (RpcHttpStatus("u", 502, b"", None), True, False),
        (RpcHttpStatus("u", 404, b"", None), False, False),
        (RpcTimeout("t"), False, False),
        (RpcTransportError("reset"), False, False),
    ],
)
def test_classification(error: Exception, retryable: bool, range_refusal: bool) -> None:
    assert is_retryable(error) is retryable
    assert is_range_refusal(error) is range_refusal


def test_backoff_grows_with_jitter_and_bounds() -> None:
    policy = RetryPolicy(attempts=5, base_delay_s=0.1, max_delay_s=1.0, jitter=0.5)
    backoff = Backoff(policy, rng=random.Random(7))
    delays = [backoff.next_delay_s() for _ in range(5)]
    for n, delay in enumerate(delays):
        ceiling = min(1.0, 0.1 * 2**n)
        assert ceiling * 0.5 <= delay <= ceiling
    assert backoff.exhausted()
    backoff.reset()
    assert not backoff.exhausted() and backoff.failures == 0
    forever = Backoff(RetryPolicy(attempts=None, jitter=0.0, base_delay_s=0.1, max_delay_s=10.0))
    assert [forever.next_delay_s() for _ in range(10)][-1] == 10.0 and not forever.exhausted()
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
