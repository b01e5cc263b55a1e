"""The local builder's front door: JSON-RPC over HTTP on loopback, Flashbots-signed requests.

Each request must carry ``X-Flashbots-Signature: <address>:<signature>`` where the signature
is EIP-191 over the 0x-hex keccak256 of the exact body bytes; the signer is recovered here and
compared with the claimed address (and, when given, an allow-list). A missing or bad header
is answered with a JSON-RPC error (code -32600), like the Flashbots relay does.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, keccak, to_checksum_address

__all__ = [
    "FLASHBOTS_SIGNATURE_HEADER",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "JsonRpcFault",
    "SignedJsonRpcServer",
    "recover_signer",
]

FLASHBOTS_SIGNATURE_HEADER = "X-Flashbots-Signature"
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
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
