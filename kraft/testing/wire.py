"""One Kafka request to one node, for the faults no client library sends (a LeaveGroup on
another member's behalf). Requests and answers are encoded by kio, as the node's own."""

from __future__ import annotations

import io
import socket
import struct

ANSWER_LIMIT = 1024 * 1024  # a LeaveGroup answer is a few hundred bytes; more is not an answer
CALL_TIMEOUT_S = 10.0


class WireError(RuntimeError):
    """The node's answer could not be read: closed early, or not a Kafka answer."""


def call(host: str, port: int, request, client_id: str = "kraft-testing"):
    """Send one kio request entity (its version is the entity's own); return the decoded answer."""
    from kio.serial import entity_reader, entity_writer

    from kraft.kafka.codec import response_class
    header_cls = type(request).__header_schema__
    buf = io.BytesIO()
    entity_writer(header_cls)(buf, header_cls(request_api_key=int(request.__api_key__),
                                              request_api_version=int(request.__version__),
                                              correlation_id=1, client_id=client_id))
    entity_writer(type(request))(buf, request)
    with socket.create_connection((host, port), timeout=CALL_TIMEOUT_S) as s:
        s.sendall(struct.pack(">i", buf.tell()) + buf.getvalue())
        size = struct.unpack(">i", _exactly(s, 4))[0]
        if not 0 < size <= ANSWER_LIMIT:  # bounded before anything is read into memory
            raise WireError(f"an answer of {size} bytes from {host}:{port} is not one")
        frame = _exactly(s, size)
    cls = response_class(int(request.__api_key__), int(request.__version__))
    _, used = entity_reader(cls.__header_schema__)(frame, 0)
    return entity_reader(cls)(frame, used)[0]


def _exactly(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise WireError(f"the node closed the connection after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)
