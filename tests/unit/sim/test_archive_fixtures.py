"""Fixtures of the archive tests, built in tmp_path from the real mainnet logs file.

Data: ../shared/data/mainnet/ethereum__logs__18426253_to_18426303.parquet (cryo logs of
blocks 18,426,253-18,426,303, 17,096 logs, no block headers). Headers, where a test needs
them, are synthetic: block n's hash is sha256(n), its parent the hash of n - 1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chains.artifacts import repo_root

MAINNET_LOGS = (
    repo_root().parent / "shared/data/mainnet/ethereum__logs__18426253_to_18426303.parquet"
)
FIRST, LAST = 18_426_253, 18_426_303
N_LOGS = 17_096
HEX_COLUMNS = ("transaction_hash", "address", "topic0", "topic1", "topic2", "topic3", "data")


def mainnet_table() -> pa.Table:
    """Return the real logs table, failing loudly if the shared data is missing."""
    if not MAINNET_LOGS.is_file():
        raise FileNotFoundError(f"mainnet logs missing: {MAINNET_LOGS}")
    return pq.read_table(MAINNET_LOGS)


def block_hash(number: int) -> bytes:
    """Return the synthetic hash of block ``number``."""
    return hashlib.sha256(number.to_bytes(8, "big")).digest()


def blocks_table(first: int, last: int, *, skip: int | None = None) -> pa.Table:
    """Return a cryo blocks table of synthetic chained headers (without block ``skip``)."""
    numbers = [n for n in range(first, last + 1) if n != skip]
    return pa.table(
        {
            "block_number": pa.array(numbers, pa.uint32()),
            "block_hash": pa.array([block_hash(n) for n in numbers], pa.large_binary()),
            "parent_hash": pa.array([block_hash(n - 1) for n in numbers], pa.large_binary()),
            "timestamp": pa.array([1_698_000_000 + 12 * (n - first) for n in numbers], pa.uint32()),
            "base_fee_per_gas": pa.array([20_000_000_000 + n % 7 for n in numbers], pa.uint64()),
            "gas_used": pa.array([15_000_000] * len(numbers), pa.uint64()),
            "gas_limit": pa.array([30_000_000] * len(numbers), pa.uint64()),
            "chain_id": pa.array([1] * len(numbers), pa.uint64()),
        }
    )


def name(datatype: str, first: int, last: int, ext: str = "parquet") -> str:
    """Return cryo's file name of an ethereum datatype range."""
    return f"ethereum__{datatype}__{first:08}_to_{last:08}.{ext}"


def blocks_of(table: pa.Table, first: int, last: int) -> pa.Table:
    """Return the rows of blocks first..last."""
    numbers = table.column("block_number")
    return table.filter(pc.and_(pc.greater_equal(numbers, first), pc.less_equal(numbers, last)))


def write_split(table: pa.Table, folder: Path, ranges: list[tuple[int, int]]) -> list[Path]:
    """Write the rows of each range to its own cryo logs file; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for first, last in ranges:
        path = folder / name("logs", first, last)
        pq.write_table(blocks_of(table, first, last), path)
        paths.append(path)
    return paths


def to_hex(column: pa.ChunkedArray) -> pa.Array:
    """Return a binary column as 0x-hex strings (nulls kept)."""
    values = column.to_pylist()
    return pa.array([None if v is None else "0x" + v.hex() for v in values], pa.string())


def hex_table(table: pa.Table) -> pa.Table:
    """Return the table with every binary column as 0x-hex strings."""
    for column in HEX_COLUMNS:
        i = table.column_names.index(column)
        table = table.set_column(i, column, to_hex(table.column(column)))
    return table


def etl_logs_table(table: pa.Table) -> pa.Table:
    """Return the logs in ethereum-etl's logs.csv columns (topics comma-joined)."""
    topics = [table.column(f"topic{k}").to_pylist() for k in range(4)]
    joined = [
        ",".join("0x" + t.hex() for t in row if t is not None) for row in zip(*topics, strict=True)
    ]
    numbers = table.column("block_number").to_numpy()
    return pa.table(
        {
            "log_index": table.column("log_index"),
            "transaction_hash": to_hex(table.column("transaction_hash")),
            "transaction_index": table.column("transaction_index"),
            "block_hash": pa.array(["0x" + block_hash(int(n)).hex() for n in numbers]),
            "block_number": table.column("block_number"),
            "address": to_hex(table.column("address")),
            "data": to_hex(table.column("data")),
            "topics": pa.array(joined, pa.string()),
        }
    )


def etl_blocks_table(first: int, last: int) -> pa.Table:
    """Return synthetic headers in ethereum-etl's blocks.csv columns."""
    cryo = blocks_table(first, last)
    numbers = list(range(first, last + 1))
    return pa.table(
        {
            "number": cryo.column("block_number"),
            "hash": pa.array(["0x" + block_hash(n).hex() for n in numbers]),
            "parent_hash": pa.array(["0x" + block_hash(n - 1).hex() for n in numbers]),
            "nonce": pa.array(["0x0000000000000000"] * len(numbers)),
            "miner": pa.array(["0x" + "11" * 20] * len(numbers)),
            "gas_limit": cryo.column("gas_limit"),
            "gas_used": cryo.column("gas_used"),
            "timestamp": cryo.column("timestamp"),
            "transaction_count": pa.array([100] * len(numbers)),
            "base_fee_per_gas": cryo.column("base_fee_per_gas"),
        }
    )


def sorted_records(records: np.ndarray) -> np.ndarray:
    """Return records ordered by (block, log index)."""
    return records[np.lexsort((records["log_index"], records["block_number"]))]
