"""One request frame in, one response frame (or none) out: no sockets here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.kafka import error_codes
from kraft.kafka.apis import API_VERSIONS, SERVED, api_versions_answer
from kraft.kafka.codec import (
    MalformedRequest,
    RequestHead,
    decode_request,
    encode_response,
    peek_head,
    response_class,
)
from kraft.kafka.entities import build
from kraft.kafka.splice import Spliced, frame_parts
from kraft.storage.file_slice import FileSlice


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


async def respond(node: BrokerServices, request: Request) -> bytes | list[bytes | FileSlice] | None:
    """The response frame, as bytes or as parts (bytes, and file slices to send with
    sendfile, which the sender closes); None when the protocol says nothing is sent
    (acks=0)."""
    if request.ready_answer is not None:
        return request.ready_answer
    head = request.head
    api = SERVED[head.api_key]
    data: dict[str, Any] | Spliced | None
    if api.handle is None:
        data = api_versions_answer(error_codes.NONE)
    else:
        data = await api.handle(node, head, request.body)
        if data is None:
            return None
    cls = response_class(head.api_key, head.api_version)
    if not isinstance(data, Spliced):
        return encode_response(head, build(cls, data))
    try:
        return frame_parts(encode_response(head, build(cls, data.body)), data.slices)
    except BaseException:
        data.close()
        raise
