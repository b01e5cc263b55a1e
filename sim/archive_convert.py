"""Reading one archive file into Arrow with cryo's column names and binary columns.

Accepted inputs, all turned into the same table:

- cryo Parquet with binary columns (what cryo writes by default, and `record_archive`);
- cryo Parquet or CSV with ``0x``-hex string columns (cryo's ``--hex``);
- an ethereum-etl export: ``logs.csv`` (log_index, transaction_hash, transaction_index,
  block_hash, block_number, address, data, topics comma-joined) and ``blocks.csv`` (number,
  hash, parent_hash, timestamp, base_fee_per_gas, gas_used, gas_limit, ...).

Hex strings are decoded by numpy over the whole column's buffer (no Python per row); a
string without the ``0x`` prefix, with an odd number of digits or a non-hex digit raises
`ArchiveError` naming the file, the column and the row's block. Parquet pages are read with
checksum verification, so a file written with page checksums (`record_archive` writes them)
cannot yield silently corrupted values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sim.archive_files import ArchiveError, ArchiveFile

__all__ = ["hex_to_binary", "read_blocks_table", "read_logs_table", "read_raw_table"]

LOG_BINARY = ("transaction_hash", "address", "topic0", "topic1", "topic2", "topic3", "data")
LOG_BINARY += ("block_hash",)
BLOCK_BINARY = ("block_hash", "parent_hash")
LOG_REQUIRED = ("block_number", "transaction_index", "log_index", "address", "topic0", "data")
BLOCK_REQUIRED = ("block_number", "block_hash", "parent_hash", "timestamp")
_ETL_BLOCK_NAMES = {"number": "block_number", "hash": "block_hash"}

_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _NIBBLE[ord(_c)] = _i
    _NIBBLE[ord(_c.upper())] = _i


def read_raw_table(file: ArchiveFile) -> pa.Table:
    """Read a file as stored (Parquet or CSV); corrupt or truncated input raises ArchiveError."""
    try:
        if file.fmt == "parquet":
            return pq.ParquetFile(file.path, page_checksum_verification=True).read()
        options = pa_csv.ConvertOptions(strings_can_be_null=True)
        return pa_csv.read_csv(file.path, convert_options=options)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ArchiveError(
            f"{file.name}: {file.span()}: corrupt or truncated {file.fmt} file: {exc}"
        ) from exc


def _block_of_row(table: pa.Table, row: int) -> str:
    if "block_number" in table.column_names:
        return f"block {table.column('block_number')[row].as_py()}"
    if "number" in table.column_names:
        return f"block {table.column('number')[row].as_py()}"
    return f"row {row}"


def hex_to_binary(column: pa.Array | pa.ChunkedArray, where: str) -> pa.Array:
    """Decode a column of ``0x``-hex strings into large_binary (nulls kept); ValueError on bad hex.

    The message of a ValueError starts with the row index (``row 12: ...``).
    """
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.large_binary())
    arr = arr.cast(pa.large_string())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    base = int(offsets[0]) if n else 0
    values = (
        np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    )
    values = values[base : int(offsets[-1]) if n else 0]
    offsets = offsets - base
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    nonempty = lengths > 0
    short = nonempty & (lengths < 2)
    rows = np.flatnonzero(nonempty)
    prefixed = np.zeros(n, dtype=bool)
    long_rows = rows[lengths[rows] >= 2]
    prefixed[long_rows] = (values[starts[long_rows]] == ord("0")) & (
        (values[starts[long_rows] + 1] | 0x20) == ord("x")
    )
    bad = np.flatnonzero(short | (nonempty & ~prefixed))
    if bad.size:
        raise ValueError(f"row {int(bad[0])}: {where}: not a 0x-prefixed hex string")
    digits_len = lengths - 2 * nonempty
    odd = np.flatnonzero(digits_len % 2)
    if odd.size:
        raise ValueError(f"row {int(odd[0])}: {where}: odd number of hex digits")
    keep = np.ones(values.shape[0], dtype=bool)
    keep[starts[rows]] = False
    keep[starts[rows] + 1] = False
    nibbles = _NIBBLE[values[keep]]
    invalid = np.flatnonzero(nibbles == 255)
    if invalid.size:
        digit_offsets = np.concatenate(([0], np.cumsum(digits_len)))
        row = int(np.searchsorted(digit_offsets, invalid[0], side="right") - 1)
        raise ValueError(f"row {row}: {where}: not a hex digit")
    raw = (nibbles[0::2] << 4) | nibbles[1::2]
    out_offsets = np.concatenate(([0], np.cumsum(digits_len // 2))).astype(np.int64)
    out = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(out_offsets), pa.py_buffer(raw.tobytes())]
    )
    if arr.null_count:
        out = pc.if_else(arr.is_valid(), out, pa.scalar(None, pa.large_binary()))
    return out


def _binary_columns(table: pa.Table, names: tuple[str, ...], file: ArchiveFile) -> pa.Table:
    """Replace hex string (or null-typed) columns by binary ones; binary columns stay as is."""
    for name in names:
        if name not in table.column_names:
            continue
        column = table.column(name)
        kind = column.type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            continue
        if pa.types.is_fixed_size_binary(kind):
            continue
        if not (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        ):
            raise ArchiveError(
                f"{file.name}: {file.span()}: column {name} is {kind}, not binary/hex"
            )
        try:
            decoded = hex_to_binary(column, name)
        except ValueError as exc:
            row = int(str(exc).split(":", 1)[0].removeprefix("row "))
            raise ArchiveError(
                f"{file.name}: {_block_of_row(table, row)}: {str(exc).split(': ', 1)[1]}"
            ) from exc
        table = table.set_column(table.column_names.index(name), name, decoded)
    return table


def _etl_topics(table: pa.Table, file: ArchiveFile) -> pa.Table:
    """Split ethereum-etl's comma-joined ``topics`` into topic0..topic3 (missing ones null)."""
    topics = table.column("topics").combine_chunks()
    if pa.types.is_null(topics.type):
        topics = pa.nulls(len(topics), pa.large_string())
    topics = topics.cast(pa.large_string())
    empty = pc.fill_null(pc.equal(topics, ""), True)
    lists = pc.split_pattern(pc.fill_null(topics, ""), ",")
    counts = pc.if_else(empty, 0, pc.list_value_length(lists)).to_numpy(zero_copy_only=False)
    too_many = np.flatnonzero(counts > 4)
    if too_many.size:
        raise ArchiveError(
            f"{file.name}: {_block_of_row(table, int(too_many[0]))}: a log with more than 4 topics"
        )
    flat = pc.list_flatten(lists)
    starts = lists.offsets.to_numpy()[:-1].astype(np.int64)
    table = table.drop_columns(["topics"])
    for k in range(4):
        has = counts > k
        index = pa.array(np.where(has, starts + k, 0), mask=~has)
        table = table.append_column(f"topic{k}", pc.take(flat, index))
    return table


def _require(table: pa.Table, names: tuple[str, ...], file: ArchiveFile) -> None:
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise ArchiveError(f"{file.name}: {file.span()}: missing columns {missing}")


def read_logs_table(file: ArchiveFile) -> pa.Table:
    """Read a logs file into cryo's columns with binary hashes, addresses, topics and data."""
    table = read_raw_table(file)
    if file.fmt == "etl":
        _require(table, ("topics",), file)
        table = _etl_topics(table, file)
    _require(table, LOG_REQUIRED, file)
    for k in range(4):
        if f"topic{k}" not in table.column_names:
            table = table.append_column(f"topic{k}", pa.nulls(table.num_rows, pa.large_binary()))
    return _binary_columns(table, LOG_BINARY, file)


def read_blocks_table(file: ArchiveFile) -> pa.Table:
    """Read a blocks file into cryo's columns (block_number, block_hash, parent_hash, ...)."""
    table = read_raw_table(file)
    if file.fmt == "etl":
        table = table.rename_columns([_ETL_BLOCK_NAMES.get(n, n) for n in table.column_names])
    _require(table, BLOCK_REQUIRED, file)
    return _binary_columns(table, BLOCK_BINARY, file)
