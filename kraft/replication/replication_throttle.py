"""The replication throttle of one broker (Kafka's leader/follower.replication.throttled.rate).

Throttled traffic is that of replicas being added by a reassignment in progress: as
leader, what this broker sends to such a replica; as follower, what it fetches for its
own such replicas. In-sync followers are never throttled. Each side has a byte budget
that refills at its rate (at most one second's worth is kept): the leader sends a
throttled partition no more than the budget holds (and nothing while it is empty);
the follower leaves its throttled partitions out of its fetches while its budget is
spent. A batch larger than the budget still goes whole (the budget goes below zero and
the next bytes wait for it), so over any stretch of time the bytes moved stay within
the rate plus one second's worth.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kraft.config.replication_throttle import FOLLOWER_RATE, LEADER_RATE, UNLIMITED
from kraft.metadata.changes import MetadataChanges
from kraft.metadata.effective_configs import broker_dynamic_config
from kraft.metadata.image import MetadataImage

BURST_S = 1.0  # how much unused budget a side keeps, in seconds of its rate


class ByteBudget:
    """Bytes that may go now, refilled at `rate` per second; unlimited when rate is None."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.rate: int | None = None
        self._tokens = 0.0
        self._at = clock()

    def set_rate(self, rate: int | None) -> None:
        if rate == self.rate:
            return
        self._refill()
        if self.rate is None:
            self._tokens = 0.0  # a new limit starts from nothing saved
        self.rate = rate

    def available(self) -> float:
        """Bytes that may go now (infinite when unlimited, negative while in debt)."""
        if self.rate is None:
            return float("inf")
        self._refill()
        return self._tokens

    def spend(self, size: int) -> None:
        if self.rate is not None and size > 0:
            self._refill()
            self._tokens -= size

    def _refill(self) -> None:
        now = self._clock()
        if self.rate is not None:
            self._tokens = min(self.rate * BURST_S, self._tokens + (now - self._at) * self.rate)
        self._at = now


class ReplicationThrottle:
    def __init__(self, broker_id: int, clock: Callable[[], float] = time.monotonic):
        self.broker_id = broker_id
        self.leader = ByteBudget(clock)
        self.follower = ByteBudget(clock)
        # (topic id, partition) -> the replicas being added that are not in the ISR yet
        self._catching_up: dict[tuple[str, int], frozenset[int]] = {}
        self._seen: bool | None = None  # None until the first image

    def on_metadata(self, image: MetadataImage, changes: MetadataChanges | None = None) -> None:
        """Rates and reassignments from the image: the partitions `changes` names (all of
        them without changes, or after a jump to a whole new image)."""
        self.leader.set_rate(_rate(image, self.broker_id, LEADER_RATE))
        self.follower.set_rate(_rate(image, self.broker_id, FOLLOWER_RATE))
        if changes is None or changes.everything or self._seen is None:
            self._catching_up = {}
            for topic in image.topics.values():
                for index in range(len(topic.partitions)):
                    self._note(image, topic.topic_id, index)
        else:
            for topic_id in [t for t in changes.topics if t not in image.topics]:  # deleted topics
                for key in [k for k in self._catching_up if k[0] == topic_id]:
                    del self._catching_up[key]
            for topic_id, index in changes.partitions:
                self._note(image, topic_id, index)
        self._seen = True

    def _note(self, image: MetadataImage, topic_id: str, index: int) -> None:
        topic = image.topics.get(topic_id)
        part = topic.partitions[index] if topic is not None and index < len(topic.partitions) else None
        behind = frozenset(b for b in part.adding if b not in part.isr) if part is not None else frozenset()
        if behind:
            self._catching_up[(topic_id, index)] = behind
        else:
            self._catching_up.pop((topic_id, index), None)

    def leader_throttles(self, key: tuple[str, int], replica_id: int) -> bool:
        """Is a fetch of this partition by this replica throttled traffic?"""
        return self.leader.rate is not None and replica_id in self._catching_up.get(key, ())

    def follower_throttles(self, key: tuple[str, int]) -> bool:
        return self.follower.rate is not None and self.broker_id in self._catching_up.get(key, ())

    def follower_throttled(self) -> list[tuple[str, int]]:
        """The partitions whose fetches by this broker are throttled: those a reassignment
        adds it to (a few), so a fetch round asks these, never every replica it follows."""
        if self.follower.rate is None:
            return []
        return [key for key, behind in self._catching_up.items() if self.broker_id in behind]


def _rate(image: MetadataImage, broker_id: int, name: str) -> int | None:
    found = broker_dynamic_config(image, broker_id, name)
    rate = int(found[0]) if found is not None else UNLIMITED
    return None if rate >= UNLIMITED else rate
