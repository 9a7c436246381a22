"""DescribeClientQuotas (48) and AlterClientQuotas (49): Kafka's client quotas
(`kafka-configs.sh --entity-type users/clients`), kept in the metadata log and enforced
by every broker (kafka/connection/quota_enforcement.py, broker/client_quotas.py).

Describing needs DESCRIBE_CONFIGS on the cluster, altering ALTER_CONFIGS, as in Kafka.
An alteration answers once every node that answers has it."""

from __future__ import annotations

from typing import Any

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.errors import KraftError, error_from_name
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.metadata.client_quotas import entity_of, filter_problem, matching
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED



def _entity_view(entity) -> list[dict[str, Any]]:
    return [{"entity_type": t, "entity_name": n} for t, n in entity]


async def describe(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "error_message": None,
                              "entries": []}
    if not ctx.allowed("describe_cluster_configs"):
        answer.update(error_code=CLUSTER_AUTHORIZATION_FAILED, entries=None,
                      error_message="DESCRIBE_CONFIGS on the cluster is not authorized")
        return answer
    components = [(c.entity_type, int(c.match_type), c.match) for c in request.components]
    if (problem := filter_problem(components)) is not None:
        answer.update(error_code=error_codes.INVALID_REQUEST, error_message=problem, entries=None)
        return answer
    quotas = node.image.client_quotas
    answer["entries"] = [{"entity": _entity_view(entity),
                          "values": [{"key": k, "value": float(v)} for k, v in sorted(quotas[entity].items())]}
                         for entity in matching(quotas, components, bool(request.strict))]
    return answer


async def alter(node: BrokerServices, ctx: RequestContext, request) -> dict:
    entities = [entity_of((e.entity_type, e.entity_name) for e in entry.entity) for entry in request.entries]
    if not ctx.allowed("alter_cluster_configs"):
        return {"throttle_time": 0, "entries": [
            {"error_code": CLUSTER_AUTHORIZATION_FAILED, "error_message": "ALTER_CONFIGS on the cluster is not authorized",
             "entity": _entity_view(entity)} for entity in entities]}
    entries = [controller_requests.QuotaEntry(
        entity=list(entity),
        ops=[controller_requests.QuotaChange(key=op.key, value=None if op.remove else float(op.value))
             for op in entry.ops]) for entity, entry in zip(entities, request.entries)]
    try:
        result = await node.controller_call(controller_requests.AlterClientQuotas(
            entries=entries, validate_only=bool(request.validate_only)))
        if "metadata_offset" in result:
            await node.wait_metadata_everywhere(result["metadata_offset"])
    except KraftError as exc:
        return {"throttle_time": 0, "entries": [
            {"error_code": error_codes.code_of(exc), "error_message": exc.message, "entity": _entity_view(entity)}
            for entity in entities]}
    return {"throttle_time": 0, "entries": [
        {"error_code": error_from_name(r["error"], r["message"]).kafka_code if r["error"] else error_codes.NONE,
         "error_message": r["message"], "entity": _entity_view(tuple(tuple(p) for p in r["entity"]))}
        for r in result["results"]]}
