"""JSON-RPC clients and their errors.

Exception hierarchy (all subclasses of ``RpcError``)::

    RpcError
    ├── RpcTransportError   the request did not get an answer (refused, reset, timeout, bad HTTP)
    │   └── RpcTimeout      no answer within the timeout
    └── RpcResponseError    the node answered with a JSON-RPC error object (code, message, data)

``HttpRpc`` is the synchronous HTTP client used by tooling (anvil control, world deployment,
traffic, snapshots); it keeps one connection alive and supports JSON-RPC batches.
"""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = [
    "HttpRpc",
    "RpcError",
    "RpcResponseError",
    "RpcTimeout",
    "RpcTransportError",
    "batch_results",
    "result_of",
]


class RpcError(Exception):
    """Base of every JSON-RPC failure."""


class RpcTransportError(RpcError):
    """The request got no usable answer (connection refused/reset, HTTP error, bad JSON)."""


class RpcTimeout(RpcTransportError):
    """The node did not answer within the timeout."""


class RpcResponseError(RpcError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: error {code}: {message}" + (f" ({data})" if data else ""))
        self.method = method
        self.code = code
        self.message = message
        self.data = data


class HttpRpc:
    """Synchronous JSON-RPC over HTTP with a kept-alive connection; not thread-safe."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) JSON-RPC url: {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._path = parts.path or "/"
        self._ids = itertools.count(1)
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        """Close the kept-alive connection (a later call reopens it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HttpRpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, *params: Any) -> Any:
        """Call one method and return its result; raise RpcResponseError on an error object."""
        request_id = next(self._ids)
        body = orjson.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        )
        return result_of(method, self._post(body))

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send calls as one JSON-RPC batch; return results in call order, raise on any error."""
        if not calls:
            return []
        first_id = next(self._ids)
        ids = [first_id + i for i in range(len(calls))]
        # keep the id counter ahead of the ids this batch used
        self._ids = itertools.count(ids[-1] + 1)
        body = orjson.dumps(
            [
                {"jsonrpc": "2.0", "id": rid, "method": m, "params": list(p)}
                for rid, (m, p) in zip(ids, calls, strict=True)
            ]
        )
        return batch_results(ids, calls, self._post(body))

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._host, self._port, timeout=self.timeout_s)
        return self._conn

    def _post(self, body: bytes) -> Any:
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        # one retry on a stale kept-alive connection; a fresh connection's failure is final
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except TimeoutError as exc:
                self.close()
                raise RpcTimeout(f"{self.url}: no answer within {self.timeout_s} s") from exc
            except (OSError, ConnectionError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 0 and isinstance(
                    exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                ):
                    continue
                raise RpcTransportError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
            except BaseException:
                # anything else mid-request (an interrupt, a test's deadline) leaves the
                # connection between request and reply: it can never be used again
                self.close()
                raise
            if response.status != 200:
                raise RpcTransportError(f"{self.url}: HTTP {response.status}: {payload[:200]!r}")
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise RpcTransportError(
                    f"{self.url}: reply is not JSON: {payload[:200]!r}"
                ) from exc
        raise AssertionError("unreachable")


def result_of(method: str, reply: Any) -> Any:
    """Return a JSON-RPC reply's result; raise RpcResponseError for an error object."""
    if not isinstance(reply, dict):
        raise RpcTransportError(f"{method}: reply is not a JSON object")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise RpcResponseError(method, -1, str(error))
        raise RpcResponseError(
            method, int(error.get("code", -1)), str(error.get("message", "")), error.get("data")
        )
    if "result" not in reply:
        raise RpcTransportError(f"{method}: reply has neither result nor error")
    return reply["result"]


def batch_results(
    ids: Sequence[int], calls: Sequence[tuple[str, Sequence[Any]]], reply: Any
) -> list[Any]:
    """Return a batch reply's results in call order; raise on any error or missing answer."""
    if not isinstance(reply, list):
        result_of("batch", reply)
        raise RpcTransportError("batch: reply is not a JSON array")
    by_id = {item.get("id"): item for item in reply if isinstance(item, dict)}
    out = []
    for rid, (method, _) in zip(ids, calls, strict=True):
        item = by_id.get(rid)
        if item is None:
            raise RpcTransportError(f"batch: no answer for id {rid} ({method})")
        out.append(result_of(method, item))
    return out
