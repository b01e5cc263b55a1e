"""The local builder's network edges: the JSON-RPC front door, and the node's pool feed.

``SignedJsonRpcServer`` serves JSON-RPC over HTTP on loopback to Flashbots-signed requests.

Each request must carry ``X-Flashbots-Signature: <address>:<signature>`` where the signature
is EIP-191 over the 0x-hex keccak256 of the exact body bytes; the signer is recovered here and
compared with the claimed address (and, when given, an allow-list). A missing or bad header
is answered with a JSON-RPC error (code -32600), like the Flashbots relay does.

``PendingArrivals`` learns the public pool's arrival order, which anvil's FIFO miner follows,
without mining: it numbers hashes as the node's ``newPendingTransactions`` feed announces them.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, keccak, to_checksum_address
from websockets.sync.client import connect

__all__ = [
    "FLASHBOTS_SIGNATURE_HEADER",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "JsonRpcFault",
    "PendingArrivals",
    "SignedJsonRpcServer",
    "recover_signer",
]

FLASHBOTS_SIGNATURE_HEADER = "X-Flashbots-Signature"
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
_log = logging.getLogger(__name__)
_MAX_BODY_BYTES = 1 << 20  # Flashbots caps a bundle at 300,000 bytes

# (method, params, recovered signer) -> result; raise JsonRpcFault for an error reply
Dispatch = Callable[[str, list[Any], str], Any]


class JsonRpcFault(Exception):
    """An error to answer with a JSON-RPC error object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def recover_signer(header: str | None, body: bytes) -> str:
    """Return the checksummed signer of body per its X-Flashbots-Signature header, else raise."""
    if header is None or header.strip() == "":
        raise JsonRpcFault(INVALID_REQUEST, f"missing {FLASHBOTS_SIGNATURE_HEADER} header")
    claimed, sep, signature = header.strip().partition(":")
    if sep == "" or not is_address(claimed):
        raise JsonRpcFault(INVALID_REQUEST, "invalid signature format, expected address:signature")
    message = encode_defunct(text="0x" + keccak(body).hex())
    try:
        recovered = Account.recover_message(message, signature=signature)
    except Exception as exc:  # malformed signature bytes
        raise JsonRpcFault(INVALID_REQUEST, f"error in signature check {claimed}") from exc
    if recovered.lower() != claimed.lower():
        raise JsonRpcFault(INVALID_REQUEST, f"error in signature check {claimed}")
    return to_checksum_address(recovered)


class SignedJsonRpcServer:
    """A ThreadingHTTPServer on a loopback address, serving signed JSON-RPC in a thread."""

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allowed_signers: Collection[str] | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the local builder only listens on loopback, not {host!r}")
        allowed = None
        if allowed_signers is not None:
            allowed = frozenset(to_checksum_address(a) for a in allowed_signers)
        handler = _handler_class(dispatch, allowed)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the http URL the server listens on."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-builder-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, join the thread and close the socket; idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()


