"""DeleteRecords (key 21) and DescribeLogDirs (key 35): the admin APIs about the logs.

DeleteRecords is answered by each partition's leader: it moves the log start (durably),
then waits until every replica on a live broker has taken it (the low watermark), as
Kafka does. Needs DELETE on the topic. DescribeLogDirs answers for this broker's one log
directory: each hosted partition's size and lag, and the volume's total and usable bytes
(v4). Needs DESCRIBE on the cluster.
"""

from __future__ import annotations

import asyncio
import shutil

from kraft.broker.services import BrokerServices
from kraft.kafka import error_codes, session
from kraft.kafka.entities import millis
from kraft.replication.partition_replica import PartitionReplica

CLUSTER_AUTHORIZATION_FAILED = 31
KAFKA_STORAGE_ERROR = 56
NO_LOW_WATERMARK = -1


async def _delete_one(node: BrokerServices, topic: str, want, timeout_ms: int) -> dict:
    index = int(want.partition_index)
    answer = {"partition_index": index, "low_watermark": NO_LOW_WATERMARK, "error_code": error_codes.NONE}
    try:
        session.check(node, "DELETE", "TOPIC", topic)
        answer["low_watermark"] = await node.data_plane.delete_records(topic, index, int(want.offset), timeout_ms,
                                                                       local_only=True)
    except error_codes.REFUSALS as exc:
        answer["error_code"] = error_codes.code_of(exc)
    return answer


async def delete_records(node: BrokerServices, head, request) -> dict:
    timeout_ms = max(0, millis(request.timeout))
    # every partition at once: each waits for its own followers
    answers = await asyncio.gather(*(_delete_one(node, t.name, p, timeout_ms)
                                     for t in request.topics for p in t.partitions))
    topics, at = [], 0
    for t in request.topics:
        topics.append({"name": t.name, "partitions": answers[at:at + len(t.partitions)]})
        at += len(t.partitions)
    return {"throttle_time": 0, "topics": topics}


async def describe_log_dirs(node: BrokerServices, head, request) -> dict:
    answer: dict = {"throttle_time": 0, "error_code": error_codes.NONE, "results": []}
    if not session.allowed(node, "DESCRIBE", "CLUSTER"):
        answer["error_code"] = CLUSTER_AUTHORIZATION_FAILED  # v0-v2 say it by an empty answer
        return answer
    replicas = node.replica_manager
    if replicas is None:
        return answer  # a controller-only node holds no partitions
    wanted = None if request.topics is None else {t.topic: set(map(int, t.partitions)) for t in request.topics}
    total, usable = _volume(replicas.root)
    result = {"error_code": error_codes.NONE, "log_dir": str(replicas.root.resolve()), "topics": [],
              "total_bytes": total, "usable_bytes": usable,
              # v5 (KIP-1066): a cordoned dir takes no new replicas, as a decommissioning broker's
              "is_cordoned": node.node_id in node.image.decommissioning}
    if replicas.disk.failed:  # Kafka answers an offline dir with this code and nothing in it
        result["error_code"] = KAFKA_STORAGE_ERROR
    else:
        result["topics"] = log_dir_topics(list(replicas.hosted), wanted)
    answer["results"] = [result]
    return answer


def log_dir_topics(hosted: list[PartitionReplica], wanted: dict[str, set[int]] | None) -> list[dict]:
    """The hosted partitions (those `wanted` names, or all), by topic, sorted."""
    topics: dict[str, list[dict]] = {}
    for replica in hosted:
        if wanted is not None and replica.partition not in wanted.get(replica.topic, ()):
            continue
        topics.setdefault(replica.topic, []).append({
            "partition_index": replica.partition, "partition_size": replica.log.size_bytes,
            "offset_lag": offset_lag(replica), "is_future_key": False})
    return [{"name": name, "partitions": sorted(parts, key=lambda p: p["partition_index"])}
            for name, parts in sorted(topics.items())]


def offset_lag(replica: PartitionReplica) -> int:
    """How far this replica's log end is behind the partition's high watermark: 0 on the
    leader; on a follower, against the high watermark its leader last reported (Kafka
    measures against the follower's own, which is never ahead of its log end)."""
    hw = replica.high_watermark if replica.is_leader else max(replica.follower_hw, replica.leader_offsets[0])
    return max(hw - replica.log.log_end_offset, 0)


def _volume(path) -> tuple[int, int]:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return -1, -1
    return usage.total, usage.free
