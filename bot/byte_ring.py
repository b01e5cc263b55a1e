"""Shared-memory byte ring for variable-length blobs (raw signed pending transactions).

It travels beside a record ring: the writer appends a blob and stores the returned
`(offset, length)` in the record's `raw_offset` / `raw_len`; a reader copies the bytes out and
learns whether they were overwritten meanwhile. Offsets are monotonically increasing uint64
byte positions since creation (they never wrap); byte `p` lives at `p & (capacity - 1)`, and a
blob may be split across the end of the buffer. The header has the layout of `bot.ring`
(magic, version, capacity in bytes, writer pid, closed flag, publish and claim positions).

Same protocol and the same x86 TSO assumption as `bot.ring`: the writer stores
`claim_pos = pos + length`, copies, then stores `publish_pos`; a reader copies and then
re-loads `claim_pos`: the blob was intact iff `offset >= claim_pos - capacity`. So a lost
blob is simply `offset < claim_pos - capacity`; it is never silently replaced by newer bytes.
"""

from __future__ import annotations

import os

import numpy as np

from bot.ring import (
    HEADER_SIZE,
    MAX_COPY_BYTES,
    W_CAPACITY,
    W_CLAIM,
    W_CLOSED,
    W_MAGIC,
    W_PUBLISH,
    W_VERSION,
    W_WRITER_PID,
    RingAttachError,
    header_words,
)
from bot.shm import Segment

__all__ = ["BYTE_RING_MAGIC", "ByteRing"]

BYTE_RING_MAGIC = int.from_bytes(b"ARBBYTE1", "little")
BYTE_RING_VERSION = 1

Blob = bytes | bytearray | memoryview | np.ndarray


class ByteRing:
    """A shared-memory ring of bytes: one writer appends blobs, readers copy them by offset."""

    def __init__(self, segment: Segment, capacity_bytes: int) -> None:
        self.segment = segment
        self.name = segment.name
        self.capacity_bytes = capacity_bytes
        buf = memoryview(segment.mapping)  # type: ignore[arg-type]
        self._header = buf[:HEADER_SIZE].cast("Q")
        self._data = buf[HEADER_SIZE : HEADER_SIZE + capacity_bytes]
        self._mask = capacity_bytes - 1
        self._write_pos = self._header[W_PUBLISH]

    @classmethod
    def create(cls, capacity_bytes: int, *, name: str | None = None) -> ByteRing:
        """Create a byte ring of capacity_bytes (a power of two); the caller owns its unlink."""
        if capacity_bytes < 1 or capacity_bytes & (capacity_bytes - 1):
            raise ValueError(f"capacity must be a power of two, got {capacity_bytes}")
        ring = cls(Segment.create(HEADER_SIZE + capacity_bytes, name), capacity_bytes)
        ring._header[W_VERSION] = BYTE_RING_VERSION
        ring._header[W_CAPACITY] = capacity_bytes
        ring._header[W_MAGIC] = BYTE_RING_MAGIC
        return ring

    @classmethod
    def attach(cls, name: str) -> ByteRing:
        """Map an existing byte ring by name, checking its magic, version and capacity."""
        segment = Segment.attach(name)
        try:
            words = header_words(segment)
            magic, version, capacity = words[W_MAGIC], words[W_VERSION], words[W_CAPACITY]
            if magic != BYTE_RING_MAGIC or version != BYTE_RING_VERSION:
                raise RingAttachError(f"segment {name!r} is not a byte ring")
            if capacity < 1 or capacity & (capacity - 1):
                raise RingAttachError(f"byte ring {name!r} has capacity {capacity}")
            if segment.size_bytes < HEADER_SIZE + capacity:
                raise RingAttachError(f"segment {name!r} is smaller than its header says")
        except BaseException:
            segment.close()
            raise
        return cls(segment, capacity)

    @property
    def owner(self) -> bool:
        """Return True in the process that created the ring (and must unlink it)."""
        return self.segment.owner

    @property
    def publish_pos(self) -> int:
        """Return the number of bytes published since creation."""
        return self._header[W_PUBLISH]

    def write(self, blob: Blob) -> tuple[int, int]:
        """Append blob (single writer); return its (offset, length) in bytes."""
        src = memoryview(blob).cast("B")
        length = src.nbytes
        if length > self.capacity_bytes:
            raise ValueError(f"blob of {length} bytes exceeds ring capacity {self.capacity_bytes}")
        if self._header[W_WRITER_PID] != os.getpid():
            self._header[W_WRITER_PID] = os.getpid()
        offset = self._write_pos
        end = offset + length
        self._header[W_CLAIM] = end  # before the copy: readers of old bytes see the overwrite
        done = 0
        while done < length:  # across the wrap, at most MAX_COPY_BYTES a call (see bot.ring)
            at = (offset + done) & self._mask
            k = min(length - done, self.capacity_bytes - at, MAX_COPY_BYTES)
            self._data[at : at + k] = src[done : done + k]
            done += k
        self._header[W_PUBLISH] = end  # last: the publish
        self._write_pos = end
        return offset, length

    def still_valid(self, offset: int) -> bool:
        """Return True if bytes from offset on have not been claimed by a later lap."""
        return offset + self.capacity_bytes >= self._header[W_CLAIM]

    def read_into(self, offset: int, length: int, out: Blob) -> bool:
        """Copy length bytes at offset into out[:length]; False if they were overwritten."""
        if offset + length > self._header[W_PUBLISH]:
            raise ValueError(f"bytes [{offset}, {offset + length}) are not published yet")
        if not self.still_valid(offset):
            return False
        dst = memoryview(out).cast("B")
        start = offset & self._mask
        first = min(length, self.capacity_bytes - start)
        dst[:first] = self._data[start : start + first]
        if first < length:
            dst[first:length] = self._data[: length - first]
        return self.still_valid(offset)  # re-load the claim after the copy

    def read(self, offset: int, length: int) -> bytes | None:
        """Return a copy of length bytes at offset, or None if they were overwritten."""
        out = bytearray(length)
        return bytes(out) if self.read_into(offset, length, out) else None

    def close_writer(self) -> None:
        """Mark the stream finished."""
        self._header[W_CLOSED] = 1

    def close(self) -> None:
        """Drop this process's mapping; idempotent."""
        self._header.release()
        self._data.release()
        self.segment.close()

    def unlink(self) -> None:
        """Remove the ring's name (creator only)."""
        self.segment.unlink()

    def __enter__(self) -> ByteRing:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.owner:
                self.unlink()
        finally:
            self.close()
