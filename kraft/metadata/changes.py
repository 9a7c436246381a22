"""What changed between two published images: names and ids, not values.

Kafka's metadata consumers get (delta, new image); here the delta's replay notes what
each record touched, the state machine accumulates those notes across batches until a
consumer takes them with the image they lead to, and the consumer reads the values
from that image. A jump to a full image (a snapshot restored, a broker too far behind
taking the controllers' image) relates to nothing before it: that is EVERYTHING.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetadataChanges:
    everything: bool = False  # a full-image jump: the sets below say nothing then
    topics: frozenset[str] = frozenset()  # ids of topics created, removed or with a partition changed
    partitions: frozenset[tuple[str, int]] = frozenset()  # (topic id, index) created or changed
    brokers: frozenset[int] = frozenset()  # registered, or their registration changed
    topic_configs: frozenset[str] = frozenset()  # names of topics whose overrides changed
    cluster_configs: frozenset[str] = frozenset()  # names of cluster-wide (or a broker's own) configs changed
    users: frozenset[str] = frozenset()  # SCRAM credentials added or removed
    acls: bool = False
    controller: bool = False
    producer_ids: bool = False

    def merge(self, later: MetadataChanges) -> MetadataChanges:
        """Both, as one set of changes (what a consumer that missed `self` must see)."""
        if self.everything or later.everything:
            return EVERYTHING
        return MetadataChanges(
            topics=self.topics | later.topics,
            partitions=self.partitions | later.partitions,
            brokers=self.brokers | later.brokers,
            topic_configs=self.topic_configs | later.topic_configs,
            cluster_configs=self.cluster_configs | later.cluster_configs,
            users=self.users | later.users,
            acls=self.acls or later.acls,
            controller=self.controller or later.controller,
            producer_ids=self.producer_ids or later.producer_ids,
        )


NOTHING = MetadataChanges()
EVERYTHING = MetadataChanges(everything=True)


@dataclass
class ChangeNotes:
    """Changes being collected: by MetadataDelta's replay within a batch, and by the
    state machine across batches (sets updated in place, so a burst costs no copies)."""

    topics: set[str] = field(default_factory=set)
    partitions: set[tuple[str, int]] = field(default_factory=set)
    brokers: set[int] = field(default_factory=set)
    topic_configs: set[str] = field(default_factory=set)
    cluster_configs: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    acls: bool = False
    controller: bool = False
    producer_ids: bool = False

    def partition(self, topic_id: str, index: int) -> None:
        self.topics.add(topic_id)
        self.partitions.add((topic_id, index))

    def add(self, changes: MetadataChanges) -> None:
        assert not changes.everything, "a full-image jump is not a set of names"
        self.topics |= changes.topics
        self.partitions |= changes.partitions
        self.brokers |= changes.brokers
        self.topic_configs |= changes.topic_configs
        self.cluster_configs |= changes.cluster_configs
        self.users |= changes.users
        self.acls |= changes.acls
        self.controller |= changes.controller
        self.producer_ids |= changes.producer_ids

    def size(self) -> int:
        return len(self.topics) + len(self.partitions)

    def frozen(self) -> MetadataChanges:
        return MetadataChanges(
            topics=frozenset(self.topics), partitions=frozenset(self.partitions),
            brokers=frozenset(self.brokers), topic_configs=frozenset(self.topic_configs),
            cluster_configs=frozenset(self.cluster_configs), users=frozenset(self.users),
            acls=self.acls, controller=self.controller, producer_ids=self.producer_ids,
        )
