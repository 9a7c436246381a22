"""How long one turn of the Raft library's tick thread held it away from the network.

Every heartbeat, vote and append of the metadata quorum is sent and read by that one
thread, between applies. A turn longer than the election timeout lets the followers
elect anew although nothing failed, so a slow turn is logged with where its time went:
its own CPU, the applies, or neither (a wait for the interpreter lock or the disk).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SLOW_TICK_S = 0.5  # half the shortest election timeout Kafka's defaults allow (controller.quorum.election.timeout.ms)


@dataclass
class TickWatch:
    slow_s: float = SLOW_TICK_S
    _started: float = field(default=0.0, repr=False)
    _cpu: float = field(default=0.0, repr=False)
    _applying_s: float = field(default=0.0, repr=False)
    _applied: int = field(default=0, repr=False)

    def begin(self) -> None:
        self._started, self._cpu = time.monotonic(), time.thread_time()
        self._applying_s, self._applied = 0.0, 0

    def applied(self, seconds: float) -> None:
        self._applying_s += seconds
        self._applied += 1

    def end(self) -> str | None:
        """The line to log when this turn was slow, else None."""
        held = time.monotonic() - self._started
        if held < self.slow_s:
            return None
        own = time.thread_time() - self._cpu
        return (f"one turn of the Raft thread took {held:.2f} s: {own:.2f} s of its own CPU, "
                f"{self._applied} entries applied in {self._applying_s:.2f} s, the rest waiting "
                f"for the interpreter lock or the disk")
