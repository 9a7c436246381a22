"""Confluent Schema Registry's /config and /mode routes, global and per subject."""

from __future__ import annotations

from aiohttp import web

from kraft.registry.http import answer, flag, json_body, state_of, subject_of
from kraft.registry.security import write_as_caller
from kraft.schemas import registry_reads as reads
from kraft.schemas.registry_requests import DeleteConfig, DeleteMode, config_request, mode_request


def add_routes(app: web.Application) -> None:
    r = app.router
    for path in ("/config", "/config/{subject:[^/]+}"):
        r.add_get(path, get_config)
        r.add_put(path, put_config)
        r.add_delete(path, delete_config)
    for path in ("/mode", "/mode/{subject:[^/]+}"):
        r.add_get(path, get_mode)
        r.add_put(path, put_mode)
    r.add_delete("/mode", delete_mode)
    r.add_delete("/mode/{subject:[^/]+}", delete_mode)


def _subject(request: web.Request) -> str | None:
    return subject_of(request) if "subject" in request.match_info else None


async def get_config(request: web.Request) -> web.Response:
    return answer(reads.subject_config(await state_of(request), _subject(request),
                                       flag(request, "defaultToGlobal")))


async def put_config(request: web.Request) -> web.Response:
    return answer(await write_as_caller(request, config_request(_subject(request), await json_body(request))))


async def delete_config(request: web.Request) -> web.Response:
    return answer(await write_as_caller(request, DeleteConfig(_subject(request))))


async def get_mode(request: web.Request) -> web.Response:
    return answer(reads.subject_mode(await state_of(request), _subject(request), flag(request, "defaultToGlobal")))


async def put_mode(request: web.Request) -> web.Response:
    req = mode_request(_subject(request), await json_body(request), request.query.get("force"))
    return answer(await write_as_caller(request, req))


async def delete_mode(request: web.Request) -> web.Response:
    return answer(await write_as_caller(request, DeleteMode(_subject(request))))