def _handler_class(
    dispatch: Dispatch, allowed: frozenset[str] | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10.0  # seconds an idle kept-alive connection holds its thread

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= _MAX_BODY_BYTES:
                self._answer(None, error=(INVALID_REQUEST, f"body length {length} refused"))
                return
            body = self.rfile.read(length)
            try:
                request = orjson.loads(body)
            except orjson.JSONDecodeError:
                self._answer(None, error=(-32700, "parse error"))
                return
            rid = request.get("id") if isinstance(request, dict) else None
            try:
                signer = recover_signer(self.headers.get(FLASHBOTS_SIGNATURE_HEADER), body)
                if allowed is not None and signer not in allowed:
                    raise JsonRpcFault(INVALID_REQUEST, f"signer {signer} is not allowed")
                if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                    raise JsonRpcFault(INVALID_REQUEST, "expected one JSON-RPC request object")
                params = request.get("params", [])
                if not isinstance(params, list):
                    raise JsonRpcFault(INVALID_PARAMS, "params must be a list")
                result = dispatch(request["method"], params, signer)
            except JsonRpcFault as fault:
                self._answer(rid, error=(fault.code, fault.message))
                return
            except Exception as exc:  # a bug or a node failure: answer, keep serving
                self._answer(rid, error=(-32603, f"internal error: {type(exc).__name__}: {exc}"))
                return
            self._answer(rid, result=result)

        def _answer(
            self, rid: Any, *, result: Any = None, error: tuple[int, str] | None = None
        ) -> None:
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
            if error is None:
                reply["result"] = result
            else:
                reply["error"] = {"code": error[0], "message": error[1]}
            payload = orjson.dumps(reply)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the builder reports through its BlockReport and logging

    return Handler


class PendingArrivals:
    """First-seen order of the node's pending transactions, from a websocket subscription.

    A background thread subscribes to ``newPendingTransactions`` and numbers each hash the
    first time it is announced; a hash announced again (a resubmission) keeps its number.
    """

    def __init__(self, ws_url: str) -> None:
        self._url = ws_url
        self._seq: dict[str, int] = {}
        self._next = 0
        self._given_up: set[str] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        """Subscribe in a background thread; return once the subscription is live."""
        if self._thread is not None:
            raise RuntimeError("the arrival feed is already started")
        self._thread = threading.Thread(target=self._run, name="local-builder-ws", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            self.stop()
            raise RuntimeError(f"no newPendingTransactions feed from {self._url}: {self._error}")

    def stop(self) -> None:
        """Unsubscribe, close the socket and join the thread; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def mark(self) -> int:
        """Return the number the next first-seen hash will get."""
        with self._cond:
            return self._next

    def note(self, hashes: Sequence[str]) -> None:
        """Number the hashes not seen yet, in the given order (the pool found at start)."""
        with self._cond:
            for h in hashes:
                self._add(h.lower())

    def ranks(self, hashes: Sequence[str], wait_s: float) -> dict[str, int]:
        """Return the first-seen numbers of hashes, waiting up to wait_s for announcements.

        A transaction the node has accepted is announced a moment later on the feed; a hash
        still unknown after the wait is given up on (and not waited for again).
        """
        wanted = {h.lower() for h in hashes}
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                missing = wanted - self._seq.keys() - self._given_up
                left = deadline - time.monotonic()
                if not missing or left <= 0 or not self._live():
                    break
                self._cond.wait(left)
            if missing:
                _log.info("%d pool transactions were never announced; ordered last", len(missing))
            self._given_up |= missing
            return {h: self._seq[h] for h in wanted if h in self._seq}

    def since(self, mark: int) -> list[str]:
        """Return the hashes first seen at or after mark, in arrival order."""
        with self._cond:
            return sorted((h for h, n in self._seq.items() if n >= mark), key=self._seq.__getitem__)

    def retain(self, keep: set[str], since: int) -> None:
        """Forget hashes numbered before since that are not in keep (mined or gone)."""
        with self._cond:
            self._seq = {h: n for h, n in self._seq.items() if n >= since or h in keep}
            self._given_up &= keep

    def _live(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _add(self, h: str) -> None:
        if h not in self._seq:
            self._seq[h] = self._next
            self._next += 1
            self._cond.notify_all()

    def _run(self) -> None:
        subscribe = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe"}
        subscribe["params"] = ["newPendingTransactions"]
        try:
            with connect(self._url, proxy=None, open_timeout=10, close_timeout=2) as ws:
                ws.send(orjson.dumps(subscribe).decode())
                reply = orjson.loads(ws.recv(timeout=10))
                if not isinstance(reply, dict) or not isinstance(reply.get("result"), str):
                    raise RuntimeError(f"eth_subscribe refused: {reply}")
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        message = orjson.loads(ws.recv(timeout=0.05))
                    except TimeoutError:
                        continue
                    h = (message.get("params") or {}).get("result")
                    if isinstance(h, str):
                        with self._cond:
                            self._add(h.lower())
        except Exception as exc:  # the node went away: report it, order unknowns by sender
            self._error = exc
            if not self._stop.is_set():
                _log.warning("pending transaction feed %s ended: %s", self._url, exc)
        finally:
            self._ready.set()
            with self._cond:
                self._cond.notify_all()
