"""A node started for a test process ends with that process.

A test cluster's nodes run in sessions of their own (so a signal to the test's process
group does not reach them), which also means nothing ends them when the process that
started them dies without cleaning up (kill -9, a crashed pytest worker). LocalCluster
names the owner in KRAFT_NODE_OWNER_PID; the node then watches its parent and, once the
owner is gone (the node is re-parented), stops as a SIGTERM would stop it, and kills
itself if that has not ended it within the grace.
"""

from __future__ import annotations

import os
import signal
import threading
import time

OWNER_ENV = "KRAFT_NODE_OWNER_PID"
POLL_S = 0.25
GRACE_S = 10.0


def owner_pid(environ=os.environ) -> int | None:
    raw = environ.get(OWNER_ENV, "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def watch_owner() -> bool:
    """Start watching the owner named in the environment; False when none is named."""
    owner = owner_pid()
    if owner is None:
        return False
    if os.getppid() != owner:  # it died before we got here: nothing started yet
        os._exit(1)
    # a daemon thread: it lives exactly as long as the node's process
    threading.Thread(target=_watch, args=(owner,), name="node-owner-watch", daemon=True).start()
    return True


def _watch(owner: int) -> None:
    while os.getppid() == owner:
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)  # the node's own controlled stop
    time.sleep(GRACE_S)
    os.kill(os.getpid(), signal.SIGKILL)
