"""DescribeAcls (29), CreateAcls (30), DeleteAcls (31): the same ACLs as the REST API's
/acls, through the same controller operations, with Kafka's numeric enums on the wire.
Describing needs DESCRIBE on the cluster, changing ALTER on the cluster, as in Kafka; a
change answers once every node that answers has it, as over REST.

Kafka's wire has no code for the registry's SUBJECT resource type: this door takes no
SUBJECT binding (an unknown type code is an invalid ACL, as any other unknown code),
leaves SUBJECT bindings out of DescribeAcls, and its DeleteAcls, even with resource type
ANY, deletes only Kafka's four types. SUBJECT ACLs are managed over REST (v3 /acls).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.errors import KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.security.acls import KAFKA_RESOURCE_TYPES, AclBinding, AclFilter, binding_from, filter_from
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED

RESOURCE_TYPES = {1: "ANY", 2: "TOPIC", 3: "GROUP", 4: "CLUSTER", 5: "TRANSACTIONAL_ID"}
PATTERN_TYPES = {1: "ANY", 2: "MATCH", 3: "LITERAL", 4: "PREFIXED"}
OPERATIONS = {1: "ANY", 2: "ALL", 3: "READ", 4: "WRITE", 5: "CREATE", 6: "DELETE", 7: "ALTER",
              8: "DESCRIBE", 9: "CLUSTER_ACTION", 10: "DESCRIBE_CONFIGS", 11: "ALTER_CONFIGS",
              12: "IDEMPOTENT_WRITE"}
PERMISSIONS = {1: "ANY", 2: "DENY", 3: "ALLOW"}
CODE_OF = {name: code for table in (RESOURCE_TYPES, PATTERN_TYPES, OPERATIONS, PERMISSIONS)
           for code, name in table.items()}


def _name(table: dict, value) -> str:
    return table.get(int(value), "UNKNOWN")


def _filter(f):
    return filter_from({
        "resource_type": _name(RESOURCE_TYPES, f.resource_type_filter),
        "resource_name": f.resource_name_filter,
        "pattern_type": _name(PATTERN_TYPES, getattr(f, "pattern_type_filter", 3)),
        "principal": f.principal_filter, "host": f.host_filter,
        "operation": _name(OPERATIONS, f.operation),
        "permission": _name(PERMISSIONS, f.permission_type)})


def _kafka_filters(acl_filter: AclFilter) -> list[AclFilter]:
    """The filter, narrowed to the types Kafka's wire can name (ANY: each of them)."""
    if acl_filter.resource_type is not None:
        return [acl_filter]
    return [replace(acl_filter, resource_type=t) for t in KAFKA_RESOURCE_TYPES]


def _wire(b: AclBinding) -> dict:
    return {"resource_type": CODE_OF[b.resource_type], "resource_name": b.resource_name,
            "pattern_type": CODE_OF[b.pattern_type], "principal": b.principal, "host": b.host,
            "operation": CODE_OF[b.operation], "permission_type": CODE_OF[b.permission]}


async def describe_acls(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": 0, "error_message": None, "resources": []}
    if not ctx.allowed("describe_cluster"):
        answer.update(error_code=CLUSTER_AUTHORIZATION_FAILED, error_message="DESCRIBE on the cluster is not authorized")
        return answer
    try:
        acl_filter = _filter(request)
    except KraftError as exc:
        answer.update(error_code=error_codes.code_of(exc), error_message=str(exc))
        return answer
    by_resource: dict[tuple, list] = {}
    for b in sorted(node.image.acls):
        if b.resource_type in KAFKA_RESOURCE_TYPES and acl_filter.matches(b):
            wire = _wire(b)
            by_resource.setdefault((wire["resource_type"], b.resource_name, wire["pattern_type"]), []).append(
                {"principal": b.principal, "host": b.host, "operation": wire["operation"],
                 "permission_type": wire["permission_type"]})
    answer["resources"] = [{"resource_type": t, "resource_name": n, "pattern_type": p, "acls": acls}
                           for (t, n, p), acls in by_resource.items()]
    return answer


async def create_acls(node: BrokerServices, ctx: RequestContext, request) -> dict:
    if not ctx.allowed("alter_cluster"):
        return {"throttle_time": 0, "results": [
            {"error_code": CLUSTER_AUTHORIZATION_FAILED, "error_message": "ALTER on the cluster is not authorized"}
            for _ in request.creations]}
    results: list[dict[str, Any]] = []
    for c in request.creations:  # each on its own: one bad binding does not stop the rest
        try:
            binding = binding_from({
                "resource_type": _name(RESOURCE_TYPES, c.resource_type), "resource_name": c.resource_name,
                "pattern_type": _name(PATTERN_TYPES, getattr(c, "resource_pattern_type", 3)),
                "principal": c.principal, "host": c.host, "operation": _name(OPERATIONS, c.operation),
                "permission": _name(PERMISSIONS, c.permission_type)})
            result = await node.controller_call(controller_requests.CreateAcls(acls=[binding.to_dict()]))
            if "metadata_offset" in result:
                await node.wait_metadata_everywhere(result["metadata_offset"])
            results.append({"error_code": 0, "error_message": None})
        except KraftError as exc:
            results.append({"error_code": error_codes.code_of(exc), "error_message": str(exc)})
    return {"throttle_time": 0, "results": results}


async def delete_acls(node: BrokerServices, ctx: RequestContext, request) -> dict:
    results = []
    for f in request.filters:
        if not ctx.allowed("alter_cluster"):
            results.append({"error_code": CLUSTER_AUTHORIZATION_FAILED,
                            "error_message": "ALTER on the cluster is not authorized", "matching_acls": []})
            continue
        try:
            gone = []
            for acl_filter in _kafka_filters(_filter(f)):
                result = await node.controller_call(controller_requests.DeleteAcls(filter=acl_filter.to_dict()))
                if "metadata_offset" in result:
                    await node.wait_metadata_everywhere(result["metadata_offset"])
                gone += [AclBinding(**d) for d in result["deleted"]]
            results.append({"error_code": 0, "error_message": None, "matching_acls": [
                {"error_code": 0, "error_message": None, **_wire(b)} for b in gone]})
        except KraftError as exc:
            results.append({"error_code": error_codes.code_of(exc), "error_message": str(exc),
                            "matching_acls": []})
    return {"throttle_time": 0, "filter_results": results}
