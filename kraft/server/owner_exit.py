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
from collections.abc import Callable

OWNER_ENV = "KRAFT_NODE_OWNER_PID"
POLL_S = 0.25
GRACE_S = 10.0


def owner_pid(env_name: str = OWNER_ENV, environ=os.environ) -> int | None:
    raw = environ.get(env_name, "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def watch_owner() -> bool:
    """Start watching the owner named in the environment; False when none is named."""
    return watch_owner_named(OWNER_ENV, _stop_then_kill, "node-owner-watch")


def watch_owner_named(env_name: str, on_gone: Callable[[], None], thread_name: str) -> bool:
    """Call on_gone once the process named in env_name (our parent) is gone; False when
    none is named. The failure lab's runs watch the node that started them the same way."""
    owner = owner_pid(env_name)
    if owner is None:
        return False
    if os.getppid() != owner:  # it died before we got here: nothing started yet
        os._exit(1)
    # a daemon thread: it lives exactly as long as the process
    threading.Thread(target=_wait_then, args=(owner, on_gone), name=thread_name, daemon=True).start()
    return True


def _wait_then(owner: int, on_gone: Callable[[], None]) -> None:
    while os.getppid() == owner:  # re-parented once the owner dies
        time.sleep(POLL_S)
    on_gone()


def _stop_then_kill() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the node's own controlled stop
    time.sleep(GRACE_S)
    os.kill(os.getpid(), signal.SIGKILL)
