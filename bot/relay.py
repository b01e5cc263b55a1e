"""The builder-relay client: signed eth_sendBundle / eth_callBundle / eth_cancelBundle.

Every request carries ``X-Flashbots-Signature: <address>:<signature>``, an EIP-191 personal
signature of the 0x-hex keccak256 of the exact body bytes, made with a reputation key that
holds no funds (never the key that signs transactions). ``send_bundle`` sends the bundle for
the target block and the next one, concurrently, to every relay URL, and each request is sent
once: an answer, a JSON-RPC error, an HTTP error, a timeout or a refused connection all come
back as one ``RelayReply``; nothing raises past the client and nothing triggers another send.
There is no path to the public mempool here.

The same replacement UUID for two target blocks would make the second bundle replace the
first at a relay (replacement is keyed by UUID and signer), so the next-block bundle carries
a UUID derived from the caller's (``next_block_uuid``); ``cancel_bundle`` cancels both.

URLs may carry credentials (userinfo, query tokens, keys in the path): they are logged and
reported only through ``redact_url`` (``bot.redact.redact_url_strict``: every query value
masked). The signing key is never logged or shown.

The network seam is ``RelayTransport.post``; ``StreamTransport`` is the default (HTTP/1.1 on
asyncio streams, kept-alive connections per origin).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import itertools
import logging
import re
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import orjson
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from bot.redact import redact_url_strict as redact_url
from chains.rpc_http_async import _exchange as http_exchange

__all__ = [
    "FLASHBOTS_SIGNATURE_HEADER",
    "HttpReply",
    "RelayClient",
    "RelayReply",
    "RelayTransport",
    "StreamTransport",
    "flashbots_signature",
    "next_block_uuid",
    "redact_url",
]

FLASHBOTS_SIGNATURE_HEADER = "X-Flashbots-Signature"

_log = logging.getLogger(__name__)
_ERROR_BODY_CHARS = 200
_HEX_TX = re.compile(r"0x(?:[0-9a-fA-F]{2})+")


def flashbots_signature(body: bytes, key: bytes | str | LocalAccount) -> str:
    """Return the X-Flashbots-Signature value for body: '<checksummed address>:<0x signature>'."""
    account = key if isinstance(key, LocalAccount) else Account.from_key(key)
    # Flashbots signs the hex string of the hash (as ethers' signMessage(id(body))), not its bytes
    message = encode_defunct(text="0x" + keccak(body).hex())
    signature = bytes(account.sign_message(message).signature)
    return f"{account.address}:0x{signature.hex()}"


def next_block_uuid(replacement_uuid: str) -> str:
    """Return the replacement UUID used for the next-block copy of a bundle."""
    return str(uuid.uuid5(uuid.UUID(replacement_uuid), "next-block"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RelayReply:
    """What one request to one relay came to; url is redacted, safe to log."""

    url: str
    method: str
    block_number: int | None  # the bundle's target block (None for a cancel)
    ok: bool
    bundle_hash: str | None = None
    error: str | None = None  # set exactly when not ok
    http_status: int | None = None  # None when no HTTP answer arrived
    replacement_uuid: str | None = None
    result: Any = None  # the JSON-RPC result (eth_callBundle's simulation) when ok
    latency_ns: int = 0


@dataclass(frozen=True, slots=True)
class HttpReply:
    """An HTTP answer: status code and body bytes."""

    status: int
    body: bytes


class RelayTransport(Protocol):
    """POST one body to one URL and return the answer; raise on a transport failure."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpReply: ...

    async def close(self) -> None: ...


