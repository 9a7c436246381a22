"""Kafka's client quotas over HTTP (kraft's own paths; neither Confluent's v3 nor
Redpanda's admin API has them): the same quotas as Kafka's DescribeClientQuotas and
AlterClientQuotas (kraft/kafka/handlers/quota_api.py), in the metadata log.

An entity is a JSON object with "user" and/or "client-id"; null names the default
(Kafka's <default>)."""

from __future__ import annotations

from aiohttp import web

from kraft.api.catch_up import reads_latest_metadata
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.controller import commands as controller_requests
from kraft.errors import BadRequest, error_from_name
from kraft.metadata.client_quotas import CLIENT_ID, USER, Entity, entity_of

PATH = "/v1/client-quotas"
DEFAULT = "<default>"  # in a query: the default entity, as kafka-configs.sh writes it


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, list_quotas)
    app.router.add_post(PATH, alter_quotas)


def _view(entity: Entity, values) -> dict:
    return {"entity": {t: n for t, n in entity}, "values": dict(sorted(values.items()))}


@reads_latest_metadata
async def list_quotas(request):
    """Every entity with quotas; `?user=` and `?client-id=` keep the entities naming
    exactly that user or client (`<default>`: the default one)."""
    node = node_of(request)
    wanted = {t: request.query[t] for t in (USER, CLIENT_ID) if t in request.query}
    quotas = node.image.client_quotas
    out = []
    for entity in sorted(quotas, key=repr):
        named = dict(entity)
        if all(t in named and named[t] == (None if v == DEFAULT else v) for t, v in wanted.items()):
            out.append(_view(entity, quotas[entity]))
    return json_response({"quotas": out})


async def alter_quotas(request):
    """{"entity": {...}, "set": {key: value}, "remove": [key], "validate_only": bool} ->
    the entity's quotas after the change."""
    node = node_of(request)
    body = await read_json_object(request)
    reject_unknown_fields(body, {"entity", "set", "remove", "validate_only"}, "quota change")
    entity = body.get("entity")
    if not isinstance(entity, dict) or not entity or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in entity.items()):
        raise BadRequest('"entity" must be an object such as {"user": "alice"} (null names the default)')
    changes = body.get("set") or {}
    removed = body.get("remove") or []
    if not isinstance(changes, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in changes.values()):
        raise BadRequest('"set" must map quota names to numbers')
    if not isinstance(removed, list) or not all(isinstance(k, str) for k in removed):
        raise BadRequest('"remove" must be a list of quota names')
    if not changes and not removed:
        raise BadRequest('nothing to change: give "set" or "remove"')
    ops = [controller_requests.QuotaChange(key=k, value=float(v)) for k, v in changes.items()]
    ops += [controller_requests.QuotaChange(key=k, value=None) for k in removed]
    parts = entity_of(entity.items())
    result = await node.controller_call(controller_requests.AlterClientQuotas(
        entries=[controller_requests.QuotaEntry(entity=list(parts), ops=ops)],
        validate_only=bool(body.get("validate_only", False))))
    answer = result["results"][0]
    if answer["error"]:
        raise error_from_name(answer["error"], answer["message"])
    if "metadata_offset" in result:
        await node.wait_metadata_everywhere(result["metadata_offset"])
    return json_response(_view(parts, node.image.client_quotas.get(parts, {})))
