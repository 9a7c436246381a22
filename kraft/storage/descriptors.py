"""A process-wide budget of open file descriptors for the logs' files.

Kafka keeps every segment's files open and asks the operator for a high `ulimit -n`; at
thousands of partitions a node would run out (each log holds its active segment and its
indexes open) and every further open fails with "Too many open files". Here each file is
a Descriptor: opened on first use, kept open while used, and closed by the budget when
more are open than it allows, least recently used first, never while a thread is using
it; the next use opens it again. Closing costs nothing that matters: writes go straight to
the OS, and fsync reaches the file's data through any descriptor. Thread-safe (logs are
opened, read and synced on worker threads too).
"""

from __future__ import annotations

import errno
import os
import resource
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

# kept for everything else a node opens: connections (Kafka, HTTP, the Raft port), sockets
# to peers, checkpoints written and closed
RESERVED_SHARE, RESERVED_MOST = 2, 6144


def _limits() -> tuple[int, int]:
    """(this process's `ulimit -n`, what is kept from it for the rest: half, at most 6,144)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = soft if soft > 0 else 1 << 20  # RLIM_INFINITY
    return soft, min(soft // RESERVED_SHARE, RESERVED_MOST)


def default_limit() -> int:
    """The logs' budget: the limit less what is kept for the rest."""
    soft, kept = _limits()
    return max(64, soft - kept)


def default_slice_limit() -> int:
    """Duplicates held by answers waiting to be sent (file_slice.py): a quarter of what is
    kept outside the logs' budget."""
    return max(16, _limits()[1] // 4)


class Tally:
    """A thread-safe count of something held, up to a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.held >= self.limit:
                return False
            self.held += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.held -= 1


class Descriptor:
    """One file's descriptor, opened by `opener` whenever it is needed and not open."""

    __slots__ = ("_budget", "fd", "gone", "opener", "users")

    def __init__(self, opener: Callable[[], int], budget: DescriptorBudget | None = None) -> None:
        self.opener = opener
        self._budget = budget if budget is not None else BUDGET
        self.fd = -1
        self.users = 0  # threads using fd right now: the budget leaves it open
        self.gone = False  # closed by its owner: never opened again

    @classmethod
    def of_path(cls, path: Path, flags: int, mode: int = 0o644, budget: DescriptorBudget | None = None,
                identity: tuple[int, int] | None = None) -> Descriptor:
        """A file opened with `flags`; opened again without O_CREAT and only if the path
        still names the same file, so that a file removed meanwhile (its partition deleted)
        or replaced (a cleaned segment moved over it) is an error for whoever still holds
        the old one, never an empty file made anew or another file's bytes. `identity`:
        the file's (st_dev, st_ino), known already (the caller made it): every open is
        checked against it."""
        first = identity

        def opener() -> int:
            nonlocal first
            fd = os.open(path, flags & ~os.O_CREAT if first else flags, mode)
            st = os.fstat(fd)
            if first is None:
                first = st.st_dev, st.st_ino
            elif (st.st_dev, st.st_ino) != first:
                os.close(fd)
                raise OSError(errno.ESTALE, "the file was replaced", str(path))
            return fd
        return cls(opener, budget)

    def acquire(self) -> int:
        """The open descriptor, held until release()."""
        return self._budget.acquire(self)

    def release(self) -> None:
        self._budget.release(self)

    def __enter__(self) -> int:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire_if_open(self) -> int:
        """As acquire, but -1 (and nothing to release) when it is closed now: for work
        that is pointless on a file nobody has open (dropping its cached pages)."""
        return self._budget.acquire(self, reopen=False)

    @property
    def is_open(self) -> bool:
        return self.fd >= 0

    def close(self) -> None:
        """Closed for good by its owner: a later acquire raises EBADF."""
        self._budget.forget(self)


class DescriptorBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closed_for_room = 0  # descriptors the budget closed, since start (/metrics)
        self._open: OrderedDict[Descriptor, None] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        return len(self._open)

    def acquire(self, d: Descriptor, reopen: bool = True) -> int:
        with self._lock:
            if d.gone:
                raise OSError(errno.EBADF, "the file was closed")
            if d.fd >= 0:
                self._open.move_to_end(d)
                d.users += 1
                return d.fd
            if not reopen:
                return -1
            d.users += 1  # from here: never the one closed to make room
        # opened outside the lock: an open can wait on the file system's journal, and
        # the threads opening thousands of new logs at once must not take turns
        try:
            fd = d.opener()
        except BaseException:
            self.release(d)
            raise
        with self._lock:
            if d.gone or d.fd >= 0:  # closed for good, or opened by another thread meanwhile
                os.close(fd)
                if d.gone:
                    d.users -= 1
                    raise OSError(errno.EBADF, "the file was closed")
                self._open.move_to_end(d)
                return d.fd
            d.fd = fd
            self._open[d] = None
            if len(self._open) > self.limit:
                self._make_room()
            return fd

    def release(self, d: Descriptor) -> None:
        with self._lock:
            d.users -= 1

    def forget(self, d: Descriptor) -> None:
        with self._lock:
            d.gone = True
            self._open.pop(d, None)
            if d.fd >= 0:
                os.close(d.fd)
                d.fd = -1

    def _make_room(self) -> None:
        """Close the least recently used descriptors no thread is using, down to the limit
        (over it for a moment when every open one is in use)."""
        excess, looked = len(self._open) - self.limit, 0
        while excess > 0 and looked < len(self._open):
            oldest = next(iter(self._open))
            looked += 1
            if oldest.users:
                self._open.move_to_end(oldest)
                continue
            del self._open[oldest]
            os.close(oldest.fd)
            oldest.fd = -1
            excess -= 1
            self.closed_for_room += 1


BUDGET = DescriptorBudget(default_limit())
SLICES = Tally(default_slice_limit())
