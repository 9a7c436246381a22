"""A connection to the Kafka port that is not speaking Kafka: said to it where it can be.

A Kafka frame begins with its size, which a listener refuses above its limit. An HTTP
request's first four bytes ("GET ", "POST", ...) read as a size of a gigabyte and more,
so a browser, curl or `kraft --bootstrap HOST:KAFKA_PORT` sent where the HTTP port was
meant was cut off with nothing said. Such a first frame is answered instead with HTTP's
400 in the REST API's error envelope, naming this node's HTTP port, and the connection
closes. A TLS handshake on a plaintext listener cannot be answered in a way its client
reads, so it is only named in the log line that closes it.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from kraft.config.node_config import NodeConfig
from kraft.kafka.wire.codec import MalformedRequest

HTTP_METHODS = (b"GET ", b"POST", b"PUT ", b"HEAD", b"DELE", b"PATC", b"OPTI", b"CONN", b"TRAC")
HEADERS_MAX_BYTES = 16 * 1024  # the request's headers are read (not answered over) up to this
HEADERS_WAIT_S = 2.0
CLIENT_CLOSE_WAIT_S = 1.0  # the client closes first after the answer: no reset that drops it


class HttpOnKafkaPort(MalformedRequest):
    """The connection's first bytes are an HTTP request: `answer` is HTTP's reply to it."""

    def __init__(self, message: str, answer: bytes):
        super().__init__(message)
        self.answer = answer


def not_kafka(first: bytes, node: NodeConfig, first_request: bool) -> MalformedRequest | None:
    """What the first four bytes of a connection say it is when it is not Kafka: an HTTP
    request (answered) or a TLS handshake on a plaintext listener (named); None when they
    may be a Kafka frame's size, or the connection has served requests already."""
    if not first_request:
        return None
    if first in HTTP_METHODS:
        message = (f"this is node {node.id}'s Kafka port ({node.kafka_port}), which speaks the Kafka "
                   f"protocol, not HTTP: the REST API is on its HTTP port, {node.http_url}")
        body = orjson.dumps({"error_code": 400, "message": message})
        return HttpOnKafkaPort(
            f"an HTTP request on the Kafka port (the HTTP port is {node.http_port}); answered 400 with it",
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    if first[:2] == b"\x16\x03":  # a TLS record: handshake, version 3.x
        return MalformedRequest("a TLS handshake on a plaintext Kafka listener: the client's security.protocol "
                                "is SSL or SASL_SSL, this listener's PLAINTEXT or SASL_PLAINTEXT")
    return None


async def answer_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, refused: HttpOnKafkaPort) -> None:
    """The request's headers are read (bounded), the answer written, and the client given a
    moment to close first: closing with its request unread would reset the connection, and
    the client could lose the answer. Every wait is bounded; a stalled client only ends."""
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(HEADERS_WAIT_S):
            tail, total = b"", 0
            while total < HEADERS_MAX_BYTES:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                total += len(chunk)
                tail = tail[-3:] + chunk
                if b"\r\n\r\n" in tail:
                    break
    with contextlib.suppress(OSError, TimeoutError):
        writer.write(refused.answer)
        async with asyncio.timeout(CLIENT_CLOSE_WAIT_S):
            await writer.drain()
            while await reader.read(4096):  # a body the client still sends, up to its close
                pass
