"""DeleteRecords (key 21), AlterReplicaLogDirs (34) and DescribeLogDirs (35): the admin
APIs about the logs.

DeleteRecords is answered by each partition's leader: it moves the log start (durably),
then waits until every replica on a live broker has taken it (the low watermark), as
Kafka does. Needs DELETE on the topic. DescribeLogDirs answers for this broker's one log
directory: each hosted partition's size and lag, and the volume's total and usable bytes
(v4). Needs DESCRIBE on the cluster. AlterReplicaLogDirs moves replicas between a
broker's log dirs; a kraft broker has one, so the only move it takes is a replica it hosts
to the dir it is in (a no-op answered NONE, as Kafka answers it); needs ALTER on the
cluster.
"""

from __future__ import annotations

import asyncio
import os
import shutil

from kraft.broker.services import BrokerServices
from kraft.kafka.wire import error_codes
from kraft.kafka.wire.entities import millis
from kraft.kafka.connection.request_context import RequestContext
from kraft.replication.partition_replica import PartitionReplica
from kraft.errors.kafka_codes import (
    CLUSTER_AUTHORIZATION_FAILED,
    KAFKA_STORAGE_ERROR,
    LOG_DIR_NOT_FOUND,
    REPLICA_NOT_AVAILABLE,
)

NO_LOW_WATERMARK = -1


async def _delete_one(node: BrokerServices, ctx: RequestContext, topic: str, want, timeout_ms: int) -> dict:
    index = int(want.partition_index)
    answer = {"partition_index": index, "low_watermark": NO_LOW_WATERMARK, "error_code": error_codes.NONE}
    try:
        ctx.check("delete_records", topic)
        answer["low_watermark"] = await node.data_plane.delete_records(topic, index, int(want.offset), timeout_ms,
                                                                       local_only=True)
    except error_codes.REFUSALS as exc:
        answer["error_code"] = error_codes.code_of(exc)
    return answer


async def delete_records(node: BrokerServices, ctx: RequestContext, request) -> dict:
    timeout_ms = max(0, millis(request.timeout))
    # every partition at once: each waits for its own followers
    answers = await asyncio.gather(*(_delete_one(node, ctx, t.name, p, timeout_ms)
                                     for t in request.topics for p in t.partitions))
    topics, at = [], 0
    for t in request.topics:
        topics.append({"name": t.name, "partitions": answers[at:at + len(t.partitions)]})
        at += len(t.partitions)
    return {"throttle_time": 0, "topics": topics}


async def describe_log_dirs(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict = {"throttle_time": 0, "error_code": error_codes.NONE, "results": []}
    if not ctx.allowed("describe_cluster"):
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


async def alter_replica_log_dirs(node: BrokerServices, ctx: RequestContext, request) -> dict:
    allowed = ctx.allowed("alter_cluster")
    replicas = node.replica_manager
    own = _own_dir_names(replicas.root) if replicas is not None else frozenset()
    codes: dict[str, dict[int, int]] = {}  # a partition named under two dirs: the last one counts, as in Kafka
    for wanted in request.dirs:
        for topic in wanted.topics:
            for partition in map(int, topic.partitions):
                hosted = replicas is not None and replicas.hosted.named(topic.name, partition) is not None
                code = log_dir_move_error(own, wanted.path, replicas is not None and replicas.disk.failed, hosted)
                codes.setdefault(topic.name, {})[partition] = code if allowed else CLUSTER_AUTHORIZATION_FAILED
    return {"throttle_time": 0, "results": [
        {"topic_name": name, "partitions": [{"partition_index": p, "error_code": c} for p, c in parts.items()]}
        for name, parts in codes.items()]}


def _own_dir_names(root) -> frozenset[str]:
    """The names a client may give this broker's log dir: as DescribeLogDirs shows it, or as configured."""
    return frozenset({str(root.resolve()), os.path.abspath(root)})


def log_dir_move_error(own_dirs: frozenset[str], destination: str, dir_failed: bool, hosted: bool) -> int:
    """What moving one replica to `destination` answers, in Kafka's order of checks: a dir
    that is not this broker's, a failed dir, a replica this broker does not host."""
    if os.path.normpath(destination) not in own_dirs:  # a relative path never names it
        return LOG_DIR_NOT_FOUND
    if dir_failed:
        return KAFKA_STORAGE_ERROR
    if not hosted:
        return REPLICA_NOT_AVAILABLE
    return error_codes.NONE  # already there: nothing to move


def log_dir_topics(hosted: list[PartitionReplica], wanted: dict[str, set[int]] | None) -> list[dict]:
    """The hosted partitions (those `wanted` names, or all), by topic, sorted."""
    topics: dict[str, list[dict]] = {}
    for replica in hosted:
        if wanted is not None and replica.partition not in wanted.get(replica.topic, ()):
            continue
        topics.setdefault(replica.topic, []).append({
            "partition_index": replica.partition, "partition_size": replica.size_bytes,
            "offset_lag": offset_lag(replica), "is_future_key": False})
    return [{"name": name, "partitions": sorted(parts, key=lambda p: p["partition_index"])}
            for name, parts in sorted(topics.items())]


def offset_lag(replica: PartitionReplica) -> int:
    """How far this replica's log end is behind the partition's high watermark: 0 on the
    leader; on a follower, against the high watermark its leader last reported (Kafka
    measures against the follower's own, which is never ahead of its log end)."""
    hw = replica.high_watermark if replica.is_leader else max(replica.follower_hw, replica.leader_offsets[0])
    return max(hw - replica.log_end_offset, 0)


def _volume(path) -> tuple[int, int]:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return -1, -1
    return usage.total, usage.free
