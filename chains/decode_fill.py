"""Classify raw logs and fill records: the numba core shared by the JSON and column decoders.

Input is a batch of raw logs in Arrow's binary layout (a flat uint8 values buffer with int64
offsets per field: address, topic0..3, data, block hash, tx hash) plus per-log integers and a
pre-status from parsing. A log becomes a record only if it passes, in this order:

    parse status ok -> not removed -> indexed address -> topic0 of an event that address's kind
    emits -> that event's topic count -> its data length -> canonical ABI words

Otherwise it is counted under its `Reason` and skipped; nothing raises. Protocol facts (topic0,
counts, lengths, where each word goes) are `chains.decode_events.EVENTS`, not branches.
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from chains.bytes_nb import clz64, load_be64, load_le64
from chains.decode_events import (
    D_AUX_FEE,
    D_NONE,
    D_TICK,
    D_TICK_LOWER,
    D_TICK_UPPER,
    D_V0_SIGNED,
    D_V1_SIGNED,
    D_V3,
    EV_META,
    EV_TOPIC0,
    EV_WORDS,
    MAX_SOURCES,
    T_ADDRESS,
    T_ANY,
    T_UINT24,
    T_UINT112,
    T_UINT128,
    T_UINT160,
    Reason,
)
from chains.pool_index import PoolKind, lookup_kernel
from chains.records import RECORD_DTYPE, RECORD_SIZE

__all__ = ["fill_records"]

if sys.byteorder != "little":  # the record writer stores limbs by byte order
    raise ImportError("chains.decode_fill assumes a little-endian host")


R_ACCEPTED = int(Reason.ACCEPTED)
R_UNKNOWN_ADDRESS = int(Reason.UNKNOWN_ADDRESS)
R_UNKNOWN_TOPIC = int(Reason.UNKNOWN_TOPIC)
R_WRONG_TOPIC_COUNT = int(Reason.WRONG_TOPIC_COUNT)
R_WRONG_DATA_LENGTH = int(Reason.WRONG_DATA_LENGTH)
R_BAD_VALUE = int(Reason.BAD_VALUE)
R_MALFORMED_FIELD = int(Reason.MALFORMED_FIELD)
R_REMOVED = int(Reason.REMOVED)
FACTORY_KINDS = int(PoolKind.V2_FACTORY)  # kinds from here up are factories
assert int(PoolKind.V3_FACTORY) > FACTORY_KINDS > int(PoolKind.V3)

_F = RECORD_DTYPE.fields
O_KIND = _F["kind"][1]
O_SOURCE = _F["source"][1]
O_SENDER = _F["sender"][1]
U64_BLOCK_HASH = _F["block_hash"][1] // 8
U64_TX_HASH = _F["tx_hash"][1] // 8
U64_SENDER = O_SENDER // 8
# word offsets in the views the kernel writes through
I32_POOL_ID = _F["pool_id"][1] // 4
I32_TICK = _F["tick"][1] // 4
I32_TICK_LOWER = _F["tick_lower"][1] // 4
I32_TICK_UPPER = _F["tick_upper"][1] // 4
I32_AUX = _F["aux"][1] // 4
U32_LOG_INDEX = _F["log_index"][1] // 4
U32_TX_INDEX = _F["tx_index"][1] // 4
U64_BLOCK = _F["block_number"][1] // 8
U64_RECV = _F["recv_ns"][1] // 8
U64_VALUE = _F["value"][1] // 8
F64_VALUE = _F["value_f"][1] // 8
assert all(
    _F[k][1] % 8 == 0
    for k in ("block_number", "recv_ns", "value", "value_f", "block_hash", "tx_hash", "sender")
)
assert RECORD_SIZE % 8 == 0

_U1 = np.uint64(1)
_U64 = np.uint64(64)
POW2 = np.array([2.0**k for k in range(257)])
_U23 = np.uint64(23)
_U24 = np.uint64(24)
_U32 = np.uint64(32)
_U48 = np.uint64(48)
_TOP = np.uint64(63)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@numba.njit(cache=True, nogil=True, inline="always")
def _to_float(l0: np.uint64, l1: np.uint64, l2: np.uint64, l3: np.uint64, signed: bool) -> float:
    """Return float(x) of a 256-bit word, correctly rounded like Python's int -> float."""
    negative = signed and (l3 >> _TOP) == _U1
    if negative:  # magnitude of a two's complement value: invert and add one
        l0, l1, l2, l3 = l0 ^ _ALL, l1 ^ _ALL, l2 ^ _ALL, l3 ^ _ALL
        l0 += _U1
        if l0 == 0:
            l1 += _U1
            if l1 == 0:
                l2 += _U1
                if l2 == 0:
                    l3 += _U1
    if l3 != 0:
        hi, lo, rest, shift = l3, l2, l1 | l0, 192
    elif l2 != 0:
        hi, lo, rest, shift = l2, l1, l0, 128
    elif l1 != 0:
        hi, lo, rest, shift = l1, l0, np.uint64(0), 64
    else:
        mag = float(l0)
        return -mag if negative else mag
    lz = clz64(hi)
    if lz == 0:
        head = hi
        dropped = lo | rest
    else:  # the top 64 bits, normalized
        head = (hi << lz) | (lo >> (_U64 - lz))
        dropped = (lo << lz) | rest
    exponent = shift - np.int64(lz)
    if dropped != 0:  # a sticky bit keeps ties from rounding to even when bits were dropped
        head |= _U1
    mag = float(head) * POW2[exponent]  # exact: a power of two
    return -mag if negative else mag


