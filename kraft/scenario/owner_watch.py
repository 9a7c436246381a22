"""A failure-lab run never outlives the node that started it.

The node (kraft/api/console/lab_runs.py) names itself in KRAFT_LAB_OWNER_PID. The run then
watches its parent: once the owner is gone (even after kill -9, which runs no cleanup
of its own) the run interrupts itself as a SIGTERM would, so its throwaway cluster is
torn down; if that has not ended the process within the grace, it kills its whole
process group, which holds the cluster's nodes too (LocalCluster(own_sessions=False)).
"""

from __future__ import annotations

import os
import signal
import time

from kraft.api.console.lab_runs import OWNER_ENV
from kraft.server import owner_exit

GRACE_S = 15.0


def owner_pid() -> int | None:
    return owner_exit.owner_pid(OWNER_ENV)


def watch_owner() -> bool:
    """Start watching the owner named in the environment; False when there is none."""
    return owner_exit.watch_owner_named(OWNER_ENV, lambda: _end_everything(GRACE_S), "lab-owner-watch")


def _end_everything(grace_s: float) -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the runner unwinds: its cluster closes
    time.sleep(grace_s)
    if os.getpgrp() == os.getpid():  # our own group (the lab starts us as its leader)
        os.killpg(os.getpgrp(), signal.SIGKILL)  # still here: nothing of the run may linger
    os.kill(os.getpid(), signal.SIGKILL)
