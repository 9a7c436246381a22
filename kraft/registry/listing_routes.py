"""Confluent Schema Registry's listing and server routes: GET /schemas (every version,
filtered), schemas by guid, /v1/metadata (the cluster's ids, the server's version), and
the DEK registry's routes, refused as a whole (docs/API.md, "Schema registry")."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from kraft.registry.http import answer, flag, formatted, int_query, registry_of, state_of
from kraft.registry.security import visible
from kraft.schemas import registry_reads as reads
from kraft.schemas.registry_errors import OPERATION_NOT_PERMITTED, RegistryError
from kraft.schemas.registry_requests import plain_subject

GROUP_ID = "schema-registry"  # Confluent's default schema.registry.group.id: one registry per cluster here


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/schemas", schemas)
    r.add_get("/schemas/guids/{guid}", schema_by_guid)
    r.add_get("/schemas/guids/{guid}/ids", ids_of_guid)
    r.add_get("/v1/metadata/id", cluster_id)
    r.add_get("/v1/metadata/version", server_version)
    r.add_route("*", "/dek-registry/{tail:.*}", dek_registry)


async def schemas(request: web.Request) -> web.Response:
    """Only the versions of subjects the caller may READ (all with security off)."""
    state, deleted = await state_of(request), flag(request, "deleted")
    readable = set(visible(request, "read_subject", state.subject_names(deleted)))
    return answer(reads.schemas_list(state, plain_subject(request.query.get("subjectPrefix", "")), deleted,
                                     flag(request, "latestOnly"), int_query(request, "offset", 0),
                                     int_query(request, "limit", -1), readable.__contains__))


async def schema_by_guid(request: web.Request) -> web.Response:
    guid = request.match_info["guid"]
    return answer(await formatted(request, lambda s, p, f: reads.schema_by_guid(s, guid, p, f)))


async def ids_of_guid(request: web.Request) -> web.Response:
    return answer(reads.ids_of_guid(await state_of(request), request.match_info["guid"]))


async def cluster_id(request: web.Request) -> web.Response:
    """Confluent's ServerClusterId: the Kafka cluster's id and the registry's group."""
    clusters = {"kafka-cluster": registry_of(request).cluster_id, "schema-registry-cluster": GROUP_ID}
    return answer({"scope": {"path": [], "clusters": clusters}})


async def server_version(request: web.Request) -> web.Response:
    try:
        found = version("kraft")
    except PackageNotFoundError:
        found = "unknown"
    return answer({"version": found})  # no commit id to give: Confluent leaves an empty one out


async def dek_registry(request: web.Request) -> web.Response:
    """Client-side field-level encryption's key registry is not served: every request is
    refused alike, as an error any client reports (never a 404 that reads as a missing key,
    which an encrypting serializer would answer by trying to create one)."""
    raise RegistryError(OPERATION_NOT_PERMITTED, "The DEK registry (/dek-registry/v1: KEKs and DEKs for client-side "
                        "field level encryption) is not served by this schema registry")
