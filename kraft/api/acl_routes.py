"""ACLs (v3), as Confluent's spec has them: search, create, create in a batch, delete by filter.

Writes go to the active controller; the answer waits until every node that answers
has the change, so a revoked permission is revoked everywhere when the call returns.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from kraft.controller import commands as controller_requests
from kraft.controller.request_base import ControllerRequest
from kraft.broker.services import BrokerServices
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.api.paths import base_url, check_cluster
from kraft.errors import BadRequest
from kraft.security.acls import FIELDS, AclBinding, binding_from, filter_from

ACLS = "/v3/clusters/{cluster_id}/acls"
DELETE_REQUIRED = ("resource_type", "pattern_type", "operation", "permission")
MAX_BATCH = 1000


def add_routes(app: web.Application) -> None:
    app.router.add_get(ACLS, search_acls)
    app.router.add_post(ACLS, create_acl)
    app.router.add_delete(ACLS, delete_acls)
    app.router.add_post(ACLS + ":batch", create_acls_batch)


def acl_view(binding: AclBinding, cluster_id: str, base: str) -> dict:
    fields = binding.to_dict()
    return {"kind": "KafkaAcl",
            "metadata": {"self": f"{base}/v3/clusters/{cluster_id}/acls?{urlencode(fields)}"},
            "cluster_id": cluster_id, **fields}


def _query(request) -> dict:
    unknown = set(request.query) - set(FIELDS)
    if unknown:
        raise BadRequest(f"unknown ACL filter parameter(s): {', '.join(sorted(unknown))}")
    return dict(request.query)


async def search_acls(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    acl_filter = filter_from(_query(request))
    base = base_url(request)
    data = [acl_view(b, node.cluster_id, base) for b in sorted(node.image.acls) if acl_filter.matches(b)]
    return json_response({"kind": "KafkaAclList",
                          "metadata": {"self": f"{base}{request.path_qs}", "next": None},
                          "data": data})


async def create_acl(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    body = await read_json_object(request)
    reject_unknown_fields(body, set(FIELDS), "ACL")
    await _write(node, controller_requests.CreateAcls(acls=[binding_from(body).to_dict()]))
    return web.Response(status=201)


async def create_acls_batch(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    body = await read_json_object(request)
    reject_unknown_fields(body, {"data"}, "batch")
    entries = body.get("data")
    if not isinstance(entries, list) or not entries:
        raise BadRequest('a batch is {"data": [ACL, ...]} with at least one ACL')
    if len(entries) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} ACLs per batch")
    bindings = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadRequest("each entry of data must be an ACL object")
        reject_unknown_fields(entry, set(FIELDS), "ACL")
        bindings.append(binding_from(entry).to_dict())
    await _write(node, controller_requests.CreateAcls(acls=bindings))
    return web.Response(status=201)


async def delete_acls(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    acl_filter = filter_from(_query(request), required=DELETE_REQUIRED)
    result = await _write(node, controller_requests.DeleteAcls(filter=acl_filter.to_dict()))
    base = base_url(request)
    data = [acl_view(AclBinding(**d), node.cluster_id, base) for d in result["deleted"]]
    return json_response({"data": data})


async def _write(node: BrokerServices, request: ControllerRequest) -> dict:
    result = await node.controller_call(request)
    if "metadata_offset" in result:
        await node.wait_metadata_everywhere(result["metadata_offset"])
    return result

