"""Address -> (pool id, kind) lookup used by the log decoders.

Entries live in arrays sorted by address (uint8 [m, 20]) beside their pool ids, kind codes
and fee (pips). Lookups go through an open-addressing hash table over those arrays (about one
probe comparing three 8-byte words, where a binary search would take log2(m) 20-byte
compares), run by a numba kernel that the decoders call directly. Factories are entries too (kinds
V2_FACTORY/V3_FACTORY), so PairCreated/PoolCreated are accepted only from configured factories.

An index is rebuilt on `add` (pools created mid-run are rare); arrays handed out by
`tables()` are replaced, never mutated, so a decoder holding them sees a consistent snapshot.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import numba
import numpy as np

from chains.bytes_nb import load_be64

__all__ = ["PoolIndex", "PoolKind", "lookup_kernel"]

ADDRESS_BYTES = 20
_HASH_MUL_0 = np.uint64(0x9E3779B97F4A7C15)
_HASH_MUL_1 = np.uint64(0xC2B2AE3D27D4EB4F)
_HASH_MUL_2 = np.uint64(0x165667B19E3779F9)
_SHIFT_MIX = np.uint64(29)


class PoolKind(enum.IntEnum):
    """What an indexed address is; 0 means not indexed."""

    UNKNOWN = 0
    V2 = 1
    V3 = 2
    V2_FACTORY = 3
    V3_FACTORY = 4


_KIND_NAMES = {
    "v2": PoolKind.V2,
    "v3": PoolKind.V3,
    "v2_factory": PoolKind.V2_FACTORY,
    "v3_factory": PoolKind.V3_FACTORY,
}


def _kind_of(kind: str | int) -> PoolKind:
    if isinstance(kind, str):
        if kind not in _KIND_NAMES:
            raise ValueError(f"unknown pool kind {kind!r}; expected one of {sorted(_KIND_NAMES)}")
        return _KIND_NAMES[kind]
    code = PoolKind(int(kind))
    if code == PoolKind.UNKNOWN:
        raise ValueError("pool kind UNKNOWN cannot be indexed")
    return code


def _address_bytes(address: str | bytes) -> bytes:
    """Return the 20 bytes of a 0x-hex string or raw bytes address."""
    if isinstance(address, str):
        text = address[2:] if address[:2] in ("0x", "0X") else address
        raw = bytes.fromhex(text)
    else:
        raw = bytes(address)
    if len(raw) != ADDRESS_BYTES:
        raise ValueError(f"an address has 20 bytes, got {len(raw)}: {address!r}")
    return raw


@numba.njit(cache=True, nogil=True, inline="always")
def _hash_words(w0: np.uint64, w1: np.uint64, w2: np.uint64) -> np.uint64:
    """Mix an address's three key words into a 64-bit hash."""
    h = w0 * _HASH_MUL_0 + w1 * _HASH_MUL_1 + w2 * _HASH_MUL_2
    return h ^ (h >> _SHIFT_MIX)


@numba.njit(cache=True, nogil=True)
def lookup_kernel(buf: np.ndarray, start: int, keys: np.ndarray, table: np.ndarray) -> int:
    """Return the entry row of the address at buf[start:start+20], or -1 when not indexed."""
    # key words: bytes 0..8, 8..16 and 12..20 (overlapping, so every load stays in the address)
    w0 = load_be64(buf, start)
    w1 = load_be64(buf, start + 8)
    w2 = load_be64(buf, start + 12)
    mask = np.uint64(table.shape[0] - 1)
    slot = _hash_words(w0, w1, w2) & mask
    while True:
        row = table[slot]
        if row < 0:
            return -1
        if keys[row, 0] == w0 and keys[row, 1] == w1 and keys[row, 2] == w2:
            return row
        slot = (slot + np.uint64(1)) & mask


@numba.njit(cache=True, nogil=True)
def _lookup_many(
    queries: np.ndarray,
    keys: np.ndarray,
    table: np.ndarray,
    pool_ids: np.ndarray,
    kinds: np.ndarray,
    out_ids: np.ndarray,
    out_kinds: np.ndarray,
) -> None:
    flat = queries.reshape(-1)
    for i in range(queries.shape[0]):
        row = lookup_kernel(flat, i * ADDRESS_BYTES, keys, table)
        if row < 0:
            out_ids[i] = -1
            out_kinds[i] = 0
        else:
            out_ids[i] = pool_ids[row]
            out_kinds[i] = kinds[row]


@numba.njit(cache=True, nogil=True)
def _build_keys(addresses: np.ndarray) -> np.ndarray:
    flat = addresses.reshape(-1)
    keys = np.empty((addresses.shape[0], 3), dtype=np.uint64)
    for row in range(addresses.shape[0]):
        at = row * ADDRESS_BYTES
        keys[row, 0] = load_be64(flat, at)
        keys[row, 1] = load_be64(flat, at + 8)
        keys[row, 2] = load_be64(flat, at + 12)
    return keys


