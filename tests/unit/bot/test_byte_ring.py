"""bot.byte_ring: blob roundtrip, split at the wrap, overwrite detection, attach, cleanup."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.byte_ring import ByteRing
from bot.ring import Ring, RingAttachError
from chains.records import empty_records

SHM = Path("/dev/shm")


@pytest.fixture
def ring() -> Iterator[ByteRing]:
    with ByteRing.create(64) as r:
        yield r
    assert not (SHM / r.name).exists()


def blob(seed: int, length: int) -> bytes:
    """Return length deterministic bytes."""
    return bytes((seed * 31 + i) % 251 for i in range(length))


def test_roundtrip_of_blobs_and_offsets(ring: ByteRing) -> None:
    assert ring.write(blob(1, 10)) == (0, 10)
    assert ring.write(np.frombuffer(blob(2, 7), np.uint8)) == (10, 7)
    assert ring.write(b"") == (17, 0)
    assert ring.read(0, 10) == blob(1, 10)
    assert ring.read(10, 7) == blob(2, 7)
    assert ring.read(17, 0) == b""
    assert ring.publish_pos == 17


def test_blob_split_across_the_wrap(ring: ByteRing) -> None:
    ring.write(blob(0, 60))
    offset, length = ring.write(blob(3, 20))  # bytes 60..79: 4 at the end, 16 at the start
    assert (offset, length) == (60, 20)
    out = np.zeros(32, np.uint8)
    assert ring.read_into(offset, length, out)
    assert out[:20].tobytes() == blob(3, 20)
    assert ring.read(0, 60) is None  # bytes 0..15 were overwritten


def test_overwrite_is_detected_exactly_at_one_lap(ring: ByteRing) -> None:
    offset, length = ring.write(blob(5, 16))
    ring.write(blob(6, 48))  # 64 bytes written: the first blob is still intact
    assert ring.read(offset, length) == blob(5, 16)
    ring.write(b"x")  # claims byte 0 again
    assert ring.read(offset, length) is None
    assert not ring.still_valid(offset)
    assert ring.still_valid(1)


def test_unpublished_bytes_raise_and_oversized_blobs_are_refused(ring: ByteRing) -> None:
    ring.write(blob(0, 8))
    with pytest.raises(ValueError, match="not published"):
        ring.read(4, 8)
    with pytest.raises(ValueError, match="capacity"):
        ring.write(bytes(65))
    with pytest.raises(ValueError, match="power of two"):
        ByteRing.create(100)


def test_offsets_travel_in_records_beside_a_record_ring() -> None:
    with Ring.create(16) as records, ByteRing.create(256) as raw:
        batch = empty_records(3)
        for i in range(3):
            batch["raw_offset"][i], batch["raw_len"][i] = raw.write(blob(i, 40 + i))
        records.writer().publish(batch)
        view = records.reader(start="oldest").read_batch(3)
        assert isinstance(view, np.ndarray)
        got = [raw.read(int(r["raw_offset"]), int(r["raw_len"])) for r in view]
        del view
    assert got == [blob(i, 40 + i) for i in range(3)]


def child_writes_blobs(name: str, n: int) -> None:
    """Attach to byte ring name and append n blobs."""
    ring = ByteRing.attach(name)
    for i in range(n):
        ring.write(blob(i, 10 + i))
    ring.close()


def test_attach_in_a_child_and_read_its_blobs() -> None:
    ctx = multiprocessing.get_context("spawn")
    with ByteRing.create(1024) as ring:
        child = ctx.Process(target=child_writes_blobs, args=(ring.name, 20))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        offset = 0
        for i in range(20):
            assert ring.read(offset, 10 + i) == blob(i, 10 + i)
            offset += 10 + i
        assert ring.publish_pos == offset
    assert not (SHM / ring.name).exists()


def test_attach_refuses_a_record_ring_and_a_record_ring_refuses_it() -> None:
    with Ring.create(16) as records, ByteRing.create(64) as raw:
        with pytest.raises(RingAttachError, match="not a byte ring"):
            ByteRing.attach(records.name)
        with pytest.raises(RingAttachError, match="not a ring"):
            Ring.attach(raw.name)
        other = ByteRing.attach(raw.name)
        raw.write(b"abc")
        assert other.read(0, 3) == b"abc"
        other.close()


def test_a_blob_larger_than_one_copy_call_roundtrips_across_the_wrap() -> None:
    from bot.ring import MAX_COPY_BYTES

    with ByteRing.create(4 * MAX_COPY_BYTES) as ring:
        ring.write(bytes(3 * MAX_COPY_BYTES))
        big = (np.arange(2 * MAX_COPY_BYTES + 3) % 251).astype(np.uint8)
        offset, length = ring.write(big)
        assert ring.read(offset, length) == big.tobytes()
        assert ring.read(0, 8) is None
