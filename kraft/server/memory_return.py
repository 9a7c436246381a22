"""Freed memory given back to the system, so a burst of connections leaves no lasting cost.

A TLS connection holds about 280 KiB while open (asyncio's TLS read buffer alone is 256
KiB). glibc serves the first such buffers with mmap, but once one is freed it raises its
mmap threshold above that size, and from then on they come from the heap. When a burst
of connections closes, their freed chunks sit among live ones, and glibc gives back only
what is free at the top of a heap: the node kept its peak (about +280 MB per 1,000 TLS
connections) long after they were gone. malloc_trim(0) returns every free page of every
arena.

The rule (TrimSchedule) looks at memory, not at what freed it, so connections closed
mid-handshake, HTTP connections and large answers count too: a trim runs when glibc's free
bytes (mallinfo2's fordblks) have grown by TRIM_GROWTH_BYTES from their lowest since the
last trim (memory was freed), or when the node's resident memory has grown that much
while glibc holds that much free (a burst that came and went between two checks).
Checked every INTERVAL_S, in a worker thread so the event loop keeps serving; where the
C library is not glibc (2.33 or later) nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import time

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
TRIM_GROWTH_BYTES = 32 * 1024 * 1024


class TrimSchedule:
    """When a trim is worth its walk of the heaps (sans-IO). A trim returns pages but leaves
    their chunks in glibc's free lists (still counted free), so each sign is measured from
    its lowest point since the last trim."""

    def __init__(self, growth_bytes: int = TRIM_GROWTH_BYTES):
        self._growth_bytes = growth_bytes
        self._resident_low: int | None = None
        # before the first trim every free byte counts as freed: a burst that came and went
        # before the first check would otherwise set the low at its peak and never be trimmed
        self._free_low = 0

    def due(self, resident_bytes: int, free_bytes: int) -> bool:
        self._resident_low = min(resident_bytes, self._resident_low if self._resident_low is not None else resident_bytes)
        self._free_low = min(free_bytes, self._free_low)
        freed = free_bytes - self._free_low >= self._growth_bytes
        grew_with_free = (resident_bytes - self._resident_low >= self._growth_bytes
                          and free_bytes >= self._growth_bytes)
        return freed or grew_with_free

    def trimmed(self, resident_bytes: int, free_bytes: int) -> None:
        self._resident_low, self._free_low = resident_bytes, free_bytes


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]


class _Glibc:
    """glibc's mallinfo2 (2.33 and later) and malloc_trim; None from load() elsewhere."""

    def __init__(self, libc: ctypes.CDLL):
        self._mallinfo2 = libc.mallinfo2
        self._mallinfo2.argtypes, self._mallinfo2.restype = [], _MallInfo2
        self._malloc_trim = libc.malloc_trim
        self._malloc_trim.argtypes, self._malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int

    @classmethod
    def load(cls) -> "_Glibc | None":
        name = ctypes.util.find_library("c")
        try:
            return cls(ctypes.CDLL(name)) if name else None
        except (OSError, AttributeError):  # not glibc, or one older than 2.33
            return None

    def free_bytes(self) -> int:
        """Bytes the heaps hold free (not returned to the system)."""
        return self._mallinfo2().fordblks

    def trim(self) -> None:
        self._malloc_trim(0)


class MemoryReturner:
    """Owned by the node's task group (cancelled at shutdown)."""

    def __init__(self, schedule: TrimSchedule | None = None, interval_s: float = INTERVAL_S):
        self._schedule = schedule or TrimSchedule()
        self._interval_s = interval_s
        self._glibc = _Glibc.load()
        self.trims = 0

    async def run(self) -> None:
        if self._glibc is None:
            return
        while True:
            await asyncio.sleep(self._interval_s)
            await asyncio.to_thread(self._check)

    def _check(self) -> None:
        """In a worker thread: both glibc calls walk the heaps."""
        assert self._glibc is not None
        try:
            before = _resident_bytes()
        except OSError:  # out of descriptors (EMFILE) or no /proc: a later round trims
            return
        if not self._schedule.due(before, self._glibc.free_bytes()):
            return
        started = time.monotonic()
        self._glibc.trim()
        try:
            after = _resident_bytes()
        except OSError:
            after = before
        self._schedule.trimmed(after, self._glibc.free_bytes())
        self.trims += 1
        log.info("gave %d MiB of freed memory back to the system in %.1f ms", (before - after) >> 20,
                  (time.monotonic() - started) * 1000)


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:  # size resident shared ... (pages)
        return int(statm.read().split()[1]) * _PAGE_BYTES
