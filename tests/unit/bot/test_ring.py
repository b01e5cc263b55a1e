"""bot.ring: publish/read, wrap, laps, attach across processes, no leaked segments."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ring import Lapped, Ring, RingAttachError, RingReader
from chains.records import RECORD_DTYPE, RECORD_SIZE, empty_records

SHM = Path("/dev/shm")
ROOT = Path(__file__).resolve().parents[3]


def numbered(start: int, n: int) -> np.ndarray:
    """Return n records whose block_number counts from start (and log_index mirrors it)."""
    records = empty_records(n)
    records["block_number"] = np.arange(start, start + n, dtype=np.uint64)
    records["log_index"] = records["block_number"] % 1000
    return records


def read_all(reader: RingReader, max_n: int = 1 << 30) -> list[int]:
    """Drain a reader through read_batch views, confirming each; return the block numbers."""
    got: list[int] = []
    while True:
        view = reader.read_batch(max_n)
        assert not isinstance(view, Lapped), view
        if len(view) == 0:
            return got
        numbers = view["block_number"].tolist()
        assert reader.confirm()
        got += numbers


@pytest.fixture
def ring() -> Iterator[Ring]:
    with Ring.create(16) as r:
        yield r
    assert not (SHM / r.name).exists()


# ---------------------------------------------------------------------------------------------
# one process
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 64, 4096])
def test_publish_then_read_batches(batch: int) -> None:
    with Ring.create(8192) as ring:
        writer, reader = ring.writer(), ring.reader()
        sent = 0
        for _ in range(3):
            writer.publish(numbered(sent, batch))
            sent += batch
            assert reader.available() == batch
            assert read_all(reader, batch) == list(range(sent - batch, sent))
        assert ring.publish_seq == sent


def test_wrap_around_splits_views_and_read_into_crosses_it(ring: Ring) -> None:
    writer, viewer, copier = ring.writer(), ring.reader(), ring.reader()
    out = empty_records(16)
    seen: list[int] = []
    for i in range(10):  # 50 records through 16 slots
        writer.publish(numbered(5 * i, 5))
        first = viewer.read_batch(100)
        assert isinstance(first, np.ndarray) and len(first) <= 5
        got = first["block_number"].tolist()
        assert viewer.confirm()
        got += read_all(viewer)
        assert got == list(range(5 * i, 5 * i + 5))
        n = copier.read_into(out)
        assert n == 5
        seen += out["block_number"][:n].tolist()
    assert seen == list(range(50))
    assert np.array_equal(out[:5], numbered(45, 5))


def test_read_into_copies_every_field(ring: Ring) -> None:
    records = numbered(0, 3)
    records["tx_hash"] = np.arange(96, dtype=np.uint8).reshape(3, 32)
    records["value"][:, 1, 2] = [7, 8, 2**64 - 1]
    ring.writer().publish(records)
    reader = ring.reader(start="oldest")
    out = empty_records(8)
    assert reader.read_into(out) == 3
    assert out[:3].tobytes() == records.tobytes()
    assert reader.read_into(out) == 0


def test_readers_have_independent_cursors(ring: Ring) -> None:
    writer = ring.writer()
    early = ring.reader()
    writer.publish(numbered(0, 4))
    late = ring.reader()
    writer.publish(numbered(4, 4))
    assert read_all(early, 3) == list(range(8))
    assert read_all(late) == [4, 5, 6, 7]
    assert read_all(ring.reader(start="oldest")) == list(range(8))
    writer.publish(numbered(8, 2))
    assert read_all(late) == [8, 9]
    assert read_all(early) == [8, 9]


def test_empty_ring_reads_nothing(ring: Ring) -> None:
    reader = ring.reader()
    view = reader.read_batch(10)
    assert isinstance(view, np.ndarray) and len(view) == 0
    assert reader.read_into(empty_records(4)) == 0
    assert not reader.wait_for_data(0.0)


def test_reserve_commit_writes_in_place(ring: Ring) -> None:
    writer, reader = ring.writer(), ring.reader()
    writer.publish(numbered(0, 14))
    read_all(reader)
    slots = writer.reserve(5)
    assert len(slots) == 2  # up to the wrap
    slots["block_number"] = [14, 15]
    writer.commit(2)
    slots = writer.reserve(3)
    slots["block_number"] = [16, 17, 18]
    writer.commit(3)
    assert read_all(reader) == [14, 15, 16, 17, 18]
    with pytest.raises(ValueError, match="reserved"):
        writer.commit(1)


def test_publish_rejects_oversized_batch_and_wrong_dtype(ring: Ring) -> None:
    writer = ring.writer()
    with pytest.raises(ValueError, match="capacity"):
        writer.publish(empty_records(17))
    with pytest.raises(TypeError, match="dtype"):
        writer.publish(np.zeros(2, dtype=[("x", np.uint64)]))
    with pytest.raises(ValueError, match="power of two"):
        Ring.create(12)


# ---------------------------------------------------------------------------------------------
# laps
# ---------------------------------------------------------------------------------------------


def test_slow_reader_is_told_exactly_how_many_it_lost(ring: Ring) -> None:
    writer = ring.writer()
    at_head, at_oldest = ring.reader(), ring.reader(on_lap="oldest")
    writer.publish(numbered(0, 3))
    assert read_all(at_head) == [0, 1, 2]
    assert read_all(at_oldest) == [0, 1, 2]
    for start in range(3, 43, 8):  # 40 more records, the ring holds 16
        writer.publish(numbered(start, 8))
    lap = at_head.read_batch(4)
    assert lap == Lapped(lost=40, resume_seq=43)
    assert read_all(at_head) == []
    lap = at_oldest.read_batch(4)
    assert lap == Lapped(lost=24, resume_seq=27)  # 43 - 16 = 27 is the oldest intact
    assert read_all(at_oldest) == list(range(27, 43))


def test_exactly_one_lap_behind_is_still_readable(ring: Ring) -> None:
    writer, reader = ring.writer(), ring.reader()
    writer.publish(numbered(0, 16))
    assert read_all(reader) == list(range(16))
    writer.publish(numbered(16, 16))
    assert read_all(reader) == list(range(16, 32))
    writer.publish(numbered(32, 16))
    writer.publish(numbered(48, 1))
    assert reader.read_batch(1) == Lapped(lost=17, resume_seq=49)


def test_confirm_detects_a_view_overwritten_during_use(ring: Ring) -> None:
    writer, reader = ring.writer(), ring.reader()
    writer.publish(numbered(0, 10))
    view = reader.read_batch(10)
    assert isinstance(view, np.ndarray)
    writer.publish(numbered(10, 7))  # claims slot 0 again: record 0 is overwritten
    assert view["block_number"][0] == 16
    assert not reader.confirm()
    lap = reader.read_batch(10)
    assert lap == Lapped(lost=17, resume_seq=17)  # the discarded view counts as lost


def test_confirm_passes_when_the_writer_stays_off_the_view(ring: Ring) -> None:
    writer, reader = ring.writer(), ring.reader()
    writer.publish(numbered(0, 10))
    view = reader.read_batch(4)
    writer.publish(numbered(10, 6))  # 16 records: slots 0..3 untouched
    assert reader.confirm()
    assert isinstance(view, np.ndarray) and view["block_number"].tolist() == [0, 1, 2, 3]
    assert reader.still_valid(0) and not reader.still_valid(-1)


def test_reserve_counts_as_claim_for_readers(ring: Ring) -> None:
    writer, reader = ring.writer(), ring.reader()
    writer.publish(numbered(0, 16))
    view = reader.read_batch(1)
    writer.reserve(1)  # the writer may now be writing slot 0
    assert isinstance(view, np.ndarray)
    assert not reader.confirm()


def test_read_into_reports_a_lap(ring: Ring) -> None:
    writer, reader = ring.writer(), ring.reader()
    for start in range(0, 20, 5):
        writer.publish(numbered(start, 5))
    out = empty_records(4)
    assert reader.read_into(out) == Lapped(lost=20, resume_seq=20)
    writer.publish(numbered(20, 2))
    assert reader.read_into(out) == 2
    assert out["block_number"][:2].tolist() == [20, 21]


# ---------------------------------------------------------------------------------------------
# reference model
# ---------------------------------------------------------------------------------------------

CAPACITY = 8
ops = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(0, CAPACITY)),
        st.tuples(st.just("read"), st.integers(0, 2), st.integers(1, CAPACITY + 2)),
        st.tuples(st.just("copy"), st.integers(0, 2), st.integers(1, CAPACITY + 2)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops)
def test_random_interleavings_match_a_list_model(ops: list[tuple]) -> None:
    with Ring.create(CAPACITY) as ring:
        writer = ring.writer()
        readers = [ring.reader() for _ in range(3)]
        log: list[int] = []  # every record ever published, in order
        cursors = [0, 0, 0]
        out = empty_records(CAPACITY + 2)
        for op in ops:
            if op[0] == "publish":
                writer.publish(numbered(len(log), op[1]))
                log += range(len(log), len(log) + op[1])
                continue
            _, i, n = op
            head = len(log)
            if cursors[i] < head - CAPACITY:  # lapped: resume at the head
                expected: object = Lapped(lost=head - cursors[i], resume_seq=head)
                cursors[i] = head
            else:
                k = min(head - cursors[i], n)
                if op[0] == "read":  # a view stops at the wrap
                    k = min(k, CAPACITY - cursors[i] % CAPACITY)
                expected = log[cursors[i] : cursors[i] + k]
                cursors[i] += k
            if op[0] == "read":
                got = readers[i].read_batch(n)
                if isinstance(got, np.ndarray):
                    got = got["block_number"].tolist()
                    assert readers[i].confirm()
            else:
                got = readers[i].read_into(out[:n])
                if not isinstance(got, Lapped):
                    got = out["block_number"][:got].tolist()
            assert got == expected
            assert readers[i].cursor_seq == cursors[i]
        del out


# ---------------------------------------------------------------------------------------------
# attach, other processes, cleanup
# ---------------------------------------------------------------------------------------------


def child_reads(name: str, n: int, queue: multiprocessing.Queue) -> None:
    """Attach to ring name, read n records (waiting for them) and put their block numbers."""
    ring = Ring.attach(name)
    reader = ring.reader(start="oldest")
    got: list[int] = []
    out = empty_records(64)
    while len(got) < n:
        if not reader.wait_for_data(10.0, "yield"):
            break
        k = reader.read_into(out)
        assert not isinstance(k, Lapped)
        got += out["block_number"][:k].tolist()
    del reader, out
    ring.close()
    queue.put(got)


def child_writes(name: str, n: int) -> None:
    """Attach to ring name and publish n numbered records in batches of 7."""
    ring = Ring.attach(name)
    writer = ring.writer()
    for start in range(0, n, 7):
        writer.publish(numbered(start, min(7, n - start)))
    writer.close()
    del writer
    ring.close()


def test_child_process_reads_what_the_parent_writes() -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with Ring.create(1024) as ring:
        writer = ring.writer()
        writer.publish(numbered(0, 100))
        child = ctx.Process(target=child_reads, args=(ring.name, 300, queue))
        child.start()
        for start in range(100, 300, 50):
            writer.publish(numbered(start, 50))
        got = queue.get(timeout=60)
        child.join(60)
    assert child.exitcode == 0
    assert got == list(range(300))
    assert not (SHM / ring.name).exists()


def test_parent_reads_what_a_child_writes() -> None:
    ctx = multiprocessing.get_context("spawn")
    with Ring.create(512) as ring:
        reader = ring.reader()
        child = ctx.Process(target=child_writes, args=(ring.name, 200))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert ring.writer_closed
        assert read_all(reader) == list(range(200))
        del reader
    assert not (SHM / ring.name).exists()


def test_attach_checks_the_layout() -> None:
    same_size = np.dtype([("a", np.uint64), ("b", np.uint8, (RECORD_SIZE - 8,))])
    with Ring.create(16) as ring:
        with pytest.raises(RingAttachError, match="another dtype"):
            Ring.attach(ring.name, same_size)
        with pytest.raises(RingAttachError, match="320-byte records"):
            Ring.attach(ring.name, np.dtype([("a", np.uint64)]))
        other = Ring.attach(ring.name, RECORD_DTYPE)
        assert other.capacity == 16 and not other.owner
        with pytest.raises(PermissionError):
            other.unlink()
        other.close()
    with pytest.raises(FileNotFoundError):
        Ring.attach(ring.name)


def test_attach_rejects_a_segment_that_is_not_a_ring() -> None:
    from bot.shm import Segment

    segment = Segment.create(4096)
    try:
        with pytest.raises(RingAttachError, match="not a ring"):
            Ring.attach(segment.name)
    finally:
        segment.unlink()
        segment.close()
    assert not (SHM / segment.name).exists()


def test_close_with_live_views_keeps_them_readable_and_unlinks() -> None:
    ring = Ring.create(16)
    ring.writer().publish(numbered(0, 4))
    view = ring.reader(start="oldest").read_batch(4)
    ring.unlink()
    ring.close()
    assert not (SHM / ring.name).exists()
    assert isinstance(view, np.ndarray) and view["block_number"].tolist() == [0, 1, 2, 3]


_NO_WARNINGS_SCRIPT = """
import multiprocessing, subprocess, sys
from pathlib import Path
from bot.ring import Ring
from tests.unit.bot.test_ring import child_reads, numbered

