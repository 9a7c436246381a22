"""A node's share groups: the membership of the groups it coordinates and the
share-partitions of the partitions it leads, with their share fetch sessions.

Each group's settings are its group configs over the broker's (kraft.config.group_configs),
read at each use, so a change applies at once. The state lives in this node's memory: a
share-partition belongs to the leader epoch it was made in and starts again (where
`share.auto.offset.reset` says) when leadership moves; a group's membership starts again when its coordinator moves,
and its members join again. Locks and sessions run out when they are next looked at,
so no timer task is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kraft.config.cluster_tables import GroupSettings
from kraft.config.group_configs import effective
from kraft.metadata.image import MetadataImage
from kraft.replication.partition_replica import PartitionReplica
from kraft.share.share_group import HeartbeatAnswer, Refusal, ShareGroup
from kraft.share.share_partition import Ack, Acquired, Batch, SharePartition
from kraft.share.share_sessions import ShareSessions
from kraft.storage.record_batch import BatchHeader

MAX_SHARE_SESSIONS = 2000  # Kafka's group.share.max.share.sessions

PartitionKey = tuple[str, str, int]  # (group, topic, partition)


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


@dataclass
class _Held:
    leader_epoch: int
    partition: SharePartition


@dataclass(frozen=True)
class Fetched:
    records: bytes
    acquired: list[Acquired]


class ShareBroker:
    def __init__(self, settings: GroupSettings, image: Callable[[], MetadataImage],
                 clock_ms: Callable[[], int] = mono_ms):
        self.settings = settings
        self._image = image
        self._clock = clock_ms
        self.groups: dict[str, ShareGroup] = {}
        self.partitions: dict[PartitionKey, _Held] = {}
        self.sessions = ShareSessions(MAX_SHARE_SESSIONS, settings.share_session_timeout_ms)

    def now_ms(self) -> int:
        return self._clock()

    def config(self, group_id: str) -> dict[str, str]:
        """The group's effective configs."""
        own = self._image().group_configs.get(group_id, {})
        return {name: value for name, (value, _) in effective(own, self.settings).items()}

    def heartbeat_interval_ms(self, group_id: str) -> int:
        return int(self.config(group_id)["share.heartbeat.interval.ms"])

    # -- the coordinator's part: membership --------------------------------------------
    def partition_count(self, topic: str) -> int | None:
        found = self._image().topic(topic)
        return None if found is None else len(found.partitions)

    def heartbeat(self, group_id: str, member_id: str, member_epoch: int, topics: tuple[str, ...] | None,
                  client_id: str, rack_id: str | None) -> HeartbeatAnswer | Refusal:
        now = self.now_ms()
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = ShareGroup(group_id, self.settings.share_max_size)
        group.expire(now, int(self.config(group_id)["share.session.timeout.ms"]), self.partition_count)
        answer = group.heartbeat(member_id, member_epoch, topics, client_id, rack_id, now, self.partition_count)
        if not group.members:
            del self.groups[group_id]
        return answer

    def group(self, group_id: str) -> ShareGroup | None:
        group = self.groups.get(group_id)
        if group is not None:
            group.expire(self.now_ms(), int(self.config(group_id)["share.session.timeout.ms"]), self.partition_count)
        return group

    # -- the partition leader's part: records in flight ----------------------------------
    def share_partition(self, key: PartitionKey, replica: PartitionReplica) -> SharePartition:
        """The group's share-partition for this leader replica: made at the replica's
        high watermark the first time (latest), made anew when the leader epoch moved."""
        config = self.config(key[0])
        held = self.partitions.get(key)
        if held is None or held.leader_epoch != replica.leader_epoch:
            log_start, hw = replica.readable_range()
            begin = log_start if config["share.auto.offset.reset"] == "earliest" else hw
            held = self.partitions[key] = _Held(replica.leader_epoch, SharePartition(
                begin, 0, 0, self.settings.share_partition_max_record_locks))
        held.partition.lock_ms = int(config["share.record.lock.duration.ms"])
        held.partition.delivery_limit = int(config["share.delivery.count.limit"])
        start, _ = replica.readable_range()
        held.partition.log_start_moved(start)
        held.partition.expire_locks(self.now_ms())
        return held.partition

    def acknowledge(self, key: PartitionKey, replica: PartitionReplica, member_id: str, acks: list[Ack],
                    renew_allowed: bool) -> None:
        self.share_partition(key, replica).acknowledge(member_id, acks, self.now_ms(), renew_allowed)

    def acquire(self, key: PartitionKey, replica: PartitionReplica, member_id: str, max_records: int,
                max_bytes: int) -> Fetched:
        """Records for `member_id` from this leader's log (below its high watermark)."""
        partition = self.share_partition(key, replica)
        offset = partition.fetch_offset()
        _, hw = replica.readable_range()
        if offset is None or offset >= hw or max_records <= 0:
            return Fetched(b"", [])
        data = replica.read_below(offset, max_bytes, hw)
        batches, ends = _batches(data)
        acquired = partition.acquire(member_id, batches, max_records, self.now_ms())
        if not acquired:
            return Fetched(b"", [])
        last = acquired[-1].last_offset  # batches past the last acquired record are not sent
        cut = next((end for batch, end in zip(batches, ends) if batch.last_offset >= last), len(data))
        return Fetched(data[:cut], acquired)

    def release_member(self, group_id: str, member_id: str, partitions: Iterable[tuple[str, int]]) -> None:
        """The member's share session closed: what it holds on these partitions goes back."""
        for topic, index in partitions:
            held = self.partitions.get((group_id, topic, index))
            if held is not None:
                held.partition.release_member(member_id)

    def next_lock_deadline(self, keys: Iterable[PartitionKey]) -> int | None:
        deadlines = [d for key in keys if (held := self.partitions.get(key)) is not None
                     and (d := held.partition.next_lock_deadline()) is not None]
        return min(deadlines) if deadlines else None


def _batches(data: bytes) -> tuple[list[Batch], list[int]]:
    """Each batch's offsets and the byte where it ends (the log checked them when it read them)."""
    batches, ends, pos = [], [], 0
    while pos < len(data):
        header = BatchHeader.parse(data, pos)
        pos += header.size
        batches.append(Batch(header.base_offset, header.last_offset, header.is_control))
        ends.append(pos)
    return batches, ends
