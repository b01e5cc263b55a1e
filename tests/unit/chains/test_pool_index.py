"""PoolIndex: sorted address arrays with a hash lookup, against a plain dict."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chains.pool_index import PoolIndex, PoolKind


def _addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


def _query(*addresses: bytes) -> np.ndarray:
    return np.frombuffer(b"".join(addresses), dtype=np.uint8).reshape(-1, 20)


def test_lookup_known_and_unknown() -> None:
    index = PoolIndex.from_pools(
        [
            ("0x" + "aa" * 20, 7, "v2"),
            (bytes.fromhex("bb" * 20), 8, "v3"),
            ("0x" + "CC" * 20, 9, "v2_factory", 3000),
            ("0x" + "dd" * 20, 10, PoolKind.V3_FACTORY),
        ]
    )
    ids, kinds = index.lookup(
        _query(b"\xaa" * 20, b"\xbb" * 20, b"\x01" * 20, b"\xcc" * 20, b"\xdd" * 20)
    )
    assert ids.dtype == np.int32 and kinds.dtype == np.uint8
    assert ids.tolist() == [7, 8, -1, 9, 10]
    assert kinds.tolist() == [PoolKind.V2, PoolKind.V3, 0, PoolKind.V2_FACTORY, PoolKind.V3_FACTORY]
    assert index.fee_pips.tolist() == [0, 0, 3000, 0]
    assert len(index) == 4


def test_entries_are_sorted_by_address() -> None:
    index = PoolIndex.from_pools([(_addr(3), 0, "v2"), (_addr(1), 1, "v3"), (_addr(2), 2, "v2")])
    assert [bytes(a) for a in index.addresses] == [_addr(1), _addr(2), _addr(3)]
    assert index.pool_ids.tolist() == [1, 2, 0]


def test_matches_a_dict_on_many_addresses_with_shared_prefixes() -> None:
    rng = random.Random(7)
    # vanity-style addresses: long runs of zero bytes, differing only at the end or the start
    known = {_addr(i) for i in range(1, 300)}
    known |= {bytes([i]) + bytes(19) for i in range(1, 200)}
    known |= {rng.randbytes(20) for _ in range(2000)}
    truth = {a: (i, 1 + i % 4) for i, a in enumerate(sorted(known))}
    index = PoolIndex.from_pools((a, i, k) for a, (i, k) in truth.items())
    queries = list(known) + [rng.randbytes(20) for _ in range(2000)] + [_addr(0), b"\xff" * 20]
    ids, kinds = index.lookup(_query(*queries))
    for q, got_id, got_kind in zip(queries, ids.tolist(), kinds.tolist(), strict=True):
        want = truth.get(q, (-1, 0))
        assert (got_id, got_kind) == want, q.hex()


def test_add_indexes_a_new_pool() -> None:
    index = PoolIndex.from_pools([(_addr(5), 0, "v2"), (_addr(9), 1, "v2")])
    table_before = index.table
    assert index.lookup(_query(_addr(7)))[0].tolist() == [-1]
    index.add("0x" + _addr(7).hex(), 2, "v3")
    assert index.lookup(_query(_addr(5), _addr(7), _addr(9)))[0].tolist() == [0, 2, 1]
    assert [bytes(a) for a in index.addresses] == [_addr(5), _addr(7), _addr(9)]
    assert index.table is not table_before  # replaced, not mutated under a reader
    with pytest.raises(ValueError, match="already indexed"):
        index.add(_addr(7), 3, "v3")


def test_empty_index_knows_nothing() -> None:
    index = PoolIndex.from_pools([])
    assert index.lookup(_query(_addr(1)))[0].tolist() == [-1]
    index.add(_addr(1), 4, "v2")
    assert index.lookup(_query(_addr(1)))[0].tolist() == [4]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([(_addr(1), 0, "v2"), ("0x" + _addr(1).hex(), 1, "v3")], "indexed twice"),
        ([(_addr(1), 0, "v4")], "unknown pool kind"),
        ([(b"\x01" * 19, 0, "v2")], "20 bytes"),
        ([("0x1234", 0, "v2")], "20 bytes"),
        ([(_addr(1), 0, 0)], "UNKNOWN"),
    ],
)
def test_bad_entries_are_refused(entries: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PoolIndex.from_pools(entries)


def test_lookup_shape_is_checked() -> None:
    index = PoolIndex.from_pools([(_addr(1), 0, "v2")])
    with pytest.raises(ValueError, match=r"\[n, 20\]"):
        index.lookup(np.zeros((2, 32), dtype=np.uint8))