if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    ring = Ring.create(64)
    ring.writer().publish(numbered(0, 10))
    child = ctx.Process(target=child_reads, args=(ring.name, 10, queue))
    child.start()
    assert queue.get(timeout=60) == list(range(10))
    child.join(60)
    # an unrelated process (its own resource tracker) attaches, reads and exits
    code = "from bot.ring import Ring; r = Ring.attach(%r); print(r.publish_seq); r.close()"
    done = subprocess.run([sys.executable, "-c", code % ring.name], capture_output=True, text=True)
    assert done.stdout.strip() == "10" and done.stderr == "", done
    assert Path("/dev/shm", ring.name).exists()  # nobody but the creator unlinks it
    print(ring.name)
    ring.unlink()
    ring.close()
"""


def test_attachers_neither_unlink_nor_make_the_tracker_warn() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_NO_WARNINGS_SCRIPT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no resource_tracker "leaked shared_memory" warning
    name = done.stdout.strip()
    assert name and not (SHM / name).exists()


def test_a_creator_that_dies_without_unlinking_is_cleaned_up_by_its_tracker() -> None:
    code = "from bot.ring import Ring; r = Ring.create(16); print(r.name, flush=True)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0
    assert "leaked shared_memory" in done.stderr  # the tracker's safety net, and its warning
    assert not (SHM / done.stdout.strip()).exists()


@pytest.mark.parametrize("strategy", ["spin", "yield", "sleep"])
def test_wait_strategies(ring: Ring, strategy: str) -> None:
    reader = ring.reader()
    assert not reader.wait_for_data(0.002, strategy)  # type: ignore[arg-type]
    ring.writer().publish(numbered(0, 1))
    assert reader.wait_for_data(0.002, strategy)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strategy"):
        ring.reader().wait_for_data(0.0, "nap")  # type: ignore[arg-type]


def stamped(n: int) -> np.ndarray:
    """Return n records whose every word derives from their seq (a torn record shows)."""
    records = numbered(0, n)
    seq = records["block_number"]
    records["tx_hash"] = (seq % 251).astype(np.uint8)[:, None]
    records["value"] = seq[:, None, None]
    return records


def intact(records: np.ndarray, start_seq: int) -> bool:
    """Return True if records are exactly the stamped records start_seq, start_seq + 1, ..."""
    seq = np.arange(start_seq, start_seq + len(records), dtype=np.uint64)
    return bool(
        np.array_equal(records["block_number"], seq)
        and (records["tx_hash"] == (seq % 251).astype(np.uint8)[:, None]).all()
        and (records["value"] == seq[:, None, None]).all()
    )


def child_races(name: str, n: int) -> None:
    """Attach and publish n stamped records as fast as possible, in batches of 1..37."""
    ring = Ring.attach(name)
    writer = ring.writer()
    source = stamped(n)
    seq, size = 0, 1
    while seq < n:
        writer.publish(source[seq : seq + size])
        seq += size
        size = size % 37 + 1
    writer.close()
    del writer
    ring.close()


def test_a_racing_writer_never_gets_a_torn_record_past_confirm() -> None:
    ctx = multiprocessing.get_context("spawn")
    with Ring.create(1024) as ring:  # small: readers are lapped, views overwritten mid-use
        viewer = ring.reader(start="oldest")
        copier = ring.reader(start="oldest", on_lap="oldest")
        out = empty_records(48)
        child = ctx.Process(target=child_races, args=(ring.name, 100_000))
        child.start()
        accepted = laps = rejected = 0
        while not (ring.writer_closed and viewer.available() == 0):
            start = viewer.cursor_seq
            view = viewer.read_batch(40)
            if isinstance(view, Lapped):
                laps += 1
                continue
            hold_until_ns = time.monotonic_ns() + (start % 4) * 150_000  # use it a while
            while time.monotonic_ns() < hold_until_ns:
                pass
            ok = intact(view, start)
            if viewer.confirm():
                assert ok, f"a confirmed view at {start} was torn"
                accepted += len(view)
            else:
                rejected += 1
            start = copier.cursor_seq
            got = copier.read_into(out)
            if not isinstance(got, Lapped):
                assert intact(out[:got], start), f"a copy at {start} was torn"
                accepted += got
        child.join(60)
        del viewer, copier, view, out
    assert child.exitcode == 0
    assert accepted > 0 and laps + rejected > 0, (accepted, laps, rejected)


def test_batches_larger_than_one_copy_call_land_whole_across_the_wrap() -> None:
    from bot.ring import MAX_COPY_BYTES

    n = 3 * MAX_COPY_BYTES // RECORD_SIZE + 5  # several copy calls
    with Ring.create(4096) as ring:
        writer, reader = ring.writer(), ring.reader()
        writer.publish(numbered(0, 3000))
        assert read_all(reader) == list(range(3000))
        records = stamped(3000 + n)[3000:]
        assert 3000 + n > 4096
        writer.publish(records)  # from slot 3000 round the wrap
        out = empty_records(n)
        assert reader.read_into(out) == n
        assert out.tobytes() == records.tobytes()
        del out
