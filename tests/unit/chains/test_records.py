"""The record layout is pinned: size, field order and offsets, and exact value round trips."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from chains.records import (
    RECORD_DTYPE,
    RECORD_SIZE,
    Kind,
    dtype_fingerprint,
    empty_records,
    get_value,
    int_from_limbs,
    limbs_from_int,
    set_value,
    words_to_limbs,
)

PINNED = [
    ("kind", "uint8", 0),
    ("flags", "uint8", 1),
    ("n_hops", "uint8", 2),
    ("source", "uint8", 3),
    ("pool_id", "int32", 4),
    ("block_number", "uint64", 8),
    ("log_index", "uint32", 16),
    ("tx_index", "uint32", 20),
    ("recv_ns", "uint64", 24),
    ("tick", "int32", 32),
    ("tick_lower", "int32", 36),
    ("tick_upper", "int32", 40),
    ("aux", "int32", 44),
    ("value_f", "float64(4,)", 48),
    ("block_hash", "uint8(32,)", 80),
    ("tx_hash", "uint8(32,)", 112),
    ("value", "uint64(4, 4)", 144),
    ("hop_pool_ids", "int32(4,)", 272),
    ("sender", "uint8(20,)", 288),
    ("raw_len", "uint32", 308),
    ("raw_offset", "uint64", 312),
]


def test_layout_is_pinned() -> None:
    assert RECORD_SIZE == 320 and RECORD_DTYPE.itemsize == 320
    assert RECORD_SIZE % 64 == 0
    got = []
    for name in RECORD_DTYPE.names:
        field_dtype, offset = RECORD_DTYPE.fields[name][:2]
        base = field_dtype.base if field_dtype.subdtype else field_dtype
        shape = str(field_dtype.shape) if field_dtype.subdtype else ""
        got.append((name, f"{base.name}{shape}", offset))
    assert got == PINNED


def test_fingerprint_changes_with_the_layout() -> None:
    other = np.dtype([("kind", np.uint8), ("pool_id", np.int32)])
    assert dtype_fingerprint() == dtype_fingerprint(RECORD_DTYPE)
    assert dtype_fingerprint(other) != dtype_fingerprint()


def test_kinds_are_stable() -> None:
    assert [k.value for k in Kind] == list(range(14))
    assert Kind.V3_SWAP == 5 and Kind.PENDING_SWAP == 13


@given(st.integers(min_value=-(2**255), max_value=2**256 - 1))
def test_limbs_round_trip(x: int) -> None:
    limbs = limbs_from_int(x)
    assert all(0 <= limb < 2**64 for limb in limbs)
    assert int_from_limbs(limbs, signed=x < 0) == x
    if x >= 0:
        assert int_from_limbs(limbs) == x


@given(st.integers(min_value=-(2**255), max_value=2**255 - 1))
def test_record_values_exact_and_mirrored(x: int) -> None:
    records = empty_records(1)
    set_value(records[0], 2, x)
    assert get_value(records[0], 2, signed=True) == x
    assert records[0]["value_f"][2] == float(x)


@given(st.lists(st.integers(min_value=0, max_value=2**256 - 1), min_size=1, max_size=20))
def test_words_to_limbs_matches_int(values: list[int]) -> None:
    raw = b"".join(v.to_bytes(32, "big") for v in values)
    words = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), 32)
    limbs = words_to_limbs(words)
    assert [int_from_limbs(row) for row in limbs] == values


def test_out_of_range_values_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        limbs_from_int(2**256)
    with pytest.raises(ValueError):
        limbs_from_int(-(2**255) - 1)
