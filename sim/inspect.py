"""The arbitrage inspector: the cyclic arbitrages that really happened in archived blocks.

A backtest is scored against what the chain did. This reads archived blocks, decodes the
Uniswap V2/V3 swaps in them and chains the swaps of each transaction into cycles, after
flashbots/mev-inspect-py (`inspect_block.py`: classify traces -> get_swaps -> get_arbitrages):

    swaps = get_trace_swaps(traces)      # sim.inspect_traces, or get_log_swaps(logs)
    arbitrages = get_arbitrages(swaps)   # sim.inspect_arbs

Inputs, told apart by content (`file_kind`):

- parity-format block JSON (mev-inspect-py's test blocks: block_number, traces, ...);
- cryo `traces` Parquet;
- cryo `logs` Parquet: V2-style and V3 `Swap` events whose tokens the transaction's ERC20
  `Transfer` logs prove (`sim.inspect_logs`); unproven swaps are skipped and counted;
- a folder: its `*__traces__*.parquet` and `*__logs__*.parquet` files.

Where each step deviates from mev-inspect-py is stated in the module that does it. A file
that is none of these, lacks columns or does not parse raises `ValueError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq

from sim.inspect_arbs import get_arbitrages
from sim.inspect_logs import LOG_COLUMNS, get_log_swaps, read_logs_parquet
from sim.inspect_model import Arbitrage, Hop, Swap, swaps_per_block
from sim.inspect_trace_io import TRACE_COLUMNS, read_block_json, read_traces_parquet
from sim.inspect_traces import get_trace_swaps

__all__ = [
    "Arbitrage",
    "FileKind",
    "Hop",
    "Inspection",
    "Swap",
    "archive_files",
    "file_kind",
    "inspect_file",
    "inspect_path",
    "swaps_per_block",
]

FileKind = Literal["block_json", "traces", "logs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspection:
    """What one file holds: its swaps, its arbitrages, and the swaps that could not be proven."""

    path: Path
    kind: FileKind
    swaps: tuple[Swap, ...]
    arbitrages: tuple[Arbitrage, ...]
    skipped_swaps: int = 0
    unproven_pools: frozenset[str] = frozenset()

    def swaps_per_block(self) -> dict[int, int]:
        """Count this file's swaps by block number."""
        return swaps_per_block(self.swaps)

    def arbitrages_per_block(self) -> dict[int, list[Arbitrage]]:
        """Group this file's arbitrages by block number."""
        grouped: dict[int, list[Arbitrage]] = {}
        for arbitrage in self.arbitrages:
            grouped.setdefault(arbitrage.block_number, []).append(arbitrage)
        return grouped


def file_kind(path: Path) -> FileKind:
    """Tell a block JSON, a cryo traces Parquet and a cryo logs Parquet apart."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix == ".json":
        return "block_json"
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: unknown file kind (expected a block .json or a cryo .parquet)")
    try:
        names = set(pq.read_schema(path).names)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file: {exc}") from exc
    if "__logs__" in path.name or ("topic0" in names and "trace_address" not in names):
        missing = [c for c in LOG_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"{path}: cryo logs Parquet lacks columns {missing}")
        return "logs"
    if "__traces__" in path.name or "trace_address" in names:
        missing = [c for c in TRACE_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"{path}: cryo traces Parquet lacks columns {missing}")
        return "traces"
    raise ValueError(f"{path}: unknown file kind: neither cryo traces nor logs columns")


def inspect_file(path: Path) -> Inspection:
    """Inspect one block JSON, cryo traces Parquet or cryo logs Parquet."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "logs":
        found = get_log_swaps(read_logs_parquet(path))
        return Inspection(
            path=path,
            kind=kind,
            swaps=found.swaps,
            arbitrages=tuple(get_arbitrages(found.swaps)),
            skipped_swaps=found.skipped_swaps,
            unproven_pools=found.unproven_pools,
        )
    if kind == "block_json":
        _, traces = read_block_json(path)
    else:
        traces = read_traces_parquet(path)
    swaps = tuple(get_trace_swaps(traces))
    return Inspection(path=path, kind=kind, swaps=swaps, arbitrages=tuple(get_arbitrages(swaps)))


def archive_files(folder: Path) -> list[Path]:
    """Return a cryo archive folder's traces and logs Parquet files, sorted by name."""
    folder = Path(folder)
    found = {*folder.glob("*__traces__*.parquet"), *folder.glob("*__logs__*.parquet")}
    return sorted(found)


def inspect_path(path: Path) -> list[Inspection]:
    """Inspect a file, or every traces/logs Parquet file of an archive folder."""
    path = Path(path)
    if path.is_dir():
        files = archive_files(path)
        if not files:
            raise ValueError(f"{path}: no *__traces__*.parquet or *__logs__*.parquet files")
        return [inspect_file(file) for file in files]
    return [inspect_file(path)]