class StreamTransport:
    """HTTP/1.1 POST over asyncio streams, one pool of kept-alive connections per origin.

    A request is written once. The only second attempt is on a kept-alive connection that the
    server had already closed (it fails before any answer starts), on a fresh connection.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[tuple[Any, Any]]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        """Send one POST and return its answer."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) url")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = (parts.scheme, parts.hostname, port)
        host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{port}"
        lines = [
            f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {host_header}",
            "Content-Type: application/json",
            "Connection: keep-alive",
        ]
        if parts.username is not None:
            userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            lines.append("Authorization: Basic " + base64.b64encode(userinfo.encode()).decode())
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        idle = self._idle.setdefault(origin, [])
        for attempt in (0, 1):
            reused = bool(idle) and attempt == 0
            conn = idle.pop() if reused else await self._open(origin)
            try:
                status, reply_headers, payload = await http_exchange(*conn, request)
            except (ConnectionResetError, BrokenPipeError):
                conn[1].close()
                if reused:
                    continue  # the server closed the idle connection before reading anything
                raise
            except BaseException:
                conn[1].close()
                raise
            if reply_headers.get("connection", "").lower() == "close":
                conn[1].close()
            else:
                idle.append(conn)
            return HttpReply(status, payload)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close every kept-alive connection."""
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for _, writer in conns:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def _open(self, origin: tuple[str, str, int]) -> tuple[Any, Any]:
        scheme, host, port = origin
        if scheme == "https" and self._tls is None:
            self._tls = ssl.create_default_context()
        tls = self._tls if scheme == "https" else None
        return await asyncio.open_connection(host, port, ssl=tls, limit=2**20)


class RelayClient:
    """Signed bundle requests to a set of builder relays; see the module docstring."""

    def __init__(
        self,
        urls: Sequence[str],
        signing_key: bytes | str | LocalAccount,
        *,
        timeout_s: float = 2.0,
        transport: RelayTransport | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one relay url is needed")
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http(s) relay url: {redact_url(url)}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0: {timeout_s}")
        self._urls = tuple(urls)
        self._account: LocalAccount = (
            signing_key if isinstance(signing_key, LocalAccount) else Account.from_key(signing_key)
        )
        self.timeout_s = timeout_s
        self._transport: RelayTransport = StreamTransport() if transport is None else transport
        self._ids = itertools.count(1)

    @property
    def signer_address(self) -> str:
        """Return the checksummed address of the reputation key."""
        return str(self._account.address)

    @property
    def redacted_urls(self) -> tuple[str, ...]:
        """Return the relay URLs as they may be logged."""
        return tuple(redact_url(u) for u in self._urls)

    def __repr__(self) -> str:  # never show the key or a credential
        return f"RelayClient(signer={self.signer_address}, urls={list(self.redacted_urls)})"

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the transport's connections."""
        await self._transport.close()

    async def send_bundle(
        self,
        txs: Sequence[str],
        block_number: int,
        *,
        min_timestamp: int | None = None,
        max_timestamp: int | None = None,
        replacement_uuid: str | None = None,
    ) -> list[RelayReply]:
        """Send the bundle for block_number and block_number + 1 to every relay, concurrently.

        Replies come back per (url, block) in url order, target block first.
        """
        _check_txs(txs)
        _check_block(block_number)
        for name, ts in (("min_timestamp", min_timestamp), ("max_timestamp", max_timestamp)):
            if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or ts < 0):
                raise ValueError(f"{name} must be an int >= 0 unix seconds: {ts!r}")
        if replacement_uuid is not None:
            uuid.UUID(replacement_uuid)  # raises ValueError: relays expect a UUID
        jobs = []
        for url in self._urls:
            for block, rid in (
                (block_number, replacement_uuid),
                (
                    block_number + 1,
                    None if replacement_uuid is None else next_block_uuid(replacement_uuid),
                ),
            ):
                bundle: dict[str, Any] = {"txs": list(txs), "blockNumber": hex(block)}
                if min_timestamp is not None:
                    bundle["minTimestamp"] = min_timestamp
                if max_timestamp is not None:
                    bundle["maxTimestamp"] = max_timestamp
                bundle["revertingTxHashes"] = []  # all-or-nothing: no transaction may revert
                if rid is not None:
                    bundle["replacementUuid"] = rid
                jobs.append(self._request(url, "eth_sendBundle", [bundle], block, rid))
        return list(await asyncio.gather(*jobs))

    async def call_bundle(
        self,
        txs: Sequence[str],
        block_number: int,
        state_block_number: int | str = "latest",
        *,
        timestamp: int | None = None,
    ) -> list[RelayReply]:
        """Simulate the bundle (eth_callBundle) at every relay; the result is Flashbots-shaped."""
        _check_txs(txs)
        _check_block(block_number)
        state = state_block_number
        if isinstance(state, int):
            _check_block(state)
            state = hex(state)
        bundle: dict[str, Any] = {
            "txs": list(txs),
            "blockNumber": hex(block_number),
            "stateBlockNumber": state,
        }
        if timestamp is not None:
            bundle["timestamp"] = timestamp
        jobs = [
            self._request(url, "eth_callBundle", [bundle], block_number, None) for url in self._urls
        ]
        return list(await asyncio.gather(*jobs))

    async def cancel_bundle(self, replacement_uuid: str) -> list[RelayReply]:
        """Cancel the bundles sent under replacement_uuid (both target blocks) at every relay."""
        uuid.UUID(replacement_uuid)
        jobs = [
            self._request(url, "eth_cancelBundle", [{"replacementUuid": rid}], None, rid)
            for url in self._urls
            for rid in (replacement_uuid, next_block_uuid(replacement_uuid))
        ]
        return list(await asyncio.gather(*jobs))

    def _body(self, method: str, params: list[Any]) -> bytes:
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return orjson.dumps(request)

    async def _request(
        self,
        url: str,
        method: str,
        params: list[Any],
        block_number: int | None,
        replacement_uuid: str | None,
    ) -> RelayReply:
        """Send one signed request and turn whatever happens into a RelayReply."""
        shown = redact_url(url)
        body = self._body(method, params)
        headers = {FLASHBOTS_SIGNATURE_HEADER: flashbots_signature(body, self._account)}
        fields: dict[str, Any] = {
            "url": shown,
            "method": method,
            "block_number": block_number,
            "replacement_uuid": replacement_uuid,
        }
        start_ns = time.perf_counter_ns()
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self._transport.post(url, body, headers)
        except TimeoutError:
            reply = RelayReply(
                ok=False, error=f"timeout: no answer within {self.timeout_s} s", **fields
            )
        except Exception as exc:  # every failure is a reply, never an exception
            message = str(exc).replace(url, shown)
            reply = RelayReply(ok=False, error=f"{type(exc).__name__}: {message}", **fields)
        else:
            reply = _reply_of(answer, fields)
        reply = dataclasses.replace(reply, latency_ns=time.perf_counter_ns() - start_ns)
        _log_reply(reply)
        return reply


