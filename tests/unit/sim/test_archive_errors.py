"""Broken archives raise ArchiveError naming the file and the block: nothing is skipped."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from chains.pool_index import PoolIndex
from sim.archive import ArchiveError, iter_blocks, open_archive
from tests.unit.sim.test_archive_fixtures import (
    FIRST,
    LAST,
    MAINNET_LOGS,
    block_hash,
    blocks_table,
    hex_table,
    mainnet_table,
    name,
    write_split,
)

LOGS_NAME = name("logs", FIRST, LAST)
NO_POOLS = PoolIndex.from_pools([])


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return mainnet_table()


def _fails(path: Path, *needles: str, chain_id: int | None = None) -> str:
    """Open and read the archive; return the ArchiveError message, which names every needle."""
    with pytest.raises(ArchiveError) as caught:
        for _ in iter_blocks(open_archive(path, chain_id=chain_id), NO_POOLS):
            pass
    message = str(caught.value)
    for needle in needles:
        assert needle in message, message
    assert isinstance(caught.value, ValueError)
    return message


def test_truncated_file(tmp_path: Path) -> None:
    data = MAINNET_LOGS.read_bytes()
    (tmp_path / LOGS_NAME).write_bytes(data[: len(data) // 2])
    _fails(tmp_path, LOGS_NAME, f"blocks {FIRST}..{LAST}", "truncated")


def test_corrupt_bytes(tmp_path: Path) -> None:
    data = bytearray(MAINNET_LOGS.read_bytes())
    data[1000:6000] = b"\xab" * 5000
    (tmp_path / LOGS_NAME).write_bytes(bytes(data))
    _fails(tmp_path, LOGS_NAME, f"blocks {FIRST}..{LAST}", "corrupt")


def test_gap_between_two_files(table: pa.Table, tmp_path: Path) -> None:
    write_split(table, tmp_path, [(FIRST, FIRST + 16), (FIRST + 18, LAST)])
    _fails(tmp_path, name("logs", FIRST + 18, LAST), str(FIRST + 17), "missing")


def test_overlap_between_two_files(table: pa.Table, tmp_path: Path) -> None:
    write_split(table, tmp_path, [(FIRST, FIRST + 16), (FIRST + 16, LAST)])
    _fails(tmp_path, name("logs", FIRST + 16, LAST), str(FIRST + 16), "overlapping")


def test_missing_block_row_in_blocks_file(table: pa.Table, tmp_path: Path) -> None:
    write_split(table, tmp_path, [(FIRST, LAST)])
    blocks_name = name("blocks", FIRST, LAST)
    pq.write_table(blocks_table(FIRST, LAST, skip=FIRST + 7), tmp_path / blocks_name)
    _fails(tmp_path, blocks_name, f"block {FIRST + 7} is missing")


def test_parent_hash_break(table: pa.Table, tmp_path: Path) -> None:
    write_split(table, tmp_path, [(FIRST, LAST)])
    blocks = blocks_table(FIRST, LAST)
    parents = blocks.column("parent_hash").to_pylist()
    parents[9] = block_hash(0)
    blocks = blocks.set_column(2, "parent_hash", pa.array(parents, pa.large_binary()))
    pq.write_table(blocks, tmp_path / name("blocks", FIRST, LAST))
    _fails(tmp_path, name("blocks", FIRST, LAST), f"block {FIRST + 9}: parent hash")


def test_parent_hash_break_across_files(table: pa.Table, tmp_path: Path) -> None:
    write_split(table, tmp_path, [(FIRST, LAST)])
    pq.write_table(blocks_table(FIRST, FIRST + 9), tmp_path / name("blocks", FIRST, FIRST + 9))
    later = blocks_table(FIRST + 10, LAST)
    parents = later.column("parent_hash").to_pylist()
    parents[0] = block_hash(1)
    later = later.set_column(2, "parent_hash", pa.array(parents, pa.large_binary()))
    pq.write_table(later, tmp_path / name("blocks", FIRST + 10, LAST))
    _fails(tmp_path, name("blocks", FIRST + 10, LAST), f"block {FIRST + 10}: parent hash")


def test_blocks_must_cover_the_logs(table: pa.Table, tmp_path: Path) -> None:
    write_split(table, tmp_path, [(FIRST, LAST)])
    pq.write_table(blocks_table(FIRST, LAST - 1), tmp_path / name("blocks", FIRST, LAST - 1))
    _fails(tmp_path, name("blocks", FIRST, LAST - 1), f"{FIRST}..{LAST}", "cover")


def test_chain_id_mismatch(tmp_path: Path) -> None:
    message = _fails(MAINNET_LOGS, LOGS_NAME, "chain id 1, expected 10", chain_id=10)
    assert re.search(r"block 184262\d\d", message)


def test_chain_id_not_constant(table: pa.Table, tmp_path: Path) -> None:
    ids = table.column("chain_id").to_pylist()
    numbers = table.column("block_number").to_pylist()
    ids[500] = 5
    changed = table.set_column(
        table.column_names.index("chain_id"), "chain_id", pa.array(ids, pa.uint64())
    )
    pq.write_table(changed, tmp_path / LOGS_NAME)
    _fails(tmp_path, LOGS_NAME, f"block {numbers[500]}: chain id 5, expected 1")


def test_block_outside_the_file_name_range(table: pa.Table, tmp_path: Path) -> None:
    inside = name("logs", FIRST, LAST - 1)
    pq.write_table(table, tmp_path / inside)
    _fails(tmp_path, inside, f"block {LAST} is outside")


def test_doubled_log(table: pa.Table, tmp_path: Path) -> None:
    pq.write_table(pa.concat_tables([table, table.slice(3, 1)]), tmp_path / LOGS_NAME)
    number = table.column("block_number")[3].as_py()
    _fails(tmp_path, LOGS_NAME, f"block {number}: log", "twice")


def test_data_length_differs_from_n_data_bytes(table: pa.Table, tmp_path: Path) -> None:
    stated = pc.add(table.column("n_data_bytes"), pa.scalar(0, pa.uint32())).to_pylist()
    stated[42] += 1
    i = table.column_names.index("n_data_bytes")
    pq.write_table(
        table.set_column(i, "n_data_bytes", pa.array(stated, pa.uint32())), tmp_path / LOGS_NAME
    )
    _fails(tmp_path, LOGS_NAME, f"block {table.column('block_number')[42].as_py()}", "n_data_bytes")


def test_bad_hex(table: pa.Table, tmp_path: Path) -> None:
    hexed = hex_table(table.slice(0, 10))
    values = hexed.column("address").to_pylist()
    values[4] = "0x" + "g" * 40
    hexed = hexed.set_column(hexed.column_names.index("address"), "address", pa.array(values))
    pq.write_table(hexed, tmp_path / LOGS_NAME)
    number = hexed.column("block_number")[4].as_py()
    _fails(tmp_path, LOGS_NAME, f"block {number}", "address", "hex")
