"""Confluent Schema Registry's routes for subjects, versions, schemas by id and
compatibility checks (docs/API.md, "Schema registry")."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from kraft.registry.http import answer, flag, formatted, int_query, json_body, registry_of, state_of, subject_of
from kraft.registry.security import visible, write_as_caller
from kraft.schemas import registry_reads as reads
from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_errors import schema_not_found
from kraft.schemas.registry_requests import (DeleteSubject, DeleteVersion, parse_version, plain_subject,
                                             register_request)

MAX_ID = 2**31 - 1
T = TypeVar("T")
# a subject is any path segment: Confluent takes names with `{`, `}` (aiohttp's default
# pattern refuses them, answering 404 before the handler)
S = "/subjects/{subject:[^/]+}"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", root)
    r.add_get("/schemas/types", types)
    r.add_get(r"/schemas/ids/{id:\d+}", schema_by_id)
    r.add_get(r"/schemas/ids/{id:\d+}/schema", schema_text_by_id)
    r.add_get(r"/schemas/ids/{id:\d+}/subjects", subjects_of_id)
    r.add_get(r"/schemas/ids/{id:\d+}/versions", versions_of_id)
    r.add_get("/subjects", subjects)
    r.add_post(S, lookup)
    r.add_delete(S, delete_subject)
    r.add_get(S + "/versions", versions)
    r.add_post(S + "/versions", register)
    r.add_get(S + "/versions/{version}", version)
    r.add_delete(S + "/versions/{version}", delete_version)
    r.add_get(S + "/versions/{version}/schema", version_schema_text)
    r.add_get(S + "/versions/{version}/referencedby", referenced_by)
    r.add_get(S + "/metadata", latest_with_metadata)
    r.add_post("/compatibility" + S + "/versions", compatibility)
    r.add_post("/compatibility" + S + "/versions/{version}", compatibility)
    r.add_get("/contexts", contexts)


async def root(request: web.Request) -> web.Response:
    return answer({})


async def types(request: web.Request) -> web.Response:
    return answer(sorted(registry_of(request).parser.formats))


def _id(request: web.Request) -> int:
    schema_id = int(request.match_info["id"])
    if schema_id > MAX_ID:
        raise schema_not_found(schema_id)
    return schema_id


async def schema_by_id(request: web.Request) -> web.Response:
    schema_id = _id(request)
    return answer(await formatted(request, lambda s, p, f: reads.schema_by_id(s, schema_id, p, f)))


async def schema_text_by_id(request: web.Request) -> web.Response:
    """The schema's text itself, as Confluent answers it."""
    schema_id = _id(request)
    found = await formatted(request, lambda s, p, f: reads.schema_by_id(s, schema_id, p, f))
    return web.Response(text=found["schema"], content_type="application/vnd.schemaregistry.v1+json")


def _paged(request: web.Request, items: list[T]) -> list[T]:
    return reads.page(items, int_query(request, "offset", 0), int_query(request, "limit", -1))


async def subjects_of_id(request: web.Request) -> web.Response:
    """`?subject=`: only that subject (Confluent's filter); `?offset`, `?limit`."""
    subjects = reads.subjects_of_id(await state_of(request), _id(request), flag(request, "deleted"))
    if "subject" in request.query:
        subjects = [s for s in subjects if s == plain_subject(request.query["subject"])]
    return answer(_paged(request, visible(request, "read_subject", subjects)))


async def versions_of_id(request: web.Request) -> web.Response:
    found = reads.versions_of_id(await state_of(request), _id(request), flag(request, "deleted"))
    if "subject" in request.query:
        found = [v for v in found if v["subject"] == plain_subject(request.query["subject"])]
    readable = set(visible(request, "read_subject", {v["subject"] for v in found}))
    return answer(_paged(request, [v for v in found if v["subject"] in readable]))


async def subjects(request: web.Request) -> web.Response:
    prefix = plain_subject(request.query.get("subjectPrefix", ""))
    names = reads.subjects_list(await state_of(request), prefix, flag(request, "deleted"), flag(request, "deletedOnly"))
    return answer(_paged(request, visible(request, "describe_subject", names)))


async def versions(request: web.Request) -> web.Response:
    found = reads.versions_list(await state_of(request), subject_of(request), flag(request, "deleted"),
                                flag(request, "deletedOnly"), flag(request, "deletedAsNegative"))
    return answer(_paged(request, found))


async def _version(request: web.Request) -> SchemaRecord:
    subject, number = subject_of(request), parse_version(request.match_info["version"])
    deleted = flag(request, "deleted")
    return await formatted(
        request, lambda s, p, f: reads.in_format(s, p, reads.find_version(s, subject, number, deleted), f))


async def latest_with_metadata(request: web.Request) -> web.Response:
    """?key=k&value=v (repeated, paired in order), as confluent-kafka's get_latest_with_metadata asks."""
    subject, deleted = subject_of(request), flag(request, "deleted")
    wanted = dict(zip(request.query.getall("key", []), request.query.getall("value", [])))
    return answer(reads.version_json(await formatted(
        request, lambda s, p, f: reads.in_format(s, p, reads.latest_with_metadata(s, subject, wanted, deleted), f))))


async def version(request: web.Request) -> web.Response:
    return answer(reads.version_json(await _version(request)))


async def version_schema_text(request: web.Request) -> web.Response:
    record = await _version(request)
    return web.Response(text=record.schema, content_type="application/vnd.schemaregistry.v1+json")


async def referenced_by(request: web.Request) -> web.Response:
    state = await state_of(request)
    record = reads.find_version(state, subject_of(request), parse_version(request.match_info["version"]), True)
    return answer(state.referenced_by(record.subject, record.version))


async def register(request: web.Request) -> web.Response:
    req = register_request(subject_of(request), await json_body(request), request.query.get("normalize"),
                           request.query.get("force"))
    return answer(await write_as_caller(request, req))


async def lookup(request: web.Request) -> web.Response:
    registry = registry_of(request)
    await registry.current_state()
    body = await json_body(request)
    subject, normalize, deleted = subject_of(request), flag(request, "normalize"), flag(request, "deleted")
    # parsing takes a while for a large schema: beside the event loop
    return answer(await registry.follower.beside_loop(
        lambda state: reads.lookup(state, registry.parser, subject, body, normalize, deleted)))


async def delete_subject(request: web.Request) -> web.Response:
    req = DeleteSubject(subject_of(request), flag(request, "permanent"))
    return answer(await write_as_caller(request, req))


async def delete_version(request: web.Request) -> web.Response:
    req = DeleteVersion(subject_of(request), parse_version(request.match_info["version"]), flag(request, "permanent"))
    return answer(await write_as_caller(request, req))


async def compatibility(request: web.Request) -> web.Response:
    registry = registry_of(request)
    text = request.match_info.get("version")
    await registry.current_state()
    body = await json_body(request)
    subject, version = subject_of(request), None if text is None else parse_version(text)
    normalize, verbose = flag(request, "normalize"), flag(request, "verbose")
    # parsing and comparing many versions take seconds at worst: beside the event loop
    return answer(await registry.follower.beside_loop(
        lambda state: reads.compatibility(state, registry.parser, subject, version, body, normalize, verbose)))


async def contexts(request: web.Request) -> web.Response:
    return answer(["."])  # the default context only
