"""Server-side TLS for the Kafka listener, with one read buffer for all its connections.

asyncio's TLS protocol gives every connection its own 256 KiB buffer for the socket's
reads, allocated and zeroed when the connection opens: most of what an idle TLS
connection costs (about 280 KiB each, so 1,000 connected clients that send nothing hold
some 280 MB). Each read's bytes are copied into the connection's TLS object in the same
call that reads them (the transport calls get_buffer, recv_into, buffer_updated with no
await between), so one buffer per event loop serves every connection of a listener.
"""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import Protocol


class Gate(Protocol):
    """The listener's connection limits, met by the raw connection before its handshake."""

    def opened(self, transport: asyncio.BaseTransport) -> bool: ...  # False: refused, close it

    def lost(self, transport: asyncio.BaseTransport) -> None: ...


class SharedReadBufferTLS(sslproto.SSLProtocol):
    """asyncio's server-side TLS protocol, reading into the listener's shared buffer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app_protocol: asyncio.BaseProtocol,
                 context: ssl.SSLContext, shared: memoryview, handshake_timeout_s: float, gate: Gate | None = None):
        # no waiter (None): the accepting loop already awaits the raw transport's
        super().__init__(loop, app_protocol, context, None, server_side=True,  # type: ignore[arg-type]
                         ssl_handshake_timeout=handshake_timeout_s)  # type: ignore[arg-type]
        self._ssl_buffer = shared.obj  # the base's own 256 KiB goes straight back
        self._ssl_buffer_view = shared
        self._gate = gate
        self._raw: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # counted from the accept, as Kafka's acceptor counts: a handshake holds memory too
        if self._gate is not None and not self._gate.opened(transport):
            transport.abort()  # type: ignore[attr-defined]
            return
        self._raw = transport
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        if self._gate is not None and self._raw is not None:
            self._gate.lost(self._raw)
            self._raw = None

    def get_buffer(self, n: int) -> memoryview:
        return self._ssl_buffer_view  # its size: each read takes what fits, as the base's


def tls_protocol_factory(loop: asyncio.AbstractEventLoop, context: ssl.SSLContext, handshake_timeout_s: float,
                         app_factory: Callable[[], asyncio.BaseProtocol],
                         gate: Gate | None = None) -> Callable[[], asyncio.BaseProtocol] | None:
    """A protocol factory for loop.create_server: each connection's TLS wraps app_factory's
    protocol, every one reading into the same buffer (this loop's: one listener's). None
    where asyncio's TLS protocol is not the one this was written against (another Python):
    the listener then uses asyncio's own TLS, a buffer per connection. gate: the limits each
    raw connection meets before its handshake begins."""
    if not all(hasattr(sslproto.SSLProtocol, name) for name in ("max_size", "get_buffer", "buffer_updated")):
        return None
    shared = memoryview(bytearray(sslproto.SSLProtocol.max_size))
    return lambda: SharedReadBufferTLS(loop, app_factory(), context, shared, handshake_timeout_s, gate)
