"""The Kafka listener: a TCP server per broker, one task per connection, all owned here.

Requests on a connection are answered one at a time and in order, as a Kafka broker
does (clients pipeline; answers keep their order). What one client can cost is bounded:
frames above socket.request.max.bytes close the connection, frame bodies wait for a
share of a node-wide byte budget (Kafka's queued.max.request.bytes), a frame must
arrive within BODY_TIMEOUT_S once begun, an idle connection is closed after
connections.max.idle.ms, and a client that stops reading its answers is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from kraft.kafka.codec import MalformedRequest
from kraft.kafka.dispatch import answer

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 100 * 1024 * 1024       # Kafka's socket.request.max.bytes
QUEUED_REQUEST_BYTES = 256 * 1024 * 1024  # node-wide bytes of requests being read or served
MAX_CONNECTIONS = 1000
IDLE_TIMEOUT_S = 600.0                    # Kafka's connections.max.idle.ms
BODY_TIMEOUT_S = 30.0
WRITE_TIMEOUT_S = 30.0
_SIZE = struct.Struct(">i")


class ByteBudget:
    """Bytes that requests in flight may hold, shared by every connection."""

    def __init__(self, total: int):
        self.total = total
        self.free = total
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, size: int):
        async with self._changed:
            await self._changed.wait_for(lambda: self.free >= size)
            self.free -= size
        try:
            yield
        finally:
            async with self._changed:
                self.free += size
                self._changed.notify_all()


class KafkaListener:
    def __init__(self, node, host: str, port: int):
        self._node = node
        self._host, self._port = host, port
        self._budget = ByteBudget(QUEUED_REQUEST_BYTES)
        self._connections: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port,
                                                  reuse_address=True, limit=64 * 1024)

    async def close(self) -> None:
        """Stop accepting, cut every connection and wait for their tasks to end."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._connections) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._connections.add(task)
        try:
            await self._requests(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or stalled: its connection ends, nothing else
        except MalformedRequest as exc:
            log.info("closing a Kafka connection from %s: %s", _peer(writer), exc)
        except Exception:  # a bug in a handler: this client reconnects, the broker stays up
            log.exception("closing a Kafka connection from %s after an unexpected error", _peer(writer))
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            async with asyncio.timeout(IDLE_TIMEOUT_S):
                (size,) = _SIZE.unpack(await reader.readexactly(4))
            if not 0 < size <= MAX_FRAME_BYTES:
                raise MalformedRequest(f"frame of {size} bytes (limit {MAX_FRAME_BYTES})")
            async with self._budget.hold(size):
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    frame = await reader.readexactly(size)
                response = await answer(self._node, frame)
                del frame
                if response is not None:
                    writer.write(response)
                    async with asyncio.timeout(WRITE_TIMEOUT_S):
                        await writer.drain()


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if peer else "?"
