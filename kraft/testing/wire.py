"""One Kafka request to one node, for the faults no client library sends (a LeaveGroup on
another member's behalf). Requests and answers are encoded by kio, as the node's own.
On a secured cluster the connection is TLS and authenticates with SASL PLAIN first."""

from __future__ import annotations

import socket
import ssl
import struct

from kraft.errors.kafka_codes import NONE

ANSWER_LIMIT = 1024 * 1024  # the answers asked for here are a few hundred bytes; more is not one
CALL_TIMEOUT_S = 10.0


class WireError(RuntimeError):
    """The node's answer could not be read (closed early, not a Kafka answer), or it
    refused the connection's authentication."""


def call(host: str, port: int, request, tls: ssl.SSLContext | None = None,
         credentials: tuple[str, str] | None = None):
    """Send one kio request entity (its version is the entity's own); return the decoded
    answer. tls and credentials: for a secured cluster's listener."""
    with socket.create_connection((host, port), timeout=CALL_TIMEOUT_S) as raw:
        s = tls.wrap_socket(raw, server_hostname=host) if tls is not None else raw
        with s:
            if credentials is not None:
                _sasl_plain(s, *credentials)
            return _exchange(s, request, correlation_id=9)


def _sasl_plain(s: socket.socket, user: str, password: str) -> None:
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    if int(_exchange(s, SaslHandshakeRequest(mechanism="PLAIN"), 1).error_code.value) != NONE:
        raise WireError("the node does not take SASL PLAIN")
    token = b"\0" + user.encode() + b"\0" + password.encode()
    answer = _exchange(s, SaslAuthenticateRequest(auth_bytes=token), 2)
    if int(answer.error_code.value) != NONE:
        raise WireError(f"SASL PLAIN refused for {user}: {answer.error_message}")


def _exchange(s: socket.socket, request, correlation_id: int):
    from kraft.kafka.wire.codec import decode_response, encode_request
    s.sendall(encode_request(request, correlation_id, "kraft-testing"))
    size = struct.unpack(">i", _exactly(s, 4))[0]
    if not 0 < size <= ANSWER_LIMIT:  # bounded before anything is read into memory
        raise WireError(f"an answer of {size} bytes is not one")
    return decode_response(int(request.__api_key__), int(request.__version__), _exactly(s, size))


def _exactly(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise WireError(f"the node closed the connection after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)
