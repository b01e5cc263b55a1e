"""Recording a cryo-layout archive from a node: `record_archive`.

For blocks ``start..end`` it writes, into one folder:

- ``{network}__blocks__{A:08}_to_{B:08}.parquet`` and ``{network}__logs__{A:08}_to_{B:08}.parquet``
  for each chunk of ``chunk_blocks`` blocks (the last chunk may be shorter), binary columns,
  zstd, Parquet page checksums. Logs are those of the registry's pools and of its venues'
  factories (so PairCreated/PoolCreated are kept); a pool created inside the range is admitted
  to the registry and its logs fetched from then on. With ``all_logs=True`` every log of the
  range is kept (the tokens' ``Transfer`` logs too, which the inspector needs to prove a
  swap's tokens from logs alone). Columns: see `sim.archive_convert`; logs
  also carry block_hash, chain_id and n_data_bytes, blocks chain_id.
- ``{network}__snapshot__{start-1:08}.json``: every registry pool at block start - 1 (where a
  replay starts), and with ``checkpoint_every=N`` the same snapshot after blocks start-1+N,
  start-1+2N, ... (pools created after a checkpoint's block are not in it); see
  `sim.archive_snapshot`.

Resumable: a chunk whose two files exist is read back and checked (every block present,
parent hashes chained to the previous chunk, logs inside its range, chain id, and its last
block's hash still the node's) and skipped; an existing snapshot is kept. A chunk is written
to dot-prefixed temp names and renamed into place, logs file first and blocks file last, so
a chunk counts as done only once both are complete; temp files left by an interrupted run are
removed. A log whose block hash is not the header's (the node reorged while recording) raises
`ArchiveError`: record only blocks that are final.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chains.feeds import pool_index_of
from chains.registry import Registry
from chains.rpc import HttpRpc, RpcResponseError
from chains.snapshot import snapshot_pools
from sim.archive import decode_file
from sim.archive_blocks import BlockHeader, check_parent_links, headers_from_table
from sim.archive_convert import read_blocks_table, read_logs_table
from sim.archive_files import ArchiveError, ArchiveFile, archive_name, list_files, parse_name
from sim.archive_snapshot import snapshot_name, write_snapshot

__all__ = ["ArchiveProgress", "RecordResult", "network_name", "record_archive"]

_NETWORKS = {1: "ethereum", 10: "optimism", 137: "polygon", 8453: "base", 42161: "arbitrum"}
_ADDRESSES_PER_CALL = 500
_BLOCKS_PER_BATCH = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveProgress:
    """One chunk done: its range, whether it was already on disk, and the totals so far."""

    first_block: int
    last_block: int
    skipped: bool
    logs: int
    blocks_done: int
    blocks_total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordResult:
    """What `record_archive` left in the folder."""

    out_dir: Path
    network: str
    chain_id: int
    chunks_written: int
    chunks_skipped: int
    logs: int
    snapshots: tuple[Path, ...]


def network_name(chain_id: int) -> str:
    """Return cryo's network name of a chain id (``network_{id}`` for chains it has no name for)."""
    return _NETWORKS.get(chain_id, f"network_{chain_id}")


def _chunks(start: int, end: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size - 1, end)) for a in range(start, end + 1, size)]


def _raw(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value[2:])


def _logs_table(logs: Sequence[dict[str, Any]], chain_id: int) -> pa.Table:
    """Return cryo's logs columns of eth_getLogs objects, sorted by (block, log index)."""
    logs = sorted(logs, key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))
    topics = [[_raw(t) for t in log["topics"]] for log in logs]
    data = [_raw(log["data"]) or b"" for log in logs]
    binary = pa.large_binary()
    columns = {
        "block_number": pa.array([int(x["blockNumber"], 16) for x in logs], pa.uint32()),
        "block_hash": pa.array([_raw(x["blockHash"]) for x in logs], binary),
        "transaction_index": pa.array([int(x["transactionIndex"], 16) for x in logs], pa.uint32()),
        "log_index": pa.array([int(x["logIndex"], 16) for x in logs], pa.uint32()),
        "transaction_hash": pa.array([_raw(x["transactionHash"]) for x in logs], binary),
        "address": pa.array([_raw(x["address"]) for x in logs], binary),
    }
    for k in range(4):
        columns[f"topic{k}"] = pa.array([t[k] if len(t) > k else None for t in topics], binary)
    columns["data"] = pa.array(data, binary)
    columns["n_data_bytes"] = pa.array([len(d) for d in data], pa.uint32())
    columns["chain_id"] = pa.array([chain_id] * len(logs), pa.uint64())
    return pa.table(columns)


