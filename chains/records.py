"""The one home of every record layout: fixed-size numpy structured dtypes read from rings.

`RECORD_DTYPE` is a tagged union (`kind`) of 320 bytes (5 cache lines): pool events (V2
Sync/Swap/Mint/Burn, V3 Swap/Mint/Burn/Initialize, PairCreated/PoolCreated), block heads,
reorgs and decoded pending swaps. Exact values travel as four 256-bit words, each stored as
four little-endian uint64 limbs (`value` field, shape (4, 4)), next to float64 mirrors
(`value_f`) that only screen. A test pins the size, field order and offsets.

What each kind puts where (v0..v3 = value[0..3]; signed values are 256-bit two's complement):

- V2_SYNC (pool_id = pair): v0 reserve0, v1 reserve1.
- V2_SWAP: v0 amount0In, v1 amount1In, v2 amount0Out, v3 amount1Out.
- V2_MINT, V2_BURN: v0 amount0, v1 amount1.
- V3_SWAP: v0 amount0 (signed), v1 amount1 (signed), v2 sqrtPriceX96, v3 liquidity; tick.
- V3_MINT, V3_BURN: v0 liquidity amount, v1 amount0, v2 amount1; tick_lower, tick_upper.
- V3_INITIALIZE: v2 sqrtPriceX96; tick.
- PAIR_CREATED (pool_id = the new pair's id): v0 token0, v1 token1, v2 pair; aux fee_pips.
- POOL_CREATED (pool_id = the new pool's id): v0 token0, v1 token1, v2 pool; aux fee_pips,
  tick = tick spacing.
- BLOCK_HEAD (pool_id -1): v0 timestamp, v1 baseFeePerGas, v2 gasUsed, v3 gasLimit;
  block_hash, tx_hash = the parent hash.
- REORG (pool_id -1): block_number and block_hash = the common ancestor; v0 blocks removed.
- PENDING_SWAP (pool_id = first hop): hop_pool_ids, n_hops; aux bit i = hop i is zero_for_one;
  flags (FLAG_*); v0 amountIn (the maximum for exact output), v1 amountOut (the minimum for
  exact input), v2 deadline; sender; raw_offset/raw_len locate the signed raw transaction in
  the byte ring beside the record ring.

Every record carries block_number, log_index, tx_index, block_hash, tx_hash (as known) and
recv_ns, the receive time in ns (time.monotonic_ns of the ingest process).
"""

from __future__ import annotations

import enum
import hashlib

import numpy as np

__all__ = [
    "FLAG_ALLOW_REVERT",
    "FLAG_AMOUNT_UNKNOWN",
    "FLAG_EXACT_OUTPUT",
    "FLAG_EXACT_OUT_PAID_FORWARD",
    "FLAG_FEE_ON_TRANSFER",
    "FLAG_NATIVE_IN",
    "FLAG_NATIVE_OUT",
    "MAX_HOPS",
    "RECORD_DTYPE",
    "RECORD_SIZE",
    "Kind",
    "dtype_fingerprint",
    "empty_records",
    "get_value",
    "int_from_limbs",
    "limbs_from_int",
    "set_value",
    "words_to_limbs",
]

MAX_HOPS = 4
RECORD_SIZE = 320


class Kind(enum.IntEnum):
    """The tag of a record."""

    EMPTY = 0
    V2_SYNC = 1
    V2_SWAP = 2
    V2_MINT = 3
    V2_BURN = 4
    V3_SWAP = 5
    V3_MINT = 6
    V3_BURN = 7
    V3_INITIALIZE = 8
    PAIR_CREATED = 9
    POOL_CREATED = 10
    BLOCK_HEAD = 11
    REORG = 12
    PENDING_SWAP = 13


# flags of PENDING_SWAP records
FLAG_EXACT_OUTPUT = 1 << 0
FLAG_FEE_ON_TRANSFER = 1 << 1
FLAG_NATIVE_IN = 1 << 2
FLAG_NATIVE_OUT = 1 << 3
FLAG_AMOUNT_UNKNOWN = 1 << 4  # a router-balance sentinel: the amount is decided on chain
FLAG_ALLOW_REVERT = 1 << 5  # a UniversalRouter command that may fail without reverting the tx
# an exact-output swap by a router that pays the first V2 pair getAmountsIn(amountOut) and
# then swaps that input forward (SwapRouter02, UniversalRouter): V2 pairs then see an exact
# input, and the output can exceed amountOut by a few wei
FLAG_EXACT_OUT_PAID_FORWARD = 1 << 6

