"""Containing an OSError met by the replica manager's own background work.

Such an error must not end the task that met it: that would end the manager's task
group, and the node with it. A failing device fails the whole data dir (see
log_dir_health); anything else, such as no file descriptor left, is logged at most
every TROUBLE_LOG_S per kind of work, and the work is done again on its next round.
"""

from __future__ import annotations

import logging
import time

from kraft.replication.log_dir_health import LogDirHealth, is_dir_failure

log = logging.getLogger(__name__)

TROUBLE_LOG_S = 10.0  # the same kind of failed disk work is logged at most this often


class DiskTrouble:
    def __init__(self, disk: LogDirHealth):
        self.disk = disk
        self._logged: dict[str, float] = {}  # what -> when last logged

    def contain(self, exc: OSError, what: str) -> None:
        """Record exc, met while doing `what`; the caller carries on."""
        if is_dir_failure(exc):
            self.disk.fail(exc)
            return
        now = time.monotonic()
        if now - self._logged.get(what, -TROUBLE_LOG_S) >= TROUBLE_LOG_S:
            self._logged[what] = now
            log.error("%s failed, to be retried: %s", what, exc)
