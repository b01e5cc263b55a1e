"""Pending transaction envelopes: raw bytes, sender recovery, raw bytes rebuilt from JSON."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.mempool_tx import (
    EnvelopeError,
    fields_from_json,
    fields_from_raw,
    raw_from_json,
    recover_sender,
)

ROUTER = to_checksum_address("0x" + "71" * 20)
A = to_checksum_address("0x" + "1a" * 20)

KEY = b"\x42" * 32
SIGNER = Account.from_key(KEY).address


def signed(tx: dict[str, Any]) -> bytes:
    return bytes(Account.sign_transaction(tx, KEY).raw_transaction)


def base_tx(tx_type: int, data: bytes, to: str = ROUTER, value: int = 0) -> dict[str, Any]:
    tx: dict[str, Any] = {"nonce": 3, "gas": 300_000, "to": to, "value": value, "data": data}
    if tx_type == 0:
        tx["gasPrice"] = 10**9
    elif tx_type == 1:
        tx |= {"type": 1, "chainId": 31337, "gasPrice": 10**9, "accessList": []}
    else:
        tx |= {"type": 2, "chainId": 31337, "maxFeePerGas": 3 * 10**9}
        tx["maxPriorityFeePerGas"] = 10**9
        tx["accessList"] = [{"address": A, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    return tx


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < 2**255),
    tx_type=st.sampled_from([0, 1, 2]),
    chain_id=st.sampled_from([None, 1, 31337, 2**40]),
    data=st.binary(max_size=200),
)
def test_sender_recovery_agrees_with_eth_account(
    key: bytes, tx_type: int, chain_id: int | None, data: bytes
) -> None:
    tx = base_tx(tx_type, data)
    if chain_id is None:  # a legacy transaction from before EIP-155
        tx_type = 0
        tx = base_tx(0, data)
    else:
        tx["chainId"] = chain_id
    raw = bytes(Account.sign_transaction(tx, key).raw_transaction)
    assert recover_sender(raw) == Account.recover_transaction(raw) == Account.from_key(key).address


def test_high_s_signatures_are_refused() -> None:
    tx = base_tx(2, b"")
    signed_tx = Account.sign_transaction(tx, KEY)
    items = rlp.decode(bytes(signed_tx.raw_transaction)[1:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = n - int.from_bytes(items[-1], "big")
    items[-1] = high_s.to_bytes(32, "big")
    items[-3] = b"" if items[-3] == b"\x01" else b"\x01"
    with pytest.raises(EnvelopeError, match="range"):
        recover_sender(b"\x02" + rlp.encode(items))


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_raw_bytes_rebuild_from_node_json(tx_type: int) -> None:
    tx = base_tx(tx_type, b"\x01\x02")
    raw = signed(tx)
    signed_tx = Account.sign_transaction(tx, KEY)
    json_tx: dict[str, Any] = {
        "type": hex(tx_type),
        "nonce": hex(tx["nonce"]),
        "gas": hex(tx["gas"]),
        "to": tx["to"].lower(),
        "value": hex(tx["value"]),
        "input": "0x0102",
        "r": hex(signed_tx.r),
        "s": hex(signed_tx.s),
        "hash": "0x" + keccak(raw).hex(),
        "v": hex(signed_tx.v),
    }
    if tx_type == 0:
        json_tx["gasPrice"] = hex(tx["gasPrice"])
    else:
        json_tx |= {"chainId": hex(31337), "yParity": hex(signed_tx.v)}
        json_tx["accessList"] = tx["accessList"]
        if tx_type == 1:
            json_tx["gasPrice"] = hex(tx["gasPrice"])
        else:
            json_tx["maxFeePerGas"] = hex(tx["maxFeePerGas"])
            json_tx["maxPriorityFeePerGas"] = hex(tx["maxPriorityFeePerGas"])
    assert raw_from_json(json_tx) == raw
    with pytest.raises(EnvelopeError, match="hash"):
        raw_from_json(json_tx | {"nonce": "0x4"})


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_fields_of_every_type(tx_type: int) -> None:
    raw = signed(base_tx(tx_type, b"\x01\x02", value=123))
    fields = fields_from_raw(raw)
    assert (fields.tx_type, fields.to, fields.data, fields.value_wei) == (
        tx_type,
        ROUTER,
        b"\x01\x02",
        123,
    )
    assert fields.nonce == 3 and fields.sender is None
    assert fields.tx_hash == "0x" + keccak(raw).hex()


def test_contract_creation_has_no_target() -> None:
    tx = base_tx(2, b"\x60\x00")
    del tx["to"]
    assert fields_from_raw(signed(tx)).to is None


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x03" + rlp.encode([b""] * 12), b"\x02" + rlp.encode([b""] * 5), b"\x02\xc1"],
)
def test_bad_envelopes_raise_envelope_error(raw: bytes) -> None:
    with pytest.raises(EnvelopeError):
        fields_from_raw(raw)


def test_json_fields_are_checked() -> None:
    tx = {"to": ROUTER.lower(), "input": "0x", "value": "0x5", "from": A, "hash": "0x" + "00" * 32}
    fields = fields_from_json(tx | {"nonce": "0x1"})
    assert fields.to == ROUTER and fields.value_wei == 5 and fields.sender == A
    for broken in ({"hash": "0x00"}, {"value": 5}, {"from": None}, {"input": "0xzz"}):
        with pytest.raises(EnvelopeError):
            fields_from_json(tx | {"nonce": "0x1"} | broken)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
def test_garbage_raw_bytes_raise_only_envelope_error(raw: bytes) -> None:
    for read in (fields_from_raw, recover_sender):
        with contextlib.suppress(EnvelopeError):
            read(raw)
