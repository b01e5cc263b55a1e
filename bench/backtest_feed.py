"""Feeding an archive to the pool table a chunk file at a time, heads interleaved.

`iter_blocks` hands out one block at a time, and `ArchiveBlock.with_head` builds each
block's head record and concatenates it in front of the block's records. `chunk_batches`
does the same for a whole logs file at once: the file's records (one `decode_file` call) and
a head record per block of its range, built column-wise and interleaved in block order, so
`PoolTable.apply` sees exactly the records it sees block by block, in one call per file.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from chains.pool_index import PoolIndex
from chains.records import Kind, empty_records
from sim.archive import Archive, decode_file

__all__ = ["chunk_batches"]


def _heads(archive: Archive, first: int, last: int) -> np.ndarray:
    """Return the BLOCK_HEAD records of blocks first..last, as `head_record` builds them."""
    headers = [archive.header(n) for n in range(first, last + 1)]
    if any(h is None for h in headers):
        raise ValueError(f"blocks {first}..{last}: the archive holds no headers for them")
    heads = empty_records(len(headers))
    heads["kind"] = Kind.BLOCK_HEAD
    heads["pool_id"] = -1
    heads["block_number"] = np.arange(first, last + 1, dtype=np.uint64)
    hashes = b"".join(h.block_hash for h in headers)  # type: ignore[union-attr]
    parents = b"".join(h.parent_hash for h in headers)  # type: ignore[union-attr]
    heads["block_hash"] = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, 32)
    heads["tx_hash"] = np.frombuffer(parents, dtype=np.uint8).reshape(-1, 32)
    for i, field in enumerate(("timestamp_s", "base_fee_wei", "gas_used", "gas_limit")):
        values = [getattr(h, field) for h in headers]
        # header integers fit 64 bits: limb 0 holds them, the other limbs stay zero
        heads["value"][:, i, 0] = np.array(values, dtype=np.uint64)
        heads["value_f"][:, i] = np.array(values, dtype=np.float64)
    return heads


def chunk_batches(archive: Archive, index: PoolIndex) -> Iterator[tuple[np.ndarray, int, int]]:
    """Yield (records with a head before each block's logs, blocks, pool records) per file."""
    for file in archive.log_files:
        assert file.first_block is not None and file.last_block is not None
        first = max(file.first_block, archive.first_block)
        last = min(file.last_block, archive.last_block)
        records, _ = decode_file(archive.load_logs(file), index, None)
        heads = _heads(archive, first, last)
        n_blocks = heads.shape[0]
        out = empty_records(records.shape[0] + n_blocks)
        # block k's head goes before its records: after the k heads and the records before it
        starts = np.searchsorted(
            records["block_number"], np.arange(first, last + 1, dtype=np.uint64), side="left"
        )
        head_at = starts + np.arange(n_blocks)
        is_head = np.zeros(out.shape[0], dtype=bool)
        is_head[head_at] = True
        out[head_at] = heads
        out[~is_head] = records
        yield out, n_blocks, records.shape[0]
