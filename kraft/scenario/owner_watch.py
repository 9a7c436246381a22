"""A failure-lab run never outlives the node that started it.

The node (kraft/console/lab_runs.py) names itself in KRAFT_LAB_OWNER_PID. The run then
watches its parent: once the owner is gone (even after kill -9, which runs no cleanup
of its own) the run interrupts itself as a SIGTERM would, so its throwaway cluster is
torn down; if that has not ended the process within the grace, it kills its whole
process group, which holds the cluster's nodes too (LocalCluster(own_sessions=False)).
"""

from __future__ import annotations

import os
import signal
import threading
import time

OWNER_ENV = "KRAFT_LAB_OWNER_PID"
POLL_S = 0.25
GRACE_S = 15.0


def owner_pid() -> int | None:
    raw = os.environ.get(OWNER_ENV, "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def watch_owner() -> bool:
    """Start watching the owner named in the environment; False when there is none."""
    owner = owner_pid()
    if owner is None:
        return False
    if os.getppid() != owner:  # it died before we got here: nothing started yet
        os._exit(1)
    threading.Thread(target=_watch, args=(owner,), name="lab-owner-watch", daemon=True).start()
    return True


def _watch(owner: int) -> None:
    while os.getppid() == owner:  # reparented once the owner dies
        time.sleep(POLL_S)
    _end_everything(GRACE_S)


def _end_everything(grace_s: float) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the runner unwinds: its cluster closes
    time.sleep(grace_s)
    if os.getpgrp() == os.getpid():  # our own group (the lab starts us as its leader)
        os.killpg(os.getpgrp(), signal.SIGKILL)  # still here: nothing of the run may linger
    os.kill(os.getpid(), signal.SIGKILL)
