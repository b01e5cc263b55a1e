"""bot.relay: the signature header, the request shape, and replies from misbehaving relays."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from coincurve import PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

import bot.relay
from bot.relay import (
    FLASHBOTS_SIGNATURE_HEADER,
    HttpReply,
    RelayClient,
    flashbots_signature,
    next_block_uuid,
    redact_url,
)

KEY = "0x" + "01" * 32
GOLDEN_BODY = (
    b'{"jsonrpc":"2.0","id":1,"method":"eth_sendBundle","params":[{"txs":["0x02f8"],'
    b'"blockNumber":"0x10","revertingTxHashes":[]}]}'
)
# computed once with coincurve and a hand-built EIP-191 prefix (see test_golden_is_independent)
GOLDEN_HEADER = (
    "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1:0x15c7afb288f88f9def5f3f6c4ef0a55a8e172b19"
    "23640861aacdc92f2fe3f5cc57496f8ee051d2d52d596d80bea0e632d49dc9484bdb642151dab65e9023abc31b"
)
TXS = ["0x02f8aa01", "0x02f8bb02"]


def test_golden_signature_header() -> None:
    assert flashbots_signature(GOLDEN_BODY, KEY) == GOLDEN_HEADER
    assert flashbots_signature(GOLDEN_BODY, bytes.fromhex(KEY[2:])) == GOLDEN_HEADER
    assert flashbots_signature(GOLDEN_BODY, Account.from_key(KEY)) == GOLDEN_HEADER


def test_golden_is_independent() -> None:
    """Rebuild the header from coincurve and keccak alone: the 0x-hex hash is the message."""
    text = ("0x" + keccak(GOLDEN_BODY).hex()).encode()
    digest = keccak(b"\x19Ethereum Signed Message:\n" + str(len(text)).encode() + text)
    private = PrivateKey(bytes.fromhex(KEY[2:]))
    sig = private.sign_recoverable(digest, hasher=None)
    address = to_checksum_address(keccak(private.public_key.format(compressed=False)[1:])[-20:])
    assert f"{address}:0x{sig[:64].hex()}{sig[64] + 27:02x}" == GOLDEN_HEADER


def test_signature_recovers_the_signer_and_binds_the_body() -> None:
    address, signature = flashbots_signature(GOLDEN_BODY, KEY).split(":")
    message = encode_defunct(text="0x" + keccak(GOLDEN_BODY).hex())
    assert Account.recover_message(message, signature=signature) == address
    other = encode_defunct(text="0x" + keccak(GOLDEN_BODY + b" ").hex())
    assert Account.recover_message(other, signature=signature) != address


def test_module_has_no_public_mempool_path() -> None:
    source = Path(bot.relay.__file__).read_text()
    assert "sendRawTransaction" not in source
    assert "eth_sendTransaction" not in source


def test_redact_url_masks_credentials() -> None:
    url = "https://alice:s3cret@eth.example.org:8443/v2/AbCdEf0123456789xyzw?apikey=tok&x=1"
    shown = redact_url(url)
    assert shown == "https://***@eth.example.org:8443/v2/***?apikey=***&x=***"
    for secret in ("alice", "s3cret", "AbCdEf0123456789xyzw", "tok"):
        assert secret not in shown
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_repr_and_errors_do_not_show_the_key_or_credentials() -> None:
    client = RelayClient(["https://u:p@relay.example/?auth=zzz"], KEY, transport=_Recorder())
    text = repr(client)
    assert KEY[2:] not in text and "zzz" not in text and "u:p" not in text
    assert client.signer_address in text


class _Recorder:
    """A transport that records each POST and answers with a bundle hash."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpReply:
        self.posts.append((url, body, dict(headers)))
        rid = orjson.loads(body)["id"]
        answer = {"jsonrpc": "2.0", "id": rid, "result": {"bundleHash": "0x" + "ab" * 32}}
        return HttpReply(200, orjson.dumps(answer))

    async def close(self) -> None:
        pass


def _params(body: bytes) -> tuple[str, list[Any]]:
    request = orjson.loads(body)
    assert request["jsonrpc"] == "2.0" and isinstance(request["id"], int)
    return request["method"], request["params"]


def _canonical(item: Any) -> bytes:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)


def test_send_bundle_body_is_exactly_the_documented_shape() -> None:
    recorder = _Recorder()
    client = RelayClient(["http://a.example/", "http://b.example/"], KEY, transport=recorder)
    rid = str(uuid.uuid4())

    replies = asyncio.run(
        client.send_bundle(TXS, 100, min_timestamp=5, max_timestamp=9, replacement_uuid=rid)
    )

    sent = sorted(((url, _params(body)) for url, body, _ in recorder.posts), key=_canonical)
    expected = []
    for url in ("http://a.example/", "http://b.example/"):
        for block, used_uuid in ((100, rid), (101, next_block_uuid(rid))):
            bundle = {
                "txs": TXS,
                "blockNumber": hex(block),
                "minTimestamp": 5,
                "maxTimestamp": 9,
                "revertingTxHashes": [],
                "replacementUuid": used_uuid,
            }
            expected.append((url, ("eth_sendBundle", [bundle])))
    assert sent == sorted(expected, key=_canonical)
    for _, body, headers in recorder.posts:  # every body carries its own valid signature
        assert headers == {FLASHBOTS_SIGNATURE_HEADER: flashbots_signature(body, KEY)}
    assert [(r.url, r.block_number, r.ok) for r in replies] == [
        ("http://a.example/", 100, True),
        ("http://a.example/", 101, True),
        ("http://b.example/", 100, True),
        ("http://b.example/", 101, True),
    ]
    assert {r.bundle_hash for r in replies} == {"0x" + "ab" * 32}


