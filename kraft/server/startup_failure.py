"""Why a node cannot start, as one line: a port it cannot bind, a file it cannot write.

The node process prints that line and exits non-zero (kraft/server/main.py); `kraft up`
shows it in the node's row. Nothing here retries: a taken port or a read-only disk does
not go away by waiting, and a node that waits in silence never joins.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable


class NodeCannotStart(Exception):
    """One line saying what could not be done, where, and why."""


class NodeNotAdmitted(Exception):
    """The cluster does not take this node back (e.g. a controller removed from the
    quorum): waiting or restarting cannot help, the operator must act."""


def os_reason(exc: OSError) -> str:
    """The kernel's words for an OSError, without Python's "[Errno N]" decoration; the
    file it names, if any."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"{reason}: {exc.filename}" if exc.filename else reason


async def listening(what: str, address: str, opening: Awaitable[object]) -> None:
    """Await `opening` (a server's start); a bind failure becomes NodeCannotStart naming
    `what` (e.g. "HTTP port") and the address."""
    try:
        await opening
    except OSError as exc:
        raise NodeCannotStart(f"cannot bind the {what} {address}: {os_reason(exc)}") from None
