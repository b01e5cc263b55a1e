"""JSON lexing in numba for the log scanner: whitespace, strings, skipped values, hex fields.

Every function takes the document as a uint8 array `b` of length `n` and an index `i`, checks
every read against `n`, and returns the index after what it read (-1 when the document ends
or breaks first).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "hex_data",
    "hex_fixed",
    "hex_quantity",
    "is_null",
    "key_is",
    "known_key",
    "skip_string",
    "skip_value",
    "ws",
]

_HEX = np.full(256, -1, dtype=np.int8)
for _c in range(10):
    _HEX[ord("0") + _c] = _c
for _c in range(6):
    _HEX[ord("a") + _c] = 10 + _c
    _HEX[ord("A") + _c] = 10 + _c


def _key(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


K_ADDRESS = _key("address")
K_TOPICS = _key("topics")
K_DATA = _key("data")
K_BLOCK_NUMBER = _key("blockNumber")
K_BLOCK_HASH = _key("blockHash")
K_TX_HASH = _key("transactionHash")
K_TX_INDEX = _key("transactionIndex")
K_LOG_INDEX = _key("logIndex")
K_REMOVED = _key("removed")
K_RESULT = _key("result")
K_TRUE = _key("true")
K_FALSE = _key("false")
K_NULL = _key("null")
K_PARAMS = _key("params")


@numba.njit(cache=True, nogil=True, inline="always")
def ws(b: np.ndarray, i: int, n: int) -> int:
    while i < n and (b[i] == 32 or b[i] == 10 or b[i] == 13 or b[i] == 9):
        i += 1
    return i


@numba.njit(cache=True, nogil=True)
def skip_string(b: np.ndarray, i: int, n: int) -> int:
    """Return the index after the string starting at b[i] == '"', or -1 if it is broken."""
    i += 1
    while i < n:
        c = b[i]
        if c == 34:
            return i + 1
        if c == 92:
            i += 2
        elif c < 32:  # JSON forbids raw control characters in strings
            return -1
        else:
            i += 1
    return -1


@numba.njit(cache=True, nogil=True)
def skip_value(b: np.ndarray, i: int, n: int) -> int:
    """Return the index after the JSON value at b[i], or -1 if it does not end."""
    if i >= n:
        return -1
    c = b[i]
    if c == 34:
        return skip_string(b, i, n)
    if c == 123 or c == 91:
        depth = 0
        while i < n:
            c = b[i]
            if c == 34:
                i = skip_string(b, i, n)
                if i < 0:
                    return -1
                continue
            if c == 123 or c == 91:
                depth += 1
            elif c == 125 or c == 93:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1
    start = i  # number, true, false, null
    while i < n:
        c = b[i]
        if c == 44 or c == 125 or c == 93 or c == 32 or c == 10 or c == 13 or c == 9:
            break
        i += 1
    if i == start or i >= n:
        return -1
    return i


@numba.njit(cache=True, nogil=True, inline="always")
def key_is(b: np.ndarray, s: int, e: int, key: np.ndarray) -> bool:
    if e - s != key.shape[0]:
        return False
    for k in range(key.shape[0]):  # noqa: SIM110 (a loop numba compiles)
        if b[s + k] != key[k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def known_key(b: np.ndarray, s: int, e: int) -> int:
    """Return 1 address, 2 topics, 3 data, 4 blockNumber, 5 transactionIndex, 6 logIndex,
    7 blockHash, 8 transactionHash, 9 removed, 0 any other key."""
    size = e - s
    if size == 7:
        return 1 if key_is(b, s, e, K_ADDRESS) else (9 if key_is(b, s, e, K_REMOVED) else 0)
    if size == 6:
        return 2 if key_is(b, s, e, K_TOPICS) else 0
    if size == 4:
        return 3 if key_is(b, s, e, K_DATA) else 0
    if size == 11:
        return 4 if key_is(b, s, e, K_BLOCK_NUMBER) else 0
    if size == 16:
        return 5 if key_is(b, s, e, K_TX_INDEX) else 0
    if size == 8:
        return 6 if key_is(b, s, e, K_LOG_INDEX) else 0
    if size == 9:
        return 7 if key_is(b, s, e, K_BLOCK_HASH) else 0
    if size == 15:
        return 8 if key_is(b, s, e, K_TX_HASH) else 0
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def has_0x(b: np.ndarray, i: int, n: int) -> bool:
    return i + 2 < n and b[i + 1] == 48 and (b[i + 2] == 120 or b[i + 2] == 88)


@numba.njit(cache=True, nogil=True)
def hex_fixed(b: np.ndarray, i: int, n: int, out: np.ndarray, at: int, size: int) -> tuple:
    """Decode "0x" + 2*size hex digits at b[i] (a string) into out[at:]; return (end, ok)."""
    close = i + 3 + 2 * size
    if close < n and b[close] == 34 and has_0x(b, i, n):  # one pass when well formed
        p = i + 3
        good = True
        for k in range(size):
            hi = _HEX[b[p]]
            lo = _HEX[b[p + 1]]
            if hi < 0 or lo < 0:
                good = False
                break
            out[at + k] = (hi << 4) | lo
            p += 2
        if good:
            return close + 1, True
    return skip_string(b, i, n), False


@numba.njit(cache=True, nogil=True)
def hex_quantity(b: np.ndarray, i: int, n: int) -> tuple:
    """Decode a "0x..." quantity (1..16 digits) at b[i]; return (end, value, ok)."""
    end = skip_string(b, i, n)
    if end < 0:
        return -1, np.uint64(0), False
    digits = end - i - 4
    if digits < 1 or digits > 16 or b[i + 1] != 48 or (b[i + 2] != 120 and b[i + 2] != 88):
        return end, np.uint64(0), False
    x = np.uint64(0)
    for p in range(i + 3, end - 1):
        d = _HEX[b[p]]
        if d < 0:
            return end, np.uint64(0), False
        x = (x << np.uint64(4)) | np.uint64(d)
    return end, x, True


@numba.njit(cache=True, nogil=True)
def hex_data(b: np.ndarray, i: int, n: int, out: np.ndarray, at: int) -> tuple:
    """Decode "0x" + an even number of hex digits at b[i] into out[at:]; return (end, len, ok)."""
    if has_0x(b, i, n):
        p = i + 3
        k = 0
        while p + 1 < n:  # one pass: decode pairs until the closing quote
            hi = _HEX[b[p]]
            if hi < 0:
                if b[p] == 34:
                    return p + 1, k, True
                break
            lo = _HEX[b[p + 1]]
            if lo < 0:
                break
            out[at + k] = (hi << 4) | lo
            k += 1
            p += 2
    return skip_string(b, i, n), 0, False


@numba.njit(cache=True, nogil=True)
def is_null(b: np.ndarray, i: int, n: int) -> bool:
    return i + 4 <= n and b[i] == 110 and b[i + 1] == 117 and b[i + 2] == 108 and b[i + 3] == 108