@numba.njit(cache=True, nogil=True, inline="always")
def _word_ok(limbs: np.ndarray, s: int, wtype: int) -> bool:
    """Return whether word s (four limbs) is canonical for its ABI type, as eth_abi checks."""
    l0, l1, l2, l3 = limbs[s, 0], limbs[s, 1], limbs[s, 2], limbs[s, 3]
    if wtype == T_ANY:  # uint256 / int256
        return True
    if wtype in (T_ADDRESS, T_UINT160):  # 12 zero bytes
        return l3 == 0 and (l2 >> _U32) == 0
    if wtype == T_UINT112:  # 18 zero bytes
        return l3 == 0 and l2 == 0 and (l1 >> _U48) == 0
    if wtype == T_UINT128:
        return l3 == 0 and l2 == 0
    if wtype == T_UINT24:
        return l3 == 0 and l2 == 0 and l1 == 0 and (l0 >> _U24) == 0
    # T_INT24: bits 23..255 all equal the sign bit
    if l3 == 0:
        return l2 == 0 and l1 == 0 and (l0 >> _U23) == 0
    return l3 == _ALL and l2 == _ALL and l1 == _ALL and (l0 >> _U23) == (_ALL >> _U23)


@numba.njit(cache=True, nogil=True, inline="always")
def _int24(l0: np.uint64) -> int:
    x = np.int64(l0 & np.uint64(0xFFFFFF))
    return x - (1 << 24) if x >= (1 << 23) else x


@numba.njit(cache=True, nogil=True, inline="always")
def _load_word(vals: np.ndarray, start: int, limbs: np.ndarray, s: int) -> None:
    """Read the big-endian word at vals[start:start+32] into limbs[s] (limb 0 lowest)."""
    limbs[s, 3] = load_be64(vals, start)
    limbs[s, 2] = load_be64(vals, start + 8)
    limbs[s, 1] = load_be64(vals, start + 16)
    limbs[s, 0] = load_be64(vals, start + 24)


@numba.njit(cache=True, nogil=True, inline="always")
def _field_ok(vals: np.ndarray, offs: np.ndarray, i: int, size: int) -> bool:
    """Return whether field i has size bytes, all inside vals (offsets are not trusted)."""
    start = offs[i]
    return offs[i + 1] - start == size and start >= 0 and start + size <= vals.shape[0]


