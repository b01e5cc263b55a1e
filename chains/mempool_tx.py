"""Pending transaction envelopes: raw signed bytes or node JSON -> the fields a decoder needs.

Raw bytes are legacy RLP lists or typed envelopes (EIP-2930 type 1, EIP-1559 type 2, EIP-7702
type 4); the sender is recovered from the signature only when asked: an ECDSA recovery
over the signing hash cut from the signed bytes themselves (eth_keys uses coincurve when it
is installed). `raw_from_json` rebuilds the signed bytes from `eth_getTransactionByHash`
JSON and proves them by the transaction hash, so a JSON-only feed can still hand the exact
bytes to a bundle.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rlp
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

__all__ = [
    "EnvelopeError",
    "TxFields",
    "checksum",
    "fields_from_json",
    "fields_from_raw",
    "raw_from_json",
    "recover_sender",
]

# index of `to` in the RLP list of each transaction type (value and data follow it), and
# the number of fields (the last three are the signature)
_TO_INDEX = {0: 3, 1: 4, 2: 5, 4: 5}
_N_ITEMS = {0: 9, 1: 11, 2: 12, 4: 13}
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_TYPED = (1, 2, 4)


@functools.lru_cache(maxsize=1 << 16)
def checksum(address: str | bytes) -> str:
    """Return the checksummed form of a 20-byte address (cached: routers and tokens repeat)."""
    return str(to_checksum_address(address))


class EnvelopeError(ValueError):
    """The bytes or JSON are not a transaction this decoder reads."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TxFields:
    """What a pending transaction asks for: target, calldata, value, nonce, hash, sender."""

    tx_hash: str  # 0x-hex, lowercase
    tx_type: int
    nonce: int
    to: str | None  # checksummed; None creates a contract
    data: bytes
    value_wei: int
    sender: str | None  # checksummed; None until recovered


def _int(b: Any) -> int:
    if not isinstance(b, bytes) or len(b) > 32 or (b and b[0] == 0):
        raise EnvelopeError("not a canonical RLP integer")
    return int.from_bytes(b, "big")


