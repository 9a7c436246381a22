"""The one long poll every reader's fetch waits in (Kafka's delayed fetch).

A reader's attempt reads what it may and says whether that is an answer (enough bytes,
an error, a diverging epoch, nothing it could wait for); if not, the poll waits for the
next change its reader cares about — a consumer the changes a consumer can read (a
replica's consumer_news), a follower its fetch session's watch — and tries again,
until the deadline, when the last attempt is the answer. A result that is not the
answer is released (its file slices closed) before the next attempt.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Attempt = Callable[[], Awaitable[tuple[T, bool]]]  # (result, whether it is the answer)
Wait = Callable[[float], Awaitable[None]]  # until the next change that matters, at most the seconds given


async def long_poll(attempt: Attempt[T], wait: Wait, deadline: float,
                    release: Callable[[T], None] | None = None) -> T:
    """Attempts until one is the answer or the deadline (time.monotonic()) has passed."""
    while True:
        result, done = await attempt()
        left = deadline - time.monotonic()
        if done or left <= 0:
            return result
        if release is not None:
            release(result)
        await wait(left)
