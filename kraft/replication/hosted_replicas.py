"""The partition replicas this broker hosts, found by topic id or by topic name.

Kafka's ReplicaManager.allPartitions: the one table every part of the replica manager
reads. Keyed by (topic id, partition), as metadata and fetches name partitions; the
by-name view serves produce and reads, and follows every add and remove.
"""

from __future__ import annotations

from collections.abc import Iterator

from kraft.replication.partition_replica import PartitionReplica

Key = tuple[str, int]  # (topic id, partition)


class HostedReplicas:
    def __init__(self) -> None:
        self.by_id: dict[Key, PartitionReplica] = {}
        self._by_name: dict[tuple[str, int], PartitionReplica] = {}

    def get(self, key: Key) -> PartitionReplica | None:
        return self.by_id.get(key)

    def named(self, topic: str, partition: int) -> PartitionReplica | None:
        return self._by_name.get((topic, partition))

    def add(self, replica: PartitionReplica) -> None:
        self.by_id[(replica.topic_id, replica.partition)] = replica
        self._by_name[(replica.topic, replica.partition)] = replica

    def pop(self, key: Key) -> PartitionReplica:
        replica = self.by_id.pop(key)
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
