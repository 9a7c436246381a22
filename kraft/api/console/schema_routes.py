"""What the console's Schemas page and message browser need beside the registry's own API
(which the page calls on this node's `schema_registry_port`, docs/API.md "Schema
registry"): where that port is, and framed keys and values decoded with their schemas
(kraft/schemas/framed_lookup.py), docs/CONSOLE.md."""

from __future__ import annotations

from aiohttp import web

from kraft.api.access_rules import IDENTITY_KEY
from kraft.api.context import node_of
from kraft.api.http_body import json_response, read_json_object, reject_unknown_fields
from kraft.api.record_codec import b64decode
from kraft.errors import BadRequest, InvalidValue, NotFound, RetriableError
from kraft.registry.service import SchemaRegistry
from kraft.schemas.framed_lookup import describe
from kraft.schemas.registry_errors import RegistryError

REGISTRY_PATH = "/v1/console/schema-registry"
DECODE_PATH = "/v1/console/decode"
MAX_VALUES = 512  # the message browser's 200 records, key and value
MAX_BODY_BYTES = 16 * 1024 * 1024


REGISTRY_KEY = web.AppKey("console_schema_registry", object)


def add_routes(app: web.Application, registry: SchemaRegistry | None) -> None:
    """`registry`: the one this node serves, None when it opened no registry port."""
    app[REGISTRY_KEY] = registry
    app.router.add_get(REGISTRY_PATH, registry_port)
    app.router.add_post(DECODE_PATH, decode_values)


def registry_of(request: web.Request) -> SchemaRegistry | None:
    found = request.app.get(REGISTRY_KEY)
    return found if isinstance(found, SchemaRegistry) else None


async def registry_port(request: web.Request) -> web.Response:
    """This node's registry port (the page calls it on the host it was served from), or why
    there is none."""
    services = node_of(request)
    port = services.config.node(services.node_id).schema_registry_port
    if port is None:
        return json_response({"port": None, "reason": "this node has no schema_registry_port in cluster.toml"})
    if registry_of(request) is None:
        return json_response({"port": None, "reason": f"this node's schema registry (port {port}) is not open: "
                                                      "its log says why"})
    return json_response({"port": port, "reason": None})


def _bytes_of(item: object, at: int) -> bytes | None:
    """The REST door's base64 rule; here a malformed request (400), not a refused value."""
    if item is None:
        return None
    try:
        return b64decode(item, f"values[{at}]")
    except InvalidValue as exc:
        raise BadRequest(exc.message) from None


async def decode_values(request: web.Request) -> web.Response:
    """{"values": [base64 or null, ...]} -> {"values": [null (not framed) or what
    framed_lookup.describe says of it, ...]}, in order."""
    body = await read_json_object(request, cap=MAX_BODY_BYTES)
    reject_unknown_fields(body, {"values"})
    values = body.get("values")
    if not isinstance(values, list) or len(values) > MAX_VALUES:
        raise BadRequest(f"values must be a list of at most {MAX_VALUES} base64 strings or nulls")
    raw = [_bytes_of(item, i) for i, item in enumerate(values)]
    registry = registry_of(request)
    if registry is None:
        raise NotFound("this node serves no schema registry, so framed records cannot be decoded here")
    try:
        state = await registry.current_state()
    except RegistryError as exc:  # still reading _schemas
        raise RetriableError(exc.message) from None
    who = request.get(IDENTITY_KEY)
    return json_response({"values": [_readable(registry, who, describe(state, registry.parser, data)) for data in raw]})


def _readable(registry: SchemaRegistry, who: object, found: dict | None) -> dict | None:
    """What the caller may see of a described value: as the registry's own port answers a
    schema by id, READ on one subject holding the id (else only the id, and why)."""
    if found is None or who is None or not registry.access.enabled or "subjects" not in found:
        return found
    if any(registry.access.may(who, "read_subject", s["subject"]) for s in found["subjects"]):  # type: ignore[arg-type]
        return found
    return {"schema_id": found["schema_id"], "error": "not allowed to read the subjects of this schema id"}
