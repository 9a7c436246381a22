"""This node process's CPU and memory, as the hosts view shows them per broker.

CPU is a percentage of one core, as top shows it (200 = two cores busy), measured from an
earlier reading: the newest one at least MIN_SPAN_S old, so a page polling every 2 s sees
the last 2 s; the first reading measures from when this module was loaded (the node's
start). Readings are only taken when asked: nothing runs on a timer.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Callable

MIN_SPAN_S = 1.0
_KEEP_EVERY_S = 0.1  # readings closer than this are not kept (many callers stay a short queue)


class CpuMeter:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.process_time) -> None:
        self._clock, self._cpu = clock, cpu
        self._readings: deque[tuple[float, float]] = deque([(clock(), cpu())])

    def percent(self) -> float:
        now, used = self._clock(), self._cpu()
        base = 0
        for i, (at, _) in enumerate(self._readings):
            if now - at < MIN_SPAN_S:
                break
            base = i
        for _ in range(base):  # an older one than the base is never a base again
            self._readings.popleft()
        at, then = self._readings[0]
        if now - self._readings[-1][0] >= _KEEP_EVERY_S:
            self._readings.append((now, used))
        span = now - at
        return round(100.0 * max(0.0, used - then) / span, 1) if span > 0 else 0.0


def rss_bytes() -> int | None:
    """Resident memory of this process (None where /proc does not say)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


METER = CpuMeter()


def usage() -> dict[str, float | int | None]:
    return {"cpu_percent": METER.percent(), "rss_bytes": rss_bytes()}
