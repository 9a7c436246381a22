"""Repairing damaged replicas: leave the ISR, cut at the damage, fetch it again.

A replica whose log holds damage (found by a read, at open, or by the scrubber) must
not count as a full copy. The broker reports it to the controller, which takes it out
of the ISR and, if it led, elects another ISR member (report_damaged_replica). Once
the metadata shows it out of the ISR and following a live leader, it truncates at the
damage and the ordinary follower fetch refills the log; the leader adds it back to the
ISR when it has caught up. When no other ISR member is usable there is no healthy copy:
the replica stays as it is, keeps serving its intact ranges, and says so (log, metrics,
/v1/cluster/health_overview) until a healthy copy returns.

The decisions are pure (next_step); the manager's duty loop applies them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kraft.metadata.image import MetadataImage

log = logging.getLogger(__name__)

REPORT_RESEND_S = 2.0  # a report without an answer, or with "no healthy copy", goes again


@dataclass
class Repair:
    topic: str
    partition: int
    start: int  # the log is cut here once the replica is out of the ISR
    reason: str
    healthy_copy: bool = True
    sent_at: float = 0.0
    in_flight: bool = False


def next_step(image: MetadataImage, broker_id: int, topic_id: str, partition: int) -> str:
    """"cut" when the replica may truncate now (out of the ISR, following a live
    leader), "report" while it still counts as in sync, "wait" otherwise (no leader to
    refill from yet, or the partition is gone)."""
    topic = image.topics.get(topic_id)
    if topic is None or not 0 <= partition < len(topic.partitions):
        return "wait"
    part = topic.partitions[partition]
    if broker_id in part.isr or part.leader == broker_id:
        return "report"
    if part.leader >= 0:
        return "cut"
    return "wait"


class ReplicaRepairs:
    """The repairs under way on one broker, and what they have done (for metrics)."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], Repair] = {}
        self.found = 0  # damaged ranges seen
        self.repaired = 0  # repairs finished (cut and refetching)

    def notice(self, key: tuple[str, int], topic: str, partition: int, damage) -> Repair | None:
        """A replica's current damage; returns its repair (new or updated), or None."""
        if not damage:
            return self.pending.get(key)
        start = min(d.start for d in damage)
        repair = self.pending.get(key)
        if repair is None:
            self.found += len(damage)
            repair = self.pending[key] = Repair(topic, partition, start, damage[0].reason)
            log.error("replica %s-%d is damaged from offset %d (%s): leaving the ISR to repair it",
                      topic, partition, start, repair.reason)
        elif start < repair.start:
            self.found += 1
            repair.start = start
        return repair

    def due(self, repair: Repair) -> bool:
        return not repair.in_flight and time.monotonic() - repair.sent_at >= REPORT_RESEND_S

    def answered(self, repair: Repair, healthy_copy: bool) -> None:
        if repair.healthy_copy and not healthy_copy:
            log.error("replica %s-%d is damaged from offset %d and no other in-sync replica is "
                      "usable: no healthy copy; intact ranges are still served", repair.topic,
                      repair.partition, repair.start)
        elif healthy_copy and not repair.healthy_copy:
            log.info("replica %s-%d: a healthy copy is back; repair goes on", repair.topic, repair.partition)
        repair.healthy_copy = healthy_copy

    def done(self, key: tuple[str, int], end: int) -> None:
        repair = self.pending.pop(key)
        self.repaired += 1
        log.warning("replica %s-%d cut at offset %d (damaged from %d): fetching the rest from the leader",
                    repair.topic, repair.partition, end, repair.start)

    def forget(self, key: tuple[str, int]) -> None:
        self.pending.pop(key, None)

    @property
    def unrepairable(self) -> list[Repair]:
        return [r for r in self.pending.values() if not r.healthy_copy]
