"""The groups of the offsets partitions this node leads, of every kind, and the rules that
span the kinds.

A group id is one group at a time: REST consumer instances (rest_instance_group.py),
Kafka clients of the classic protocol (kafka_client_group.py) or a KIP-848 consumer
group (consumer_group.py, hosted by consumer_group_host.py). The offsets partition's
shard (`OffsetsShard`) holds its committed offsets (offset_store.py); the groups live
here, keyed by group id, and leave with their partition (`unload`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from kraft.config.cluster import GroupSettings
from kraft.coordinator.runtime import CoordinatorRuntime
from kraft.errors import CoordinatorNotAvailable, InconsistentGroupProtocol, NotCoordinator
from kraft.groups.consumer_group import ConsumerGroup, GroupConfig
from kraft.groups.consumer_group_host import ConsumerGroupHost
from kraft.groups.coordinator_placement import coordinator_partition
from kraft.groups.group_deletion import Membership
from kraft.groups.group_member import GroupConfig as ClassicGroupConfig
from kraft.groups.kafka_client_group import KafkaClientGroup
from kraft.groups.offset_store import OffsetCache
from kraft.groups.rest_instance_group import RestInstanceGroup
from kraft.metadata.image import MetadataImage
from kraft.storage.record import Record
from kraft.config.topic_names import is_internal_topic


T = TypeVar("T")


def client_topic_counts(image: MetadataImage) -> dict[str, int]:
    """The partition count of every topic a group's members may consume (not internal)."""
    return {t.name: len(t.partitions) for t in image.topics.values() if not is_internal_topic(t.name)}


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class OffsetsShard:
    """One offsets partition this node leads: its committed offsets, as its log holds them."""

    def __init__(self, leader_epoch: int, cache: OffsetCache):
        self.leader_epoch = leader_epoch
        self.cache = cache

    def replay(self, record: Record, producer_id: int) -> None:
        """One record of a data batch, in log order, as a load replays it (offset_store.replay_batch)."""
        self.cache.replay(record, producer_id)