@numba.njit(cache=True, nogil=True)
def _build_table(keys: np.ndarray, size: int) -> np.ndarray:
    table = np.full(size, -1, dtype=np.int32)
    mask = np.uint64(size - 1)
    for row in range(keys.shape[0]):
        slot = _hash_words(keys[row, 0], keys[row, 1], keys[row, 2]) & mask
        while table[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = row
    return table


class PoolIndex:
    """Sorted address arrays of indexed pools and factories with a hash table over them."""

    def __init__(
        self,
        addresses: np.ndarray,
        pool_ids: np.ndarray,
        kinds: np.ndarray,
        fee_pips: np.ndarray,
    ) -> None:
        """Wrap entry arrays (sorted by address, distinct); use `from_pools` to build one."""
        self.addresses = np.ascontiguousarray(addresses, dtype=np.uint8).reshape(-1, ADDRESS_BYTES)
        self.pool_ids = np.ascontiguousarray(pool_ids, dtype=np.int32)
        self.kinds = np.ascontiguousarray(kinds, dtype=np.uint8)
        self.fee_pips = np.ascontiguousarray(fee_pips, dtype=np.int32)
        m = self.addresses.shape[0]
        if not (self.pool_ids.shape == self.kinds.shape == self.fee_pips.shape == (m,)):
            raise ValueError("entry arrays differ in length")
        keys = self.addresses.view(f"S{ADDRESS_BYTES}").reshape(m)
        if m > 1 and not bool(np.all(keys[:-1] < keys[1:])):
            raise ValueError("addresses must be sorted and distinct")
        size = 16
        while size < 2 * m:
            size *= 2
        self.keys = _build_keys(self.addresses)
        self.table = _build_table(self.keys, size)

    @classmethod
    def from_pools(
        cls,
        entries: Iterable[
            tuple[str | bytes, int, str | int] | tuple[str | bytes, int, str | int, int]
        ],
    ) -> PoolIndex:
        """Build from (address, pool_id, kind[, fee_pips]) tuples; kinds "v2", "v3_factory", ..."""
        rows: dict[bytes, tuple[int, int, int]] = {}
        for entry in entries:
            address, pool_id, kind = entry[0], entry[1], entry[2]
            fee = int(entry[3]) if len(entry) > 3 else 0  # type: ignore[misc]
            raw = _address_bytes(address)
            if raw in rows:
                raise ValueError(f"address indexed twice: 0x{raw.hex()}")
            rows[raw] = (int(pool_id), int(_kind_of(kind)), fee)
        ordered = sorted(rows)
        m = len(ordered)
        addresses = np.frombuffer(b"".join(ordered), dtype=np.uint8).reshape(m, ADDRESS_BYTES)
        return cls(
            addresses,
            np.array([rows[a][0] for a in ordered], dtype=np.int32),
            np.array([rows[a][1] for a in ordered], dtype=np.uint8),
            np.array([rows[a][2] for a in ordered], dtype=np.int32),
        )

    def __len__(self) -> int:
        return int(self.addresses.shape[0])

    def add(self, address: str | bytes, pool_id: int, kind: str | int, fee_pips: int = 0) -> None:
        """Index one more pool or factory (e.g. created mid-run); rebuilds the arrays."""
        raw = _address_bytes(address)
        code = _kind_of(kind)
        query = np.frombuffer(raw, dtype=np.uint8).reshape(1, ADDRESS_BYTES)
        if self.lookup(query)[1][0] != 0:
            raise ValueError(f"address already indexed: 0x{raw.hex()}")
        keys = self.addresses.view(f"S{ADDRESS_BYTES}").reshape(len(self))
        at = int(np.searchsorted(keys, np.frombuffer(raw, dtype=f"S{ADDRESS_BYTES}")[0]))
        rebuilt = PoolIndex(
            np.insert(self.addresses, at, query[0], axis=0),
            np.insert(self.pool_ids, at, pool_id),
            np.insert(self.kinds, at, int(code)),
            np.insert(self.fee_pips, at, fee_pips),
        )
        self.addresses, self.pool_ids = rebuilt.addresses, rebuilt.pool_ids
        self.kinds, self.fee_pips = rebuilt.kinds, rebuilt.fee_pips
        self.keys, self.table = rebuilt.keys, rebuilt.table

    def lookup(self, addresses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (pool_ids int32[n], kinds uint8[n]) of addresses uint8 [n, 20]; -1/0: unknown."""
        queries = np.ascontiguousarray(addresses, dtype=np.uint8)
        if queries.ndim != 2 or queries.shape[1] != ADDRESS_BYTES:
            raise ValueError("expected uint8 addresses of shape [n, 20]")
        n = queries.shape[0]
        out_ids = np.empty(n, dtype=np.int32)
        out_kinds = np.empty(n, dtype=np.uint8)
        _lookup_many(queries, self.keys, self.table, self.pool_ids, self.kinds, out_ids, out_kinds)
        return out_ids, out_kinds

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (keys, table, pool_ids, kinds, fee_pips) for the decoding kernels."""
        return self.keys, self.table, self.pool_ids, self.kinds, self.fee_pips
