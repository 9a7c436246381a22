"""AlterPartitionReassignments (45) and ListPartitionReassignments (46): the same replica
moves as the REST API's .../reassignment, through the same controller operation
(kraft/controller/reassignment.py). Changing needs ALTER on the cluster, listing
DESCRIBE, as in Kafka."""

from __future__ import annotations

from typing import Any

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.controller.reassignment import in_progress
from kraft.errors import InvalidValue, KraftError, NotFound, ReplicationFactorChange, TopicNotFound
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import (
    CLUSTER_AUTHORIZATION_FAILED,
    INVALID_REPLICA_ASSIGNMENT,
    NO_REASSIGNMENT_IN_PROGRESS,
)



def _code(exc: KraftError) -> int:
    if isinstance(exc, NotFound) and not isinstance(exc, TopicNotFound):
        return NO_REASSIGNMENT_IN_PROGRESS
    if isinstance(exc, ReplicationFactorChange):
        return exc.kafka_code
    if isinstance(exc, InvalidValue):
        return INVALID_REPLICA_ASSIGNMENT
    return error_codes.code_of(exc)


async def alter(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": 0, "error_message": None, "responses": []}
    if not ctx.allowed("alter_cluster"):
        answer.update(error_code=CLUSTER_AUTHORIZATION_FAILED, error_message="ALTER on the cluster is not authorized")
        return answer
    allow_rf_change = bool(getattr(request, "allow_replication_factor_change", True))  # v1 (KIP-860)
    for topic in request.topics:
        parts = []
        for p in topic.partitions:
            replicas = None if p.replicas is None else [int(b) for b in p.replicas]
            try:
                result = await node.controller_call(controller_requests.Reassign(
                    topic=topic.name, partition=int(p.partition_index), replicas=replicas,
                    allow_rf_change=allow_rf_change))
                await node.wait_metadata(result.get("metadata_offset", 0))
                parts.append({"partition_index": p.partition_index, "error_code": 0, "error_message": None})
            except KraftError as exc:
                parts.append({"partition_index": p.partition_index, "error_code": _code(exc),
                              "error_message": str(exc)})
        answer["responses"].append({"name": topic.name, "partitions": parts})
    return answer


async def list_reassignments(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": 0, "error_message": None, "topics": []}
    if not ctx.allowed("describe_cluster"):
        answer.update(error_code=CLUSTER_AUTHORIZATION_FAILED, error_message="DESCRIBE on the cluster is not authorized")
        return answer
    wanted = None if request.topics is None else {t.name: set(t.partition_indexes) for t in request.topics}
    by_topic: dict[str, list] = {}
    for name, index, part in in_progress(node.image):
        if wanted is not None and index not in wanted.get(name, ()):
            continue
        by_topic.setdefault(name, []).append({"partition_index": index, "replicas": list(part.replicas),
                                              "adding_replicas": list(part.adding),
                                              "removing_replicas": list(part.removing)})
    answer["topics"] = [{"name": n, "partitions": ps} for n, ps in by_topic.items()]
    return answer