def test_optional_fields_are_left_out_when_not_given() -> None:
    recorder = _Recorder()
    client = RelayClient(["http://a.example/"], KEY, transport=recorder)
    asyncio.run(client.send_bundle(TXS, 7))
    bundles = sorted(_params(body)[1][0]["blockNumber"] for _, body, _ in recorder.posts)
    assert bundles == ["0x7", "0x8"]
    for _, body, _ in recorder.posts:
        (bundle,) = _params(body)[1]
        assert set(bundle) == {"txs", "blockNumber", "revertingTxHashes"}


def test_call_and_cancel_bodies() -> None:
    recorder = _Recorder()
    client = RelayClient(["http://a.example/"], KEY, transport=recorder)
    rid = str(uuid.uuid4())
    asyncio.run(client.call_bundle(TXS, 12, 11, timestamp=1_700_000_000))
    asyncio.run(client.cancel_bundle(rid))
    calls = [_params(body) for _, body, _ in recorder.posts]
    assert calls[0] == (
        "eth_callBundle",
        [{"txs": TXS, "blockNumber": "0xc", "stateBlockNumber": "0xb", "timestamp": 1_700_000_000}],
    )
    assert sorted(calls[1:], key=_canonical) == sorted(
        [
            ("eth_cancelBundle", [{"replacementUuid": rid}]),
            ("eth_cancelBundle", [{"replacementUuid": next_block_uuid(rid)}]),
        ],
        key=_canonical,
    )


@pytest.mark.parametrize(
    ("txs", "block"), [([], 1), (["02f8"], 1), (["0x2"], 1), (TXS, -1), ("0x02f8", 1)]
)
def test_bad_arguments_raise(txs: Any, block: int) -> None:
    client = RelayClient(["http://a.example/"], KEY, transport=_Recorder())
    with pytest.raises(ValueError):
        asyncio.run(client.send_bundle(txs, block))


def test_a_transport_exception_becomes_a_reply() -> None:
    class Broken(_Recorder):
        async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpReply:
            raise ConnectionRefusedError(f"cannot reach {url}")

    client = RelayClient(["http://u:pw@a.example/?key=secret"], KEY, transport=Broken())
    replies = asyncio.run(client.send_bundle(TXS, 3))
    assert [r.ok for r in replies] == [False, False]
    for r in replies:
        assert r.error is not None and r.error.startswith("ConnectionRefusedError")
        assert "secret" not in r.error and "pw" not in r.error and "secret" not in r.url


# --- stub relays on 127.0.0.1 -------------------------------------------------------------

SLEEP_S = 1.5
TIMEOUT_S = 0.4


class _Stub:
    """A relay stand-in that answers in one fixed way and counts what it received."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[tuple[bytes, str | None]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with stub.lock:
                    stub.requests.append((body, self.headers.get(FLASHBOTS_SIGNATURE_HEADER)))
                rid = orjson.loads(body)["id"]
                status, answer = 200, {"jsonrpc": "2.0", "id": rid}
                if stub.behaviour == "ok":
                    answer["result"] = {"bundleHash": "0x" + keccak(body).hex()}
                elif stub.behaviour == "http500":
                    status = 500
                elif stub.behaviour == "sleep":
                    time.sleep(SLEEP_S)
                    answer["result"] = {"bundleHash": "0x00"}
                elif stub.behaviour == "badsig":
                    answer["error"] = {"code": -32600, "message": "error in signature check 0x1"}
                payload = b"upstream down" if status == 500 else orjson.dumps(answer)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up already

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def stubs() -> Iterator[dict[str, _Stub]]:
    made = {name: _Stub(name) for name in ("ok", "http500", "sleep", "badsig")}
    yield made
    for stub in made.values():
        stub.close()


def test_concurrent_sends_give_one_structured_reply_each(stubs: dict[str, _Stub]) -> None:
    names = list(stubs)
    urls = [stubs[n].url for n in names]

    async def run() -> tuple[list[Any], float]:
        async with RelayClient(urls, KEY, timeout_s=TIMEOUT_S) as client:
            start = time.perf_counter()
            replies = await client.send_bundle(TXS, 50)
            return replies, time.perf_counter() - start

    replies, elapsed_s = asyncio.run(run())

    assert elapsed_s < SLEEP_S  # concurrent, bounded by the timeout, not by the slow relay
    by = {(r.url, r.block_number): r for r in replies}
    assert len(replies) == 8 and len(by) == 8
    for name in names:
        for block in (50, 51):
            r = by[(stubs[name].url, block)]
            assert r.method == "eth_sendBundle"
            if name == "ok":
                assert r.ok and r.error is None and r.http_status == 200
                assert r.bundle_hash is not None and r.bundle_hash.startswith("0x")
            else:
                assert not r.ok and r.bundle_hash is None and r.error
    assert by[(stubs["http500"].url, 50)].http_status == 500
    assert "HTTP 500" in (by[(stubs["http500"].url, 50)].error or "")
    assert "timeout" in (by[(stubs["sleep"].url, 51)].error or "")
    assert by[(stubs["sleep"].url, 51)].http_status is None
    assert "-32600" in (by[(stubs["badsig"].url, 50)].error or "")
    time.sleep(SLEEP_S + 0.2)  # anything late would show up now
    for name in names:
        stub = stubs[name]
        assert len(stub.requests) == 2, name  # target and target + 1, nothing resent
        blocks = sorted(orjson.loads(b)["params"][0]["blockNumber"] for b, _ in stub.requests)
        assert blocks == ["0x32", "0x33"]
        for body, header in stub.requests:
            assert header == flashbots_signature(body, KEY)
