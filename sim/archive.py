"""Reading cryo-layout archives: `open_archive` checks a folder, `iter_blocks` replays it.

An archive is a folder (or one file) of cryo files ``{network}__{datatype}__{A:08}_to_{B:08}``
(Parquet or CSV, binary or ``0x``-hex columns) or an ethereum-etl export (``logs.csv``,
``blocks.csv``); see `sim.archive_files` and `sim.archive_convert`. Only the ``logs`` and
``blocks`` datatypes are read; other datatypes (traces, ...) are ignored.

What is checked, and when (every failure is an `ArchiveError` naming the file and block):

- `open_archive`: the names; that each datatype's files tile their range with no gap and no
  overlap; that every Parquet logs file has a readable footer (a truncated file fails here);
  every blocks file in full (one row per block of its range, parent hashes chained inside and
  across files, chain id constant); that the blocks, when present, cover the logs' range.
- when a logs file is loaded (by `iter_blocks`, `Archive.logs_table` or `Archive.verify`):
  its pages (corrupt bytes fail here), every row's block inside the file's range, no
  (block, log index) twice, chain_id constant and equal to the archive's (and to the expected
  chain id when one is given), ``n_data_bytes`` equal to the data's length when present, and
  ``block_hash`` equal to the header's hash when both exist.

A logs file has no rows for blocks without logs, and cryo does not promise any row order (the
mainnet example is not sorted), so rows are ordered by (block, log index) after decoding; a
"gap" in logs is a gap between files' ranges. With a blocks datatype, a gap is also a block
with no row in it. An etl logs export's range is its rows' (or its blocks export's) range.

`iter_blocks` decodes each logs file in one call of the project's column decoder
(`chains.decode.decode_logs_columns`), then splits the records by block with
`np.searchsorted`; it yields every block of the range in order, with its header (None without
a blocks datatype) and its records (possibly none).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chains.decode import decode_logs_columns
from chains.feeds import pool_index_of
from chains.pool_admit import admit_created_pools
from chains.pool_index import PoolIndex
from chains.records import RECORD_DTYPE
from chains.registry import Registry
from sim.archive_blocks import BlockHeader, check_parent_links, head_record, headers_from_table
from sim.archive_convert import read_blocks_table, read_logs_table
from sim.archive_files import ArchiveError, ArchiveFile, check_tiling, list_files

__all__ = [
    "SOURCE_ARCHIVE",
    "Archive",
    "ArchiveBlock",
    "ArchiveError",
    "BlockHeader",
    "head_record",
    "iter_blocks",
    "open_archive",
]

SOURCE_ARCHIVE = 3  # the records' `source`: 0 feed, 1 backfill, 2 mempool, 3 archive


@dataclass(frozen=True, slots=True)
class ArchiveBlock:
    """One archived block: its number, header (None without blocks files) and pool records."""

    number: int
    header: BlockHeader | None
    records: np.ndarray  # RECORD_DTYPE, in log order; BLOCK_HEAD not included

    def with_head(self, *, recv_ns: int = 0) -> np.ndarray:
        """Return the block's records behind its BLOCK_HEAD record (as a feed emits a block)."""
        if self.header is None:
            raise ValueError(f"block {self.number}: the archive holds no header for it")
        return np.concatenate([head_record(self.header, recv_ns=recv_ns), self.records])