class LoadedGroups:
    def __init__(self, node_id: int, settings: GroupSettings, image: Callable[[], MetadataImage],
                 runtime: CoordinatorRuntime[OffsetsShard]):
        self.node_id = node_id
        self.settings = settings
        self.image = image
        self.runtime = runtime
        self.rest: dict[str, RestInstanceGroup] = {}  # groups of REST consumer instances
        self.clients: dict[str, KafkaClientGroup] = {}  # classic groups of Kafka protocol clients
        self.consumer_groups = ConsumerGroupHost(self.consumer_group_config, self.cache_of, self.write_group,
                                                 mono_ms, wall_ms)
        self.deleting: set[str] = set()  # no member may join them until their tombstones are written
        self.topic_counts: dict[str, int] = {}  # client topics' partition counts, as groups last heard
        self.prefix = uuid.uuid4().hex[:8] + "."  # member ids never repeat across incarnations

    # -- where a group's offsets are -------------------------------------------------------
    def cache_of(self, group_id: str) -> OffsetCache:
        loaded = self.runtime.loaded(group_id)
        if loaded is None:
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} no longer coordinates group "
                                 f"{group_id!r}; retry")
        return loaded[1].cache

    def offsets_partition_of(self, group_id: str) -> int:
        p = self.runtime.partition_of(group_id)
        if p is None:  # cache_of found the partition loaded, so the topic exists
            raise NotCoordinator("NOT_COORDINATOR: the offsets topic is gone; retry")
        return p

    def of_partition(self, p: int) -> Callable[[str], bool]:
        """Does a group id belong to offsets partition p (every id does without the topic)?"""
        count = self.runtime.partition_count()
        return lambda group_id: count is None or coordinator_partition(group_id, count) == p

    async def write_group(self, group_id: str, operation: Callable[[OffsetCache], tuple[list[Record], T]],
                          settle: bool = True) -> T:
        """A write of the runtime to the group's offsets partition (consumer_group_host.WriteGroup)."""
        return await self.runtime.write(self.offsets_partition_of(group_id), lambda shard: operation(shard.cache),
                                        name=f"group-{group_id}", settle=settle)

    def current_topic_counts(self) -> dict[str, int]:
        """Every client topic's partition count, as the image shows it now."""
        return client_topic_counts(self.image())

    # -- configs -------------------------------------------------------------------------------
    def classic_config(self) -> ClassicGroupConfig:
        return ClassicGroupConfig(initial_rebalance_delay_ms=self.settings.initial_rebalance_delay_ms,
                                  max_size=self.settings.classic_max_size)

    def consumer_group_config(self) -> GroupConfig:
        session, interval, assignors = self.settings.consumer_group_config()
        return GroupConfig(session, interval, assignors, self.settings.consumer_max_size)

    # -- one kind of group per id ---------------------------------------------------------------
    def refuse_deleting(self, group_id: str) -> None:
        if group_id in self.deleting:  # as Kafka answers a join to a group turning Dead
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: group {group_id!r} is being deleted; retry")

    def refuse_consumer_group(self, group_id: str) -> None:
        """REST instances may not join a consumer group that has members (JoinGroup
        members join it through classic_join instead); an empty one becomes a classic group."""
        consumer_group = self.consumer_groups.get(group_id)
        if consumer_group is not None and not consumer_group.empty:
            raise InconsistentGroupProtocol(f"INCONSISTENT_GROUP_PROTOCOL: group {group_id!r} is a consumer group "
                                            "(KIP-848) with members: classic members cannot join it")

    def classic_members(self, group_id: str) -> bool:
        rest, clients = self.rest.get(group_id), self.clients.get(group_id)
        return bool((rest is not None and rest.instances) or (clients is not None and not clients.empty))

    def consumer_group(self, group_id: str) -> ConsumerGroup | None:
        """The KIP-848 group of that id loaded here; None when it is not one now (an empty
        consumer group whose id classic members use is theirs)."""
        if self.classic_members(group_id):
            return None
        return self.consumer_groups.get(group_id)

    def membership(self, group_id: str) -> Membership:
        """Its members and the topics they consume, as deletion decides on them."""
        consumer_group = self.consumer_groups.get(group_id)
        if consumer_group is not None and not consumer_group.empty:
            counts = self.current_topic_counts()
            topics = {t for m in consumer_group.members.values() for t in consumer_group.subscribed_topics(m, counts)}
            topics |= {t for m in consumer_group.members.values() for t, _ in m.owns()}
            return Membership(len(consumer_group.members), frozenset(topics))
        rest = self.rest.get(group_id)
        if rest is not None and rest.instances:
            existing = list(self.topic_counts)
            topics = {t for i in rest.instances.values() for t in i.wanted_topics(existing)}
            topics |= {t for i in rest.instances.values() for t, _ in i.owned}
            return Membership(len(rest.instances), frozenset(topics))
        clients = self.clients.get(group_id)
        if clients is None or clients.empty:
            return Membership()
        members = clients.members()
        if clients.coordinator.protocol_type not in (None, "consumer"):
            return Membership(max(1, len(members)), None)
        topics = {t for mid in clients.coordinator.members for t in clients.coordinator.member(mid).topics}
        topics |= {t for m in members for t, _ in m["assignment"]}
        return Membership(max(1, len(members)), frozenset(topics))

    # -- following the topics and the partitions ------------------------------------------------
    def topics_changed(self, counts: dict[str, int]) -> None:
        if counts == self.topic_counts:
            return
        self.topic_counts = counts
        now = mono_ms()
        for group in self.rest.values():
            group.topics_changed(counts, now)
        for kafka_client_group in self.clients.values():
            kafka_client_group.topics_changed(counts, now)

    def unload(self, belongs: Callable[[str], bool]) -> list[str]:
        """Every group for which belongs(group_id) leaves this node; the REST groups gone."""
        rest_gone = [g for g in self.rest if belongs(g)]
        for gid in rest_gone:
            self.rest.pop(gid).unload()
        for gid in [g for g in self.clients if belongs(g)]:
            self.clients.pop(gid).unload()
        self.consumer_groups.unload(belongs)
        return rest_gone
