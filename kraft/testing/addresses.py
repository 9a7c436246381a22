"""Loopback addresses claimed for one cluster, so parallel clusters never share one.

Every node of a test cluster has its own 127.0.0.N (a network fault singles a node out
by its address). Two clusters started at once (pytest-xdist workers, two test sessions
on one machine) must not pick the same addresses: each address is claimed with an
exclusive lock on a file of its own, held as long as the cluster lives. The kernel drops
the lock when the process ends, however it ends, so a crashed session frees its claims.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from kraft.server.local_cluster import default_first_address

LAST_ADDRESS = 254  # 127.0.0.255 is loopback's broadcast address


def lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "kraft-testing-addresses"
    path.mkdir(mode=0o777, exist_ok=True)
    return path


class AddressClaim:
    """`count` consecutive addresses 127.0.0.first.. held until release()."""

    def __init__(self, count: int, first: int | None = None):
        if not 1 <= count <= LAST_ADDRESS - 1:
            raise ValueError(f"a cluster has 1..{LAST_ADDRESS - 1} nodes, not {count}")
        start = default_first_address() if first is None else first
        self._fds: list[int] = []
        for candidate in range(start, LAST_ADDRESS - count + 2):
            if self._try(candidate, count):
                self.first = candidate
                return
        raise OSError(f"no {count} consecutive free loopback addresses from 127.0.0.{start}")

    def _try(self, first: int, count: int) -> bool:
        for last in range(first, first + count):
            fd = os.open(lock_dir() / f"127.0.0.{last}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                self.release()
                return False
            self._fds.append(fd)
        return True

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing the descriptor drops its lock
        self._fds.clear()
