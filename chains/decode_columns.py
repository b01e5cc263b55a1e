"""Views of Arrow log columns (cryo's Parquet layout) as the numpy arrays the decoder reads.

Binary columns become (values uint8, offsets int64) views of their Arrow buffers, without a
copy for large_binary and fixed_size_binary (binary's int32 offsets are widened); topic null
bitmaps become a topic count per log. No Python runs per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa

from chains.decode_events import Reason

__all__ = ["ColumnLogs", "column_logs"]

_MALFORMED_FIELD = int(Reason.MALFORMED_FIELD)
_EMPTY_U8 = np.zeros(0, dtype=np.uint8)
Columns = pa.Table | pa.RecordBatch | Mapping[str, pa.Array | pa.ChunkedArray]


@dataclass(frozen=True, slots=True)
class Binary:
    """One binary column: values buffer, int64 offsets [n + 1], validity bitmap (bit offset)."""

    values: np.ndarray
    offsets: np.ndarray
    validity: np.ndarray  # packed bits, empty when the column has no nulls
    bit_offset: int


@dataclass(frozen=True, slots=True)
class ColumnLogs:
    """Raw logs of a column batch, ready for `fill_records`."""

    n: int
    status: np.ndarray
    removed: np.ndarray
    n_topics: np.ndarray
    address: Binary
    topics: tuple[Binary, Binary, Binary, Binary]
    data: Binary
    block_number: np.ndarray
    tx_index: np.ndarray
    log_index: np.ndarray
    block_hash: Binary
    tx_hash: Binary


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        if column.num_chunks == 0:
            return pa.array([], type=column.type)
        return column.combine_chunks()
    return column


def _binary(column: pa.Array | pa.ChunkedArray | None, n: int) -> Binary:
    """Return the buffers of a binary column; a missing column reads as empty values."""
    if column is None:
        return Binary(_EMPTY_U8, np.zeros(n + 1, dtype=np.int64), _EMPTY_U8, 0)
    arr = _array(column)
    if len(arr) != n:
        raise ValueError(f"column of {len(arr)} rows in a batch of {n}")
    kind = arr.type
    bufs = arr.buffers()
    validity = _EMPTY_U8
    if arr.null_count > 0 and bufs[0] is not None:
        validity = np.frombuffer(bufs[0], dtype=np.uint8)
    if pa.types.is_fixed_size_binary(kind):
        width = kind.byte_width
        values = _EMPTY_U8 if bufs[1] is None else np.frombuffer(bufs[1], dtype=np.uint8)
        offsets = (np.arange(n + 1, dtype=np.int64) + arr.offset) * width
    elif pa.types.is_large_binary(kind) or pa.types.is_binary(kind):
        wide = pa.types.is_large_binary(kind)
        offsets = np.frombuffer(bufs[1], dtype=np.int64 if wide else np.int32)
        offsets = offsets[arr.offset : arr.offset + n + 1]
        if not wide:
            offsets = offsets.astype(np.int64)
        values = _EMPTY_U8 if bufs[2] is None else np.frombuffer(bufs[2], dtype=np.uint8)
    else:
        raise TypeError(f"expected a binary column, got {kind}")
    return Binary(values, offsets, validity, arr.offset)


def _integers(column: pa.Array | pa.ChunkedArray | None, n: int) -> np.ndarray:
    if column is None:
        return np.zeros(n, dtype=np.uint64)
    arr = _array(column)
    if len(arr) != n:
        raise ValueError(f"column of {len(arr)} rows in a batch of {n}")
    if not pa.types.is_integer(arr.type):
        raise TypeError(f"expected an integer column, got {arr.type}")
    if arr.null_count > 0:
        arr = arr.fill_null(0)
    return arr.to_numpy(zero_copy_only=False)


@numba.njit(cache=True, nogil=True, inline="always")
def _valid(bits: np.ndarray, bit_offset: int, i: int) -> bool:
    if bits.shape[0] == 0:
        return True
    k = bit_offset + i
    return (bits[k >> 3] >> (k & 7)) & 1 == 1


@numba.njit(cache=True, nogil=True)
def _prepare(n, status, n_topics, a_bits, a_off, d_bits, d_off, b0, o0, b1, o1, b2, o2, b3, o3):
    """Count leading non-null topics; flag null addresses or data (MALFORMED_FIELD)."""
    for i in range(n):
        if not (_valid(a_bits, a_off, i) and _valid(d_bits, d_off, i)):
            status[i] = _MALFORMED_FIELD
        v0 = _valid(b0, o0, i)
        v1 = _valid(b1, o1, i)
        v2 = _valid(b2, o2, i)
        v3 = _valid(b3, o3, i)
        count = 0
        if v0:
            count = 1
            if v1:
                count = 2
                if v2:
                    count = 3
                    if v3:
                        count = 4
        # a topic after a null one: no event has that shape
        if (not v0 and (v1 or v2 or v3)) or (not v1 and (v2 or v3)) or (not v2 and v3):
            count = 99
        n_topics[i] = count


NEEDED = ("address", "topic0", "topic1", "topic2", "topic3", "data", "block_number")
NEEDED += ("transaction_index", "log_index", "block_hash", "transaction_hash")


def column_logs(columns: Columns) -> ColumnLogs:
    """Return views of log columns (cryo names: address, topic0..topic3, data, log_index...)."""
    if isinstance(columns, pa.Table | pa.RecordBatch):
        names = set(columns.column_names)
        get = {name: columns.column(name) for name in NEEDED if name in names}
        n = columns.num_rows
    else:
        get = dict(columns)
        if "address" not in get:
            raise KeyError("log columns need an 'address' column")
        n = len(get["address"])
    for name in ("address", "topic0", "data"):
        if name not in get:
            raise KeyError(f"log columns need a {name!r} column")
    address = _binary(get["address"], n)
    topics = tuple(_binary(get.get(f"topic{k}"), n) for k in range(4))
    data = _binary(get["data"], n)
    status = np.zeros(n, dtype=np.uint8)
    n_topics = np.empty(n, dtype=np.int64)
    t = topics
    _prepare(
        n,
        status,
        n_topics,
        address.validity,
        address.bit_offset,
        data.validity,
        data.bit_offset,
        t[0].validity,
        t[0].bit_offset,
        t[1].validity,
        t[1].bit_offset,
        t[2].validity,
        t[2].bit_offset,
        t[3].validity,
        t[3].bit_offset,
    )
    block_hash = _binary(get.get("block_hash"), n)
    tx_hash = _binary(get.get("transaction_hash"), n)
    missing = [k for k in range(4) if f"topic{k}" not in get]
    if missing:  # a missing topic column reads as all null
        np.minimum(n_topics, missing[0], out=n_topics)
    return ColumnLogs(
        n=n,
        status=status,
        removed=np.zeros(n, dtype=np.uint8),
        n_topics=n_topics,
        address=address,
        topics=topics,  # type: ignore[arg-type]
        data=data,
        block_number=_integers(get.get("block_number"), n),
        tx_index=_integers(get.get("transaction_index"), n),
        log_index=_integers(get.get("log_index"), n),
        block_hash=block_hash,
        tx_hash=tx_hash,
    )
