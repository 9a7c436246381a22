"""The partition replicas this broker hosts, found by topic id or by topic name.

Kafka's ReplicaManager.allPartitions: the one table every part of the replica manager
reads. Keyed by (topic id, partition), as metadata and fetches name partitions; the
by-name view serves produce and reads, and the by-topic one what a metadata delta names
(its cost follows the topics that changed, not the thousands hosted); both follow every
add and remove.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kraft.replication.partition_replica import PartitionReplica

Key = tuple[str, int]  # (topic id, partition)


class HostedReplicas:
    def __init__(self) -> None:
        self.by_id: dict[Key, PartitionReplica] = {}
        self._by_name: dict[tuple[str, int], PartitionReplica] = {}
        self._by_topic: dict[str, set[int]] = {}  # topic id -> its partitions hosted here

    def get(self, key: Key) -> PartitionReplica | None:
        return self.by_id.get(key)

    def named(self, topic: str, partition: int) -> PartitionReplica | None:
        return self._by_name.get((topic, partition))

    def keys_of(self, topic_ids: Iterable[str]) -> list[Key]:
        """The hosted partitions of these topics."""
        return [(t, p) for t in topic_ids for p in self._by_topic.get(t, ())]

    def add(self, replica: PartitionReplica) -> None:
        self.by_id[(replica.topic_id, replica.partition)] = replica
        self._by_name[(replica.topic, replica.partition)] = replica
        self._by_topic.setdefault(replica.topic_id, set()).add(replica.partition)

    def pop(self, key: Key) -> PartitionReplica:
        replica = self.by_id.pop(key)
        partitions = self._by_topic.get(key[0])
        if partitions is not None:
            partitions.discard(key[1])
            if not partitions:
                del self._by_topic[key[0]]
        # a re-created topic of the same name may already hold the name
        if self._by_name.get((replica.topic, replica.partition)) is replica:
            del self._by_name[(replica.topic, replica.partition)]
        return replica

    def __iter__(self) -> Iterator[PartitionReplica]:
        """A snapshot: callers may await between replicas while the table changes."""
        return iter(list(self.by_id.values()))

    def __len__(self) -> int:
        return len(self.by_id)

    def clear(self) -> None:
        self.by_id.clear()
        self._by_name.clear()
        self._by_topic.clear()