class Archive:
    """A checked archive: its logs and blocks files, range, chain id and headers."""

    def __init__(
        self,
        path: Path,
        log_files: tuple[ArchiveFile, ...],
        block_files: tuple[ArchiveFile, ...],
        headers: tuple[BlockHeader, ...],
        first_block: int,
        last_block: int,
        chain_id: int | None,
        expected_chain_id: int | None,
        etl_logs: pa.Table | None,
    ) -> None:
        self.path = path
        self.log_files = log_files
        self.block_files = block_files
        self.headers = headers
        self.first_block = first_block
        self.last_block = last_block
        self.chain_id = chain_id
        self.expected_chain_id = expected_chain_id
        self._etl_logs = etl_logs
        self._header_at = {h.number: h for h in headers}
        self._hashes: np.ndarray | None = None

    @property
    def network(self) -> str | None:
        """Return the network named by the files (None for an ethereum-etl export)."""
        return self.log_files[0].network

    def header(self, number: int) -> BlockHeader | None:
        """Return the header of a block of the archive, None without blocks files."""
        return self._header_at.get(number)

    def load_logs(self, file: ArchiveFile) -> pa.Table:
        """Return one logs file's table (binary columns), every row checked."""
        table = self._etl_logs if file.fmt == "etl" else read_logs_table(file)
        assert table is not None
        self._check_logs(file, table)
        return table

    def logs_table(self) -> pa.Table:
        """Return every log of the archive as one table (e.g. for `registry_from_logs`)."""
        tables = [self.load_logs(f) for f in self.log_files]
        return pa.concat_tables(tables, promote_options="permissive")

    def verify(self) -> int:
        """Load and check every logs file; return the number of logs."""
        return sum(self.load_logs(f).num_rows for f in self.log_files)

    def _range_of(self, file: ArchiveFile) -> tuple[int, int]:
        if file.first_block is None or file.last_block is None:
            return self.first_block, self.last_block
        return file.first_block, file.last_block

    def _check_logs(self, file: ArchiveFile, table: pa.Table) -> None:
        first, last = self._range_of(file)
        numbers = table.column("block_number").to_numpy(zero_copy_only=False).astype(np.int64)
        outside = np.flatnonzero((numbers < first) | (numbers > last))
        if outside.size:
            raise ArchiveError(
                f"{file.name}: block {int(numbers[outside[0]])} is outside the file's "
                f"blocks {first}..{last}"
            )
        log_index = table.column("log_index").to_numpy(zero_copy_only=False).astype(np.int64)
        keys = np.sort((numbers << 32) | log_index)
        doubled = np.flatnonzero(keys[1:] == keys[:-1])
        if doubled.size:
            key = int(keys[doubled[0]])
            raise ArchiveError(f"{file.name}: block {key >> 32}: log {key & 0xFFFFFFFF} twice")
        self._check_chain_id(file, table, numbers)
        if "n_data_bytes" in table.column_names:
            lengths = pc.binary_length(table.column("data")).to_numpy(zero_copy_only=False)
            stated = table.column("n_data_bytes").to_numpy(zero_copy_only=False)
            wrong = np.flatnonzero(np.nan_to_num(lengths, nan=0) != stated)
            if wrong.size:
                i = int(wrong[0])
                raise ArchiveError(
                    f"{file.name}: block {int(numbers[i])}: log {int(log_index[i])} has "
                    f"{int(np.nan_to_num(lengths[i]))} data bytes, "
                    f"n_data_bytes says {int(stated[i])}"
                )
        if self.headers and "block_hash" in table.column_names and table.num_rows:
            self._check_block_hashes(file, table, numbers)

    def _check_chain_id(self, file: ArchiveFile, table: pa.Table, numbers: np.ndarray) -> None:
        if "chain_id" not in table.column_names or table.num_rows == 0:
            return
        ids = table.column("chain_id").to_numpy(zero_copy_only=False)
        expected = self.expected_chain_id if self.expected_chain_id is not None else self.chain_id
        if expected is None:
            expected = int(ids[0])
            self.chain_id = expected
        wrong = np.flatnonzero(ids != expected)
        if wrong.size:
            i = int(wrong[0])
            raise ArchiveError(
                f"{file.name}: block {int(numbers[i])}: chain id {int(ids[i])}, expected {expected}"
            )
        self.chain_id = expected

    def _check_block_hashes(self, file: ArchiveFile, table: pa.Table, numbers: np.ndarray) -> None:
        column = table.column("block_hash")
        if column.null_count or not np.all(pc.binary_length(column).to_numpy() == 32):
            raise ArchiveError(f"{file.name}: {file.span()}: a block_hash is not 32 bytes")
        got = np.frombuffer(b"".join(column.to_pylist()), dtype=np.uint8).reshape(-1, 32)
        expected = self._header_hashes()[numbers - self.first_block]
        wrong = np.flatnonzero(np.any(got != expected, axis=1))
        if wrong.size:
            number = int(numbers[wrong[0]])
            raise ArchiveError(
                f"{file.name}: block {number}: a log's block hash 0x{got[wrong[0]].tobytes().hex()}"
                f" is not the block's 0x{self._header_at[number].block_hash.hex()}"
            )

    def _header_hashes(self) -> np.ndarray:
        """Return the block hashes of the archive's range, uint8 [n_blocks, 32]."""
        if self._hashes is None:
            numbers = range(self.first_block, self.last_block + 1)
            rows = b"".join(self._header_at[n].block_hash for n in numbers)
            self._hashes = np.frombuffer(rows, dtype=np.uint8).reshape(-1, 32)
        return self._hashes


def _check_footer(file: ArchiveFile) -> None:
    if file.fmt != "parquet":
        return
    try:
        pq.ParquetFile(file.path).metadata  # noqa: B018  # reading the footer is the check
    except (pa.ArrowException, OSError) as exc:
        raise ArchiveError(
            f"{file.name}: {file.span()}: corrupt or truncated Parquet file: {exc}"
        ) from exc


def _read_headers(files: list[ArchiveFile], expected_chain_id: int | None) -> list[BlockHeader]:
    headers: list[BlockHeader] = []
    for file in files:
        table = read_blocks_table(file)
        if "chain_id" in table.column_names and table.num_rows:
            ids = pc.unique(table.column("chain_id")).to_pylist()
            if len(ids) > 1 or (expected_chain_id is not None and ids[0] != expected_chain_id):
                raise ArchiveError(
                    f"{file.name}: {file.span()}: chain ids {ids}, expected "
                    f"{expected_chain_id if expected_chain_id is not None else 'one'}"
                )
        part = headers_from_table(table, file)
        check_parent_links(part, file, headers[-1] if headers else None)
        headers.extend(part)
    return headers


