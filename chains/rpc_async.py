"""Async JSON-RPC clients: ``WsRpc`` over a websocket, ``AsyncHttpRpc`` over HTTP/1.1.

``WsRpc`` pipelines any number of concurrent calls on one socket. Each whole data frame is
dispatched inside the connection's protocol callback as it comes off the socket (no hop
through a reader task): stamped with ``time.monotonic_ns()``, it resolves the waiting call by
JSON-RPC id or, as a subscription notification, is routed by scanning its bytes for the
subscription id (no JSON parse on that path, so a decoder can scan the raw frame itself). A
reader task receives what the fast path leaves (fragmented messages) and notices the close.
``connect`` checks ``eth_chainId`` and refuses a node on another chain. When the socket drops,
every pending call fails with ``RpcTransportError`` and every subscription ends with one; the
reconnect loop belongs to the feed (``chains.rpc_retry.Backoff(RECONNECT_POLICY)``).

``AsyncHttpRpc`` (backfill, ``eth_getLogs``, snapshots) keeps a few HTTP/1.1 connections alive
(stdlib asyncio streams) and retries rate limits (-32005, HTTP 429, 5xx) with backoff and
jitter. Range splitting of ``eth_getLogs`` is ``chains.rpc_retry.get_logs_adaptive``.

Exception hierarchy (all subclasses of ``chains.rpc.RpcError``)::

    RpcError
    ├── RpcTransportError      no usable answer: refused, reset, closed socket, bad HTTP/JSON
    │   ├── RpcTimeout         no answer within the timeout
    │   └── RpcHttpStatus      HTTP status other than 200 (.status, .retry_after_s)  [rpc_retry]
    ├── RpcResponseError       the node answered with an error object (.code, .message, .data)
    ├── RpcRetryExhausted      every allowed attempt failed (.attempts, .last_error)  [rpc_retry]
    ├── ChainIdMismatch        the node's eth_chainId is not the configured one
    └── SubscriptionOverflow   a subscription's consumer fell more than max_queued frames behind
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, NamedTuple

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from chains.rpc import (
    RpcError,
    RpcResponseError,
    RpcTimeout,
    RpcTransportError,
    batch_results,
    result_of,
)
from chains.rpc_http_async import AsyncHttpRpc
from chains.rpc_retry import (
    NO_RETRY,
    RetryPolicy,
    RpcHttpStatus,
    RpcRetryExhausted,
    retrying,
)

__all__ = [
    "AsyncHttpRpc",
    "ChainIdMismatch",
    "Frame",
    "Notification",
    "RpcError",
    "RpcHttpStatus",
    "RpcResponseError",
    "RpcRetryExhausted",
    "RpcTimeout",
    "RpcTransportError",
    "Subscription",
    "SubscriptionOverflow",
    "WsRpc",
]

_NOTIFICATION = b'"eth_subscription"'
_SUBSCRIPTION_KEY = b'"subscription"'
_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)  # Linux only


class ChainIdMismatch(RpcError):
    """The node reports another chain id than the configuration expects."""

    def __init__(self, url: str, expected_chain_id: int, node_chain_id: int) -> None:
        super().__init__(
            f"{url}: node reports chain id {node_chain_id}, configured {expected_chain_id}"
        )
        self.expected_chain_id = expected_chain_id
        self.node_chain_id = node_chain_id


class SubscriptionOverflow(RpcError):
    """A subscription's consumer fell too far behind; resubscribe and backfill."""


class _DispatchingConnection(ClientConnection):
    """A ClientConnection that hands each whole data frame to ``on_frame`` on arrival."""

    on_frame: Callable[[bytes, int], None] | None = None

    def process_event(self, event: Any) -> None:
        # the handshake response is not a frame and goes to the base class
        if isinstance(event, WsFrame) and self.on_frame is not None:
            if event.fin and event.opcode in (Opcode.TEXT, Opcode.BINARY):
                data = event.data
                self.on_frame(data if type(data) is bytes else bytes(data), time.monotonic_ns())
                return
            if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                # a fragmented message: from here on every message goes through recv(), so
                # frames keep their order
                self.on_frame = None
        super().process_event(event)


