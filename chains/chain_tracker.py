"""The feed's view of the chain: (number, hash, parentHash) of recent blocks, gaps and reorgs.

Pure bookkeeping, no I/O: the feed reports every head it hears of, and the tracker answers
what to do. A head whose parent is our head advances; a head further ahead is a gap the feed
must backfill (blocks by number, logs by block hash); a head whose parent we do not hold is a
possible reorg, which the feed resolves by fetching the new branch back to a block we know
(by parent hash, never by the `removed` flag). The tracker also remembers which logs were
applied per block, so a log delivered twice (subscription and backfill) is applied once.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "Advance",
    "BlockRef",
    "ChainTracker",
    "Duplicate",
    "Gap",
    "NeedAncestors",
    "Reorg",
    "ReorgTooDeep",
]


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block's number, hash and parent hash (32-byte hashes)."""

    number: int
    hash: bytes
    parent_hash: bytes


@dataclass(frozen=True, slots=True)
class Advance:
    """The head extends our chain by one block."""

    block: BlockRef


@dataclass(frozen=True, slots=True)
class Gap:
    """Blocks first..last (inclusive) are missing before the head; fetch them in order."""

    first: int
    last: int
    head: BlockRef


@dataclass(frozen=True, slots=True)
class NeedAncestors:
    """The head does not link to our chain: fetch its branch back to a block we hold."""

    head: BlockRef


@dataclass(frozen=True, slots=True)
class Duplicate:
    """We already hold this block."""

    block: BlockRef


@dataclass(frozen=True, slots=True)
class Reorg:
    """Blocks after `ancestor` were replaced by `new_blocks` (`depth` blocks removed)."""

    ancestor: BlockRef
    depth: int
    removed: tuple[BlockRef, ...]
    new_blocks: tuple[BlockRef, ...]


class ReorgTooDeep(RuntimeError):
    """The new branch does not meet our window: state must be resynchronized from a snapshot."""


@dataclass(slots=True)
class ChainTracker:
    """Recent blocks by number, with the logs applied in each; at most `depth` blocks."""

    depth: int = 128
    _blocks: OrderedDict[int, BlockRef] = field(default_factory=OrderedDict)
    _by_hash: dict[bytes, BlockRef] = field(default_factory=dict)
    _logs: dict[bytes, set[tuple[bytes, int]]] = field(default_factory=dict)

    @property
    def head(self) -> BlockRef | None:
        """Return our newest block, or None before the first."""
        if not self._blocks:
            return None
        return next(reversed(self._blocks.values()))

    def holds(self, block_hash: bytes) -> bool:
        """Tell whether a block hash is in our window."""
        return block_hash in self._by_hash

    def start(self, block: BlockRef) -> None:
        """Begin (or restart) the chain at a block, e.g. the snapshot's pinned block."""
        self._blocks.clear()
        self._by_hash.clear()
        self._logs.clear()
        self._append(block)

    def on_head(self, block: BlockRef) -> Advance | Gap | NeedAncestors | Duplicate:
        """Classify a head; Advance is applied at once, the others need the feed's help."""
        head = self.head
        if head is None:
            self._append(block)
            return Advance(block)
        if block.hash in self._by_hash:
            return Duplicate(block)
        if block.number == head.number + 1 and block.parent_hash == head.hash:
            self._append(block)
            return Advance(block)
        if block.number > head.number + 1:
            return Gap(first=head.number + 1, last=block.number - 1, head=block)
        return NeedAncestors(block)

    def on_branch(self, branch: Sequence[BlockRef]) -> Reorg | Advance:
        """Adopt a branch (oldest first) whose first block's parent we hold.

        Returns Advance when the branch simply extends our head (a filled gap) and Reorg when
        it replaces blocks after the common ancestor.
        """
        if not branch:
            raise ValueError("empty branch")
        for parent, child in itertools.pairwise(branch):
            if child.parent_hash != parent.hash or child.number != parent.number + 1:
                raise ValueError(f"branch does not link at block {child.number}")
        ancestor = self._by_hash.get(branch[0].parent_hash)
        if ancestor is None or ancestor.number != branch[0].number - 1:
            raise ReorgTooDeep(
                f"block {branch[0].number}'s parent is not among our last {len(self._blocks)}"
            )
        head = self.head
        assert head is not None
        removed = tuple(b for n, b in self._blocks.items() if n > ancestor.number)
        for old in removed:
            del self._blocks[old.number]
            del self._by_hash[old.hash]
            self._logs.pop(old.hash, None)
        for block in branch:
            self._append(block)
        if not removed:
            return Advance(branch[-1])
        return Reorg(
            ancestor=ancestor,
            depth=len(removed),
            removed=removed,
            new_blocks=tuple(branch),
        )

    def first_seen(self, block_hash: bytes, tx_hash: bytes, log_index: int) -> bool:
        """Record a log; return False if it was already applied (same block, tx, index)."""
        if block_hash not in self._by_hash:
            raise KeyError("log of a block outside the tracked chain")
        seen = self._logs.setdefault(block_hash, set())
        key = (tx_hash, log_index)
        if key in seen:
            return False
        seen.add(key)
        return True

    def _append(self, block: BlockRef) -> None:
        self._blocks[block.number] = block
        self._by_hash[block.hash] = block
        while len(self._blocks) > self.depth:
            _, oldest = self._blocks.popitem(last=False)
            del self._by_hash[oldest.hash]
            self._logs.pop(oldest.hash, None)