def _blocks_table(blocks: Sequence[dict[str, Any]], chain_id: int) -> pa.Table:
    """Return cryo's blocks columns of eth_getBlockByNumber objects."""
    return pa.table(
        {
            "block_number": pa.array([int(b["number"], 16) for b in blocks], pa.uint32()),
            "block_hash": pa.array([_raw(b["hash"]) for b in blocks], pa.large_binary()),
            "parent_hash": pa.array([_raw(b["parentHash"]) for b in blocks], pa.large_binary()),
            "timestamp": pa.array([int(b["timestamp"], 16) for b in blocks], pa.uint32()),
            "base_fee_per_gas": pa.array(
                [int(b.get("baseFeePerGas") or "0x0", 16) for b in blocks], pa.uint64()
            ),
            "gas_used": pa.array([int(b["gasUsed"], 16) for b in blocks], pa.uint64()),
            "gas_limit": pa.array([int(b["gasLimit"], 16) for b in blocks], pa.uint64()),
            "chain_id": pa.array([chain_id] * len(blocks), pa.uint64()),
        }
    )


def _write_parquet(table: pa.Table, path: Path) -> Path:
    """Write a table to a dot-prefixed temp name beside ``path``; return the temp path."""
    temp = path.with_name(f".{path.name}.partial")
    pq.write_table(table, temp, compression="zstd", write_page_checksum=True)
    return temp


