"""Named POSIX shared-memory segments, and the polling wait the rings use.

`Segment.create` maps a new zeroed segment and registers it with the resource tracker, so the
name is removed if the creating process dies; `Segment.attach` maps an existing one WITHOUT
registering it (Python 3.11's tracker would otherwise unlink, at the attacher's exit, a
segment the creator still owns; `multiprocessing` children even share the creator's tracker,
where an unregister would drop the creator's entry). Only the creator unlinks.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import mmap
import os
import secrets
import time
from collections.abc import Callable
from multiprocessing import resource_tracker
from typing import Literal

__all__ = ["Segment", "WaitStrategy", "wait_until"]

WaitStrategy = Literal["spin", "yield", "sleep"]
_SLEEP_S = 50e-6


class Segment:
    """A named POSIX shared-memory segment mapped into this process."""

    def __init__(self, name: str, mapping: mmap.mmap, *, owner: bool) -> None:
        self.name = name
        self.owner = owner
        self.mapping: mmap.mmap | None = mapping
        self.size_bytes = len(mapping)
        self._unlinked = False

    @classmethod
    def create(cls, size_bytes: int, name: str | None = None) -> Segment:
        """Create and map a zeroed segment of size_bytes; register it for crash cleanup."""
        if size_bytes <= 0:
            raise ValueError(f"size must be positive, got {size_bytes}")
        name = name if name is not None else f"arb_{secrets.token_hex(8)}"
        fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        try:
            os.ftruncate(fd, size_bytes)
            mapping = mmap.mmap(fd, size_bytes)
        except OSError:
            _posixshmem.shm_unlink("/" + name)
            raise
        finally:
            os.close(fd)
        # the creator's tracker unlinks the name if this process dies without unlinking it
        resource_tracker.register("/" + name, "shared_memory")
        return cls(name, mapping, owner=True)

    @classmethod
    def attach(cls, name: str) -> Segment:
        """Map an existing segment by name without registering it with the resource tracker."""
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
        try:
            size_bytes = os.fstat(fd).st_size
            mapping = mmap.mmap(fd, size_bytes)
        finally:
            os.close(fd)
        return cls(name, mapping, owner=False)

    def close(self) -> None:
        """Drop this mapping; it is unmapped now, or when the last numpy view into it dies."""
        mapping, self.mapping = self.mapping, None
        if mapping is not None:
            # live views keep the mapping alive; it is unmapped with the last of them
            with contextlib.suppress(BufferError):
                mapping.close()

    def unlink(self) -> None:
        """Remove the name (creator only); mapped views stay valid until closed."""
        if not self.owner:
            raise PermissionError(f"only the creator unlinks segment {self.name!r}")
        if self._unlinked:
            return
        self._unlinked = True
        try:
            _posixshmem.shm_unlink("/" + self.name)
        finally:
            resource_tracker.unregister("/" + self.name, "shared_memory")


def wait_until(
    ready: Callable[[], bool], timeout_s: float | None, strategy: WaitStrategy = "spin"
) -> bool:
    """Poll ready() until True (return True) or timeout_s seconds pass (return False)."""
    if strategy not in ("spin", "yield", "sleep"):
        raise ValueError(f"unknown wait strategy {strategy!r}")
    if ready():
        return True
    clock = time.monotonic_ns
    deadline_ns = None if timeout_s is None else clock() + int(timeout_s * 1e9)
    sched_yield = os.sched_yield
    sleep = time.sleep
    while True:
        if ready():
            return True
        if deadline_ns is not None and clock() >= deadline_ns:
            return False
        if strategy == "yield":
            sched_yield()
        elif strategy == "sleep":
            sleep(_SLEEP_S)
