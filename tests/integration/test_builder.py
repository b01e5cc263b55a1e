"""The local builder on a real anvil (mining off, FIFO), fed by the real relay client."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from websockets.sync.client import connect

from bot.relay import RelayClient, flashbots_signature, next_block_uuid
from chains.rpc import HttpRpc
from sim import builder as builder_module
from sim.anvil import AnvilConfig, AnvilProcess
from sim.builder import LocalBuilder
from sim.txs import Call, RawSigner

pytestmark = pytest.mark.integration

# anvil's default dev accounts (its public test mnemonic): funded on a local node only
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
DEV_KEYS = tuple(
    "0x" + key_from_seed(seed_from_mnemonic(ANVIL_MNEMONIC, ""), f"m/44'/60'/0'/0/{i}").hex()
    for i in range(4)
)
REPUTATION_KEY = "0x" + "42" * 32  # signs requests only; holds nothing
SINK = "0x000000000000000000000000000000000000dEaD"
REVERTER = "0x00000000000000000000000000000000000fa11a"
REVERTER_CODE = "0x60006000fd"  # PUSH1 0 PUSH1 0 REVERT
GUARD = "0x00000000000000000000000000000000000B10c4"
# reverts unless calldata word 0 == blockhash(number - 1) (the executor's guard); else
# returns (blockhash(number - 1), timestamp, number, basefee)
GUARD_CODE = "0x60014303408060005260003514601457600080fd5b42602052436040524860605260806000f3"


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilProcess]:
    with AnvilProcess.start(AnvilConfig(no_mining=True, order="fifo")) as anvil:
        anvil.set_code(REVERTER, bytes.fromhex(REVERTER_CODE[2:]))
        anvil.set_code(GUARD, bytes.fromhex(GUARD_CODE[2:]))
        anvil.mine()
        yield anvil


@pytest.fixture
def builder(node: AnvilProcess) -> Iterator[LocalBuilder]:
    snapshot = node.snapshot()
    with LocalBuilder(node.http_url) as b:
        yield b
    node.call("anvil_dropAllTransactions")
    assert node.revert(snapshot)


@pytest.fixture
def rpc(node: AnvilProcess) -> Iterator[HttpRpc]:
    with node.rpc() as client:
        yield client


class Wallet:
    """A dev account that signs raw transactions with explicit nonces."""

    def __init__(self, rpc: HttpRpc, key: str, chain_id: int) -> None:
        self.signer = RawSigner(bytes.fromhex(key[2:]), chain_id)
        self.nonce = int(rpc.call("eth_getTransactionCount", self.signer.address, "pending"), 16)

    def tx(
        self, to: str, *, value_wei: int = 1, gas_units: int = 21_000, data: bytes = b""
    ) -> tuple[str, str]:
        """Return (0x raw, 0x hash) of the next transaction of this account."""
        raw, tx_hash = self.signer.sign(
            Call(to=to, data=data, value_wei=value_wei, gas_units=gas_units),
            nonce=self.nonce,
            max_fee_per_gas_wei=50 * 10**9,
            max_priority_fee_per_gas_wei=10**9,
        )
        self.nonce += 1
        return "0x" + raw.hex(), tx_hash


def wallets(rpc: HttpRpc, node: AnvilProcess) -> list[Wallet]:
    return [Wallet(rpc, key, node.chain_id) for key in DEV_KEYS]


def publish(rpc: HttpRpc, raw: str) -> None:
    rpc.call("eth_sendRawTransaction", raw)


def relay(builder: LocalBuilder) -> RelayClient:
    return RelayClient([builder.url], REPUTATION_KEY, timeout_s=10.0)


async def _send(builder: LocalBuilder, txs: list[str], block: int, **kw: Any) -> list[Any]:
    async with relay(builder) as client:
        return await client.send_bundle(txs, block, **kw)


def test_backrun_lands_at_the_top_right_after_its_victim_and_not_again(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours, alice, victim, carol = wallets(rpc, node)
    a_raw, a_hash = alice.tx(SINK)
    v_raw, v_hash = victim.tx(SINK)
    c_raw, c_hash = carol.tx(SINK)
    for raw in (a_raw, v_raw, c_raw):
        publish(rpc, raw)
    o_raw, o_hash = ours.tx(SINK)
    target = node.block_number() + 1

    replies = asyncio.run(_send(builder, [v_raw, o_raw], target))

    assert [(r.block_number, r.ok, r.error) for r in replies] == [
        (target, True, None),
        (target + 1, True, None),
    ]
    assert len({r.bundle_hash for r in replies}) == 1
    report = builder.build_block()
    assert report.block_number == target
    # the bundle first, victim then ours; the public transactions after it, no victim twice
    assert list(report.tx_hashes) == [v_hash, o_hash, a_hash, c_hash]
    outcome = report.outcome(replies[0].bundle_hash)
    assert outcome.included and outcome.tx_indexes == (0, 1)
    assert outcome.signer == Account.from_key(REPUTATION_KEY).address
    # the next-block copy: its victim is mined already, so it is left out whole
    later = builder.build_block()
    assert later.tx_hashes == ()
    left = later.outcome(replies[1].bundle_hash)
    assert not left.included and left.reason.startswith(f"tx {v_hash} already mined")
    assert builder.pending_bundles() == []


def test_bundle_with_a_reverting_tx_is_left_out_whole(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours, alice, bob, _ = wallets(rpc, node)
    a_raw, a_hash = alice.tx(SINK)
    b_raw, b_hash = bob.tx(SINK)
    publish(rpc, a_raw)
    publish(rpc, b_raw)
    ok_raw, _ = ours.tx(SINK)
    bad_raw, bad_hash = ours.tx(REVERTER, value_wei=0, gas_units=60_000)
    target = node.block_number() + 1

    replies = asyncio.run(_send(builder, [ok_raw, bad_raw], target))
    report = builder.build_block()

    assert list(report.tx_hashes) == [a_hash, b_hash]
    outcome = report.outcome(replies[0].bundle_hash)
    assert not outcome.included and outcome.reason == f"tx {bad_hash} reverted"
    assert report.attempts == 2
    nonce = rpc.call("eth_getTransactionCount", ours.signer.address, "latest")
    assert int(nonce, 16) == ours.nonce - 2  # neither bundle transaction landed


def test_cancel_and_replace_by_uuid(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours = wallets(rpc, node)[0]
    first_raw, _ = ours.tx(SINK, value_wei=1)
    ours.nonce -= 1
    second_raw, second_hash = ours.tx(SINK, value_wei=2)
    rid = str(uuid.uuid4())
    target = node.block_number() + 1

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with relay(builder) as client:
            await client.send_bundle([first_raw], target, replacement_uuid=rid)
            replaced = await client.send_bundle([second_raw], target, replacement_uuid=rid)
            # the two target blocks' sends race each other: their arrival order is free
            held = sorted((b.replacement_uuid, b.tx_hashes) for b in builder.pending_bundles())
            assert held == sorted([(rid, (second_hash,)), (next_block_uuid(rid), (second_hash,))])
            return replaced, await client.cancel_bundle(rid)

    replaced, cancelled = asyncio.run(scenario())

    assert all(r.ok for r in replaced + cancelled)
    assert builder.pending_bundles() == []
    report = builder.build_block()
    assert report.tx_hashes == () and report.bundles == ()


def test_call_bundle_reports_a_revert_and_keeps_the_pool(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours, alice, bob, _ = wallets(rpc, node)
    a_raw, a_hash = alice.tx(SINK)
    b_raw, b_hash = bob.tx(SINK)
    publish(rpc, b_raw)  # bob first: the pool's FIFO order must survive the simulation
    publish(rpc, a_raw)
    ok_raw, ok_hash = ours.tx(SINK, value_wei=5)
    bad_raw, bad_hash = ours.tx(REVERTER, value_wei=0, gas_units=60_000)
    head = node.block_number()

    async def simulate() -> list[Any]:
        async with relay(builder) as client:
            return await client.call_bundle([ok_raw, bad_raw], head + 1, head)

    (reply,) = asyncio.run(simulate())

    assert reply.ok, reply.error
    sim = reply.result
    assert sim["stateBlockNumber"] == head
    first, second = sim["results"]
    assert first["txHash"] == ok_hash and first["value"] == "0x" and "error" not in first
    assert first["gasUsed"] == 21_000
    assert second["txHash"] == bad_hash and second["error"] and second["revert"] == "0x"
    assert sim["totalGasUsed"] == first["gasUsed"] + second["gasUsed"]
    assert int(sim["coinbaseDiff"]) == int(first["coinbaseDiff"]) + int(second["coinbaseDiff"])
    assert node.block_number() == head  # nothing was kept
    report = builder.build_block()
    assert list(report.tx_hashes) == [b_hash, a_hash]


def test_timestamp_window_is_respected(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours = wallets(rpc, node)[0]
    raw, _ = ours.tx(SINK)
    target = node.block_number() + 1
    head_ts = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    replies = asyncio.run(_send(builder, [raw], target, min_timestamp=head_ts + 3600))
    report = builder.build_block()

    outcome = report.outcome(replies[0].bundle_hash)
    assert not outcome.included and "outside" in outcome.reason
    assert report.tx_hashes == ()


def test_unsigned_or_badly_signed_requests_are_refused(builder: LocalBuilder) -> None:
    body = orjson.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_cancelBundle", "params": []})
    other = Account.from_key("0x" + "43" * 32).address

    def post(headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(
            builder.url, data=body, headers={"Content-Type": "application/json", **headers}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return orjson.loads(answer.read())

    missing = post({})
    assert missing["error"]["code"] == -32600 and "missing" in missing["error"]["message"]
    _, signature = flashbots_signature(body, REPUTATION_KEY).split(":")
    forged = post({"X-Flashbots-Signature": f"{other}:{signature}"})
    assert forged["error"] == {"code": -32600, "message": f"error in signature check {other}"}
    good = post({"X-Flashbots-Signature": flashbots_signature(body, REPUTATION_KEY)})
    assert good["error"]["code"] == -32602  # signed fine; the params are what is wrong


def test_allow_list_refuses_unknown_signers(node: AnvilProcess) -> None:
    allowed = Account.from_key("0x" + "43" * 32).address
    with LocalBuilder(node.http_url, allowed_signers=[allowed]) as guarded:

        async def cancel() -> list[Any]:
            async with relay(guarded) as client:
                return await client.cancel_bundle(str(uuid.uuid4()))

        replies = asyncio.run(cancel())
    assert [r.ok for r in replies] == [False, False]
    assert all("is not allowed" in (r.error or "") for r in replies)


class Watcher:
    """Another client of the node, watching while the builder works: new heads over a
    websocket, and eth_blockNumber, receipts and a nonce polled over http."""

    def __init__(self, node: AnvilProcess, never_mined: list[str], account: str) -> None:
        self.heads: list[tuple[int, str]] = []
        self.numbers: list[int] = []
        self.receipts: list[str] = []  # hashes of never_mined that ever had a receipt
        self.nonces: list[int] = []
        self._node, self._never, self._account = node, never_mined, account
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._threads = [
            threading.Thread(target=self._heads, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]

    def __enter__(self) -> Watcher:
        for t in self._threads:
            t.start()
        assert self._subscribed.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)  # let the last announcements arrive
        self._stop.set()
        for t in self._threads:
            t.join()

    def _heads(self) -> None:
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
        with connect(self._node.ws_url, proxy=None) as ws:
            ws.send(orjson.dumps(request).decode())
            assert "result" in orjson.loads(ws.recv(timeout=10))
            self._subscribed.set()
            while not self._stop.is_set():
                try:
                    head = orjson.loads(ws.recv(timeout=0.05))["params"]["result"]
                except TimeoutError:
                    continue
                self.heads.append((int(head["number"], 16), head["hash"]))

    def _poll(self) -> None:
        with self._node.rpc() as rpc:
            while not self._stop.is_set():
                self.numbers.append(int(rpc.call("eth_blockNumber"), 16))
                for h in self._never:
                    if rpc.call("eth_getTransactionReceipt", h) is not None:
                        self.receipts.append(h)
                count = rpc.call("eth_getTransactionCount", self._account, "latest")
                self.nonces.append(int(count, 16))


def test_no_phantom_blocks_receipts_or_nonces_while_simulating_and_building(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours, rival, alice, _ = wallets(rpc, node)
    a_raw, a_hash = alice.tx(SINK)
    publish(rpc, a_raw)
    good_raw, good_hash = ours.tx(SINK)
    ok_raw, ok_hash = rival.tx(SINK)
    bad_raw, bad_hash = rival.tx(REVERTER, value_wei=0, gas_units=60_000)
    head = node.block_number()
    target = head + 1

    async def simulate_then_send() -> list[Any]:
        async with relay(builder) as client:
            for _ in range(3):
                (reply,) = await client.call_bundle([ok_raw, bad_raw], target, head)
                assert reply.ok and "error" in reply.result["results"][1]
            await client.send_bundle([good_raw], target)
            return await client.send_bundle([ok_raw, bad_raw], target)

    with Watcher(node, [ok_hash, bad_hash], rival.signer.address) as watcher:
        replies = asyncio.run(simulate_then_send())
        assert node.block_number() == head  # simulating mined nothing
        report = builder.build_block()
        later = builder.build_block()  # the left-out bundle's txs are in no pool either

    assert report.attempts == 2 and report.mismatch == ()
    assert list(report.tx_hashes) == [good_hash, a_hash]
    assert report.outcome(replies[0].bundle_hash).reason == f"tx {bad_hash} reverted"
    # exactly one head per built block, and no client ever saw the chain run ahead of it
    assert watcher.heads == [(target, report.block_hash), (target + 1, later.block_hash)]
    assert watcher.numbers == sorted(watcher.numbers)
    assert set(watcher.numbers) <= {head, target, target + 1}
    assert watcher.receipts == []
    assert watcher.nonces and set(watcher.nonces) == {rival.nonce - 2}
    for h in (ok_hash, bad_hash):
        assert rpc.call("eth_getTransactionReceipt", h) is None


def test_simulation_runs_in_the_next_block_with_the_heads_blockhash(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc
) -> None:
    ours, other, _, _ = wallets(rpc, node)
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    number = int(head["number"], 16)
    right_raw, right_hash = ours.tx(
        GUARD, value_wei=0, gas_units=60_000, data=bytes.fromhex(head["hash"][2:])
    )
    wrong_raw, wrong_hash = other.tx(GUARD, value_wei=0, gas_units=60_000, data=b"\x01" * 32)

    async def simulate_then_send() -> tuple[list[Any], list[Any], list[Any]]:
        async with relay(builder) as client:
            right = await client.call_bundle([right_raw], number + 1, number)
            wrong = await client.call_bundle([wrong_raw], number + 1, number)
            sent = await client.send_bundle([wrong_raw], number + 1)
            await client.send_bundle([right_raw], number + 1)
            return right, wrong, sent

    (right,), (wrong,), sent = asyncio.run(simulate_then_send())

    assert right.ok and wrong.ok
    value = right.result["results"][0]["value"]
    words = [int(value[2 + 64 * i : 66 + 64 * i], 16) for i in range(4)]
    assert words[0] == int(head["hash"], 16)  # blockhash(number - 1) inside the simulation
    assert words[2] == number + 1
    assert "error" in wrong.result["results"][0]
    report = builder.build_block()
    assert report.mismatch == ()  # same timestamp, base fee, statuses and gas as simulated
    assert report.outcome(sent[0].bundle_hash).reason == f"tx {wrong_hash} reverted"
    assert list(report.tx_hashes) == [right_hash]
    mined = rpc.call("eth_getBlockByNumber", hex(number + 1), False)
    assert words[3] == int(mined["baseFeePerGas"], 16)
    assert report.timestamp == int(mined["timestamp"], 16)
    assert words[1] <= report.timestamp  # simulated at the clock of its call, a moment earlier


def test_a_block_that_differs_from_its_simulation_is_reported(
    builder: LocalBuilder, node: AnvilProcess, rpc: HttpRpc, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = wallets(rpc, node)[0]
    raw, tx_hash = ours.tx(SINK)
    real = builder_module.simulate

    def off_by_one(*args: Any) -> Any:
        results, refusal = real(*args)
        return [dataclasses.replace(r, gas_used_units=r.gas_used_units + 1) for r in results], (
            refusal
        )

    monkeypatch.setattr(builder_module, "simulate", off_by_one)
    replies = asyncio.run(_send(builder, [raw], node.block_number() + 1))
    report = builder.build_block()

    assert report.outcome(replies[0].bundle_hash).included
    assert report.mismatch == (
        f"tx {tx_hash}: mined status 1 gas 21000, simulated status 1 gas 21001",
    )


def test_stop_joins_the_server_and_the_pool_feed(node: AnvilProcess) -> None:
    before = set(threading.enumerate())
    with LocalBuilder(node.http_url) as b:
        names = {t.name for t in set(threading.enumerate()) - before}
        assert {"local-builder-http", "local-builder-ws"} <= names
        b.build_block()
    assert set(threading.enumerate()) <= before
