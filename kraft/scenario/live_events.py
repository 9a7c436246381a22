"""A scenario run's live feed: JSON-able events while it runs (`kraft scenario run --events`).

The console's failure lab reads them to draw the run as it happens. Events, in order:
{"event": "phase", "phase": ...} at each phase; {"event": "tick", "t", "ok", "fail",
"unknown", "in_flight", "faults": [new fault events], "samples": [new samples]} twice a
second (write outcomes as running totals; faults and samples only those new since the
last tick); {"event": "check", "name", "ok", "ran", "summary"} as each checker finishes; then
the CLI's {"event": "verdict", ...} or {"event": "skipped", "reason"}.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, TextIO

from kraft.scenario.history import FAIL, OK, UNKNOWN, History

TICK_S = 0.5
Emit = Callable[[dict], None]


def emit_phase(events: Emit | None, phase: str) -> None:
    if events is not None:
        events({"event": "phase", "phase": phase})


class LiveFeed:
    """Turns a History that is being written into tick events (pure apart from the sleep)."""

    def __init__(self, history: History, events: Emit | None) -> None:
        self._h = history
        self._events = events
        self._faults_sent = 0
        self._samples_sent = 0

    def tick(self, t: float) -> dict:
        h = self._h
        outcomes = {OK: 0, FAIL: 0, UNKNOWN: 0, None: 0}
        for w in h.writes:
            outcomes[w.outcome] = outcomes.get(w.outcome, 0) + 1
        faults, samples = h.faults[self._faults_sent:], h.samples[self._samples_sent:]
        self._faults_sent += len(faults)
        self._samples_sent += len(samples)
        return {"event": "tick", "t": round(t, 2), "ok": outcomes[OK], "fail": outcomes[FAIL],
                "unknown": outcomes[UNKNOWN], "in_flight": outcomes[None],
                "faults": [asdict(f) for f in faults], "samples": [asdict(s) for s in samples]}

    async def run(self, now_s: Callable[[], float]) -> None:
        """Until cancelled (the runner cancels it with the workload's progress line)."""
        if self._events is None:
            return
        try:
            while True:
                self._events(self.tick(now_s()))
                await asyncio.sleep(TICK_S)
        finally:  # the last faults and samples (the heal) are not lost to the cancel
            self._events(self.tick(now_s()))


class EventFile:
    """Events as JSON lines in a file, each flushed at once so a reader sees it live."""

    def __init__(self, path: Path) -> None:
        self._out: TextIO = path.open("a", encoding="utf-8")

    def __call__(self, event: dict) -> None:
        self._out.write(json.dumps(event, default=str) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()
