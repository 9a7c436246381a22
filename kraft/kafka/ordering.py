"""When a connection's next request may start (pipelined produce).

A connection starts its next request once the current one is answered, except that a
Produce says, through ``let_next_request_start``, when its batches are in the log:
the next Produce then appends behind them while this one waits for its replicas. So
appends keep the order the client sent them (idempotent sequences depend on it) and
answers keep their order too (the listener writes them in turn), yet acks=all
replication round trips overlap instead of adding up.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

_next_may_start: ContextVar[Callable[[], None] | None] = ContextVar("next_may_start", default=None)


def serve_in_turn(on_next_may_start: Callable[[], None]) -> None:
    """Called by the listener in the task that serves one request."""
    _next_may_start.set(on_next_may_start)


def let_next_request_start() -> None:
    """Called by a handler once the order-sensitive part of its work is done."""
    release = _next_may_start.get()
    if release is not None:
        release()
