"""Reading one Kafka request frame off a connection, within what the node can hold.

A frame's size is only a claim: its bytes count against the node-wide budget (Kafka's
queued.max.request.bytes) as they arrive, chunk by chunk, never as declared, so frames
that announce much and send little hold nothing for others to wait on. The whole frame
must arrive by a deadline (the listener's), or the connection ends. The header comes first on its own:
whether the request may be served at all (before authentication, only SASL's) is decided
from its API key before anything else of it is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kraft.kafka.wire.codec import MalformedRequest, RequestHead, peek_head

HEADER_BYTES = 8      # api key, version, correlation id: what peek_head reads
CHUNK_BYTES = 64 * 1024  # read (and reserved) at most this much at a time


class ByteBudget:
    """Bytes that requests in flight may hold, shared by every connection."""

    def __init__(self, total: int):
        self.total = total
        self.free = total
        self._freed = asyncio.Event()

    async def acquire(self, size: int) -> None:
        while self.free < size:
            self._freed.clear()
            await self._freed.wait()
        self.free -= size

    def release(self, size: int) -> None:
        self.free += size
        self._freed.set()


async def read_frame(reader: asyncio.StreamReader, size: int, budget: ByteBudget,
                     check_head: Callable[[RequestHead], None]) -> bytes:
    """The frame's `size` bytes, all of them reserved in `budget` (the caller releases them
    once the request is served). `check_head` raises MalformedRequest to refuse the request
    from its header alone. The caller bounds the time (the listener's deadline);
    whatever was reserved is released on any failure."""
    held = 0
    try:
        head = await reader.readexactly(min(size, HEADER_BYTES))
        await budget.acquire(len(head))
        held = len(head)
        if len(head) < HEADER_BYTES:
            raise MalformedRequest(f"a request frame of {size} bytes has no header")
        check_head(peek_head(head))
        parts = [head]
        while held < size:  # every byte read so far is held
            chunk = await reader.read(min(size - held, CHUNK_BYTES))
            if not chunk:
                raise asyncio.IncompleteReadError(b"".join(parts), size)
            await budget.acquire(len(chunk))
            held += len(chunk)
            parts.append(chunk)
        return b"".join(parts)  # one copy of the frame, however many chunks it came in
    except BaseException:
        budget.release(held)
        raise
