"""A connection's read deadline that costs a store to move, not a timer per read.

asyncio.timeout() arms a timer on entry and cancels it on exit; a connection that reads
thousands of requests a second spends a measurable share of its time on that (the
listener read each request under two of them). Here one timer per connection stays
armed at the earliest deadline set so far: moving the deadline later is a store, and a
timer that fires before the current deadline re-arms itself at it. When the deadline
has passed while a guarded wait runs, the owning task is cancelled and the wait raises
TimeoutError, as asyncio.timeout does. Guarded waits do not nest.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class LazyDeadline:
    def __init__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline belongs to a task")
        self.task = task
        self._loop = asyncio.get_running_loop()
        self._when: float | None = None  # the running guarded wait's deadline (loop clock)
        self._armed: asyncio.TimerHandle | None = None
        self._expired = False
        self._cancelling = 0

    def until(self, when: float) -> LazyDeadline:
        """`with deadline.until(t): await ...`: TimeoutError once the loop's clock passes t."""
        if self._when is not None:
            raise RuntimeError("guarded waits do not nest")
        self._when = when
        armed = self._armed
        if armed is None or when < armed.when():
            if armed is not None:
                armed.cancel()
            self._armed = self._loop.call_at(when, self._fire)
        return self

    def __enter__(self) -> None:
        self._cancelling = self.task.cancelling()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._when = None
        if self._expired:
            self._expired = False
            if self.task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc

    def close(self) -> None:
        """No timer left behind (it would hold the task until it fired); a wait guarded
        now keeps its own."""
        if self._armed is not None and self._when is None:
            self._armed.cancel()
            self._armed = None

    def _fire(self) -> None:
        self._armed = None
        when = self._when
        if when is None:
            return  # no wait guarded now: the next one arms again
        if self._loop.time() < when:
            self._armed = self._loop.call_at(when, self._fire)
            return
        self._expired = True
        self.task.cancel()
