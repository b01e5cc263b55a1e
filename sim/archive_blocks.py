"""Block headers of an archive's ``blocks`` datatype, checked for continuity.

A blocks file must hold exactly one row per block of its range (the name's range; for an
ethereum-etl export, its first to its last row), and each block's ``parent_hash`` must be the
previous block's hash (inside a file and across files). A missing, doubled or out-of-range
block, or a broken parent link, raises `ArchiveError` naming the file and the block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from chains.records import Kind, empty_records, set_value
from sim.archive_files import ArchiveError, ArchiveFile

__all__ = ["BlockHeader", "check_parent_links", "head_record", "headers_from_table"]

_HEADER_INTS = ("timestamp", "base_fee_per_gas", "gas_used", "gas_limit")


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader:
    """One block's header fields that the bot reads (hashes as 32 raw bytes)."""

    number: int
    block_hash: bytes
    parent_hash: bytes
    timestamp_s: int
    base_fee_wei: int  # 0 before EIP-1559
    gas_used: int
    gas_limit: int


def _int_column(table: pa.Table, name: str, file: ArchiveFile) -> list[int]:
    """Return an integer column as Python ints; decimal or 0x-hex strings accepted, null as 0."""
    if name not in table.column_names:
        return [0] * table.num_rows
    values = table.column(name).to_pylist()
    out = []
    for i, value in enumerate(values):
        if value is None:
            out.append(0)
        elif isinstance(value, int):
            out.append(value)
        elif isinstance(value, float) and value.is_integer():
            out.append(int(value))
        elif isinstance(value, str):
            text = value.strip()
            out.append(int(text, 16) if text[:2].lower() == "0x" else int(text))
        else:
            number = table.column("block_number")[i].as_py()
            raise ArchiveError(f"{file.name}: block {number}: {name} is not an integer: {value!r}")
    return out


def headers_from_table(table: pa.Table, file: ArchiveFile) -> list[BlockHeader]:
    """Return a blocks file's headers in block order, after checking it holds its whole range."""
    numbers = table.column("block_number").to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.argsort(numbers, kind="stable")
    numbers = numbers[order]
    if numbers.size == 0:
        raise ArchiveError(f"{file.name}: {file.span()}: no block rows")
    first = int(numbers[0]) if file.first_block is None else file.first_block
    last = int(numbers[-1]) if file.last_block is None else file.last_block
    expected = np.arange(first, last + 1, dtype=np.int64)
    if numbers.size != expected.size or not np.array_equal(numbers, expected):
        outside = numbers[(numbers < first) | (numbers > last)]
        if outside.size:
            raise ArchiveError(
                f"{file.name}: block {int(outside[0])} is outside the file's blocks {first}..{last}"
            )
        doubled = numbers[1:][numbers[1:] == numbers[:-1]]
        if doubled.size:
            raise ArchiveError(f"{file.name}: block {int(doubled[0])} appears twice")
        missing = np.setdiff1d(expected, numbers)
        raise ArchiveError(
            f"{file.name}: block {int(missing[0])} is missing ({missing.size} of blocks "
            f"{first}..{last} have no row)"
        )
    table = table.take(pa.array(order))
    hashes = table.column("block_hash").to_pylist()
    parents = table.column("parent_hash").to_pylist()
    ints = {name: _int_column(table, name, file) for name in _HEADER_INTS}
    headers = []
    for i, number in enumerate(expected.tolist()):
        block_hash, parent = hashes[i], parents[i]
        if block_hash is None or len(block_hash) != 32 or parent is None or len(parent) != 32:
            raise ArchiveError(f"{file.name}: block {number}: hash or parent hash is not 32 bytes")
        headers.append(
            BlockHeader(
                number=number,
                block_hash=bytes(block_hash),
                parent_hash=bytes(parent),
                timestamp_s=ints["timestamp"][i],
                base_fee_wei=ints["base_fee_per_gas"][i],
                gas_used=ints["gas_used"][i],
                gas_limit=ints["gas_limit"][i],
            )
        )
    check_parent_links(headers, file)
    return headers


def check_parent_links(
    headers: Sequence[BlockHeader], file: ArchiveFile, previous: BlockHeader | None = None
) -> None:
    """Raise ArchiveError unless every header's parent is the header before it."""
    before = previous
    for header in headers:
        if before is not None and header.parent_hash != before.block_hash:
            raise ArchiveError(
                f"{file.name}: block {header.number}: parent hash 0x{header.parent_hash.hex()} "
                f"is not block {before.number}'s hash 0x{before.block_hash.hex()}"
            )
        before = header


def head_record(header: BlockHeader, *, recv_ns: int = 0, source: int = 0) -> np.ndarray:
    """Return the BLOCK_HEAD record of a header (one record, as the feeds write it)."""
    record = empty_records(1)
    record["kind"] = Kind.BLOCK_HEAD
    record["pool_id"] = -1
    record["source"] = source
    record["block_number"] = header.number
    record["block_hash"] = np.frombuffer(header.block_hash, dtype=np.uint8)
    record["tx_hash"] = np.frombuffer(header.parent_hash, dtype=np.uint8)
    record["recv_ns"] = recv_ns
    values: Iterable[int] = (
        header.timestamp_s,
        header.base_fee_wei,
        header.gas_used,
        header.gas_limit,
    )
    for i, value in enumerate(values):
        set_value(record[0], i, value)
    return record
