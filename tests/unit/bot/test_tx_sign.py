"""EIP-1559 signing with coincurve: byte-identical to eth-account, RLP against the rlp package."""

from __future__ import annotations

import pytest
import rlp
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.tx_sign import Eip1559Tx, TxSigner, rlp_encode

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
TO = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"

uint = st.integers(min_value=0, max_value=(1 << 256) - 1)
small = st.integers(min_value=0, max_value=(1 << 64) - 1)


def _eth_account_raw(tx: Eip1559Tx, key: bytes) -> bytes:
    signed = Account.sign_transaction(
        {
            "type": 2,
            "chainId": tx.chain_id,
            "nonce": tx.nonce,
            "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
            "maxFeePerGas": tx.max_fee_per_gas,
            "gas": tx.gas,
            "to": tx.to,
            "value": tx.value,
            "data": tx.data,
            "accessList": [],
        },
        key,
    )
    return bytes(signed.raw_transaction)


@settings(max_examples=60, deadline=None)
@given(
    chain_id=st.integers(min_value=1, max_value=(1 << 32)),
    nonce=small,
    priority=small,
    extra=small,
    gas=st.integers(min_value=21_000, max_value=30_000_000),
    value=uint,
    data=st.binary(max_size=300),
    key=st.binary(min_size=32, max_size=32).filter(
        lambda k: 0 < int.from_bytes(k, "big") < (1 << 256) - (1 << 128)
    ),
)
def test_signed_bytes_equal_eth_account(
    chain_id: int,
    nonce: int,
    priority: int,
    extra: int,
    gas: int,
    value: int,
    data: bytes,
    key: bytes,
) -> None:
    tx = Eip1559Tx(
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=priority,
        max_fee_per_gas=priority + extra,
        gas=gas,
        to=TO,
        value=value,
        data=data,
    )
    signed = TxSigner(key).sign(tx)
    assert signed.raw == _eth_account_raw(tx, key)
    assert Account.recover_transaction(signed.raw) == Account.from_key(key).address


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.binary(max_size=80) | st.integers(min_value=0, max_value=(1 << 300)),
        lambda children: st.lists(children, max_size=6),
        max_leaves=20,
    )
)
def test_rlp_matches_the_rlp_package(item: object) -> None:
    def to_sedes(x: object) -> object:
        if isinstance(x, int):
            return x.to_bytes((x.bit_length() + 7) // 8, "big") if x else b""
        if isinstance(x, list):
            return [to_sedes(y) for y in x]
        return x

    assert rlp_encode(item) == rlp.encode(to_sedes(item))  # type: ignore[arg-type]


def test_address_and_repr_hide_the_key() -> None:
    signer = TxSigner(KEY)
    assert signer.address == Account.from_key(KEY).address
    assert KEY.hex() not in repr(signer) and KEY.hex() not in str(signer)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nonce", -1, "nonce"),
        ("gas", 1 << 256, "gas"),
        ("max_priority_fee_per_gas", 10, "exceeds"),
        ("to", "0x1234", "20-byte"),
    ],
)
def test_bad_transactions_are_refused(field: str, value: object, message: str) -> None:
    fields = {
        "chain_id": 1,
        "nonce": 0,
        "max_priority_fee_per_gas": 1,
        "max_fee_per_gas": 2,
        "gas": 21_000,
        "to": TO,
        "value": 0,
        "data": b"",
    }
    fields[field] = value
    with pytest.raises(ValueError, match=message):
        Eip1559Tx(**fields)  # type: ignore[arg-type]


def test_bad_keys_and_items_are_refused() -> None:
    with pytest.raises(ValueError):
        TxSigner(b"\x01" * 31)
    with pytest.raises(ValueError):
        rlp_encode(-1)
    with pytest.raises(TypeError):
        rlp_encode(1.5)  # type: ignore[arg-type]
