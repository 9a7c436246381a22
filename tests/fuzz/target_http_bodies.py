"""Fuzz target: the HTTP body parsers of the REST Proxy v2/v3 produce and consumer routes,
from the raw body on (the part that needs no cluster: every route runs these before it
touches one).

The first byte picks the parser, the rest is the body as it arrives:
  0 v2 produce, json embedded format    1 v2 produce, binary embedded format
  2 v3 produce (a stream of records)    3 v2 consumer instance creation
  4 v2 subscription                     5 v3 batch produce entries

Oracle: bad input is refused only with a request error (kraft.errors.RequestError and
the other 4xx errors docs/API.md lists for bodies: a KraftError that is not a server
error); anything else escaping a parser is a bug (the route would answer 500).
"""

from __future__ import annotations

import pathlib

import orjson

from kraft.api import consumer_requests, produce_routes
from kraft.api.error_map import http_status, rest_error_code
from kraft.api import record_codec as rc
from kraft.config.cluster import GroupSettings
from kraft.errors import KraftError, RequestError

CORPUS = pathlib.Path(__file__).parent / "corpus" / "http_bodies"
SETTINGS = GroupSettings()


def _json_object(body: bytes) -> dict:
    # what read_json_object does after the size and type checks
    if not body.strip():
        raise RequestError("empty")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError("malformed JSON") from None
    return consumer_requests.require_object(data)


def _v2_produce(body: bytes, binary: bool) -> None:
    records = _json_object(body).get("records")
    if not isinstance(records, list):
        raise RequestError("records must be a list")
    rc.v2_entries(records, binary, None)


def _v3_record(obj, what: str) -> None:
    if not isinstance(obj, dict):
        raise RequestError(f"{what} must be an object")
    rc.v3_data(obj.get("key"), f"{what}.key")
    rc.v3_data(obj.get("value"), f"{what}.value")
    rc.headers_of(obj.get("headers"), f"{what}.headers")
    rc.timestamp_of(obj.get("timestamp"))


def _v3_stream(body: bytes) -> None:
    try:
        objs = produce_routes._split_stream(body)
    except UnicodeDecodeError:  # v3_produce answers this 400 itself
        return
    for i, obj in enumerate(objs):
        _v3_record(obj, f"record {i}")


def _v3_batch(body: bytes) -> None:
    entries = _json_object(body).get("entries")
    if not isinstance(entries, list):
        raise RequestError("entries must be a list")
    for i, obj in enumerate(entries):
        _v3_record(obj, f"entries[{i}]")


PARSERS = (
    lambda body: _v2_produce(body, False),
    lambda body: _v2_produce(body, True),
    _v3_stream,
    lambda body: consumer_requests.instance_config(_json_object(body), SETTINGS),
    lambda body: consumer_requests.subscription(_json_object(body), ["orders", "audit"]),
    _v3_batch,
)


def fuzz_one(data: bytes) -> None:
    if not data:
        return
    parse = PARSERS[data[0] % len(PARSERS)]
    try:
        parse(data[1:])
    except KraftError as refusal:
        if http_status(rest_error_code(refusal)) >= 500:
            raise AssertionError(f"a body is refused as a server error: {refusal!r}") from refusal
