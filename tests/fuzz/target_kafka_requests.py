"""Fuzz target: one Kafka request frame (without its 4-byte size) through the listener's
path (peek the head, the served-version check, the bounded decode); a frame that
decodes is re-encoded with kio and decoded again, which must give the same bytes.

Returns for anything kraft handles correctly, refusing it included (MalformedRequest:
the listener closes the connection); raises only on a bug. The seeds in CORPUS were
recorded from real clients (tests/fuzz/record_kafka_requests.py)."""

from __future__ import annotations

import io
import pathlib

from kio.serial import entity_reader, entity_writer

from kraft.kafka.codec import MalformedRequest
from kraft.kafka.dispatch import parse

CORPUS = pathlib.Path(__file__).parent / "corpus" / "kafka_requests"


def fuzz_one(data: bytes) -> None:
    try:
        request = parse(data)
    except MalformedRequest:
        return
    if request.body is None:  # an ApiVersions version not served: its answer is ready
        return
    cls = type(request.body)
    first = _encoded(cls, request.body)
    again, used = entity_reader(cls)(first, 0)
    if used != len(first) or _encoded(cls, again) != first:
        raise AssertionError(f"{cls.__name__} v{request.head.api_version} does not survive a round trip")


def _encoded(cls, body) -> bytes:
    buf = io.BytesIO()
    entity_writer(cls)(buf, body)
    return buf.getvalue()
