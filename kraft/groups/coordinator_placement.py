"""Which node coordinates a group: the leader of one partition of the offsets topic.

As in Kafka: partition = Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions,
with Java's String.hashCode over UTF-16 code units (32-bit signed arithmetic) and
Utils.abs mapping Integer.MIN_VALUE to 0. The same group id therefore lands on the same
partition number as in a Kafka cluster with the same partition count. Pure.
"""

from __future__ import annotations

from kraft.config.topic_names import OFFSETS_TOPIC  # noqa: F401  (defined with the other internal topic)

DEFAULT_OFFSETS_TOPIC_PARTITIONS = 50  # offsets.topic.num.partitions
# The topic is internal, replicated and compacted: the latest commit per
# (group, topic, partition) key and the latest group metadata per group are what survive.
OFFSETS_TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    # small segments: only closed ones are compacted, and a new coordinator replays the rest
    "segment.bytes": str(10 * 1024 * 1024),
}

_INT_MIN = -(2**31)


def java_string_hashcode(s: str) -> int:
    """Java's String.hashCode: h = 31*h + c over UTF-16 code units, as a signed int32."""
    data = s.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - 2**32 if h >= 2**31 else h


def kafka_abs(n: int) -> int:
    """Kafka's Utils.abs: |n|, except Integer.MIN_VALUE -> 0 (Math.abs would stay negative)."""
    return 0 if n == _INT_MIN else abs(n)


def coordinator_partition(group_id: str, offsets_topic_partitions: int = DEFAULT_OFFSETS_TOPIC_PARTITIONS) -> int:
    """The offsets-topic partition whose leader coordinates `group_id`."""
    if offsets_topic_partitions < 1:
        raise ValueError(f"the offsets topic needs at least one partition, got {offsets_topic_partitions} "
                         f"(caller's fault)")
    return kafka_abs(java_string_hashcode(group_id)) % offsets_topic_partitions
