"""Shared-memory ring of fixed-size records: one writer that never blocks, readers with cursors.

One ring per ingest connection. The segment (`multiprocessing.shared_memory` naming, POSIX
`shm_open`) holds a 128-byte header and `capacity` record slots (capacity a power of two):

    word 0 magic | 1 version | 2 capacity (records) | 3 record size (bytes) | 4 dtype fingerprint
    word 5 writer pid | 6 closed flag | 8 publish_seq | 9 claim_seq            (uint64 words)

Sequence numbers count records since creation and never wrap (uint64); record `seq` lives in
slot `seq & (capacity - 1)`. The writer keeps nothing from readers: a reader that falls a full
lap behind finds its records overwritten and is told so (`Lapped`), with the exact count it
lost; the engine answers a lap by stopping sends and resynchronizing from a fresh snapshot.

Memory ordering. This module assumes x86-64 (TSO: stores become visible in program order,
loads are not reordered with older loads) and relies on aligned 8-byte loads and stores being
atomic; the cursors are read and written as single uint64 elements of a memoryview, which
CPython compiles to one aligned 8-byte move. Every call crosses an opaque C function
boundary, so the C compiler cannot move the record copies across the cursor accesses either.

- Writer: store `claim_seq = seq + n`, copy the n records, then store `publish_seq = seq + n`
  (the publish). A record below `publish_seq` is complete; a slot whose record is below
  `claim_seq - capacity` may be being overwritten right now.
- Reader: load `publish_seq`, then the records, then load `claim_seq` again: if the first
  record read is still >= `claim_seq - capacity`, no store of a later lap reached the records
  before that last load (TSO), so the copy or view was intact (a seqlock on each slot).
- The copies are glibc memcpy: fast-string (`rep movsb`) stores may be reordered among
  themselves but not with the discrete cursor stores around them (Intel SDM 3A 8.2.4);
  non-temporal stores could be, so the writer copies at most `MAX_COPY_BYTES` per call, far
  below glibc's non-temporal threshold.

On a weakly ordered CPU (ARM) this needs explicit fences and is not supported.

Reading allocates no buffers: `read_batch` returns a numpy view into the ring (use it, then
`confirm()` it), `read_into` copies raw bytes into the caller's array. Copies are memoryview
slice assignments of uint8 views (one memcpy, never field by field; about half the per-call
cost of `np.copyto`); the last source / destination array is cached, so reusing one batch
buffer costs no view construction.

A lapped reader resumes at the head by default (`on_lap="head"`): the engine resynchronizes
from a snapshot anyway, and the oldest intact record is likely to be lapped again at once.

The creator owns the name and unlinks it (the context manager does); attachers only close.
Python 3.11's `SharedMemory(name)` registers an attached segment with the resource tracker,
whose cleanup then unlinks it and warns "leaked shared_memory" (and unregistering it instead
would drop the creator's entry from a tracker shared with multiprocessing children). So only
the creator registers (its tracker unlinks the name if it dies without doing so) and attachers
map the segment without the tracker, as Python 3.13's `SharedMemory(track=False)` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.shm import Segment, WaitStrategy, wait_until
from chains.records import RECORD_DTYPE, dtype_fingerprint

__all__ = [
    "HEADER_SIZE",
    "MAX_COPY_BYTES",
    "Lapped",
    "Position",
    "Ring",
    "RingAttachError",
    "RingReader",
    "RingWriter",
    "Segment",
    "header_words",
]

HEADER_SIZE = 128
RING_MAGIC = int.from_bytes(b"ARBRING1", "little")
RING_VERSION = 1

# header word indices (uint64 words)
W_MAGIC = 0
W_VERSION = 1
W_CAPACITY = 2
W_RECORD_SIZE = 3
W_FINGERPRINT = 4
W_WRITER_PID = 5
W_CLOSED = 6
W_PUBLISH = 8  # the cursor: records [0, publish_seq) are complete
W_CLAIM = 9  # records [publish_seq, claim_seq) are being written

# where a reader starts, and where it resumes after a lap: the head (only new records) or the
# oldest record still intact (older records, but likely lapped again by a fast writer)
Position = Literal["head", "oldest"]
# The writer copies at most this many bytes per memcpy: glibc switches to non-temporal stores,
# which x86 may reorder with the earlier claim store, only for copies far larger than this
# (3/4 of the shared cache per thread by default).
MAX_COPY_BYTES = 256 * 1024


class RingAttachError(ValueError):
    """The named segment is not a ring of the expected layout."""


@dataclass(frozen=True, slots=True)
class Lapped:
    """A reader fell a full lap behind: `lost` records were skipped, reading resumes at a seq."""

    lost: int
    resume_seq: int


def header_words(segment: Segment) -> tuple[int, ...]:
    """Return a snapshot of a segment's ring-header uint64 words (for checks on attach)."""
    if segment.mapping is None or segment.size_bytes < HEADER_SIZE:
        raise RingAttachError(f"segment {segment.name!r} is too small for a ring header")
    return tuple(np.frombuffer(segment.mapping, np.uint64, HEADER_SIZE // 8).tolist())


def _fingerprint(dtype: np.dtype) -> int:
    if dtype.names is not None:
        return dtype_fingerprint(dtype)
    return int.from_bytes(dtype.str.encode().ljust(8, b"\0")[:8], "little")


def _check_capacity(capacity: int) -> None:
    if capacity < 1 or capacity & (capacity - 1):
        raise ValueError(f"capacity must be a power of two, got {capacity}")


class Ring:
    """A shared-memory ring of `capacity` records of one numpy dtype (header + slots)."""

    def __init__(self, segment: Segment, dtype: np.dtype, capacity: int) -> None:
        self.segment = segment
        self.name = segment.name
        self.dtype = np.dtype(dtype)
        self.capacity = capacity
        self.record_size = self.dtype.itemsize
        buf = memoryview(segment.mapping)  # type: ignore[arg-type]
        self.header = buf[:HEADER_SIZE].cast("Q")
        self.data_bytes = buf[HEADER_SIZE : HEADER_SIZE + capacity * self.record_size]
        self.records = np.frombuffer(self.data_bytes, dtype=self.dtype)
        self._closed = False

    @classmethod
    def create(
        cls, capacity: int, dtype: np.dtype = RECORD_DTYPE, *, name: str | None = None
    ) -> Ring:
        """Create a ring of capacity records (a power of two); the caller owns its unlink."""
        _check_capacity(capacity)
        dtype = np.dtype(dtype)
        segment = Segment.create(HEADER_SIZE + capacity * dtype.itemsize, name)
        ring = cls(segment, dtype, capacity)
        h = ring.header
        h[W_VERSION] = RING_VERSION
        h[W_CAPACITY] = capacity
        h[W_RECORD_SIZE] = dtype.itemsize
        h[W_FINGERPRINT] = _fingerprint(dtype)
        h[W_MAGIC] = RING_MAGIC  # last: a half-initialised header never passes attach
        return ring

    @classmethod
    def attach(cls, name: str, dtype: np.dtype = RECORD_DTYPE) -> Ring:
        """Map an existing ring by name, checking magic, capacity, record size and dtype."""
        dtype = np.dtype(dtype)
        segment = Segment.attach(name)
        try:
            words = header_words(segment)
            magic, version, capacity = words[W_MAGIC], words[W_VERSION], words[W_CAPACITY]
            record_size, fingerprint = words[W_RECORD_SIZE], words[W_FINGERPRINT]
            if magic != RING_MAGIC or version != RING_VERSION:
                raise RingAttachError(f"segment {name!r} is not a ring (magic/version mismatch)")
            _check_capacity(capacity)
            if record_size != dtype.itemsize:
                raise RingAttachError(
                    f"ring {name!r} holds {record_size}-byte records, dtype has {dtype.itemsize}"
                )
            if fingerprint != _fingerprint(dtype):
                raise RingAttachError(f"ring {name!r} was created with another dtype layout")
            if segment.size_bytes < HEADER_SIZE + capacity * record_size:
                raise RingAttachError(f"segment {name!r} is smaller than its header says")
        except BaseException:
            segment.close()
            raise
        return cls(segment, dtype, capacity)

    @property
    def owner(self) -> bool:
        """Return True in the process that created the ring (and must unlink it)."""
        return self.segment.owner

    @property
    def publish_seq(self) -> int:
        """Return the number of records published since creation."""
        return self.header[W_PUBLISH]

    @property
    def writer_closed(self) -> bool:
        """Return True once the writer has closed (no more records will come)."""
        return self.header[W_CLOSED] != 0

    def writer(self) -> RingWriter:
        """Return the ring's one writer (the caller guarantees there is only one)."""
        return RingWriter(self)

    def reader(self, *, start: Position = "head", on_lap: Position = "head") -> RingReader:
        """Return a reader with its own cursor; start and resume after a lap at head or oldest."""
        return RingReader(self, start=start, on_lap=on_lap)

    def close(self) -> None:
        """Drop this process's mapping (its readers and writers become invalid); idempotent."""
        if self._closed:
            return
        self._closed = True
        self.header.release()
        del self.records, self.data_bytes
        self.segment.close()

    def unlink(self) -> None:
        """Remove the ring's name (creator only)."""
        self.segment.unlink()

    def __enter__(self) -> Ring:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.owner:
                self.unlink()
        finally:
            self.close()


def _raw_bytes(records: np.ndarray, dtype: np.dtype) -> memoryview:
    """Return a flat byte view of a 1-D C-contiguous array of dtype (no copy)."""
    if records.dtype != dtype:
        raise TypeError(f"array has dtype {records.dtype}, ring holds {dtype}")
    if records.ndim != 1 or not records.flags.c_contiguous:
        raise ValueError("array must be 1-D and C-contiguous")
    # a uint8 view first: a memoryview of a structured array parses its whole format (~3 µs)
    return memoryview(records.view(np.uint8))


class RingWriter:
    """The single writer of a ring: publish copies, reserve/commit writes in place."""

    def __init__(self, ring: Ring) -> None:
        self.ring = ring
        self._header = ring.header
        self._data = ring.data_bytes
        self._records = ring.records
        self._capacity = ring.capacity
        self._mask = ring.capacity - 1
        self._record_size = ring.record_size
        self._capacity_bytes = ring.capacity * ring.record_size
        self._dtype = ring.dtype
        self.seq: int = ring.header[W_PUBLISH]
        self._claim_seq: int = ring.header[W_CLAIM]
        # one-entry cache of the last source batch: ingest refills one buffer again and again
        self._src: np.ndarray | None = None
        self._src_bytes = memoryview(b"")
        self._src_n = 0
        self._header[W_WRITER_PID] = os.getpid()

    def publish(self, records: np.ndarray) -> int:
        """Copy records (raw bytes) into the ring and publish them; return the new publish_seq."""
        if records is not self._src:
            if len(records) > self._capacity:
                raise ValueError(
                    f"batch of {len(records)} records exceeds ring capacity {self._capacity}"
                )
            self._src_bytes = _raw_bytes(records, self._dtype)
            self._src, self._src_n = records, len(records)
        src, n = self._src_bytes, self._src_n
        seq = self.seq
        end = seq + n
        if end > self._claim_seq:
            self._claim_seq = end
            self._header[W_CLAIM] = end  # before the copy: readers of old slots see the lap
        start_b = (seq & self._mask) * self._record_size
        n_b = n * self._record_size
        if n_b <= self._capacity_bytes - start_b and n_b <= MAX_COPY_BYTES:
            self._data[start_b : start_b + n_b] = src
        else:
            self._copy_in(start_b, src, n_b)
        self._header[W_PUBLISH] = end  # last: the publish
        self.seq = end
        return end

    def _copy_in(self, start_b: int, src: memoryview, n_b: int) -> None:
        """Copy n_b bytes to ring byte start_b, across the wrap, in calls of MAX_COPY_BYTES."""
        done_b = 0
        while done_b < n_b:
            at_b = (start_b + done_b) % self._capacity_bytes
            k = min(n_b - done_b, self._capacity_bytes - at_b, MAX_COPY_BYTES)
            self._data[at_b : at_b + k] = src[done_b : done_b + k]
            done_b += k

    def reserve(self, n: int) -> np.ndarray:
        """Claim up to n slots (fewer at the wrap) and return them as a writable view."""
        idx = self.seq & self._mask
        n = min(n, self._capacity - idx)
        end = self.seq + n
        if end > self._claim_seq:
            self._claim_seq = end
            self._header[W_CLAIM] = end
        return self._records[idx : idx + n]

    def commit(self, n: int) -> int:
        """Publish n records written into the last reserve(); return the new publish_seq."""
        end = self.seq + n
        if end > self._claim_seq:
            raise ValueError(f"commit of {n} records exceeds the reserved slots")
        self._header[W_PUBLISH] = end
        self.seq = end
        return end

    def close(self) -> None:
        """Mark the stream finished so readers stop waiting once drained."""
        self._header[W_CLOSED] = 1


class RingReader:
    """One reader's cursor over a ring; views are confirmed after use, laps reported."""

    def __init__(self, ring: Ring, *, start: Position = "head", on_lap: Position = "head") -> None:
        for position in (start, on_lap):
            if position not in ("head", "oldest"):
                raise ValueError(f"a position is 'head' or 'oldest', got {position!r}")
        self.ring = ring
        self._header = ring.header
        self._data = ring.data_bytes
        self._records = ring.records
        self._empty = ring.records[:0]
        self._capacity = ring.capacity
        self._mask = ring.capacity - 1
        self._record_size = ring.record_size
        self._capacity_bytes = ring.capacity * ring.record_size
        self._dtype = ring.dtype
        self._resume_oldest = on_lap == "oldest"
        self._view_seq = 0
        # one-entry cache of the last destination of read_into (a reused buffer)
        self._out: np.ndarray | None = None
        self._out_bytes = memoryview(bytearray())
        self._out_n = 0
        self.cursor_seq: int = self._oldest() if start == "oldest" else self._header[W_PUBLISH]

    def _oldest(self) -> int:
        """Return the oldest record that is published and whose slot is not claimed again."""
        head = self._header[W_PUBLISH]
        claim = self._header[W_CLAIM]
        return min(head, max(claim - self._capacity, 0))

    def available(self) -> int:
        """Return how many published records are ahead of the cursor (a lap included)."""
        return self._header[W_PUBLISH] - self.cursor_seq

    def still_valid(self, start_seq: int) -> bool:
        """Return True if records from start_seq on have not been claimed by a later lap."""
        return start_seq + self._capacity >= self._header[W_CLAIM]

    def _lap(self) -> Lapped:
        resume = self._oldest() if self._resume_oldest else self._header[W_PUBLISH]
        resume = max(resume, self.cursor_seq)
        lapped = Lapped(lost=resume - self.cursor_seq, resume_seq=resume)
        self.cursor_seq = resume
        return lapped

    def read_batch(self, max_n: int) -> np.ndarray | Lapped:
        """Return a view of up to max_n next records (stops at the wrap), or Lapped."""
        cursor = self.cursor_seq
        n = self._header[W_PUBLISH] - cursor
        if n == 0:
            self._view_seq = cursor
            return self._empty  # nothing new, and so no lap
        if cursor + self._capacity < self._header[W_CLAIM]:
            return self._lap()
        idx = cursor & self._mask
        # comparisons, not min(): this is the latency path (min of three costs ~150 ns)
        if n > max_n:
            n = max_n
        if n > self._capacity - idx:
            n = self._capacity - idx
        self._view_seq = cursor
        self.cursor_seq = cursor + n
        return self._records[idx : idx + n]

    def confirm(self) -> bool:
        """Return True if the last read_batch view was intact; else rewind so the next read laps."""
        if self._view_seq + self._capacity >= self._header[W_CLAIM]:
            return True
        self.cursor_seq = self._view_seq
        return False

    def read_into(self, out: np.ndarray) -> int | Lapped:
        """Copy up to len(out) next records (raw bytes, across the wrap) into out; or Lapped."""
        if out is not self._out:
            self._out_bytes = _raw_bytes(out, self._dtype)
            self._out, self._out_n = out, len(out)
        cursor = self.cursor_seq
        n = self._header[W_PUBLISH] - cursor
        if n == 0:
            return 0
        if cursor + self._capacity < self._header[W_CLAIM]:
            return self._lap()
        if n > self._out_n:
            n = self._out_n
        dst = self._out_bytes
        start_b = (cursor & self._mask) * self._record_size
        n_b = n * self._record_size
        room_b = self._capacity_bytes - start_b
        if n_b <= room_b:
            dst[:n_b] = self._data[start_b : start_b + n_b]
        else:
            dst[:room_b] = self._data[start_b:]
            dst[room_b:n_b] = self._data[: n_b - room_b]
        if cursor + self._capacity < self._header[W_CLAIM]:
            return self._lap()  # overwritten while copying: discard
        self.cursor_seq = cursor + n
        return n

    def wait_for_data(self, timeout_s: float | None, strategy: WaitStrategy = "spin") -> bool:
        """Wait up to timeout_s seconds (None: forever) for a record; False on timeout."""
        header = self._header

        def ready() -> bool:
            return header[W_PUBLISH] != self.cursor_seq

        return wait_until(ready, timeout_s, strategy)
