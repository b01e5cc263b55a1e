"""Revert reasons and locally signed EIP-1559 transactions."""

from __future__ import annotations

import eth_abi
import pytest
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes

from sim.txs import Call, RawSigner, TxReverted, decode_revert, hex_int

ERROR_STRING = bytes.fromhex("08c379a0")
PANIC = bytes.fromhex("4e487b71")
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
TARGET = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"


# -- revert reasons -------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["UniswapV2: K", "Too little received", "", "é✓"])
def test_decode_error_string(reason: str) -> None:
    assert decode_revert(ERROR_STRING + eth_abi.encode(["string"], [reason])) == reason


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0x11, "panic 0x11"), (0x01, "panic 0x01"), (0x32, "panic 0x32"), (0x100, "panic 0x100")],
)
def test_decode_panic(code: int, expected: str) -> None:
    assert decode_revert(PANIC + eth_abi.encode(["uint256"], [code])) == expected


def test_decode_empty() -> None:
    assert decode_revert(b"") == "(no reason)"


def test_decode_unknown_selector_is_hex() -> None:
    data = bytes.fromhex("deadbeef") + b"\x00" * 32
    assert decode_revert(data) == "0x" + data.hex()
    assert decode_revert(b"\x01\x02") == "0x0102"


def test_decode_malformed_error_string_falls_back_to_hex() -> None:
    data = ERROR_STRING + b"\x00" * 5
    assert decode_revert(data) == "0x" + data.hex()


def test_decode_short_panic_falls_back_to_hex() -> None:
    data = PANIC + b"\x11"
    assert decode_revert(data) == "0x" + data.hex()


def test_hex_int() -> None:
    assert hex_int("0x0") == 0
    assert hex_int("0x1f") == 31
    assert hex_int("0xDE0B6B3A7640000") == 10**18


def test_tx_reverted_message() -> None:
    error = TxReverted("swap", "UniswapV2: K", "0xabc")
    assert str(error) == "swap reverted: UniswapV2: K (tx 0xabc)"
    assert error.reason == "UniswapV2: K"
    assert error.tx_hash == "0xabc"
    assert str(TxReverted("mint", "panic 0x11")) == "mint reverted: panic 0x11"


# -- signing --------------------------------------------------------------------------------


def _sign(signer: RawSigner, call: Call, nonce: int = 7) -> tuple[bytes, str]:
    return signer.sign(
        call, nonce=nonce, max_fee_per_gas_wei=3 * 10**9, max_priority_fee_per_gas_wei=10**9
    )


def test_signer_address() -> None:
    signer = RawSigner(KEY, 31337)
    assert signer.address == Account.from_key(KEY).address
    assert signer.address == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    assert signer.chain_id == 31337


def test_signed_tx_recovers_to_the_signer() -> None:
    signer = RawSigner(KEY, 31337)
    call = Call(to=TARGET, data=bytes.fromhex("a9059cbb") + b"\x01" * 64, value_wei=5)
    raw, tx_hash = _sign(signer, call)
    assert raw[0] == 2  # EIP-2718 type byte of an EIP-1559 transaction
    assert Account.recover_transaction(raw) == signer.address
    assert tx_hash == "0x" + keccak(raw).hex()


def test_signed_tx_fields() -> None:
    signer = RawSigner(KEY, 1337)
    call = Call(to=TARGET, data=b"\xab\xcd", value_wei=10**18, gas_units=123_456)
    raw, _ = _sign(signer, call, nonce=42)
    fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert fields["type"] == 2
    assert fields["chainId"] == 1337
    assert fields["nonce"] == 42
    assert fields["gas"] == 123_456
    assert fields["maxFeePerGas"] == 3 * 10**9
    assert fields["maxPriorityFeePerGas"] == 10**9
    assert fields["value"] == 10**18
    assert bytes(fields["data"]) == b"\xab\xcd"
    assert bytes(fields["to"]) == bytes.fromhex(TARGET[2:])


def test_signed_deployment_has_no_recipient() -> None:
    signer = RawSigner(KEY, 31337)
    raw, tx_hash = _sign(signer, Call(to=None, data=b"\x60\x00\x60\x00"), nonce=0)
    fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert not fields.get("to")
    assert Account.recover_transaction(raw) == signer.address
    assert tx_hash == "0x" + keccak(raw).hex()


def test_signing_is_deterministic_and_nonce_sensitive() -> None:
    signer = RawSigner(KEY, 31337)
    call = Call(to=TARGET, data=b"")
    assert _sign(signer, call, nonce=1) == _sign(signer, call, nonce=1)
    assert _sign(signer, call, nonce=1)[1] != _sign(signer, call, nonce=2)[1]


def test_chain_id_is_part_of_the_signature() -> None:
    call = Call(to=TARGET, data=b"")
    raw_a, hash_a = _sign(RawSigner(KEY, 1), call)
    raw_b, hash_b = _sign(RawSigner(KEY, 31337), call)
    assert hash_a != hash_b
    assert Account.recover_transaction(raw_a) == Account.recover_transaction(raw_b)


def test_repr_hides_the_key() -> None:
    signer = RawSigner(KEY, 31337)
    for text in (repr(signer), str(signer), f"{signer!r}", f"{signer}"):
        assert KEY.hex() not in text.lower()
        assert KEY.hex()[:16] not in text.lower()
        assert signer.address in text