class _Recorder:
    """One recording run's state: the node, the registry, the folder and the previous header."""

    def __init__(
        self,
        rpc: HttpRpc,
        registry: Registry,
        out_dir: Path,
        network: str,
        chain_id: int,
        *,
        all_logs: bool = False,
    ) -> None:
        self.rpc = rpc
        self.all_logs = all_logs
        self.registry = registry
        self.index = pool_index_of(registry)
        self.out_dir = out_dir
        self.network = network
        self.chain_id = chain_id

    def addresses(self) -> list[str]:
        return [p.address for p in self.registry.pools] + list(self.registry.factories)

    def headers(self, first: int, last: int) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for a in range(first, last + 1, _BLOCKS_PER_BATCH):
            numbers = range(a, min(a + _BLOCKS_PER_BATCH - 1, last) + 1)
            calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
            for number, block in zip(numbers, self.rpc.batch(calls), strict=True):
                if block is None:
                    raise ArchiveError(f"block {number}: the node does not have it")
                blocks.append(block)
        return blocks

    def logs(self, first: int, last: int, addresses: list[str] | None) -> list[dict[str, Any]]:
        """Return the logs of these addresses (None: every log) in first..last.

        Ranges are halved while the node refuses them.
        """
        span = {"fromBlock": hex(first), "toBlock": hex(last)}
        if addresses is None:
            calls: list[tuple[str, list[Any]]] = [("eth_getLogs", [span])]
        elif not addresses:
            return []
        else:
            calls = [
                ("eth_getLogs", [{**span, "address": addresses[i : i + _ADDRESSES_PER_CALL]}])
                for i in range(0, len(addresses), _ADDRESSES_PER_CALL)
            ]
        try:
            replies = self.rpc.batch(calls)
        except RpcResponseError:
            if first == last:
                raise
            mid = (first + last) // 2
            return self.logs(first, mid, addresses) + self.logs(mid + 1, last, addresses)
        return [log for reply in replies for log in reply if not log.get("removed")]

    def chunk_logs(self, first: int, last: int) -> pa.Table:
        """Fetch a chunk's logs; fetch again while it creates pools the registry admits."""
        while True:
            addresses = None if self.all_logs else self.addresses()
            table = _logs_table(self.logs(first, last, addresses), self.chain_id)
            known = len(self.registry)
            decode_file(table, self.index, self.registry)
            if len(self.registry) == known:
                return table

    def record_chunk(
        self, first: int, last: int, previous: BlockHeader | None
    ) -> tuple[BlockHeader, int]:
        blocks_path = self.out_dir / archive_name(self.network, "blocks", first, last)
        logs_path = self.out_dir / archive_name(self.network, "logs", first, last)
        blocks = _blocks_table(self.headers(first, last), self.chain_id)
        file = _file(blocks_path)
        headers = headers_from_table(blocks, file)
        check_parent_links(headers, file, previous)
        logs = self.chunk_logs(first, last)
        _check_log_hashes(logs, headers, _file(logs_path))
        temp_logs = _write_parquet(logs, logs_path)
        temp_blocks = _write_parquet(blocks, blocks_path)
        os.replace(temp_logs, logs_path)
        os.replace(temp_blocks, blocks_path)
        return headers[-1], logs.num_rows

    def verify_chunk(
        self, first: int, last: int, previous: BlockHeader | None
    ) -> tuple[BlockHeader, int]:
        blocks_file = _file(self.out_dir / archive_name(self.network, "blocks", first, last))
        logs_file = _file(self.out_dir / archive_name(self.network, "logs", first, last))
        blocks = read_blocks_table(blocks_file)
        _check_chain_ids(blocks, blocks_file, self.chain_id)
        headers = headers_from_table(blocks, blocks_file)
        check_parent_links(headers, blocks_file, previous)
        node = self.rpc.call("eth_getBlockByNumber", hex(last), False)
        if node is None or _raw(node["hash"]) != headers[-1].block_hash:
            raise ArchiveError(
                f"{blocks_file.name}: block {last}: the stored hash "
                f"0x{headers[-1].block_hash.hex()} is not the node's (another chain or a reorg)"
            )
        logs = read_logs_table(logs_file)
        _check_chain_ids(logs, logs_file, self.chain_id)
        _check_log_hashes(logs, headers, logs_file)
        decode_file(logs, self.index, self.registry)
        return headers[-1], logs.num_rows

    def snapshot(self, block_number: int, block_hash: str) -> Path:
        path = self.out_dir / snapshot_name(self.network, block_number)
        if path.exists():
            return path
        pools = [p for p in self.registry.pools if p.created_block <= block_number]
        refs = [(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in pools]
        snapshot = snapshot_pools(self.rpc, refs, block_hash)
        write_snapshot(path, snapshot, self.chain_id, pools)
        return path


def _file(path: Path) -> ArchiveFile:
    parsed = parse_name(path)
    assert parsed is not None
    return parsed


def _check_chain_ids(table: pa.Table, file: ArchiveFile, chain_id: int) -> None:
    if "chain_id" not in table.column_names or table.num_rows == 0:
        return
    ids = table.column("chain_id").to_numpy(zero_copy_only=False)
    wrong = np.flatnonzero(ids != chain_id)
    if wrong.size:
        number = table.column("block_number")[int(wrong[0])].as_py()
        raise ArchiveError(
            f"{file.name}: block {number}: chain id {int(ids[wrong[0]])}, expected {chain_id}"
        )


def _check_log_hashes(logs: pa.Table, headers: Sequence[BlockHeader], file: ArchiveFile) -> None:
    """Raise ArchiveError unless every log is inside the range and of the header's block."""
    by_number = {h.number: h.block_hash for h in headers}
    numbers = logs.column("block_number").to_pylist()
    hashes = (
        logs.column("block_hash").to_pylist()
        if "block_hash" in logs.column_names
        else [None] * len(numbers)
    )
    for number, block_hash in zip(numbers, hashes, strict=True):
        expected = by_number.get(number)
        if expected is None:
            raise ArchiveError(f"{file.name}: block {number} is outside the file's {file.span()}")
        if block_hash is not None and block_hash != expected:
            raise ArchiveError(
                f"{file.name}: block {number}: a log of block 0x{block_hash.hex()}, the header is "
                f"0x{expected.hex()} (the node reorged while recording)"
            )


def _check_folder(out_dir: Path, network: str, chunks: list[tuple[int, int]]) -> None:
    """Refuse a folder whose files of this network overlap the range with other chunking."""
    if not any(parse_name(p) is not None for p in out_dir.iterdir()):
        return
    wanted = set(chunks)
    first, last = chunks[0][0], chunks[-1][1]
    try:
        found = list_files(out_dir)
    except ArchiveError:
        return  # no logs file yet: nothing to clash with
    for files in found.values():
        for f in files:
            if f.network != network or f.first_block is None or f.last_block is None:
                continue
            overlaps = f.first_block <= last and f.last_block >= first
            if overlaps and (f.first_block, f.last_block) not in wanted:
                raise ArchiveError(
                    f"{f.name}: blocks {f.first_block}..{f.last_block} overlap the recording "
                    f"of blocks {first}..{last} but are not one of its chunks"
                )


def record_archive(
    rpc_url: str,
    start: int,
    end: int,
    out_dir: str | Path,
    registry: Registry,
    *,
    chunk_blocks: int = 100,
    checkpoint_every: int | None = None,
    progress: Callable[[ArchiveProgress], object] | None = None,
    network: str | None = None,
    all_logs: bool = False,
) -> RecordResult:
    """Record blocks start..end (inclusive) and the registry pools' logs into a cryo folder.

    The registry is extended with the pools created in the range. Resumes a previous run.
    `all_logs` keeps every log of the range, not only the pools' and factories'.
    """
    if start < 1 or end < start:
        raise ValueError(f"need 1 <= start <= end, got {start}..{end}")
    if chunk_blocks < 1 or (checkpoint_every is not None and checkpoint_every < 1):
        raise ValueError("chunk_blocks and checkpoint_every must be positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with HttpRpc(rpc_url) as rpc:
        chain_id = int(rpc.call("eth_chainId"), 16)
        name = network or network_name(chain_id)
        for stale in out.glob(f".{name}__*.partial"):
            stale.unlink()
        chunks = _chunks(start, end, chunk_blocks)
        _check_folder(out, name, chunks)
        recorder = _Recorder(rpc, registry, out, name, chain_id, all_logs=all_logs)
        parent = rpc.call("eth_getBlockByNumber", hex(start - 1), False)
        if parent is None:
            raise ArchiveError(f"block {start - 1}: the node does not have it")
        snapshots = [recorder.snapshot(start - 1, parent["hash"])]
        previous: BlockHeader | None = BlockHeader(
            number=start - 1,
            block_hash=_raw(parent["hash"]) or b"",
            parent_hash=_raw(parent["parentHash"]) or b"",
            timestamp_s=int(parent["timestamp"], 16),
            base_fee_wei=int(parent.get("baseFeePerGas") or "0x0", 16),
            gas_used=int(parent["gasUsed"], 16),
            gas_limit=int(parent["gasLimit"], 16),
        )
        written = skipped = logs = done = 0
        for first, last in chunks:
            paths = [out / archive_name(name, d, first, last) for d in ("logs", "blocks")]
            have = all(p.exists() for p in paths)
            step = recorder.verify_chunk if have else recorder.record_chunk
            previous, n_logs = step(first, last, previous)
            skipped += have
            written += not have
            logs += n_logs
            done += last - first + 1
            if checkpoint_every is not None:
                for block in range(first, last + 1):
                    if (block - start + 1) % checkpoint_every == 0:
                        header = rpc.call("eth_getBlockByNumber", hex(block), False)
                        snapshots.append(recorder.snapshot(block, header["hash"]))
            if progress is not None:
                progress(
                    ArchiveProgress(
                        first_block=first,
                        last_block=last,
                        skipped=have,
                        logs=n_logs,
                        blocks_done=done,
                        blocks_total=end - start + 1,
                    )
                )
    return RecordResult(
        out_dir=out,
        network=name,
        chain_id=chain_id,
        chunks_written=written,
        chunks_skipped=skipped,
        logs=logs,
        snapshots=tuple(snapshots),
    )
