"""EIP-1559 transactions signed with libsecp256k1 (coincurve): the bytes eth-account produces.

A type-2 transaction is 0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas,
gas, to, value, data, access_list, y_parity, r, s]); the signature is over
keccak256(0x02 || rlp(the first nine fields)). libsecp256k1 signs deterministically (RFC 6979)
with a low s, as eth-keys does, so the signed bytes are identical to
`eth_account.Account.sign_transaction` (a test proves it) at a fraction of the cost. The RLP
encoder here covers exactly what these fields need: byte strings, unsigned ints, lists.

The key is held by `TxSigner` only; its repr never shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PrivateKey
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

__all__ = ["Eip1559Tx", "SignedTx", "TxSigner", "rlp_encode"]

_MAX_UINT256 = (1 << 256) - 1


def _encode_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def rlp_encode(item: bytes | int | list | tuple) -> bytes:
    """Return the RLP encoding of bytes, a non-negative int (minimal big-endian) or a list."""
    if isinstance(item, int):
        if item < 0:
            raise ValueError("RLP encodes non-negative integers only")
        item = item.to_bytes((item.bit_length() + 7) // 8, "big") if item else b""
    if isinstance(item, bytes | bytearray):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _encode_length(len(item), 0x80) + bytes(item)
    if isinstance(item, list | tuple):
        body = b"".join(rlp_encode(x) for x in item)
        return _encode_length(len(body), 0xC0) + body
    raise TypeError(f"cannot RLP-encode {type(item).__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Eip1559Tx:
    """An unsigned type-2 transaction; fees in wei per gas unit, value in wei."""

    chain_id: int
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas: int
    to: str  # 0x address
    value: int
    data: bytes

    def __post_init__(self) -> None:
        for name in ("chain_id", "nonce", "max_priority_fee_per_gas", "max_fee_per_gas", "gas"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= _MAX_UINT256:
                raise ValueError(f"{name} must be a uint256: {value!r}")
        if not isinstance(self.value, int) or not 0 <= self.value <= _MAX_UINT256:
            raise ValueError(f"value must be a uint256: {self.value!r}")
        if self.max_priority_fee_per_gas > self.max_fee_per_gas:
            raise ValueError("max_priority_fee_per_gas exceeds max_fee_per_gas")
        if len(bytes.fromhex(self.to.removeprefix("0x"))) != 20:
            raise ValueError(f"to must be a 20-byte address: {self.to!r}")

    def fields(self) -> list[bytes | int | list]:
        """Return the nine signed fields in RLP order."""
        return [
            self.chain_id,
            self.nonce,
            self.max_priority_fee_per_gas,
            self.max_fee_per_gas,
            self.gas,
            bytes.fromhex(self.to.removeprefix("0x")),
            self.value,
            self.data,
            [],
        ]

    def signing_hash(self) -> bytes:
        """Return keccak256(0x02 || rlp(fields)): what the sender signs."""
        return keccak(b"\x02" + rlp_encode(self.fields()))


@dataclass(frozen=True, slots=True)
class SignedTx:
    """Signed raw bytes and the transaction hash (keccak256 of the raw bytes)."""

    raw: bytes
    tx_hash: bytes
    nonce: int

    @property
    def raw_hex(self) -> str:
        """Return the raw bytes as 0x-hex (what eth_sendBundle takes)."""
        return "0x" + self.raw.hex()

    @property
    def hash_hex(self) -> str:
        """Return the transaction hash as 0x-hex."""
        return "0x" + self.tx_hash.hex()


class TxSigner:
    """Signs EIP-1559 transactions with one private key (libsecp256k1 via coincurve)."""

    __slots__ = ("_key", "address")

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != 32:
            raise ValueError("a private key is 32 bytes")
        self._key = PrivateKey(private_key)
        public = self._key.public_key.format(compressed=False)[1:]
        self.address = to_checksum_address(keccak(public)[-20:])

    def __repr__(self) -> str:
        return f"TxSigner({self.address})"

    def sign(self, tx: Eip1559Tx) -> SignedTx:
        """Return the signed raw transaction and its hash."""
        signature = self._key.sign_recoverable(tx.signing_hash(), hasher=None)
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        y_parity = signature[64]
        raw = b"\x02" + rlp_encode([*tx.fields(), y_parity, r, s])
        return SignedTx(raw=raw, tx_hash=keccak(raw), nonce=tx.nonce)
