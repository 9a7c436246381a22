"""ElectLeaders (43): preferred and unclean leader elections per partition (KIP-460),
decided by the active controller (kraft/controller/election.py). Needs ALTER on the
cluster, as in Kafka; the answer waits until this broker's image has the new leaders,
so the client's next Metadata request here sees them."""

from __future__ import annotations

from typing import Any, Literal

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.errors import KraftError, error_from_name
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED

ELECTIONS: dict[int, Literal["PREFERRED", "UNCLEAN"]] = {0: "PREFERRED", 1: "UNCLEAN"}


def _every(request, code: int, message: str) -> dict:
    """A whole-request refusal: its code at the top (v1+) and on every partition named."""
    results = [{"topic": t.topic, "partition_result": [
        {"partition_id": p, "error_code": code, "error_message": message} for p in t.partitions]}
        for t in request.topic_partitions or ()]
    return {"throttle_time": 0, "error_code": code, "replica_election_results": results}


async def elect_leaders(node: BrokerServices, ctx: RequestContext, request) -> dict:
    if not ctx.allowed("alter_cluster"):
        return _every(request, CLUSTER_AUTHORIZATION_FAILED, "ALTER on the cluster is not authorized")
    election = ELECTIONS.get(int(getattr(request, "election_type", 0)))  # v0: preferred only
    if election is None:
        return _every(request, error_codes.INVALID_REQUEST, f"unknown election type {request.election_type}")
    wanted = None if request.topic_partitions is None else [
        (t.topic, int(p)) for t in request.topic_partitions for p in t.partitions]
    try:
        result = await node.controller_call(controller_requests.ElectLeaders(election=election, partitions=wanted))
        if "metadata_offset" in result:
            await node.wait_metadata(result["metadata_offset"])
    except KraftError as exc:
        return _every(request, error_codes.code_of(exc), exc.message)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for r in result["results"]:
        code, message = error_codes.NONE, None
        if r["error"] is not None:
            code, message = error_from_name(r["error"], r["message"]).kafka_code, r["message"]
        by_topic.setdefault(r["topic"], []).append(
            {"partition_id": r["partition"], "error_code": code, "error_message": message})
    return {"throttle_time": 0, "error_code": error_codes.NONE,
            "replica_election_results": [{"topic": t, "partition_result": ps} for t, ps in by_topic.items()]}