def _reply_of(answer: HttpReply, fields: dict[str, Any]) -> RelayReply:
    """Read an HTTP answer as a JSON-RPC reply (a JSON error body counts even on HTTP 4xx/5xx)."""
    status = answer.status
    try:
        decoded = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        err = decoded["error"]
        text = f"{err.get('code')}: {err.get('message')}"
        if status != 200:
            text = f"HTTP {status}: {text}"
        return RelayReply(ok=False, error=text, http_status=status, **fields)
    if status != 200:
        snippet = answer.body[:_ERROR_BODY_CHARS].decode("utf-8", errors="replace")
        return RelayReply(ok=False, error=f"HTTP {status}: {snippet}", http_status=status, **fields)
    if not isinstance(decoded, dict) or "result" not in decoded:
        snippet = answer.body[:_ERROR_BODY_CHARS].decode("utf-8", errors="replace")
        return RelayReply(
            ok=False, error=f"not a JSON-RPC reply: {snippet}", http_status=status, **fields
        )
    result = decoded["result"]
    bundle_hash = result.get("bundleHash") if isinstance(result, dict) else None
    return RelayReply(
        ok=True,
        bundle_hash=bundle_hash if isinstance(bundle_hash, str) else None,
        http_status=status,
        result=result,
        **fields,
    )


def _log_reply(reply: RelayReply) -> None:
    if reply.ok:
        _log.info(
            "%s %s block %s: ok %s (%.1f ms)",
            reply.url,
            reply.method,
            reply.block_number,
            reply.bundle_hash or "",
            reply.latency_ns / 1e6,
        )
    else:
        _log.warning("%s %s block %s: %s", reply.url, reply.method, reply.block_number, reply.error)


def _check_txs(txs: Sequence[str]) -> None:
    if isinstance(txs, str) or not txs:
        raise ValueError("a bundle needs at least one raw transaction")
    for tx in txs:
        if not isinstance(tx, str) or not _HEX_TX.fullmatch(tx):
            raise ValueError(f"not a 0x-hex raw transaction: {str(tx)[:20]!r}")


def _check_block(block_number: int) -> None:
    if isinstance(block_number, bool) or not isinstance(block_number, int) or block_number < 0:
        raise ValueError(f"block number must be an int >= 0: {block_number!r}")