class Frame(NamedTuple):
    """One notification frame as it came off the socket (a tuple: built per frame, hot path)."""

    received_ns: int  # time.monotonic_ns() when the frame came off the socket
    data: bytes  # the whole JSON-RPC notification, undecoded


class Notification(NamedTuple):
    """One parsed notification: its receive time and ``params.result``."""

    received_ns: int
    result: Any


class Subscription:
    """One eth_subscribe stream; iterate ``frames()`` (raw bytes) or ``notifications()``.

    Frames queue up until read, so nothing is lost between subscribing and iterating; read
    from one task at a time.
    """

    def __init__(self, rpc: WsRpc, kind: str, params: tuple[Any, ...], max_queued: int) -> None:
        self.kind = kind
        self.params = params
        self.id = ""  # the node's subscription id, set when the node accepts
        self._rpc = rpc
        self._max_queued = max_queued
        self._queue: deque[Frame] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._error: RpcError | None = None

    @property
    def ended(self) -> bool:
        """Tell whether no further frame will arrive (unsubscribed, closed or failed)."""
        return self._ended

    async def frames(self) -> AsyncIterator[Frame]:
        """Yield each notification frame; end on unsubscribe/close, raise on disconnect."""
        queue = self._queue
        while True:
            if queue:
                yield queue.popleft()
                continue
            if self._ended:
                if self._error is not None:
                    raise self._error
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def notifications(self) -> AsyncIterator[Notification]:
        """Yield each notification parsed with orjson (``params.result``) with its receive time."""
        async for frame in self.frames():
            yield Notification(frame.received_ns, orjson.loads(frame.data)["params"]["result"])

    async def unsubscribe(self) -> bool:
        """Cancel at the node (eth_unsubscribe) and end the iterators; return the node's answer."""
        return await self._rpc.unsubscribe(self)

    def _push(self, frame: Frame) -> None:
        if self._ended:
            return
        if len(self._queue) >= self._max_queued:
            self._end(SubscriptionOverflow(f"{self.kind} {self.id}: {self._max_queued} unread"))
            return
        self._queue.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self, error: RpcError | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._error = error
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class WsRpc:
    """JSON-RPC over one websocket: pipelined calls, batches, subscriptions; build with connect."""

    def __init__(
        self,
        ws: ClientConnection,
        url: str,
        *,
        timeout_s: float,
        retry: RetryPolicy,
        max_queued_frames: int,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.chain_id = 0
        self._ws = ws
        self._retry = retry
        self._max_queued = max_queued_frames
        self._loop = asyncio.get_running_loop()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._batches: set[asyncio.Future[Any]] = set()
        self._subscribing: dict[int, Subscription] = {}
        self._subs: dict[bytes, Subscription] = {}
        self._error: RpcTransportError | None = None
        self._closing = False
        self._failure: str | None = None
        self._sent_this_tick = False
        self._corked = False
        if isinstance(ws, _DispatchingConnection):
            ws.on_frame = self._on_frame
        self._reader = asyncio.create_task(self._read(), name=f"WsRpc reader {url}")

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        expected_chain_id: int | None,
        timeout_s: float = 10.0,
        retry: RetryPolicy = NO_RETRY,
        max_frame_bytes: int = 64 * 2**20,
        max_queued_frames: int = 100_000,
    ) -> WsRpc:
        """Open the websocket, check eth_chainId against expected_chain_id, return the client.

        ``timeout_s`` bounds the opening handshake and each call (seconds); ``retry`` applies
        to calls refused by a rate limit; a subscription whose consumer leaves more than
        ``max_queued_frames`` frames unread ends with SubscriptionOverflow.
        """
        try:
            ws = await connect(
                url,
                compression=None,  # JSON-RPC frames are small and latency matters more
                proxy=None,
                open_timeout=timeout_s,
                max_size=max_frame_bytes,
                max_queue=4096,
                user_agent_header=None,
                create_connection=_DispatchingConnection,
            )
        except TimeoutError as exc:
            raise RpcTimeout(f"{url}: no websocket handshake within {timeout_s} s") from exc
        except (OSError, InvalidHandshake, InvalidURI) as exc:
            raise RpcTransportError(f"{url}: {type(exc).__name__}: {exc}") from exc
        rpc = cls(ws, url, timeout_s=timeout_s, retry=retry, max_queued_frames=max_queued_frames)
        try:
            rpc.chain_id = int(await rpc.call("eth_chainId"), 16)
            if expected_chain_id is not None and rpc.chain_id != expected_chain_id:
                raise ChainIdMismatch(url, expected_chain_id, rpc.chain_id)
        except BaseException:
            await rpc.close()
            raise
        return rpc

    @property
    def is_connected(self) -> bool:
        """Tell whether the socket is up and the client not closed."""
        return self._error is None and not self._closing

    async def __aenter__(self) -> WsRpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: str, *params: Any, timeout_s: float | None = None) -> Any:
        """Call one method and return its result; raise RpcResponseError on an error object."""
        if self._retry.attempts == 1:
            return result_of(method, await self._request(method, params, timeout_s, None))
        return await retrying(
            method,
            lambda: self._call_once(method, params, timeout_s),
            self._retry,
        )

    async def batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], *, timeout_s: float | None = None
    ) -> list[Any]:
        """Send calls as one JSON-RPC batch; return results in call order, raise on any error."""
        if not calls:
            return []
        self._check_open()
        ids = [next(self._ids) for _ in calls]
        future: asyncio.Future[Any] = self._loop.create_future()
        for rid in ids:
            self._pending[rid] = future
        self._batches.add(future)
        payload = orjson.dumps(
            [
                {"jsonrpc": "2.0", "id": rid, "method": m, "params": list(p)}
                for rid, (m, p) in zip(ids, calls, strict=True)
            ]
        )
        try:
            reply = await self._send_and_wait(payload, future, "batch", timeout_s)
        finally:
            for rid in ids:
                self._pending.pop(rid, None)
            self._batches.discard(future)
        return batch_results(ids, calls, reply)

    async def subscribe(
        self, kind: str, *params: Any, timeout_s: float | None = None
    ) -> Subscription:
        """Subscribe to kind ("newHeads", "logs", "newPendingTransactions"); return the stream."""
        sub = Subscription(self, kind, params, self._max_queued)
        result = result_of(
            "eth_subscribe", await self._request("eth_subscribe", (kind, *params), timeout_s, sub)
        )
        if not isinstance(result, str) or sub.id != result:
            raise RpcTransportError(f"{self.url}: eth_subscribe answered {result!r}")
        return sub

    async def unsubscribe(self, sub: Subscription) -> bool:
        """End sub here and at the node; return the node's answer (False when disconnected)."""
        if sub.id == "" or self._subs.get(sub.id.encode()) is not sub:
            sub._end(None)
            return False
        del self._subs[sub.id.encode()]
        sub._end(None)
        if not self.is_connected:
            return False
        try:
            return bool(await self.call("eth_unsubscribe", sub.id))
        except RpcTransportError:
            return False

    async def wait_closed(self) -> RpcTransportError | None:
        """Wait until the socket is gone; return why (None after close())."""
        await asyncio.shield(self._reader)
        return None if self._closing else self._error

    async def close(self) -> None:
        """Close the socket; pending calls fail, subscriptions end without error; idempotent."""
        self._closing = True
        with contextlib.suppress(Exception):
            await self._ws.close()
        if not self._reader.done():
            self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _call_once(
        self, method: str, params: tuple[Any, ...], timeout_s: float | None
    ) -> Any:
        return result_of(method, await self._request(method, params, timeout_s, None))

    async def _request(
        self,
        method: str,
        params: Sequence[Any],
        timeout_s: float | None,
        sub: Subscription | None,
    ) -> Any:
        self._check_open()
        rid = next(self._ids)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[rid] = future
        if sub is not None:
            self._subscribing[rid] = sub
        payload = orjson.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            return await self._send_and_wait(payload, future, method, timeout_s)
        finally:
            self._pending.pop(rid, None)
            if sub is not None:
                self._subscribing.pop(rid, None)

    async def _send_and_wait(
        self, payload: bytes, future: asyncio.Future[Any], what: str, timeout_s: float | None
    ) -> Any:
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        # a timer handle is cheaper than asyncio.timeout() on a path taken per call
        timer = self._loop.call_later(timeout_s, _expire, future, self.url, what, timeout_s)
        try:
            try:
                if self._sent_this_tick:
                    self._cork()
                else:
                    self._sent_this_tick = True
                    self._loop.call_soon(self._end_tick)
                await self._ws.send(payload, text=True)
            except ConnectionClosed as exc:
                raise self._transport_error(f"connection closed while sending: {exc}") from exc
            return await future
        finally:
            timer.cancel()

    def _cork(self) -> None:
        # more than one request in one loop iteration: hold them in the kernel and send them
        # together at the end of the iteration instead of one loopback transmit per frame
        if self._corked or _TCP_CORK is None:
            return
        sock = self._ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 1)
                self._corked = True

    def _end_tick(self) -> None:
        self._sent_this_tick = False
        if self._corked:
            self._corked = False
            sock = self._ws.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 0)

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._transport_error(str(self._error))
        if self._closing:
            raise RpcTransportError(f"{self.url}: client is closed")

    def _transport_error(self, reason: str) -> RpcTransportError:
        return RpcTransportError(reason if reason.startswith(self.url) else f"{self.url}: {reason}")

    def _on_frame(self, data: bytes, received_ns: int) -> None:
        try:
            if _NOTIFICATION in data:
                sub = self._subs.get(_subscription_id(data))
                if sub is not None:
                    sub._push(Frame(received_ns, data))
                    return
            self._on_reply(orjson.loads(data))
        except Exception as exc:  # runs inside the protocol callback: fail the connection
            self._failure = f"bad frame: {type(exc).__name__}: {exc}"
            if isinstance(self._ws, _DispatchingConnection):
                self._ws.on_frame = None
            self._ws.transport.abort()

    async def _read(self) -> None:
        ws = self._ws
        error: RpcTransportError | None = None
        try:
            while True:
                data = await ws.recv(decode=False)
                self._on_frame(data, time.monotonic_ns())
        except ConnectionClosed as exc:
            error = self._transport_error(self._failure or f"connection closed: {exc}")
        except asyncio.CancelledError:
            error = self._transport_error("client is closed")
            raise
        except Exception as exc:  # the reader must never end silently
            error = self._transport_error(f"reader failed: {type(exc).__name__}: {exc}")
        finally:
            self._shutdown(error or self._transport_error("connection closed"))
            if not self._closing:
                with contextlib.suppress(Exception):
                    await asyncio.shield(ws.close())

    def _on_reply(self, message: Any) -> None:
        if isinstance(message, list):
            # a batch answer: the whole array goes to the batch's future
            for item in message:
                if isinstance(item, dict) and item.get("id") in self._pending:
                    self._resolve(self._pending[item["id"]], message)
                    return
        elif isinstance(message, dict):
            rid = message.get("id")
            future = self._pending.get(rid) if rid is not None else None
            if future is not None:
                sub = self._subscribing.pop(rid, None)
                result = message.get("result")
                if sub is not None and isinstance(result, str):
                    # register before the next frame is read: notifications may follow at once
                    sub.id = result
                    self._subs[result.encode()] = sub
                self._resolve(future, message)
            elif rid is None and "error" in message:
                # an error without id answers a batch the node refused as a whole
                for batch in list(self._batches):
                    self._resolve(batch, message)

    @staticmethod
    def _resolve(future: asyncio.Future[Any], value: Any) -> None:
        if not future.done():
            future.set_result(value)

    def _shutdown(self, error: RpcTransportError) -> None:
        self._error = error
        for future in set(self._pending.values()):
            if not future.done():
                future.set_exception(RpcTransportError(str(error)))
        self._pending.clear()
        self._subscribing.clear()
        for sub in self._subs.values():
            sub._end(None if self._closing else RpcTransportError(str(error)))
        self._subs.clear()


def _expire(future: asyncio.Future[Any], url: str, what: str, timeout_s: float) -> None:
    if not future.done():
        future.set_exception(RpcTimeout(f"{url}: {what}: no answer within {timeout_s} s"))


def _subscription_id(frame: bytes) -> bytes:
    """Return the raw subscription id of a notification frame (b"" if absent)."""
    key = frame.find(_SUBSCRIPTION_KEY)
    if key < 0:
        return b""
    start = frame.find(b'"', frame.find(b":", key + len(_SUBSCRIPTION_KEY)) + 1) + 1
    end = frame.find(b'"', start)
    return frame[start:end] if start > 0 and end > start else b""
