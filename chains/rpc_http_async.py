"""Async JSON-RPC over HTTP/1.1: kept-alive connections, retries on rate limits, timeouts.

``AsyncHttpRpc`` (backfill, ``eth_getLogs``, snapshots) keeps a few HTTP/1.1 connections alive
on stdlib asyncio streams and retries rate limits (-32005, HTTP 429, 5xx) with backoff and
jitter, honouring Retry-After. The error types are those of ``chains.rpc`` and
``chains.rpc_retry`` (see ``chains.rpc_async`` for the whole hierarchy).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from chains.rpc import (
    RpcTimeout,
    RpcTransportError,
    batch_results,
    result_of,
)
from chains.rpc_retry import (
    DEFAULT_RETRY,
    RetryPolicy,
    RpcHttpStatus,
    retrying,
)

__all__ = ["AsyncHttpRpc"]


class AsyncHttpRpc:
    """JSON-RPC over HTTP/1.1 with kept-alive connections, retries on rate limits, timeouts."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_connections: int = 4,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) JSON-RPC url: {url!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1: {max_connections}")
        self.url = url
        self.timeout_s = timeout_s
        self._retry = retry
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        host_header = self._host if parts.port is None else f"{self._host}:{self._port}"
        self._head = (
            f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
            f"Host: {host_header}\r\nContent-Type: application/json\r\n"
            "Connection: keep-alive\r\nContent-Length: "
        ).encode()
        self._ids = itertools.count(1)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def __aenter__(self) -> AsyncHttpRpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the kept-alive connections (a later call opens new ones)."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def call(self, method: str, *params: Any, timeout_s: float | None = None) -> Any:
        """Call one method and return its result; retry rate limits, then RpcRetryExhausted."""

        async def once() -> Any:
            rid = next(self._ids)
            body = orjson.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            return result_of(method, await self._post(body, timeout_s))

        return await retrying(method, once, self._retry)

    async def batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], *, timeout_s: float | None = None
    ) -> list[Any]:
        """Send calls as one JSON-RPC batch; return results in call order, raise on any error."""
        if not calls:
            return []

        async def once() -> list[Any]:
            ids = [next(self._ids) for _ in calls]
            body = orjson.dumps(
                [
                    {"jsonrpc": "2.0", "id": rid, "method": m, "params": list(p)}
                    for rid, (m, p) in zip(ids, calls, strict=True)
                ]
            )
            return batch_results(ids, calls, await self._post(body, timeout_s))

        return await retrying("batch", once, self._retry)

    async def _post(self, body: bytes, timeout_s: float | None) -> Any:
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        request = self._head + str(len(body)).encode() + b"\r\n\r\n" + body
        async with self._slots:
            # one immediate retry when a kept-alive connection turns out stale
            for attempt in (0, 1):
                reused = bool(self._idle)
                try:
                    async with asyncio.timeout(timeout_s):
                        conn = self._idle.pop() if reused else await self._open()
                        try:
                            status, headers, payload = await _exchange(*conn, request)
                        except BaseException:
                            conn[1].close()
                            raise
                except TimeoutError as exc:
                    raise RpcTimeout(f"{self.url}: no answer within {timeout_s} s") from exc
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    if reused and attempt == 0:
                        continue
                    raise RpcTransportError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
                if headers.get("connection", "").lower() == "close":
                    conn[1].close()
                else:
                    self._idle.append(conn)
                if status != 200:
                    raise RpcHttpStatus(self.url, status, payload, _retry_after_s(headers))
                try:
                    return orjson.loads(payload)
                except orjson.JSONDecodeError as exc:
                    raise RpcTransportError(
                        f"{self.url}: reply is not JSON: {payload[:200]!r}"
                    ) from exc
        raise AssertionError("unreachable")

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self._host, self._port, ssl=self._ssl, limit=2**20)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Write one request and read one response: (status, lower-cased headers, body)."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("connection closed before the status line")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"bad HTTP status line {status_line[:100]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if parts[0] != b"HTTP/1.1":
        headers.setdefault("connection", "close")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, await _read_chunked(reader)
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    headers["connection"] = "close"  # the body ends where the connection does
    return status, headers, await reader.read()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _retry_after_s(headers: dict[str, str]) -> float | None:
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        return None