def open_archive(path: str | Path, *, chain_id: int | None = None) -> Archive:
    """Open and check an archive folder or file; chain_id is the chain the logs must be from."""
    path = Path(path)
    found = list_files(path)
    log_files = found["logs"]
    block_files = found.get("blocks", [])
    for files in (log_files, block_files):
        if files and files[0].fmt != "etl":
            check_tiling(files)
    for file in log_files:
        _check_footer(file)
    headers = _read_headers(block_files, chain_id)
    etl_logs = None
    if log_files[0].fmt == "etl":
        file = log_files[0]
        etl_logs = read_logs_table(file)
        if headers:
            first, last = headers[0].number, headers[-1].number
        elif etl_logs.num_rows:
            numbers = etl_logs.column("block_number")
            first, last = pc.min(numbers).as_py(), pc.max(numbers).as_py()
        else:
            raise ArchiveError(f"{file.name}: no logs and no blocks export: no block range")
    else:
        first, last = log_files[0].first_block, log_files[-1].last_block
    assert first is not None and last is not None
    if headers and (headers[0].number > first or headers[-1].number < last):
        raise ArchiveError(
            f"{block_files[0].name}: blocks {headers[0].number}..{headers[-1].number} do not "
            f"cover the logs' blocks {first}..{last} (from {log_files[0].name})"
        )
    in_range = tuple(h for h in headers if first <= h.number <= last)
    return Archive(
        path,
        tuple(log_files),
        tuple(block_files),
        in_range,
        first,
        last,
        None,
        chain_id,
        etl_logs,
    )


def _admit_new_pools(records: np.ndarray, registry: Registry, index: PoolIndex) -> int:
    """Give creation records their registry id (-1 unproven); return pools new to the index."""
    return admit_created_pools(records, registry, index).added


def decode_file(
    table: pa.Table,
    index: PoolIndex,
    registry: Registry | None,
    *,
    recv_ns: int = 0,
    source: int = SOURCE_ARCHIVE,
) -> tuple[np.ndarray, int]:
    """Decode a logs table in one batch; return (records in (block, log) order, logs read).

    With a registry, PairCreated/PoolCreated pools are admitted (ids in log order) and the
    table decoded again so their own later logs are kept; records of unproven pools drop.
    """
    # zeroed: the decoder leaves the fields a kind does not use as it finds them
    out = np.zeros(table.num_rows, dtype=RECORD_DTYPE)
    while True:
        result = decode_logs_columns(table, index, recv_ns=recv_ns, out=out, source=source)
        records = result.records
        records = records[np.lexsort((records["log_index"], records["block_number"]))]
        if registry is None or not _admit_new_pools(records, registry, index):
            break
    return records[records["pool_id"] >= 0], result.n_logs


def iter_blocks(
    archive: Archive,
    pools: Registry | PoolIndex,
    *,
    first_block: int | None = None,
    last_block: int | None = None,
    recv_ns: int = 0,
    source: int = SOURCE_ARCHIVE,
) -> Iterator[ArchiveBlock]:
    """Yield every block of the archive (or of first..last) in order with its decoded records.

    ``pools`` is the registry whose ids the records carry (pools created in the archive are
    admitted to it) or a fixed `PoolIndex` (creations then drop: no id to give them).
    Records carry the header's block hash when the logs have none and headers exist.
    """
    first = archive.first_block if first_block is None else max(first_block, archive.first_block)
    last = archive.last_block if last_block is None else min(last_block, archive.last_block)
    registry = pools if isinstance(pools, Registry) else None
    index = pool_index_of(pools) if isinstance(pools, Registry) else pools
    hashes = archive._header_hashes() if archive.headers else None
    for file in archive.log_files:
        file_first, file_last = archive._range_of(file)
        lo, hi = max(first, file_first), min(last, file_last)
        if lo > hi:
            continue
        table = archive.load_logs(file)
        records, _ = decode_file(table, index, registry, recv_ns=recv_ns, source=source)
        if hashes is not None and "block_hash" not in table.column_names and len(records):
            offsets = records["block_number"].astype(np.int64) - archive.first_block
            records["block_hash"] = hashes[offsets]
        numbers = np.arange(lo, hi + 2, dtype=np.uint64)
        bounds = np.searchsorted(records["block_number"], numbers, side="left")
        for k, number in enumerate(range(lo, hi + 1)):
            yield ArchiveBlock(
                number=number,
                header=archive.header(number),
                records=records[bounds[k] : bounds[k + 1]],
            )
