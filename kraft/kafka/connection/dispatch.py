"""One request frame in, one response frame (or none) out: no sockets here.

A handler's unexpected exception is logged with its traceback under an id and answered
UNKNOWN_SERVER_ERROR with that id, never with the exception's text (kafka/error_answer);
an API that has no whole-request error code raises Unanswerable instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.broker.unexpected_errors import client_message, log_with_id
from kraft.errors import KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.apis import API_VERSIONS, SERVED, api_versions_answer
from kraft.kafka.wire.codec import (
    MalformedRequest,
    RequestHead,
    decode_request,
    encode_response,
    peek_head,
    response_class,
)
from kraft.kafka.wire.entities import build
from kraft.kafka.wire.error_answer import whole_request_error
from kraft.kafka.connection.quota_enforcement import on_answer, on_arrival
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.connection.session import Session
from kraft.kafka.wire.splice import Spliced, frame_parts
from kraft.storage.file_slice import FileSlice

log = logging.getLogger(__name__)


class Unanswerable(Exception):
    """A handler failed and its API has no whole-request error to answer with: the
    connection is closed (logged already, under the id this message names)."""


@dataclass(frozen=True)
class Request:
    head: RequestHead
    body: object  # the decoded request entity; None when the answer is already known
    ready_answer: bytes | None = None


def parse(frame: bytes) -> Request:
    """The decoded request. Raises MalformedRequest when the connection must be closed
    (Kafka's rule for a request it cannot parse or an API version it does not serve)."""
    head = peek_head(frame)
    api = SERVED.get(head.api_key)
    if api is None:
        raise MalformedRequest(f"API key {head.api_key} is not served")
    if head.api_key == API_VERSIONS and not api.min_version <= head.api_version <= api.max_version:
        # a newer client: the v0 answer with UNSUPPORTED_VERSION, and it retries with one we list
        return Request(head, None, encode_response(head, build(
            response_class(API_VERSIONS, 0), api_versions_answer(error_codes.UNSUPPORTED_VERSION))))
    if not api.min_version <= head.api_version <= api.max_version:
        raise MalformedRequest(f"API key {head.api_key} v{head.api_version} is not served "
                               f"(v{api.min_version}..v{api.max_version})")
    head, body = decode_request(frame, head.api_key, head.api_version)
    return Request(head, body)


async def respond(node: BrokerServices, request: Request, request_bytes: int = 0,
                  connection: Session | None = None,
                  next_may_start: Callable[[], None] | None = None) -> bytes | list[bytes | FileSlice] | None:
    """The response frame, as bytes or as parts (bytes, and file slices to send with
    sendfile, which the sender closes); None when the protocol says nothing is sent
    (acks=0). A client over its quota gets the throttle time in the answer, and its
    connection is muted that long (session.Session.muted_until). The handler gets the
    request's context (request_context.RequestContext): its header, the connection, the
    connection's turn (next_may_start)."""
    if request.ready_answer is not None:
        return request.ready_answer
    head = request.head
    api = SERVED[head.api_key]
    data: dict[str, Any] | Spliced | None
    cls = response_class(head.api_key, head.api_version)
    if api.handle is None:
        data = api_versions_answer(error_codes.NONE, head.api_version)
    else:
        ctx = RequestContext(head, connection, next_may_start)
        if throttle := on_arrival(node, ctx, request_bytes):
            ctx.mute(throttle)
        started = time.monotonic()
        try:
            data = await api.handle(node, ctx, request.body)
        except Exception as exc:  # a bug, or a condition the handler let through
            return _failure_answer(node, head, cls, exc)
        if later := on_answer(node, ctx, data, time.monotonic() - started):
            ctx.mute(later)
        if (throttle := max(throttle, later)) and data is not None:
            (data.body if isinstance(data, Spliced) else data)["throttle_time"] = throttle
        if data is None:
            return None
    if not isinstance(data, Spliced):
        return encode_response(head, build(cls, data))
    try:
        return frame_parts(encode_response(head, build(cls, data.body)), data.slices, cls.__flexible__)
    except BaseException:
        data.close()
        raise


def _failure_answer(node: BrokerServices, head: RequestHead, cls, exc: Exception) -> bytes:
    incident = log_with_id(log, f"Kafka API {head.api_key} v{head.api_version} (client {head.client_id!r})")
    if isinstance(exc, KraftError):  # kraft's own words, with the code clients act on
        code, message = exc.kafka_code, exc.message
    else:
        code, message = error_codes.UNKNOWN_SERVER_ERROR, client_message(node.node_id, incident)
    answer = whole_request_error(cls, code, message)
    if answer is None:
        raise Unanswerable(f"API {head.api_key} v{head.api_version} failed (id {incident}); "
                           "its answer has no whole-request error code")
    return encode_response(head, answer)
