"""One request frame in, one response frame (or none) out: no sockets here."""

from __future__ import annotations

from kraft.kafka import error_codes
from kraft.kafka.apis import API_VERSIONS, SERVED, api_versions_answer
from kraft.kafka.codec import MalformedRequest, decode_request, encode_response, peek_head, response_class
from kraft.kafka.entities import build


async def answer(node, frame: bytes) -> bytes | None:
    """The response frame; None when the protocol says nothing is sent (acks=0).
    Raises MalformedRequest when the connection must be closed (Kafka's rule for a
    request it cannot parse or an API version it does not serve)."""
    head = peek_head(frame)
    api = SERVED.get(head.api_key)
    if head.api_key == API_VERSIONS and not api.min_version <= head.api_version <= api.max_version:
        # a newer client: the v0 answer with UNSUPPORTED_VERSION, and it retries with one we list
        return encode_response(head, build(response_class(API_VERSIONS, 0),
                                           api_versions_answer(error_codes.UNSUPPORTED_VERSION)))
    if api is None:
        raise MalformedRequest(f"API key {head.api_key} is not served")
    if not api.min_version <= head.api_version <= api.max_version:
        raise MalformedRequest(f"API key {head.api_key} v{head.api_version} is not served "
                               f"(v{api.min_version}..v{api.max_version})")
    head, request = decode_request(frame, head.api_key, head.api_version)
    if api.handle is None:
        data = api_versions_answer(error_codes.NONE)
    else:
        data = await api.handle(node, head, request)
        if data is None:
            return None
    return encode_response(head, build(response_class(head.api_key, head.api_version), data))

