"""Confluent Schema Registry's routes for subjects, versions, schemas by id and
compatibility checks (docs/API.md, "Schema registry")."""

from __future__ import annotations

from aiohttp import web

from kraft.registry.http import answer, flag, json_body, registry_of, state_of, subject_of
from kraft.registry.security import visible, write_as_caller
from kraft.schemas import registry_reads as reads
from kraft.schemas.registry_errors import schema_not_found
from kraft.schemas.registry_requests import DeleteSubject, DeleteVersion, parse_version, register_request

MAX_ID = 2**31 - 1


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", root)
    r.add_get("/schemas/types", types)
    r.add_get(r"/schemas/ids/{id:\d+}", schema_by_id)
    r.add_get(r"/schemas/ids/{id:\d+}/schema", schema_text_by_id)
    r.add_get(r"/schemas/ids/{id:\d+}/subjects", subjects_of_id)
    r.add_get(r"/schemas/ids/{id:\d+}/versions", versions_of_id)
    r.add_get("/subjects", subjects)
    r.add_post("/subjects/{subject}", lookup)
    r.add_delete("/subjects/{subject}", delete_subject)
    r.add_get("/subjects/{subject}/versions", versions)
    r.add_post("/subjects/{subject}/versions", register)
    r.add_get("/subjects/{subject}/versions/{version}", version)
    r.add_delete("/subjects/{subject}/versions/{version}", delete_version)
    r.add_get("/subjects/{subject}/versions/{version}/schema", version_schema_text)
    r.add_get("/subjects/{subject}/versions/{version}/referencedby", referenced_by)
    r.add_post("/compatibility/subjects/{subject}/versions", compatibility)
    r.add_post("/compatibility/subjects/{subject}/versions/{version}", compatibility)
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
    return answer(reads.schema_by_id(await state_of(request), _id(request)))


async def schema_text_by_id(request: web.Request) -> web.Response:
    """The schema's text itself, as Confluent answers it."""
    text = reads.schema_by_id(await state_of(request), _id(request))["schema"]
    return web.Response(text=text, content_type="application/vnd.schemaregistry.v1+json")


async def subjects_of_id(request: web.Request) -> web.Response:
    subjects = reads.subjects_of_id(await state_of(request), _id(request), flag(request, "deleted"))
    return answer(visible(request, "read_subject", subjects))


async def versions_of_id(request: web.Request) -> web.Response:
    found = reads.versions_of_id(await state_of(request), _id(request), flag(request, "deleted"))
    readable = set(visible(request, "read_subject", {v["subject"] for v in found}))
    return answer([v for v in found if v["subject"] in readable])


async def subjects(request: web.Request) -> web.Response:
    names = (await state_of(request)).subject_names(flag(request, "deleted"))
    prefix = request.query.get("subjectPrefix", "")
    return answer(visible(request, "describe_subject", [n for n in names if n.startswith(prefix)]))


async def versions(request: web.Request) -> web.Response:
    return answer(reads.versions_list(await state_of(request), subject_of(request), flag(request, "deleted")))


async def version(request: web.Request) -> web.Response:
    record = reads.find_version(await state_of(request), subject_of(request),
                                parse_version(request.match_info["version"]), flag(request, "deleted"))
    return answer(reads.version_json(record))


async def version_schema_text(request: web.Request) -> web.Response:
    record = reads.find_version(await state_of(request), subject_of(request),
                                parse_version(request.match_info["version"]), flag(request, "deleted"))
    return web.Response(text=record.schema, content_type="application/vnd.schemaregistry.v1+json")


async def referenced_by(request: web.Request) -> web.Response:
    state = await state_of(request)
    record = reads.find_version(state, subject_of(request), parse_version(request.match_info["version"]), True)
    return answer(state.referenced_by(record.subject, record.version))


async def register(request: web.Request) -> web.Response:
    req = register_request(subject_of(request), await json_body(request), request.query.get("normalize"))
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
