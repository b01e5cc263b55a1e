"""Batch decoding of pool logs into records, from node JSON or from archived columns.

    decode_logs_json(raw, index, recv_ns=...)      eth_getLogs reply / logs notification bytes
    decode_logs_columns(table, index, recv_ns=...) cryo Parquet columns already in memory

Both scan the raw bytes with numba (no per-log Python, no per-log eth_abi) into Arrow-style
buffers and hand them to one kernel (`chains.decode_fill.fill_records`) that classifies each
log and writes its record. A log becomes a record only if an indexed pool (or factory, for
PairCreated/PoolCreated) emitted it, with the event's topic count, data length and canonical
words; every other log is counted under a `Reason` and nothing raises on bad input.

Record contents follow `chains.records`; in addition `sender` holds the emitting address.
PairCreated/PoolCreated records carry pool_id -1: the registry proves the new pool's CREATE2
address and assigns its id (then `PoolIndex.add`); a PairCreated record's aux is the fee the
index holds for its factory. Logs with `removed: true` are counted (`removed`) and dropped:
reorgs are the feed's to handle, by parent hash.

Counts (`DecodeResult.counts`, indexed by `Reason`) cover every log object read, once each.
On top of that a JSON frame adds one `no_result` when it has no result (an error reply) and
one `malformed_json` when it breaks outside any log object; a log object it breaks inside is
that log's `malformed_json`. Logs before the break still decode; `complete` is then False.
`out` (records, C-contiguous) must hold as many records as the batch has logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from chains.decode_columns import Columns, column_logs
from chains.decode_events import N_REASONS, Reason
from chains.decode_fill import fill_records
from chains.decode_json import FRAME_MALFORMED, FRAME_NO_RESULT, FRAME_OK, scan_logs_json
from chains.pool_index import PoolIndex
from chains.records import RECORD_DTYPE, RECORD_SIZE

__all__ = ["DecodeResult", "Reason", "decode_logs_columns", "decode_logs_json"]

Field = tuple[np.ndarray, np.ndarray]  # a binary field: (values uint8, offsets int64 [n + 1])


class RawLogs(Protocol):
    """What both scanners hand to the record kernel besides the binary fields."""

    status: np.ndarray
    removed: np.ndarray
    n_topics: np.ndarray
    block_number: np.ndarray
    tx_index: np.ndarray
    log_index: np.ndarray


def _fixed_offsets(n: int, width: int) -> np.ndarray:
    """Return the offsets of n fields of width bytes laid end to end."""
    return np.arange(0, (n + 1) * width, width, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class DecodeResult:
    """Records written (a view of the output array) and how many logs went where."""

    records: np.ndarray
    n_logs: int
    counts: np.ndarray  # int64 [len(Reason)], indexed by Reason
    complete: bool  # the whole input was read (False: truncated/broken JSON or no result)

    def count(self, reason: Reason) -> int:
        """Return how many logs were counted under one reason."""
        return int(self.counts[reason])

    def counts_by_reason(self) -> dict[str, int]:
        """Return the counts by reason name ("accepted", "unknown_address", ...), zeros omitted."""
        return {r.name.lower(): int(self.counts[r]) for r in Reason if self.counts[r]}


def _output(out: np.ndarray | None, n: int) -> np.ndarray:
    if out is None:
        return np.empty(n, dtype=RECORD_DTYPE)
    if out.dtype != RECORD_DTYPE or out.ndim != 1 or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous 1-d array of RECORD_DTYPE")
    if out.shape[0] < n:
        raise ValueError(f"out holds {out.shape[0]} records, the batch has {n} logs")
    return out


def _fill(
    out: np.ndarray,
    n: int,
    logs: RawLogs,
    index: PoolIndex,
    recv_ns: int,
    source: int,
    counts: np.ndarray,
    fields: tuple[Field, Field, Field, Field, Field, Field, Field, Field],
) -> int:
    """Run the record kernel; fields: address, topic0..3, data, block hash, tx hash."""
    address, t0, t1, t2, t3, data, block_hash, tx_hash = fields
    raw = out.view(np.uint8).reshape(-1, RECORD_SIZE)
    n_out = fill_records(
        raw,
        raw.view(np.int32),
        raw.view(np.uint64),
        raw.view(np.float64),
        n,
        logs.status,
        logs.removed,
        logs.n_topics,
        *address,
        *t0,
        *t1,
        *t2,
        *t3,
        *data,
        logs.block_number,
        logs.tx_index,
        logs.log_index,
        *block_hash,
        *tx_hash,
        *index.tables(),
        np.uint64(recv_ns),
        source,
        counts,
    )
    return int(n_out)


def decode_logs_json(
    raw: bytes | bytearray | memoryview | np.ndarray,
    index: PoolIndex,
    *,
    recv_ns: int,
    out: np.ndarray | None = None,
    source: int = 0,
) -> DecodeResult:
    """Decode the logs of one eth_getLogs reply or eth_subscription frame (raw bytes)."""
    logs = scan_logs_json(raw)
    n = logs.n
    counts = np.zeros(N_REASONS, dtype=np.int64)
    if logs.frame == FRAME_NO_RESULT:
        counts[Reason.NO_RESULT] += 1
    elif logs.frame == FRAME_MALFORMED and not logs.broke_in_log:
        counts[Reason.MALFORMED_JSON] += 1  # broken outside any log object
    target = _output(out, n)
    if n == 0:
        return DecodeResult(target[:0], 0, counts, logs.frame == FRAME_OK)
    fixed20 = _fixed_offsets(n, 20)
    fixed32 = _fixed_offsets(n, 32)
    t0, t1, t2, t3 = ((t.reshape(-1), fixed32) for t in logs.topics)
    fields = (
        (logs.address.reshape(-1), fixed20),
        t0,
        t1,
        t2,
        t3,
        (logs.data, logs.data_offsets[: n + 1]),
        (logs.block_hash.reshape(-1), fixed32),
        (logs.tx_hash.reshape(-1), fixed32),
    )
    n_out = _fill(target, n, logs, index, recv_ns, source, counts, fields)
    return DecodeResult(target[:n_out], n, counts, logs.frame == FRAME_OK)


def decode_logs_columns(
    columns: Columns,
    index: PoolIndex,
    *,
    recv_ns: int,
    out: np.ndarray | None = None,
    source: int = 0,
) -> DecodeResult:
    """Decode logs from Arrow columns in cryo's layout (a Table, RecordBatch or name -> array)."""
    logs = column_logs(columns)
    n = logs.n
    counts = np.zeros(N_REASONS, dtype=np.int64)
    target = _output(out, n)
    if n == 0:
        return DecodeResult(target[:0], 0, counts, True)

    binaries = (logs.address, *logs.topics, logs.data, logs.block_hash, logs.tx_hash)
    fields = tuple((b.values, b.offsets) for b in binaries)
    n_out = _fill(target, n, logs, index, recv_ns, source, counts, fields)  # type: ignore[arg-type]
    return DecodeResult(target[:n_out], n, counts, True)
