"""The controller quorum on the Kafka listener (KIP-853): DescribeQuorum (55),
AddRaftVoter (80), RemoveRaftVoter (81), as `kafka-metadata-quorum.sh
--bootstrap-server` sends them to a broker, which passes them to the active controller.

kraft has no directory ids (KIP-853's voter key is id + directory): the answers carry
the zero id, and the id a request names is not checked. AddRaftVoter's listeners are
not needed: the new voter's Raft address is the one it announced as an observer.
"""

from __future__ import annotations

import uuid
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.errors import KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED, INCONSISTENT_CLUSTER_ID, NOT_LEADER_OR_FOLLOWER

METADATA_TOPIC = "__cluster_metadata"  # Kafka's name for the Raft log's one partition
NO_DIRECTORY = uuid.UUID(int=0)


async def describe_quorum(node: BrokerServices, ctx: RequestContext, request) -> dict:
    if not ctx.allowed("describe_cluster"):
        return _refused(CLUSTER_AUTHORIZATION_FAILED, "DESCRIBE on the cluster is not authorized")
    asked = [(t.topic_name, int(p.partition_index)) for t in request.topics for p in t.partitions]
    if asked != [(METADATA_TOPIC, 0)]:
        return _refused(error_codes.INVALID_REQUEST, f"only {METADATA_TOPIC} partition 0 has a quorum")
    q = await node.quorum_description()
    leader = q["leader_id"]
    if leader is None or q.get("answered_by") != leader:  # only the leader knows the others' progress
        partition = {"partition_index": 0, "error_code": NOT_LEADER_OR_FOLLOWER,
                     "error_message": "no quorum leader answered", "leader_id": -1, "leader_epoch": -1,
                     "high_watermark": -1, "current_voters": [], "observers": []}
    else:
        partition = {"partition_index": 0, "error_code": error_codes.NONE, "error_message": None,
                     "leader_id": leader, "leader_epoch": q["leader_epoch"], "high_watermark": q["high_watermark"],
                     "current_voters": [_replica(v) for v in q["voters"]],
                     "observers": [_replica(o) for o in q["observers"] if o.get("kind") == "controller"]}
    nodes = []
    for v in q["voters"]:
        if v.get("raft_address"):
            host, port = v["raft_address"].rsplit(":", 1)
            nodes.append({"node_id": v["node_id"], "listeners": [{"name": "CONTROLLER", "host": host,
                                                                  "port": int(port)}]})
    return {"error_code": error_codes.NONE, "error_message": None, "nodes": nodes,
            "topics": [{"topic_name": METADATA_TOPIC, "partitions": [partition]}]}


def _replica(seat: dict[str, Any]) -> dict[str, Any]:
    caught_up = seat.get("last_caught_up_ms")
    return {"replica_id": seat["node_id"], "replica_directory_id": NO_DIRECTORY,
            "log_end_offset": seat["log_end_offset"],
            "last_fetch_timestamp": caught_up if caught_up is not None else -1,
            "last_caught_up_timestamp": caught_up if caught_up is not None else -1}


def _refused(code: int, message: str) -> dict:
    return {"error_code": code, "error_message": message, "topics": [], "nodes": []}


async def add_raft_voter(node: BrokerServices, ctx: RequestContext, request) -> dict:
    return await _change(node, ctx, request, controller_requests.AddVoter)


async def remove_raft_voter(node: BrokerServices, ctx: RequestContext, request) -> dict:
    return await _change(node, ctx, request, controller_requests.RemoveVoter)


async def _change(node: BrokerServices, ctx: RequestContext, request, request_class) -> dict:
    if not ctx.allowed("alter_cluster"):
        return _answer(CLUSTER_AUTHORIZATION_FAILED, "ALTER on the cluster is not authorized")
    if request.cluster_id is not None and request.cluster_id != node.cluster_id:
        return _answer(INCONSISTENT_CLUSTER_ID, f"this is cluster {node.cluster_id}, not {request.cluster_id}")
    try:
        await node.controller_call(request_class(node_id=int(request.voter_id)))
    except KraftError as exc:
        return _answer(error_codes.code_of(exc), exc.message)
    return _answer(error_codes.NONE, None)


def _answer(code: int, message: str | None) -> dict:
    return {"throttle_time": 0, "error_code": code, "error_message": message}
