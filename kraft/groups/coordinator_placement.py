"""Which node coordinates a group: the leader of one partition of the offsets topic.

As in Kafka: partition = Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions
(kraft/coordinator/placement.py), so the same group id lands on the same partition
number as in a Kafka cluster with the same partition count. Pure.
"""

from __future__ import annotations

# re-exported: defined with the other internal topic
from kraft.config.topic_names import OFFSETS_TOPIC as OFFSETS_TOPIC
from kraft.coordinator.placement import key_partition

DEFAULT_OFFSETS_TOPIC_PARTITIONS = 50  # offsets.topic.num.partitions
# The topic is internal, replicated and compacted: the latest commit per
# (group, topic, partition) key and the latest group metadata per group are what survive.
OFFSETS_TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    # small segments: only closed ones are compacted, and a new coordinator replays the rest
    "segment.bytes": str(10 * 1024 * 1024),
}


def coordinator_partition(group_id: str, offsets_topic_partitions: int = DEFAULT_OFFSETS_TOPIC_PARTITIONS) -> int:
    """The offsets-topic partition whose leader coordinates `group_id`."""
    if offsets_topic_partitions < 1:
        raise ValueError(f"the offsets topic needs at least one partition, got {offsets_topic_partitions} "
                         f"(caller's fault)")
    return key_partition(group_id, offsets_topic_partitions)
