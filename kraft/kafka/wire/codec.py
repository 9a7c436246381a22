"""Kafka's wire format: request frames in, response frames out (sans-IO).

Message bodies are read by `kio`, which is generated from Kafka's JSON message specs,
and written in kio's layout by `wire_writer`; this module adds the framing and the
request/response headers, and the schemas name their own headers (ApiVersions answers
always use header v0, so a client that asked with a version we do not know can still
read the answer).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from kio import index as kio_index
from kio.serial import entity_reader
from kio.schema.index import api_key_map
from kio.serial.errors import SerialError

from kraft.kafka.wire import frame_bounds

from kraft.kafka.wire import wire_writer

_HEADER = struct.Struct(">hhi")

# kio resolves a schema by importing its module path on every call; a request's schemas
# are looked up twice per request, so each (key, version) is resolved once
load_request_schema = functools.cache(kio_index.load_request_schema)
load_response_schema = functools.cache(kio_index.load_response_schema)


class MalformedRequest(Exception):
    """A frame that is not a request of the version it names: the connection is closed."""


@dataclass(frozen=True)
class RequestHead:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


def peek_head(frame: bytes) -> RequestHead:
    """Key, version and correlation id: enough to answer (or refuse) any request."""
    if len(frame) < _HEADER.size:
        raise MalformedRequest(f"a request frame of {len(frame)} bytes has no header")
    key, version, correlation = _HEADER.unpack_from(frame)
    return RequestHead(key, version, correlation, None)


def decode_request(frame: bytes, api_key: int, version: int):
    """(head, body entity) of a request whose key and version we serve.

    Bytes after the body are ignored, as Kafka's brokers ignore them: librdkafka's
    AdminClient sends Metadata v12 with a field that version no longer has after it."""
    schema = load_request_schema(api_key, version)
    try:
        # lengths bounded and unknown tags cut out first: kio trusts every length it reads
        frame = frame_bounds.check(frame, schema.__header_schema__, schema)
        header, used = entity_reader(schema.__header_schema__)(frame, 0)
        body, _ = entity_reader(schema)(frame, used)
    except (SerialError, ValueError, TypeError, IndexError, OverflowError) as exc:
        raise MalformedRequest(f"{api_key_map[api_key]} v{version}: {exc}") from None
    return RequestHead(api_key, version, header.correlation_id, header.client_id), body


def response_class(api_key: int, version: int):
    return load_response_schema(api_key, version)


def encode_request(request, correlation_id: int, client_id: str | None) -> bytes:
    """The length-prefixed frame of a kio request entity, at the entity's own version: the
    client's side, for what kraft sends itself (another broker, the failure lab,
    kraft.testing's faults)."""
    header_cls = type(request).__header_schema__
    return wire_writer.frame(header_cls(request_api_key=int(request.__api_key__),
                                        request_api_version=int(request.__version__),
                                        correlation_id=correlation_id, client_id=client_id), request)


def decode_response(api_key: int, version: int, payload: bytes):
    """The response entity of an answer frame's payload (after its length)."""
    cls = response_class(api_key, version)
    _, used = entity_reader(cls.__header_schema__)(payload, 0)
    return entity_reader(cls)(payload, used)[0]


def encode_response(head: RequestHead, body) -> bytes:
    """The length-prefixed frame of `body` (an instance of response_class(key, version))."""
    header_cls = type(body).__header_schema__  # v0 for ApiVersions at every version
    return wire_writer.frame(header_cls(correlation_id=head.correlation_id), body)

