"""Archive files: cryo's names, the folder listing, and how the ranges of a datatype tile.

A cryo file is named ``{network}__{datatype}__{first:08}_to_{last:08}.{parquet|csv}``; both
block numbers are inclusive. A folder may hold several datatypes (``logs``, ``blocks``,
``traces``, ...): the archive reads ``logs`` and ``blocks`` and ignores the others (and the
``snapshot`` JSON files, which `sim.archive_snapshot` reads). An ethereum-etl export is a
``logs.csv`` (and optionally ``blocks.csv``) whose range comes from its rows.

Tiling: the files of one datatype, sorted by their first block, must each start one block
after the previous one ends; a gap or an overlap raises `ArchiveError` naming both files and
the first block that is missing (or doubled). Every ``ArchiveError`` names the file and the
block (or block range) it is about.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ETL_NAMES",
    "ArchiveError",
    "ArchiveFile",
    "archive_name",
    "check_tiling",
    "list_files",
    "parse_name",
]

_NAME = re.compile(
    r"^(?P<network>.+?)__(?P<datatype>[a-z0-9_]+?)__(?P<first>\d+)_to_(?P<last>\d+)"
    r"\.(?P<ext>parquet|csv)$"
)
# ethereum-etl's export names -> the cryo datatype they hold
ETL_NAMES = {"logs.csv": "logs", "blocks.csv": "blocks"}
READ_DATATYPES = ("logs", "blocks")


class ArchiveError(ValueError):
    """An archive file is corrupt, truncated, out of range, discontinuous or of another chain."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveFile:
    """One file of an archive; ``first_block``/``last_block`` None for an ethereum-etl export."""

    path: Path
    network: str | None
    datatype: str
    first_block: int | None
    last_block: int | None
    fmt: str  # "parquet", "csv" (cryo names, cryo columns) or "etl" (ethereum-etl columns)

    @property
    def name(self) -> str:
        """Return the file name."""
        return self.path.name

    def span(self) -> str:
        """Return "blocks A..B" (or "blocks ?" when the name carries no range)."""
        if self.first_block is None:
            return "blocks ?"
        return f"blocks {self.first_block}..{self.last_block}"


def archive_name(network: str, datatype: str, first_block: int, last_block: int) -> str:
    """Return cryo's Parquet file name of a datatype's inclusive block range."""
    return f"{network}__{datatype}__{first_block:08}_to_{last_block:08}.parquet"


def parse_name(path: Path) -> ArchiveFile | None:
    """Return the archive file a path names (cryo or ethereum-etl), None if it names neither."""
    if path.name in ETL_NAMES:
        return ArchiveFile(
            path=path,
            network=None,
            datatype=ETL_NAMES[path.name],
            first_block=None,
            last_block=None,
            fmt="etl",
        )
    match = _NAME.match(path.name)
    if match is None:
        return None
    first, last = int(match["first"]), int(match["last"])
    if last < first:
        raise ArchiveError(f"{path.name}: block range {first}..{last} ends before it starts")
    return ArchiveFile(
        path=path,
        network=match["network"],
        datatype=match["datatype"],
        first_block=first,
        last_block=last,
        fmt=match["ext"],
    )


def list_files(path: Path) -> dict[str, list[ArchiveFile]]:
    """Return the logs and blocks files of a folder (or the one file), by datatype, in order.

    Other datatypes and unrelated files are left out; a single file must be logs or blocks.
    """
    path = Path(path)
    if not path.exists():
        raise ArchiveError(f"{path}: no such file or folder")
    if path.is_dir():
        candidates: Iterable[Path] = sorted(p for p in path.iterdir() if p.is_file())
    else:
        candidates = [path]
    found: dict[str, list[ArchiveFile]] = {}
    for candidate in candidates:
        if candidate.name.startswith("."):
            continue  # a chunk being written (temp names start with a dot)
        parsed = parse_name(candidate)
        if parsed is None or parsed.datatype not in READ_DATATYPES:
            if not path.is_dir():
                raise ArchiveError(f"{candidate.name}: not a cryo logs/blocks file or etl export")
            continue
        found.setdefault(parsed.datatype, []).append(parsed)
    if "logs" not in found:
        raise ArchiveError(f"{path}: no logs file (cryo `*__logs__*` or ethereum-etl logs.csv)")
    for datatype, files in found.items():
        etl = [f for f in files if f.fmt == "etl"]
        if etl and len(files) > 1:
            raise ArchiveError(
                f"{etl[0].name}: an ethereum-etl export cannot share a folder with other "
                f"{datatype} files ({', '.join(f.name for f in files if f.fmt != 'etl')})"
            )
        networks = {f.network for f in files}
        if len(networks) > 1:
            raise ArchiveError(
                f"{files[0].name}: {datatype} files of several networks "
                f"{sorted(map(str, networks))}"
            )
        files.sort(key=lambda f: (-1 if f.first_block is None else f.first_block, f.name))
    return found


def check_tiling(files: Sequence[ArchiveFile]) -> None:
    """Raise ArchiveError unless the files' ranges follow each other with no gap or overlap."""
    for before, after in itertools.pairwise(files):
        assert before.last_block is not None and after.first_block is not None
        expected = before.last_block + 1
        if after.first_block > expected:
            raise ArchiveError(
                f"{after.name}: starts at block {after.first_block} but {before.name} ends at "
                f"block {before.last_block}: blocks {expected}..{after.first_block - 1} missing"
            )
        if after.first_block < expected:
            raise ArchiveError(
                f"{after.name}: starts at block {after.first_block}, inside {before.name} "
                f"(which ends at block {before.last_block}): overlapping ranges"
            )
