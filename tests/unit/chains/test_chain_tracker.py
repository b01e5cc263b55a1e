"""The chain tracker: advance, gaps, reorgs found by parent hash, duplicates, depth."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chains.chain_tracker import (
    Advance,
    BlockRef,
    ChainTracker,
    Duplicate,
    Gap,
    NeedAncestors,
    Reorg,
    ReorgTooDeep,
)


def _chain(start: int, n: int, parent: bytes, fork: int = 0) -> list[BlockRef]:
    out = []
    for number in range(start, start + n):
        h = bytes([fork]) + number.to_bytes(31, "big")
        out.append(BlockRef(number=number, hash=h, parent_hash=parent))
        parent = h
    return out


def test_advance_and_duplicate() -> None:
    blocks = _chain(10, 3, b"\x00" * 32)
    t = ChainTracker()
    t.start(blocks[0])
    assert t.on_head(blocks[1]) == Advance(blocks[1])
    assert t.on_head(blocks[1]) == Duplicate(blocks[1])
    assert t.on_head(blocks[2]) == Advance(blocks[2])
    assert t.head == blocks[2]


def test_gap_is_reported_and_filled() -> None:
    blocks = _chain(10, 6, b"\x00" * 32)
    t = ChainTracker()
    t.start(blocks[0])
    gap = t.on_head(blocks[5])
    assert gap == Gap(first=11, last=14, head=blocks[5])
    assert t.on_branch(blocks[1:6]) == Advance(blocks[5])
    assert t.head == blocks[5]


@pytest.mark.parametrize("depth", [1, 3, 64])
def test_reorg_found_by_parent_hash(depth: int) -> None:
    main = _chain(100, 80, b"\x00" * 32)
    t = ChainTracker(depth=128)
    t.start(main[0])
    for b in main[1:]:
        t.on_head(b)
    ancestor = main[-1 - depth]
    fork = _chain(ancestor.number + 1, depth + 1, ancestor.hash, fork=1)
    assert t.on_head(fork[-1]) == NeedAncestors(fork[-1])
    result = t.on_branch(fork)
    assert isinstance(result, Reorg)
    assert result.ancestor == ancestor and result.depth == depth
    assert result.removed == tuple(main[-depth:])
    assert t.head == fork[-1]
    assert not t.holds(main[-1].hash)


def test_same_height_replacement_is_not_an_advance() -> None:
    main = _chain(1, 5, b"\x00" * 32)
    t = ChainTracker()
    t.start(main[0])
    for b in main[1:]:
        t.on_head(b)
    sibling = _chain(5, 1, main[3].hash, fork=2)[0]
    assert t.on_head(sibling) == NeedAncestors(sibling)
    reorg = t.on_branch([sibling])
    assert isinstance(reorg, Reorg) and reorg.depth == 1


def test_reorg_deeper_than_the_window_needs_a_resync() -> None:
    main = _chain(1, 20, b"\x00" * 32)
    t = ChainTracker(depth=8)
    t.start(main[0])
    for b in main[1:]:
        t.on_head(b)
    fork = _chain(5, 16, main[3].hash, fork=3)
    with pytest.raises(ReorgTooDeep):
        t.on_branch(fork)


def test_broken_branch_refused() -> None:
    main = _chain(1, 3, b"\x00" * 32)
    t = ChainTracker()
    t.start(main[0])
    bad = [main[1], BlockRef(number=3, hash=b"\x09" * 32, parent_hash=b"\x08" * 32)]
    with pytest.raises(ValueError):
        t.on_branch(bad)


def test_logs_applied_once_and_forgotten_with_their_block() -> None:
    main = _chain(1, 3, b"\x00" * 32)
    t = ChainTracker(depth=2)
    t.start(main[0])
    assert t.first_seen(main[0].hash, b"tx", 0)
    assert not t.first_seen(main[0].hash, b"tx", 0)
    assert t.first_seen(main[0].hash, b"tx", 1)
    t.on_head(main[1])
    t.on_head(main[2])
    with pytest.raises(KeyError):
        t.first_seen(main[0].hash, b"tx", 2)


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=40))
def test_random_walks_match_a_reference(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    canonical = _chain(1, 1, b"\x00" * 32)
    t = ChainTracker(depth=64)
    t.start(canonical[0])
    fork_id = 10
    for _ in range(steps):
        if rng.random() < 0.25 and len(canonical) > 4:
            depth = rng.randint(1, 3)
            ancestor = canonical[-1 - depth]
            fork_id += 1
            branch = _chain(ancestor.number + 1, depth + rng.randint(0, 2), ancestor.hash, fork_id)
            t.on_head(branch[-1])
            t.on_branch(branch)
            canonical = canonical[:-depth] + branch
        else:
            nxt = _chain(canonical[-1].number + 1, 1, canonical[-1].hash, fork_id)[0]
            assert t.on_head(nxt) == Advance(nxt)
            canonical.append(nxt)
        assert t.head == canonical[-1]
