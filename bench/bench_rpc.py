"""Benchmark: eth_blockNumber round trips to a local anvil, WsRpc against web3.py and HttpRpc.

Sequential: one call at a time, each awaited before the next (latency per round trip).
Pipelined: many calls in flight on one connection (asyncio.gather), time per call.
web3.py's ``AsyncWeb3(WebSocketProvider(url))`` is the websocket baseline; ``w3.eth.block_number``
is what its users write, ``provider.make_request`` skips its formatting layers. The synchronous
``chains.rpc.HttpRpc`` (one kept-alive HTTP connection) is the HTTP baseline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from web3 import AsyncWeb3, WebSocketProvider

from bench import harness
from bench.harness import Report, Sample, measure
from chains.rpc_async import AsyncHttpRpc, WsRpc
from sim.anvil import AnvilConfig, AnvilProcess

METHOD = "eth_blockNumber"


def timed_rounds(
    loop: asyncio.AbstractEventLoop,
    one_round: Callable[[], Awaitable[object]],
    calls_per_round: int,
    repeats: int,
    warmup: int = 2,
) -> Sample:
    """Run one_round repeats times on loop; return the time per call of each round, seconds."""
    times_s = []
    for i in range(warmup + repeats):
        start_ns = time.perf_counter_ns()
        loop.run_until_complete(one_round())
        if i >= warmup:
            times_s.append((time.perf_counter_ns() - start_ns) / calls_per_round / 1e9)
    return Sample.from_times(times_s)


def run(report: Report) -> None:
    repeats = report.pick(15, 4)
    sequential = report.pick(500, 100)
    # web3's time per call grows with the calls in flight, so keep this moderate
    pipelined = report.pick(500, 200)
    loop = asyncio.new_event_loop()
    with AnvilProcess.start(AnvilConfig()) as node, node.rpc() as http:
        ws = loop.run_until_complete(WsRpc.connect(node.ws_url, expected_chain_id=node.chain_id))
        # the cache of in-flight request ids must hold every pipelined call
        provider = WebSocketProvider(node.ws_url, request_information_cache_size=2 * pipelined)
        w3 = loop.run_until_complete(AsyncWeb3(provider))
        ahttp = AsyncHttpRpc(node.http_url)
        try:

            async def ws_sequential() -> None:
                for _ in range(sequential):
                    await ws.call(METHOD)

            async def ws_pipelined() -> None:
                await asyncio.gather(*(ws.call(METHOD) for _ in range(pipelined)))

            async def ws_batch() -> None:
                await ws.batch([(METHOD, [])] * pipelined)

            async def web3_sequential() -> None:
                for _ in range(sequential):
                    await w3.eth.block_number

            async def web3_raw_sequential() -> None:
                for _ in range(sequential):
                    await w3.provider.make_request(METHOD, [])

            async def web3_pipelined() -> None:
                await asyncio.gather(*(w3.eth.block_number for _ in range(pipelined)))

            async def ahttp_sequential() -> None:
                for _ in range(sequential):
                    await ahttp.call(METHOD)

            # answers agree before anything is timed
            expected = http.call(METHOD)
            assert loop.run_until_complete(ws.call(METHOD)) == expected
            assert loop.run_until_complete(ahttp.call(METHOD)) == expected
            assert hex(loop.run_until_complete(w3.eth.block_number)) == expected

            report.add(
                "HttpRpc (sync), sequential",
                measure(lambda: http.call(METHOD), repeats=repeats, warmup=50, inner=sequential),
                work_per_call=1,
                work_unit="calls",
                note="one kept-alive HTTP connection",
            )
            report.add(
                "AsyncHttpRpc, sequential",
                timed_rounds(loop, ahttp_sequential, sequential, repeats),
                baseline="HttpRpc (sync), sequential",
                work_per_call=1,
                work_unit="calls",
            )
            report.add(
                "web3 AsyncWeb3 ws, sequential",
                timed_rounds(loop, web3_sequential, sequential, repeats),
                work_per_call=1,
                work_unit="calls",
                note="await w3.eth.block_number",
            )
            report.add(
                "web3 ws make_request, sequential",
                timed_rounds(loop, web3_raw_sequential, sequential, repeats),
                baseline="web3 AsyncWeb3 ws, sequential",
                work_per_call=1,
                work_unit="calls",
                note="provider.make_request, no formatters",
            )
            report.add(
                "WsRpc, sequential",
                timed_rounds(loop, ws_sequential, sequential, repeats),
                baseline="web3 AsyncWeb3 ws, sequential",
                work_per_call=1,
                work_unit="calls",
            )
            report.add(
                "web3 AsyncWeb3 ws, pipelined",
                timed_rounds(loop, web3_pipelined, pipelined, repeats),
                baseline="web3 AsyncWeb3 ws, sequential",
                work_per_call=1,
                work_unit="calls",
                note=f"{pipelined} calls in flight (gather)",
            )
            report.add(
                "WsRpc, pipelined",
                timed_rounds(loop, ws_pipelined, pipelined, repeats),
                baseline="web3 AsyncWeb3 ws, pipelined",
                work_per_call=1,
                work_unit="calls",
                note=f"{pipelined} calls in flight (gather)",
            )
            report.add(
                "WsRpc, one batch",
                timed_rounds(loop, ws_batch, pipelined, repeats),
                baseline="web3 AsyncWeb3 ws, pipelined",
                work_per_call=1,
                work_unit="calls",
                note=f"{pipelined} calls in one JSON-RPC batch",
            )
        finally:
            loop.run_until_complete(ws.close())
            loop.run_until_complete(ahttp.close())
            loop.run_until_complete(w3.provider.disconnect())
            loop.close()


if __name__ == "__main__":
    harness.main(run)
