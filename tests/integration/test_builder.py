"""The local builder on a real anvil (mining off, FIFO), fed by the real relay client."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

from bot.relay import RelayClient, flashbots_signature, next_block_uuid
from chains.rpc import HttpRpc
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


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilProcess]:
    with AnvilProcess.start(AnvilConfig(no_mining=True, order="fifo")) as anvil:
        anvil.set_code(REVERTER, bytes.fromhex(REVERTER_CODE[2:]))
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

    def tx(self, to: str, *, value_wei: int = 1, gas_units: int = 21_000) -> tuple[str, str]:
        """Return (0x raw, 0x hash) of the next transaction of this account."""
        raw, tx_hash = self.signer.sign(
            Call(to=to, data=b"", value_wei=value_wei, gas_units=gas_units),
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
            held = [(b.replacement_uuid, b.tx_hashes) for b in builder.pending_bundles()]
            assert held == [(rid, (second_hash,)), (next_block_uuid(rid), (second_hash,))]
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
