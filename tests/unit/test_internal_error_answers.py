"""An unexpected exception in a REST handler answers 500 with an id and nothing of its
text; the node's log has the traceback under that id."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import pytest

from kraft.api.app import error_envelope
from kraft.api.context import NODE_KEY
from kraft.broker import unexpected_errors
from kraft.broker.unexpected_errors import RepeatedFailures
from kraft.config.cluster import ConfigFileError

SECRET_PATH = "/srv/secret-place/cluster.toml"


@pytest.fixture(autouse=True)
def fresh_failure_sites(monkeypatch):
    """Each test's failures are the first at their site (the rule counts repeats per process)."""
    monkeypatch.setattr(unexpected_errors, "_failures", RepeatedFailures())


async def failing_handler(request: web.Request) -> web.Response:
    raise ConfigFileError(SECRET_PATH, "nodes", "no node has id 4")


async def test_a_500_carries_an_id_and_no_detail_and_the_log_has_both(caplog):
    app = web.Application(middlewares=[error_envelope])
    app[NODE_KEY] = SimpleNamespace(node_id=7)  # type: ignore[assignment]  # the envelope reads only this
    app.router.add_get("/broken", failing_handler)
    caplog.set_level(logging.ERROR, logger="kraft.api.app")
    async with TestClient(TestServer(app)) as client:
        answer = await client.get("/broken")
        body = await answer.json()
        assert answer.status == 500
        assert body["error_code"] == 500
        match = re.fullmatch(r"internal error \(see node 7's log, id ([0-9a-f]{12})\)", body["message"])
        assert match, body
        for leak in ("secret-place", "ConfigFileError", "no node has id"):
            assert leak not in await answer.text()
        # the server keeps serving
        assert (await client.get("/broken")).status == 500
    incident = match.group(1)
    records = [r for r in caplog.records if incident in r.getMessage()]
    assert len(records) == 1
    assert "GET /broken" in records[0].getMessage()
    assert records[0].exc_info is not None and records[0].exc_info[0] is ConfigFileError
    assert SECRET_PATH in caplog.text and "Traceback" in caplog.text


# -- the Kafka door ------------------------------------------------------------------

def _decode_answer(frame: bytes, api_key: int, version: int):
    from kio.serial import entity_reader

    from kraft.kafka.wire.codec import response_class
    cls = response_class(api_key, version)
    payload = frame[4:]  # after the length prefix
    _, used = entity_reader(cls.__header_schema__)(payload, 0)
    body, _ = entity_reader(cls)(payload, used)
    return body


def _failing_api(monkeypatch, api_key: int):
    from kraft.kafka.connection import dispatch

    async def broken(services, head, body):
        raise ConfigFileError(SECRET_PATH, "nodes", "no node has id 4")
    api = dispatch.SERVED[api_key]
    monkeypatch.setitem(dispatch.SERVED, api_key, type(api)(api.key, api.min_version, api.max_version, broken))


async def test_a_kafka_handlers_bug_answers_unknown_server_error_with_an_id_only(monkeypatch, caplog):
    from kraft.kafka.wire.codec import RequestHead
    from kraft.kafka.connection.dispatch import Request, respond
    _failing_api(monkeypatch, 60)  # DescribeCluster: a whole-request error code and message
    caplog.set_level(logging.ERROR, logger="kraft.kafka.connection.dispatch")
    frame = await respond(SimpleNamespace(node_id=3), Request(RequestHead(60, 0, 41, "c"), None))  # type: ignore[arg-type]
    assert isinstance(frame, bytes) and SECRET_PATH.encode() not in frame and b"ConfigFileError" not in frame
    answer = _decode_answer(frame, 60, 0)
    assert answer.error_code == -1  # UNKNOWN_SERVER_ERROR
    match = re.fullmatch(r"internal error \(see node 3's log, id ([0-9a-f]{12})\)", answer.error_message)
    assert match, answer.error_message
    assert answer.brokers == ()
    records = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is not None


async def test_an_api_without_a_whole_request_error_code_closes_instead(monkeypatch, caplog):
    import pytest

    from kraft.kafka.wire.codec import RequestHead
    from kraft.kafka.connection.dispatch import Request, Unanswerable, respond
    _failing_api(monkeypatch, 3)  # Metadata: errors only per topic
    caplog.set_level(logging.ERROR, logger="kraft.kafka.connection.dispatch")
    with pytest.raises(Unanswerable) as refused:
        await respond(SimpleNamespace(node_id=3), Request(RequestHead(3, 12, 41, "c"), None))  # type: ignore[arg-type]
    assert SECRET_PATH not in str(refused.value)
    assert SECRET_PATH in caplog.text  # the traceback is in the log


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_every_served_answer_with_a_top_level_error_code_can_carry_one():
    from kraft.kafka.connection.apis import SERVED
    from kraft.kafka.wire.codec import response_class
    from kraft.kafka.wire.error_answer import whole_request_error
    for api in SERVED.values():
        for version in range(api.min_version, api.max_version + 1):
            answer = whole_request_error(response_class(api.key, version), -1, "internal error")
            assert answer is None or answer.error_code == -1


# -- a failure repeated per request ----------------------------------------------------

def test_repeats_at_one_site_are_counted_once_a_minute_not_logged_whole():
    failures = RepeatedFailures(every_s=60)
    first = failures.seen("site-a", 0.0)
    assert first.traceback and first.repeats == 0
    for i in range(1, 500):  # within the minute: nothing to write, the same id for the client
        assert failures.seen("site-a", i / 10) == unexpected_errors.Decision(first.incident, False, 0)
    other = failures.seen("site-b", 1.0)  # another site is a first again
    assert other.traceback and other.incident != first.incident
    report = failures.seen("site-a", 61.0)
    assert report == unexpected_errors.Decision(first.incident, False, 500)
    assert failures.seen("site-a", 62.0).repeats == 0  # the next minute starts over


def test_sites_are_bounded():
    failures = RepeatedFailures(max_sites=3)
    for site in range(10):
        assert failures.seen(site, 0.0).traceback
    assert len(failures._sites) <= 3


async def test_a_handler_failing_on_every_request_logs_its_traceback_once(monkeypatch, caplog):
    from kraft.kafka.wire.codec import RequestHead
    from kraft.kafka.connection.dispatch import Request, respond
    _failing_api(monkeypatch, 60)
    caplog.set_level(logging.ERROR, logger="kraft.kafka.connection.dispatch")
    ids = set()
    for correlation in range(1000):  # a client retrying as fast as it can, under varying client ids
        frame = await respond(SimpleNamespace(node_id=3),  # type: ignore[arg-type]
                              Request(RequestHead(60, 0, correlation, f"c{correlation}"), None))
        ids.add(_decode_answer(frame, 60, 0).error_message)
    assert len(ids) == 1  # every answer points at the one traceback
    assert len([r for r in caplog.records if r.exc_info is not None]) == 1
    assert len(caplog.records) == 1
    assert caplog.text.count("Traceback") == 1