@numba.njit(cache=True, nogil=True, inline="always")
def _copy_hash(
    vals: np.ndarray, offs: np.ndarray, i: int, out_u64: np.ndarray, j: int, at: int
) -> None:
    start = offs[i]
    if offs[i + 1] - start == 32:
        for k in range(4):
            out_u64[j, at + k] = load_le64(vals, start + 8 * k)


@numba.njit(cache=True, nogil=True)
def fill_records(
    out_u8: np.ndarray,
    out_i32: np.ndarray,
    out_u64: np.ndarray,
    out_f64: np.ndarray,
    n: int,
    status: np.ndarray,
    removed: np.ndarray,
    n_topics: np.ndarray,
    addr_vals: np.ndarray,
    addr_offs: np.ndarray,
    t0_vals: np.ndarray,
    t0_offs: np.ndarray,
    t1_vals: np.ndarray,
    t1_offs: np.ndarray,
    t2_vals: np.ndarray,
    t2_offs: np.ndarray,
    t3_vals: np.ndarray,
    t3_offs: np.ndarray,
    data_vals: np.ndarray,
    data_offs: np.ndarray,
    block_number: np.ndarray,
    tx_index: np.ndarray,
    log_index: np.ndarray,
    bh_vals: np.ndarray,
    bh_offs: np.ndarray,
    th_vals: np.ndarray,
    th_offs: np.ndarray,
    idx_addresses: np.ndarray,
    idx_table: np.ndarray,
    idx_pool_ids: np.ndarray,
    idx_kinds: np.ndarray,
    idx_fee_pips: np.ndarray,
    recv_ns: int,
    source: int,
    counts: np.ndarray,
) -> int:
    """Write one record per accepted log of the batch into out; count every log; return count."""
    n_events = EV_META.shape[0]
    n_out = 0
    # the log's words as limbs, topics 1..3 then data words 0..4
    limbs = np.zeros((MAX_SOURCES, 4), dtype=np.uint64)
    for i in range(n):
        st = status[i]
        if st != 0:
            counts[st] += 1
            continue
        if removed[i] != 0:
            counts[R_REMOVED] += 1
            continue
        a_start = addr_offs[i]
        if not _field_ok(addr_vals, addr_offs, i, 20):
            counts[R_MALFORMED_FIELD] += 1
            continue
        row = lookup_kernel(addr_vals, a_start, idx_addresses, idx_table)
        if row < 0:
            counts[R_UNKNOWN_ADDRESS] += 1
            continue
        nt = n_topics[i]
        if nt < 1:
            counts[R_UNKNOWN_TOPIC] += 1
            continue
        t_start = t0_offs[i]
        if not _field_ok(t0_vals, t0_offs, i, 32):
            counts[R_MALFORMED_FIELD] += 1
            continue
        prefix = load_be64(t0_vals, t_start)
        rest0 = load_be64(t0_vals, t_start + 8)
        rest1 = load_be64(t0_vals, t_start + 16)
        rest2 = load_be64(t0_vals, t_start + 24)
        ev = -1
        for e in range(n_events):
            if (
                EV_TOPIC0[e, 0] == prefix
                and EV_TOPIC0[e, 1] == rest0
                and EV_TOPIC0[e, 2] == rest1
                and EV_TOPIC0[e, 3] == rest2
            ):
                ev = e
                break
        if ev < 0 or EV_META[ev, 1] != idx_kinds[row]:
            counts[R_UNKNOWN_TOPIC] += 1
            continue
        if nt != EV_META[ev, 2]:
            counts[R_WRONG_TOPIC_COUNT] += 1
            continue
        d_start = data_offs[i]
        d_len = data_offs[i + 1] - d_start
        if d_len != EV_META[ev, 3]:
            counts[R_WRONG_DATA_LENGTH] += 1
            continue
        if (
            (nt > 1 and not _field_ok(t1_vals, t1_offs, i, 32))
            or (nt > 2 and not _field_ok(t2_vals, t2_offs, i, 32))
            or (nt > 3 and not _field_ok(t3_vals, t3_offs, i, 32))
            or not _field_ok(data_vals, data_offs, i, d_len)
            or not (bh_offs[i + 1] == bh_offs[i] or _field_ok(bh_vals, bh_offs, i, 32))
            or not (th_offs[i + 1] == th_offs[i] or _field_ok(th_vals, th_offs, i, 32))
        ):
            counts[R_MALFORMED_FIELD] += 1
            continue
        if nt > 1:
            _load_word(t1_vals, t1_offs[i], limbs, 0)
        if nt > 2:
            _load_word(t2_vals, t2_offs[i], limbs, 1)
        if nt > 3:
            _load_word(t3_vals, t3_offs[i], limbs, 2)
        for w in range(d_len // 32):
            _load_word(data_vals, d_start + 32 * w, limbs, 3 + w)
        ok = True
        for s in range(MAX_SOURCES):
            wtype = EV_WORDS[ev, s, 0]
            if wtype >= 0 and not _word_ok(limbs, s, wtype):
                ok = False
                break
        if not ok:
            counts[R_BAD_VALUE] += 1
            continue
        j = n_out
        for k in range(RECORD_SIZE // 8):
            out_u64[j, k] = 0
        _copy_hash(bh_vals, bh_offs, i, out_u64, j, U64_BLOCK_HASH)
        _copy_hash(th_vals, th_offs, i, out_u64, j, U64_TX_HASH)
        out_u64[j, U64_SENDER] = load_le64(addr_vals, a_start)
        out_u64[j, U64_SENDER + 1] = load_le64(addr_vals, a_start + 8)
        for k in range(16, 20):
            out_u8[j, O_SENDER + k] = addr_vals[a_start + k]
        out_u8[j, O_KIND] = EV_META[ev, 0]
        out_u8[j, O_SOURCE] = source
        out_u64[j, U64_BLOCK] = block_number[i]
        out_u64[j, U64_RECV] = recv_ns
        out_i32[j, U32_LOG_INDEX] = log_index[i]
        out_i32[j, U32_TX_INDEX] = tx_index[i]
        created = EV_META[ev, 1] >= FACTORY_KINDS  # the new pool's id is the registry's to give
        out_i32[j, I32_POOL_ID] = -1 if created else idx_pool_ids[row]
        for s in range(MAX_SOURCES):
            dest = EV_WORDS[ev, s, 1]
            if dest == D_NONE:
                continue
            if dest == D_AUX_FEE:
                out_i32[j, I32_AUX] = idx_fee_pips[row]
                continue
            if dest <= D_V1_SIGNED:
                slot = dest if dest <= D_V3 else dest - D_V0_SIGNED
                l0, l1, l2, l3 = limbs[s, 0], limbs[s, 1], limbs[s, 2], limbs[s, 3]
                base = U64_VALUE + 4 * slot
                out_u64[j, base] = l0
                out_u64[j, base + 1] = l1
                out_u64[j, base + 2] = l2
                out_u64[j, base + 3] = l3
                out_f64[j, F64_VALUE + slot] = _to_float(l0, l1, l2, l3, dest >= D_V0_SIGNED)
            else:
                v = _int24(limbs[s, 0])
                if dest == D_TICK:
                    out_i32[j, I32_TICK] = v
                elif dest == D_TICK_LOWER:
                    out_i32[j, I32_TICK_LOWER] = v
                elif dest == D_TICK_UPPER:
                    out_i32[j, I32_TICK_UPPER] = v
                else:  # D_AUX, a uint24 fee: checked canonical, its low 24 bits are the value
                    out_i32[j, I32_AUX] = v & 0xFFFFFF
        counts[R_ACCEPTED] += 1
        n_out += 1
    return n_out
