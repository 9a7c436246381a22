"""Whether this broker's data directory takes writes (Kafka's offline log dir).

A write that fails because the device is full, read-only or broken fails the whole
directory: appends stop there (produce answers a retriable storage error), followers
stop fetching, and the broker says so in its heartbeats, so the controller takes it
out of every ISR and leadership. While failed, a probe (free space above a margin and
a small write that reaches the disk) runs every second; when it passes the broker
says so again and rejoins: leaders take it back into their ISRs once it has caught up.
Each change of state is logged once.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

DIR_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
RESUME_FREE_BYTES = 16 * 1024 * 1024  # free space needed before writes resume
PROBE_BYTES = 1024 * 1024
PROBE_NAME = ".write-probe"


def is_dir_failure(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DIR_FAILURES


class LogDirHealth:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.reason: str | None = None
        self.since: float | None = None  # wall clock of the failure
        self.failures = 0  # times it went from healthy to failed

    @property
    def failed(self) -> bool:
        return self.reason is not None

    def fail(self, exc: OSError) -> None:
        if self.failed:
            return
        self.reason = exc.strerror or str(exc)
        self.since = time.time()
        self.failures += 1
        log.error("data dir %s takes no writes (%s): appends stop, this broker leaves its ISRs "
                  "and leaderships until it does again", self.path, self.reason)

    def probe(self) -> bool:
        """Worker thread: True (and healthy again) once the directory has room and a
        write reaches the disk."""
        probe = self.path / PROBE_NAME
        try:
            if shutil.disk_usage(self.path).free < RESUME_FREE_BYTES:
                return False
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"\0" * PROBE_BYTES)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            return False
        finally:
            probe.unlink(missing_ok=True)
        log.warning("data dir %s takes writes again (it failed with: %s): rejoining", self.path, self.reason)
        self.reason, self.since = None, None
        return True

    def view(self) -> dict:
        return {"ok": not self.failed, "reason": self.reason, "since": self.since,
                "failures": self.failures, "path": str(self.path)}