RECORD_DTYPE = np.dtype(
    [
        ("kind", np.uint8),  # 0
        ("flags", np.uint8),  # 1
        ("n_hops", np.uint8),  # 2
        ("source", np.uint8),  # 3: which feed wrote it (0 logs, 1 backfill, 2 mempool, ...)
        ("pool_id", np.int32),  # 4
        ("block_number", np.uint64),  # 8
        ("log_index", np.uint32),  # 16
        ("tx_index", np.uint32),  # 20
        ("recv_ns", np.uint64),  # 24
        ("tick", np.int32),  # 32
        ("tick_lower", np.int32),  # 36
        ("tick_upper", np.int32),  # 40
        ("aux", np.int32),  # 44
        ("value_f", np.float64, (4,)),  # 48: float mirrors of value[0..3] (signed where signed)
        ("block_hash", np.uint8, (32,)),  # 80
        ("tx_hash", np.uint8, (32,)),  # 112
        ("value", np.uint64, (4, 4)),  # 144: four 256-bit words, little-endian uint64 limbs
        ("hop_pool_ids", np.int32, (MAX_HOPS,)),  # 272
        ("sender", np.uint8, (20,)),  # 288
        ("raw_len", np.uint32),  # 308: signed raw tx bytes in the byte ring (PENDING_SWAP)
        ("raw_offset", np.uint64),  # 312
    ],
    align=False,
)
assert RECORD_DTYPE.itemsize == RECORD_SIZE, RECORD_DTYPE.itemsize

_MASK64 = (1 << 64) - 1
_TWO256 = 1 << 256


def dtype_fingerprint(dtype: np.dtype = RECORD_DTYPE) -> int:
    """Return a 64-bit fingerprint of a dtype's names, formats and offsets (checked on attach)."""
    text = repr([(name, str(dtype.fields[name][0]), dtype.fields[name][1]) for name in dtype.names])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def empty_records(n: int) -> np.ndarray:
    """Return n zeroed records."""
    return np.zeros(n, dtype=RECORD_DTYPE)


def limbs_from_int(x: int) -> tuple[int, int, int, int]:
    """Split x in [-2**255, 2**256) into four little-endian uint64 limbs (two's complement)."""
    if not -(1 << 255) <= x < _TWO256:
        raise ValueError(f"value does not fit 256 bits: {x}")
    x %= _TWO256
    return (x & _MASK64, (x >> 64) & _MASK64, (x >> 128) & _MASK64, x >> 192)


def int_from_limbs(limbs: np.ndarray | tuple[int, ...], *, signed: bool = False) -> int:
    """Join four little-endian uint64 limbs into an int (two's complement when signed)."""
    x = int(limbs[0]) | int(limbs[1]) << 64 | int(limbs[2]) << 128 | int(limbs[3]) << 192
    if signed and x >> 255:
        x -= _TWO256
    return x


def set_value(record: np.void | np.ndarray, i: int, x: int) -> None:
    """Store an exact value in word i of a record, with its float mirror."""
    record["value"][i] = limbs_from_int(x)
    record["value_f"][i] = float(x)


def get_value(record: np.void | np.ndarray, i: int, *, signed: bool = False) -> int:
    """Return the exact value of word i of a record."""
    return int_from_limbs(record["value"][i], signed=signed)


def words_to_limbs(words: np.ndarray) -> np.ndarray:
    """Convert big-endian 32-byte words (uint8 array [..., 32]) to uint64 limbs [..., 4].

    Vectorized: the word's last 8 bytes are limb 0, its first 8 bytes limb 3.
    """
    if words.shape[-1] != 32 or words.dtype != np.uint8:
        raise ValueError("expected uint8 words of 32 bytes")
    be = np.ascontiguousarray(words).view(">u8")  # [..., 4] big-endian, limb 3 first
    return be[..., ::-1].astype(np.uint64)
