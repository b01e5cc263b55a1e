"""The pool table's reorg journal: per block, what every touched pool was before the block.

Pool rows are immutable (`graph.state.PoolRow`), so the undo log of a block is a dict pool id
-> the row (or None: the pool did not exist) the block found before its first change. Rolling
back to an ancestor pops blocks newest first and hands their rows back in that order; the
oldest value wins, which is the state at the ancestor.

The journal also makes replays idempotent: every block entry remembers the (log_index,
tx_hash) of the records applied in it, and the hashes of the last `depth_blocks` blocks are
kept, so a record of a block already applied is recognised as a duplicate and skipped.

Exception hierarchy::

    StateError
    ├── ReorgTooDeep       the ancestor is older than the journal: resync from a snapshot
    ├── RecordOrderError   a record out of (block_number, log_index) order, or of an unknown
    │                      older block, or a head whose parent is not the current head
    └── UnknownPool        a record names a pool id the table does not hold
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_DEPTH_BLOCKS",
    "BlockEntry",
    "Journal",
    "RecordOrderError",
    "ReorgTooDeep",
    "StateError",
    "UnknownPool",
]

DEFAULT_DEPTH_BLOCKS = 64


class StateError(Exception):
    """Base of every pool-table failure."""


class ReorgTooDeep(StateError):
    """The common ancestor is beyond the journal: the engine must resync from a snapshot."""


class RecordOrderError(StateError):
    """A record arrived out of order, or for a block the table cannot place."""


class UnknownPool(StateError):
    """A record names a pool id the table does not hold."""


@dataclass(slots=True)
class BlockEntry:
    """One applied block: its identity, its undo log and the records applied in it."""

    number: int
    block_hash: bytes
    parent_hash: bytes | None = None
    undo: dict[int, Any] = field(default_factory=dict)  # pool id -> row before this block
    applied: set[tuple[int, bytes]] = field(default_factory=set)  # (log_index, tx_hash)
    last_log_index: int = -1


class Journal:
    """Undo logs of the last `depth_blocks` blocks above a floor block (the snapshot's)."""

    def __init__(self, depth_blocks: int = DEFAULT_DEPTH_BLOCKS) -> None:
        if depth_blocks < 1:
            raise ValueError(f"depth_blocks must be >= 1, got {depth_blocks}")
        self.depth_blocks = depth_blocks
        self._entries: deque[BlockEntry] = deque()
        self._floor_number = -1  # the oldest block the table can roll back to
        self._floor_hash: bytes | None = None

    def reset(self, number: int, block_hash: bytes | None) -> None:
        """Forget every entry; the table now holds the state at block `number`."""
        self._entries.clear()
        self._floor_number = number
        self._floor_hash = block_hash

    @property
    def head(self) -> tuple[int, bytes | None]:
        """Return (number, hash) of the newest block applied (the floor when none)."""
        if self._entries:
            top = self._entries[-1]
            return top.number, top.block_hash
        return self._floor_number, self._floor_hash

    @property
    def floor(self) -> tuple[int, bytes | None]:
        """Return (number, hash) of the oldest block the table can roll back to."""
        return self._floor_number, self._floor_hash

    @property
    def current(self) -> BlockEntry | None:
        """Return the newest block entry, if any."""
        return self._entries[-1] if self._entries else None

    def entries(self) -> Iterator[BlockEntry]:
        """Yield the kept entries, oldest first."""
        return iter(self._entries)

    def find(self, number: int, block_hash: bytes) -> BlockEntry | None:
        """Return the kept entry of this block, if any."""
        for entry in reversed(self._entries):
            if entry.number == number:
                return entry if entry.block_hash == block_hash else None
            if entry.number < number:
                return None
        return None

    def knows(self, number: int, block_hash: bytes) -> bool:
        """Return whether block (number, hash) is the floor or a kept entry."""
        if number == self._floor_number and block_hash == self._floor_hash:
            return True
        return self.find(number, block_hash) is not None

    def open_block(self, number: int, block_hash: bytes, parent_hash: bytes | None) -> BlockEntry:
        """Start the entry of a block above the head; prune entries past the depth."""
        head_number, head_hash = self.head
        if number <= head_number:
            raise RecordOrderError(f"block {number} is not above the head {head_number}")
        if (
            parent_hash is not None
            and number == head_number + 1
            and head_hash is not None
            and parent_hash != head_hash
        ):
            raise RecordOrderError(
                f"block {number} has parent 0x{parent_hash.hex()}, the head is 0x{head_hash.hex()}"
                " (a reorg arrived without its REORG record)"
            )
        entry = BlockEntry(number=number, block_hash=block_hash, parent_hash=parent_hash)
        self._entries.append(entry)
        # keep every entry above number - depth: a rollback of depth blocks stays possible
        while self._entries and self._entries[0].number <= number - self.depth_blocks:
            pruned = self._entries.popleft()
            self._floor_number = pruned.number
            self._floor_hash = pruned.block_hash
        return entry

    def remember(self, pool_id: int, previous_row: Any) -> None:
        """Record a pool's row before the current block's first change to it."""
        entry = self._entries[-1]
        if pool_id not in entry.undo:
            entry.undo[pool_id] = previous_row

    def pop_to(self, number: int, block_hash: bytes | None) -> dict[int, Any]:
        """Drop the entries above block `number`; return pool id -> the row at that block.

        The block must be the floor, a kept entry, or a block between them without records
        (its hash cannot be checked then). Raise ReorgTooDeep below the floor.
        """
        if number < self._floor_number:
            raise ReorgTooDeep(
                f"ancestor {number} is below the journal floor {self._floor_number}: resync"
            )
        if (
            block_hash is not None
            and number == self._floor_number
            and self._floor_hash is not None
            and block_hash != self._floor_hash
        ):
            raise ReorgTooDeep(f"ancestor {number} is not the journal floor's block: resync")
        kept = self.find(number, block_hash) if block_hash is not None else None
        if block_hash is not None and kept is None:
            for entry in self._entries:
                if entry.number == number:
                    raise ReorgTooDeep(
                        f"ancestor {number} 0x{block_hash.hex()} is not the block applied at that"
                        " height: resync"
                    )
        restored: dict[int, Any] = {}
        while self._entries and self._entries[-1].number > number:
            entry = self._entries.pop()
            # newest first: an older block's value overwrites a newer one's
            restored.update(entry.undo)
        top = self._entries[-1].number if self._entries else self._floor_number
        if top < number and block_hash is not None:
            # the ancestor had no records: it becomes an empty entry so the head is exact
            self._entries.append(BlockEntry(number=number, block_hash=block_hash))
        return restored
