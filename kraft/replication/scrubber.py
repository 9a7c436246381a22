"""The scrubber: re-reads every closed segment of this broker and checks its CRCs.

Bytes can rot where nobody reads them; the scrubber finds that before a reader or a
failover does. It walks one closed segment at a time through its own descriptor, a
chunk per step in a worker thread, sleeping between steps so it never reads more than
`scrub.rate.mb.s`; a pass over everything starts at most once per `scrub.interval.s`.
What it finds goes to the log's damage list, which the replica repair acts on. A
segment cut, compacted or deleted during its walk is walked again next pass instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from kraft.storage.damage import SCAN_CHUNK, SegmentScan, scan_step

log = logging.getLogger(__name__)

IDLE_CHECK_S = 5.0  # while turned off, how often the setting is looked at again


@dataclass
class ScrubProgress:
    passes: int = 0  # passes finished
    bytes_checked: int = 0
    segments_checked: int = 0
    damaged_found: int = 0  # damaged ranges found (each once)
    last_pass_s: float = 0.0  # how long the last finished pass took
    current: str = ""  # the segment being walked

    def view(self) -> dict:
        return {"passes": self.passes, "bytes_checked": self.bytes_checked,
                "segments_checked": self.segments_checked, "damaged_found": self.damaged_found,
                "last_pass_seconds": round(self.last_pass_s, 3), "current": self.current or None}


class Scrubber:
    def __init__(self, replicas: Callable[[], list], rate_mb_s: float, interval_s: float):
        """replicas() -> the broker's PartitionReplicas now."""
        self._replicas = replicas
        self.rate_bytes_s = rate_mb_s * 1e6
        self.interval_s = interval_s
        self.progress = ScrubProgress()

    async def run(self) -> None:
        """Owned by the replica manager's task group; ends when cancelled."""
        while True:
            if self.rate_bytes_s <= 0:
                await asyncio.sleep(IDLE_CHECK_S)
                continue
            started = time.monotonic()
            await self.scrub_pass()
            self.progress.passes += 1
            self.progress.last_pass_s = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.interval_s - self.progress.last_pass_s))

    async def scrub_pass(self) -> None:
        for replica in self._replicas():
            plog = replica.log
            for segment in plog.segments[:-1]:  # closed segments: the active one still grows
                if plog.closed:
                    break
                self.progress.current = segment.log.path.name
                try:
                    await self._scrub_segment(replica, segment)
                except OSError as exc:  # no descriptor left, say: walked again next pass
                    log.warning("scrubber: %s not checked: %s", segment.log.path.name, exc)
        self.progress.current = ""

    async def _scrub_segment(self, replica, segment) -> None:
        plog, cuts = replica.log, replica.log.cuts
        scan = SegmentScan(segment.base_offset, segment.next_offset, segment.size)
        try:
            fd = os.open(segment.log.path, os.O_RDONLY)
        except FileNotFoundError:
            return  # deleted by retention or a repair since the list was taken
        try:
            read = lambda position, length: os.pread(fd, length, position)  # noqa: E731
            while not scan.done:
                started = time.monotonic()
                checked = await asyncio.to_thread(scan_step, read, scan, SCAN_CHUNK)
                self.progress.bytes_checked += checked
                pause = checked / self.rate_bytes_s - (time.monotonic() - started)
                if pause > 0:
                    await asyncio.sleep(pause)
                if plog.closed or plog.cuts != cuts:
                    return  # cut, swapped or closed meanwhile: these bytes may be gone
        finally:
            os.close(fd)
        self.progress.segments_checked += 1
        if scan.damage and segment in plog.segments and plog.cuts == cuts:
            new = plog.note_damage(scan.damage)
            self.progress.damaged_found += len(new)
            for d in new:
                log.error("scrubber: %s-%d offsets %d..%d damaged in %s: %s", replica.topic,
                          replica.partition, d.start, d.end - 1, segment.log.path.name, d.reason)
