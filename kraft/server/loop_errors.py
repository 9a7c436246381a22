"""The node's event-loop exception handler.

Out of file descriptors, asyncio's accept loop reports every failed accept of a
listener, up to 100 per wakeup and a wakeup a second, each with a traceback: tens of
thousands of lines in a minute, which bury whatever else the log says. Here they become
one line per listener every REPORT_EVERY_S, with how many were left out. Everything else
goes to asyncio's default handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

ACCEPT_EXHAUSTED = "socket.accept() out of system resource"  # asyncio's message
REPORT_EVERY_S = 10.0


class LoopErrorReporter:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._reported: dict[str, float] = {}  # listener -> when last reported
        self._left_out: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if context.get("message") != ACCEPT_EXHAUSTED:
            loop.default_exception_handler(context)
            return
        listener = _listener_name(context.get("socket"))
        now = self._clock()
        if now - self._reported.get(listener, -REPORT_EVERY_S) < REPORT_EVERY_S:
            self._left_out[listener] = self._left_out.get(listener, 0) + 1
            return
        self._reported[listener] = now
        left_out = self._left_out.pop(listener, 0)
        log.error("listener %s cannot accept (%s): asyncio retries each second; "
                  "%d more failed accepts since the last report", listener,
                  context.get("exception"), left_out)


def _listener_name(sock) -> str:
    try:
        host, port = sock.getsockname()[:2]
        return f"{host}:{port}"
    except (AttributeError, OSError, TypeError, ValueError):
        return "?"
