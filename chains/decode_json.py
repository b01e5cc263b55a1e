"""Scan the raw bytes of eth_getLogs replies and logs notifications into raw log arrays.

One numba pass walks the JSON structure (objects, arrays, strings with escapes), finds the
`result` (top level, or inside `params` of an `eth_subscription` frame; an array of logs or
one log), and hex-decodes the known keys of each log straight into preallocated arrays: no
Python objects per log. Unknown keys are skipped whatever their value. Every read is bounds
checked; a truncated or broken document stops the scan and is counted, it never raises.

Per log the scan sets a status (0, BAD_HEX or MALFORMED_JSON, the `Reason` codes). Required
keys: address, topics, data. blockNumber, transactionIndex, logIndex, blockHash and
transactionHash may be missing or null (pending logs) and then read as zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from chains.decode_events import Reason
from chains.decode_json_lex import (
    hex_data,
    hex_fixed,
    hex_quantity,
    key_is,
    known_key,
    skip_string,
    skip_value,
    ws,
)

__all__ = ["JsonLogs", "scan_logs_json"]

_BAD_HEX = int(Reason.BAD_HEX)
_MALFORMED = int(Reason.MALFORMED_JSON)
_NO_RESULT = int(Reason.NO_RESULT)


def _key(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


K_RESULT = _key("result")
K_PARAMS = _key("params")
K_TRUE = _key("true")
K_FALSE = _key("false")
K_NULL = _key("null")

# scan outcomes of a whole frame
FRAME_OK = 0
FRAME_MALFORMED = 1
FRAME_NO_RESULT = 2
FRAME_FULL = 3  # more logs than arrays were allocated for


@dataclass(frozen=True, slots=True)
class JsonLogs:
    """Raw logs scanned from one frame, in Arrow binary layout (values + int64 offsets)."""

    n: int
    frame: int  # FRAME_OK, FRAME_MALFORMED (stopped early) or FRAME_NO_RESULT
    broke_in_log: bool  # the scan stopped inside log n - 1 (already marked malformed)
    status: np.ndarray
    removed: np.ndarray
    n_topics: np.ndarray
    address: np.ndarray  # uint8 [cap, 20]
    topics: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # uint8 [cap, 32] each
    data: np.ndarray  # flat uint8
    data_offsets: np.ndarray  # int64 [n + 1]
    block_number: np.ndarray
    tx_index: np.ndarray
    log_index: np.ndarray
    block_hash: np.ndarray  # uint8 [cap, 32]
    tx_hash: np.ndarray  # uint8 [cap, 32]


@numba.njit(cache=True, nogil=True)
def _scan_log(
    b,
    i,
    n,
    j,
    cols,
) -> int:
    """Scan the log object at b[i] == '{' into row j; return the index after it, -1 if broken."""
    status, removed, n_topics, address, t0, t1, t2, t3, data, data_offs = cols[:10]
    block_number, tx_index, log_index, block_hash, tx_hash = cols[10:]
    i += 1
    bad_hex = False
    malformed = False
    seen = 0  # bit 0 address, bit 1 topics, bit 2 data
    d_start = data_offs[j]
    d_len = 0
    first = True
    while True:
        i = ws(b, i, n)
        if i >= n:
            return -1
        if b[i] == 125:
            i += 1
            break
        if not first:
            if b[i] != 44:
                return -1
            i = ws(b, i + 1, n)
            if i >= n:
                return -1
        first = False
        if b[i] != 34:
            return -1
        ks = i + 1
        i = skip_string(b, i, n)
        if i < 0:
            return -1
        ke = i - 1
        i = ws(b, i, n)
        if i >= n or b[i] != 58:
            return -1
        i = ws(b, i + 1, n)
        if i >= n:
            return -1
        c = b[i]
        key = known_key(b, ks, ke)
        if key == 2:  # topics
            if c != 91:
                malformed = True
                i = skip_value(b, i, n)
            else:
                i = ws(b, i + 1, n)
                count = 0
                while i < n and b[i] != 93:
                    if count > 0:
                        if b[i] != 44:
                            return -1
                        i = ws(b, i + 1, n)
                        if i >= n:
                            return -1
                    if b[i] != 34:
                        malformed = True
                        i = skip_value(b, i, n)
                    elif count < 4:
                        dest = (
                            t0 if count == 0 else (t1 if count == 1 else (t2 if count == 2 else t3))
                        )
                        i, ok = hex_fixed(b, i, n, dest[j], 0, 32)
                        bad_hex = bad_hex or not ok
                    else:  # a fifth topic: no event of ours has one, only find its end
                        i = skip_string(b, i, n)
                    if i < 0:
                        return -1
                    count += 1
                    i = ws(b, i, n)
                if i >= n:
                    return -1
                i += 1
                n_topics[j] = count
                seen |= 2
        elif key == 9:  # removed
            vs = i
            i = skip_value(b, i, n)
            if i < 0:
                return -1
            if key_is(b, vs, i, K_TRUE):
                removed[j] = 1
            elif not key_is(b, vs, i, K_FALSE):
                malformed = True
        elif c != 34:  # every other key we read holds a string; null reads as zero
            vs = i
            i = skip_value(b, i, n)
            if i < 0:
                return -1
            if key != 0 and not (key >= 4 and key_is(b, vs, i, K_NULL)):
                malformed = True
        else:
            if key == 1:
                i, ok = hex_fixed(b, i, n, address[j], 0, 20)
                seen |= 1
            elif key == 3:
                i, d_len, ok = hex_data(b, i, n, data, d_start)
                seen |= 4
            elif key == 4:
                i, v, ok = hex_quantity(b, i, n)
                block_number[j] = v
            elif key == 5:
                i, v, ok = hex_quantity(b, i, n)
                tx_index[j] = v
                ok = ok and v <= 0xFFFFFFFF
            elif key == 6:
                i, v, ok = hex_quantity(b, i, n)
                log_index[j] = v
                ok = ok and v <= 0xFFFFFFFF
            elif key == 7:
                i, ok = hex_fixed(b, i, n, block_hash[j], 0, 32)
            elif key == 8:
                i, ok = hex_fixed(b, i, n, tx_hash[j], 0, 32)
            else:
                i = skip_string(b, i, n)
                ok = True
            bad_hex = bad_hex or not ok
        if i < 0:
            return -1
    if malformed or seen != 7:
        status[j] = _MALFORMED
        d_len = 0
    elif bad_hex:
        status[j] = _BAD_HEX
        d_len = 0
    data_offs[j + 1] = d_start + d_len
    return i


@numba.njit(cache=True, nogil=True)
def _broken(j: int, status: np.ndarray, n_topics: np.ndarray, data_offs: np.ndarray) -> None:
    """Mark log j, where the document broke off, malformed with no data (n_topics -1)."""
    status[j] = _MALFORMED
    n_topics[j] = -1
    data_offs[j + 1] = data_offs[j]


@numba.njit(cache=True, nogil=True)
def _scan_result(
    b,
    i,
    n,
    j,
    cols,
) -> tuple:
    """Scan a result value at b[i] (array of logs, one log or null); return (end, n_logs)."""
    c = b[i]
    if c == 123:
        i = _scan_log(
            b,
            i,
            n,
            j,
            cols,
        )
        if i < 0:
            _broken(j, cols[0], cols[2], cols[9])
        return i, j + 1
    if c != 91:
        return skip_value(b, i, n), j
    i = ws(b, i + 1, n)
    first = True
    while i < n and b[i] != 93:
        if not first:
            if b[i] != 44:
                return -1, j
            i = ws(b, i + 1, n)
            if i >= n:
                return -1, j
        first = False
        if b[i] != 123:
            return -1, j
        if j >= cols[0].shape[0]:
            return -2, j
        i = _scan_log(
            b,
            i,
            n,
            j,
            cols,
        )
        if i < 0:
            _broken(j, cols[0], cols[2], cols[9])
            return -1, j + 1
        j += 1
        i = ws(b, i, n)
    if i >= n:
        return -1, j
    return i + 1, j


@numba.njit(cache=True, nogil=True)
def _scan_frame(
    b,
    cols,
) -> tuple:
    """Walk a frame: {"result": ...} or {"params": {"result": ...}}; return (n_logs, frame)."""
    n = b.shape[0]
    j = 0
    found = False
    # stack of at most two objects: the frame and its params
    i = ws(b, 0, n)
    if i >= n or b[i] != 123:
        return 0, FRAME_MALFORMED
    i += 1
    depth = 1
    first = True
    while depth > 0:
        i = ws(b, i, n)
        if i >= n:
            return j, FRAME_MALFORMED
        if b[i] == 125:
            i += 1
            depth -= 1
            first = False
            continue
        if not first:
            if b[i] != 44:
                return j, FRAME_MALFORMED
            i = ws(b, i + 1, n)
            if i >= n:
                return j, FRAME_MALFORMED
        first = False
        if b[i] != 34:
            return j, FRAME_MALFORMED
        ks = i + 1
        i = skip_string(b, i, n)
        if i < 0:
            return j, FRAME_MALFORMED
        ke = i - 1
        i = ws(b, i, n)
        if i >= n or b[i] != 58:
            return j, FRAME_MALFORMED
        i = ws(b, i + 1, n)
        if i >= n:
            return j, FRAME_MALFORMED
        if key_is(b, ks, ke, K_RESULT) and not found:
            found = True
            i, j = _scan_result(
                b,
                i,
                n,
                j,
                cols,
            )
            if i == -2:
                return j, FRAME_FULL
        elif depth == 1 and b[i] == 123 and key_is(b, ks, ke, K_PARAMS):
            depth = 2
            first = True
            i += 1
        else:
            i = skip_value(b, i, n)
        if i < 0:
            return j, FRAME_MALFORMED
    i = ws(b, i, n)
    if i != n:
        return j, FRAME_MALFORMED
    return j, FRAME_OK if found else FRAME_NO_RESULT


def scan_logs_json(raw: bytes | bytearray | memoryview | np.ndarray) -> JsonLogs:
    """Scan one eth_getLogs reply or logs notification frame (raw UTF-8 bytes) into arrays."""
    b = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
    # a node's log object takes over 400 bytes; a frame of smaller ones is scanned again with
    # room for one log per "{" (every log object opens with one)
    logs = _scan(b, b.shape[0] // 256 + 16)
    if logs.frame == FRAME_FULL:
        logs = _scan(b, int(np.count_nonzero(b == 123)))
    return logs


def _scan(b: np.ndarray, cap: int) -> JsonLogs:
    """Scan with room for cap logs."""
    status = np.zeros(cap, dtype=np.uint8)
    removed = np.zeros(cap, dtype=np.uint8)
    n_topics = np.zeros(cap, dtype=np.int64)
    address = np.empty((cap, 20), dtype=np.uint8)
    topics = tuple(np.empty((cap, 32), dtype=np.uint8) for _ in range(4))
    data = np.empty(b.shape[0] // 2 + 1, dtype=np.uint8)
    data_offs = np.zeros(cap + 1, dtype=np.int64)
    block_number = np.zeros(cap, dtype=np.uint64)
    tx_index = np.zeros(cap, dtype=np.uint64)
    log_index = np.zeros(cap, dtype=np.uint64)
    block_hash = np.zeros((cap, 32), dtype=np.uint8)
    tx_hash = np.zeros((cap, 32), dtype=np.uint8)
    cols = (status, removed, n_topics, address, *topics, data, data_offs)
    cols += (block_number, tx_index, log_index, block_hash, tx_hash)
    n, frame = _scan_frame(b, cols)
    return JsonLogs(
        n=int(n),
        frame=int(frame),
        broke_in_log=bool(n > 0 and n_topics[n - 1] < 0),
        status=status,
        removed=removed,
        n_topics=n_topics,
        address=address,
        topics=topics,  # type: ignore[arg-type]
        data=data,
        data_offsets=data_offs,
        block_number=block_number,
        tx_index=tx_index,
        log_index=log_index,
        block_hash=block_hash,
        tx_hash=tx_hash,
    )