def _envelope(raw: bytes) -> tuple[int, list[Any], bytes]:
    """Return (type, top-level RLP items, the RLP list bytes) of signed raw bytes."""
    if not raw:
        raise EnvelopeError("empty transaction")
    tx_type = 0 if raw[0] >= 0xC0 else raw[0]
    if tx_type not in _N_ITEMS:
        raise EnvelopeError(f"unsupported transaction type {tx_type}")
    payload = raw if tx_type == 0 else raw[1:]
    try:
        items = rlp.decode(payload, strict=True)
    except (rlp.exceptions.DecodingError, rlp.exceptions.DeserializationError) as exc:
        raise EnvelopeError(f"bad RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) != _N_ITEMS[tx_type]:
        raise EnvelopeError(f"a type {tx_type} transaction has {_N_ITEMS[tx_type]} fields")
    return tx_type, items, payload


def fields_from_raw(raw: bytes) -> TxFields:
    """Read target, calldata, value and nonce from signed raw bytes (no sender recovery)."""
    tx_type, items, _ = _envelope(raw)
    to_at = _TO_INDEX[tx_type]
    to_raw, value_raw, data = items[to_at], items[to_at + 1], items[to_at + 2]
    if not isinstance(to_raw, bytes) or len(to_raw) not in (0, 20) or not isinstance(data, bytes):
        raise EnvelopeError("bad to or data field")
    return TxFields(
        tx_hash="0x" + keccak(raw).hex(),
        tx_type=tx_type,
        nonce=_int(items[1] if tx_type in _TYPED else items[0]),
        to=checksum(to_raw) if to_raw else None,
        data=bytes(data),
        value_wei=_int(value_raw),
        sender=None,
    )


def _item_end(buf: bytes, at: int) -> int:
    """Return where the RLP item starting at `at` ends (the list was decoded strictly)."""
    head = buf[at]
    if head < 0x80:
        return at + 1
    if head < 0xB8:
        return at + 1 + head - 0x80
    if head < 0xC0:
        size_len = head - 0xB7
        return at + 1 + size_len + int.from_bytes(buf[at + 1 : at + 1 + size_len], "big")
    if head < 0xF8:
        return at + 1 + head - 0xC0
    size_len = head - 0xF7
    return at + 1 + size_len + int.from_bytes(buf[at + 1 : at + 1 + size_len], "big")


def _list_header(content_len: int) -> bytes:
    if content_len < 56:
        return bytes([0xC0 + content_len])
    size = content_len.to_bytes((content_len.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(size)]) + size


def _signing_hash(tx_type: int, items: list[Any], payload: bytes) -> tuple[bytes, int]:
    """Return (the hash the sender signed, y parity), cut from the signed bytes themselves."""
    head = payload[0]
    at = 1 if head < 0xF8 else 1 + head - 0xF7  # first item of the list
    for _ in range(len(items) - 3):
        at = _item_end(payload, at)
    content = payload[1 if head < 0xF8 else 1 + head - 0xF7 : at]  # every field but v, r, s
    v = _int(items[-3])
    if tx_type != 0:
        if v > 1:
            raise EnvelopeError("y parity must be 0 or 1")
        return keccak(bytes([tx_type]) + _list_header(len(content)) + content), v
    if v in (27, 28):  # before EIP-155: no chain id in the signed payload
        return keccak(_list_header(len(content)) + content), v - 27
    if v < 35:
        raise EnvelopeError(f"bad legacy v {v}")
    content += rlp.encode((v - 35) // 2) + b"\x80\x80"  # EIP-155: chain id, 0, 0
    return keccak(_list_header(len(content)) + content), (v - 35) % 2


def recover_sender(raw: bytes) -> str:
    """Return the checksummed sender of signed raw bytes (raises EnvelopeError if invalid)."""
    tx_type, items, payload = _envelope(raw)
    msg_hash, y_parity = _signing_hash(tx_type, items, payload)
    r, s = _int(items[-2]), _int(items[-1])
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):  # EIP-2: low s only
        raise EnvelopeError("signature out of range")
    try:
        signature = keys.Signature(vrs=(y_parity, r, s))
        return str(signature.recover_public_key_from_msg_hash(msg_hash).to_checksum_address())
    except Exception as exc:  # eth_keys raises several types for a point not on the curve
        raise EnvelopeError(f"cannot recover the sender: {exc}") from exc


def _hex_bytes(tx: Mapping[str, Any], key: str) -> bytes:
    value = tx.get(key)
    if not isinstance(value, str) or not value.startswith("0x"):
        raise EnvelopeError(f"missing or bad {key!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise EnvelopeError(f"bad hex in {key!r}") from exc


def _hex_int(tx: Mapping[str, Any], key: str) -> int:
    value = tx.get(key)
    if not isinstance(value, str) or not value.startswith("0x"):
        raise EnvelopeError(f"missing or bad {key!r}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise EnvelopeError(f"bad quantity in {key!r}") from exc


def fields_from_json(tx: Mapping[str, Any]) -> TxFields:
    """Read a transaction object as `eth_getTransactionByHash` returns it."""
    to = tx.get("to")
    data = _hex_bytes(tx, "input") if "input" in tx else _hex_bytes(tx, "data")
    sender = tx.get("from")
    if to is not None and (not isinstance(to, str) or len(to) != 42):
        raise EnvelopeError("bad 'to'")
    if not isinstance(sender, str) or len(sender) != 42:
        raise EnvelopeError("bad 'from'")
    try:
        to_checked = checksum(to) if to is not None else None
        sender_checked = checksum(sender)
    except ValueError as exc:
        raise EnvelopeError(f"bad address: {exc}") from exc
    tx_hash = _hex_bytes(tx, "hash")
    if len(tx_hash) != 32:
        raise EnvelopeError("bad 'hash'")
    return TxFields(
        tx_hash="0x" + tx_hash.hex(),
        tx_type=_hex_int(tx, "type") if "type" in tx else 0,
        nonce=_hex_int(tx, "nonce"),
        to=to_checked,
        data=data,
        value_wei=_hex_int(tx, "value"),
        sender=sender_checked,
    )


def _access_list(tx: Mapping[str, Any]) -> list[list[Any]]:
    entries = tx.get("accessList") or []
    if not isinstance(entries, list):
        raise EnvelopeError("bad 'accessList'")
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise EnvelopeError("bad access list entry")
        keys = [_hex_bytes({"k": k}, "k") for k in entry.get("storageKeys") or []]
        out.append([_hex_bytes(entry, "address"), keys])
    return out


def raw_from_json(tx: Mapping[str, Any]) -> bytes:
    """Rebuild the signed raw bytes of a type 0/1/2 transaction; the hash must match."""
    tx_type = _hex_int(tx, "type") if "type" in tx else 0
    to = _hex_bytes(tx, "to") if tx.get("to") is not None else b""
    data = _hex_bytes(tx, "input")
    common = [_hex_int(tx, "nonce")]
    r, s = _hex_int(tx, "r"), _hex_int(tx, "s")
    if tx_type == 0:
        fields = [*common, _hex_int(tx, "gasPrice"), _hex_int(tx, "gas"), to]
        fields += [_hex_int(tx, "value"), data, _hex_int(tx, "v"), r, s]
        raw = rlp.encode(fields)
    elif tx_type in (1, 2):
        y_parity = _hex_int(tx, "yParity") if "yParity" in tx else _hex_int(tx, "v")
        fees = (
            [_hex_int(tx, "gasPrice")]
            if tx_type == 1
            else [_hex_int(tx, "maxPriorityFeePerGas"), _hex_int(tx, "maxFeePerGas")]
        )
        fields = [_hex_int(tx, "chainId"), *common, *fees, _hex_int(tx, "gas"), to]
        fields += [_hex_int(tx, "value"), data, _access_list(tx), y_parity, r, s]
        raw = bytes([tx_type]) + rlp.encode(fields)
    else:
        raise EnvelopeError(f"cannot rebuild transaction type {tx_type}")
    if "0x" + keccak(raw).hex() != str(tx.get("hash", "")).lower():
        raise EnvelopeError("rebuilt bytes do not hash to the transaction hash")
    return raw
