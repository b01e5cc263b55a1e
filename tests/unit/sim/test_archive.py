"""Reading cryo archives: the real mainnet logs, split files, hex columns and ethereum-etl CSV.

Every way of storing the same logs must decode to the very records the project's decoder
gives for the whole real table at once (ordered by block and log index).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from chains.artifacts import repo_root
from chains.config import load_chain_config
from chains.decode import decode_logs_columns
from chains.feeds import pool_index_of
from chains.pool_index import PoolIndex
from chains.records import Kind, empty_records, get_value
from chains.registry_logs import registry_from_logs
from sim.archive import SOURCE_ARCHIVE, ArchiveBlock, iter_blocks, open_archive
from sim.archive_convert import hex_to_binary
from tests.unit.sim.test_archive_fixtures import (
    FIRST,
    LAST,
    MAINNET_LOGS,
    N_LOGS,
    block_hash,
    blocks_table,
    etl_blocks_table,
    etl_logs_table,
    hex_table,
    mainnet_table,
    name,
    sorted_records,
    write_split,
)

MAINNET_CHAIN = repo_root() / "configs" / "chains" / "mainnet.toml"


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return mainnet_table()


@pytest.fixture(scope="module")
def index(table: pa.Table) -> PoolIndex:
    registry = registry_from_logs(load_chain_config(MAINNET_CHAIN), table).registry
    assert len(registry) > 100
    return pool_index_of(registry)


@pytest.fixture(scope="module")
def expected(table: pa.Table, index: PoolIndex) -> np.ndarray:
    """The records of the whole real table decoded at once, in (block, log index) order."""
    out = empty_records(table.num_rows)
    result = decode_logs_columns(table, index, recv_ns=0, source=SOURCE_ARCHIVE, out=out)
    assert result.n_logs == N_LOGS
    records = sorted_records(result.records.copy())
    # a factory's creation log of a pool the index has no id for: dropped, as the feed drops it
    unknown = records["pool_id"] < 0
    assert set(records["kind"][unknown].tolist()) <= {Kind.PAIR_CREATED, Kind.POOL_CREATED}
    return records[~unknown]


def _records(blocks: list[ArchiveBlock]) -> np.ndarray:
    return np.concatenate([b.records for b in blocks])


def _read(path: Path, index: PoolIndex, chain_id: int | None = 1) -> list[ArchiveBlock]:
    archive = open_archive(path, chain_id=chain_id)
    blocks = list(iter_blocks(archive, index))
    assert [b.number for b in blocks] == list(range(FIRST, LAST + 1))
    return blocks


def test_real_file_gives_every_block_and_the_whole_table_records(
    index: PoolIndex, expected: np.ndarray
) -> None:
    archive = open_archive(MAINNET_LOGS, chain_id=1)
    assert (archive.network, archive.first_block, archive.last_block) == ("ethereum", FIRST, LAST)
    assert archive.verify() == N_LOGS
    assert archive.chain_id == 1
    blocks = list(iter_blocks(archive, index))
    assert len(blocks) == LAST - FIRST + 1 == 51
    assert all(b.header is None for b in blocks)
    for block in blocks:
        assert np.all(block.records["block_number"] == block.number)
        assert np.all(np.diff(block.records["log_index"].astype(np.int64)) > 0)
    records = _records(blocks)
    assert np.array_equal(records, expected)
    kinds = set(records["kind"].tolist())
    assert {Kind.V2_SYNC, Kind.V2_SWAP, Kind.V3_SWAP} <= kinds
    assert len(records) > 2500


def test_blocks_range_is_a_window(index: PoolIndex, expected: np.ndarray) -> None:
    archive = open_archive(MAINNET_LOGS)
    blocks = list(iter_blocks(archive, index, first_block=FIRST + 10, last_block=FIRST + 12))
    assert [b.number for b in blocks] == [FIRST + 10, FIRST + 11, FIRST + 12]
    window = expected[
        (expected["block_number"] >= FIRST + 10) & (expected["block_number"] <= FIRST + 12)
    ]
    assert np.array_equal(_records(blocks), window)


def test_split_files_in_a_folder_with_other_datatypes(
    table: pa.Table, index: PoolIndex, expected: np.ndarray, tmp_path: Path
) -> None:
    write_split(
        table, tmp_path, [(FIRST, FIRST + 16), (FIRST + 17, FIRST + 19), (FIRST + 20, LAST)]
    )
    (tmp_path / name("traces", FIRST, LAST)).write_bytes(b"not read: traces are ignored")
    (tmp_path / "README.txt").write_text("not an archive file")
    assert np.array_equal(_records(_read(tmp_path, index)), expected)


def test_hex_parquet_and_cryo_hex_csv_equal_binary(
    table: pa.Table, index: PoolIndex, expected: np.ndarray, tmp_path: Path
) -> None:
    hexed = hex_table(table)
    pq.write_table(hexed, tmp_path / name("logs", FIRST, LAST))
    assert np.array_equal(_records(_read(tmp_path, index)), expected)
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    pa_csv.write_csv(hexed, csv_dir / name("logs", FIRST, LAST, "csv"))
    assert np.array_equal(_records(_read(csv_dir, index)), expected)


def test_ethereum_etl_csv_equals_binary(
    table: pa.Table, index: PoolIndex, expected: np.ndarray, tmp_path: Path
) -> None:
    pa_csv.write_csv(etl_logs_table(table), tmp_path / "logs.csv")
    pa_csv.write_csv(etl_blocks_table(FIRST, LAST), tmp_path / "blocks.csv")
    blocks = _read(tmp_path, index, chain_id=None)
    records = _records(blocks)
    hashes = np.stack(
        [np.frombuffer(block_hash(int(n)), np.uint8) for n in records["block_number"]]
    )
    assert np.array_equal(records["block_hash"], hashes)
    assert blocks[0].header is not None and blocks[0].header.block_hash == block_hash(FIRST)
    assert blocks[0].header.gas_limit == 30_000_000
    records["block_hash"] = 0
    assert np.array_equal(records, expected)
    (tmp_path / "blocks.csv").unlink()
    without_headers = _read(tmp_path, index, chain_id=None)
    assert all(b.header is None for b in without_headers)
    records = _records(without_headers)
    assert np.array_equal(records["block_hash"], hashes)  # from the export's block_hash column
    records["block_hash"] = 0
    assert np.array_equal(records, expected)


def test_blocks_file_gives_headers_and_hashes(
    table: pa.Table, index: PoolIndex, expected: np.ndarray, tmp_path: Path
) -> None:
    write_split(table, tmp_path, [(FIRST, LAST)])
    pq.write_table(blocks_table(FIRST, FIRST + 29), tmp_path / name("blocks", FIRST, FIRST + 29))
    pq.write_table(blocks_table(FIRST + 30, LAST), tmp_path / name("blocks", FIRST + 30, LAST))
    blocks = _read(tmp_path, index)
    for block in blocks:
        assert block.header is not None and block.header.number == block.number
        assert block.header.parent_hash == block_hash(block.number - 1)
        assert block.header.base_fee_wei == 20_000_000_000 + block.number % 7
        assert np.all(
            block.records["block_hash"] == np.frombuffer(block_hash(block.number), np.uint8)
        )
        head = block.with_head()
        assert head[0]["kind"] == Kind.BLOCK_HEAD and len(head) == len(block.records) + 1
        assert get_value(head[0], 1) == block.header.base_fee_wei
        assert head[0]["tx_hash"].tobytes() == block.header.parent_hash
    records = _records(blocks)
    records["block_hash"] = 0
    assert np.array_equal(records, expected)


def test_hex_to_binary_keeps_nulls_and_empty_data() -> None:
    column = pa.array(["0x", None, "0xABcd", "0x00"], pa.string())
    assert hex_to_binary(column, "data").to_pylist() == [b"", None, b"\xab\xcd", b"\x00"]
    with pytest.raises(ValueError, match="row 1: data: odd"):
        hex_to_binary(pa.array(["0x00", "0x123"]), "data")
    with pytest.raises(ValueError, match="row 0: data: not a hex digit"):
        hex_to_binary(pa.array(["0xzz", "0x12"]), "data")
    with pytest.raises(ValueError, match="row 1: data: not a 0x"):
        hex_to_binary(pa.array(["0x00", "12"]), "data")
