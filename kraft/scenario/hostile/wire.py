"""The `hostile` scenario's Kafka connections: asyncio streams from the abuse's own
source address, each step bounded in time, and what became of a frame sent.

The bytes come from hostile_frames (pure); this module only moves them.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from dataclasses import dataclass

from kraft.scenario.hostile import frames

CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 64 << 20  # a larger announced answer is not read (nor believed)

ANSWERED, CLOSED, SILENT, UNREACHABLE = "answered", "closed", "no answer", "unreachable"


@dataclass
class Sent:
    outcome: str  # ANSWERED | CLOSED | SILENT | UNREACHABLE
    payload: bytes = b""  # the answer's bytes, after the length


class Conn:
    """One Kafka connection; `async with` closes it whatever happens."""

    def __init__(self, host: str, port: int, source: str):
        self.where = (host, port, source)
        self.reader: asyncio.StreamReader  # set on entering
        self.writer: asyncio.StreamWriter

    async def __aenter__(self) -> Conn:
        host, port, source = self.where
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(source, 0)), CONNECT_TIMEOUT_S)
        return self

    async def __aexit__(self, *exc) -> None:
        if hasattr(self, "writer"):
            self.writer.close()
            try:
                await asyncio.wait_for(self.writer.wait_closed(), 2)
            except (OSError, TimeoutError):
                pass

    async def send(self, frame: bytes, timeout_s: float = ANSWER_TIMEOUT_S) -> Sent:
        """Send one frame and read one answer frame (or learn the broker closed, or kept silent)."""
        try:
            self.writer.write(frame)
            await self.writer.drain()
            size = struct.unpack(">i", await asyncio.wait_for(self.reader.readexactly(4), timeout_s))[0]
            if not 0 <= size <= MAX_ANSWER_BYTES:
                return Sent(ANSWERED, b"")
            return Sent(ANSWERED, await asyncio.wait_for(self.reader.readexactly(size), timeout_s))
        except (asyncio.IncompleteReadError, ConnectionError):
            return Sent(CLOSED)
        except TimeoutError:
            return Sent(SILENT)

    async def closed_by_peer(self, wait_s: float) -> bool:
        """Whether the broker closes this connection within wait_s (reading nothing else)."""
        try:
            return await asyncio.wait_for(self.reader.read(1), wait_s) == b""
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    def gone(self) -> bool:
        """Whether the broker has ended this connection, seen without reading from it: an
        orderly close is an EOF, an abort (an evicted connection) a reset."""
        return self.reader.at_eof() or self.reader.exception() is not None or self.writer.is_closing()

    async def plain_login(self, user: str, password: str) -> str | None:
        """None once logged in, else why not (the handshake's or the login's outcome)."""
        refused = await self._handshake("PLAIN")
        if refused:
            return refused
        sent = await self.send(frames.sasl_authenticate(frames.plain_auth(user, password)))
        codes = answer_codes(36, 2, sent) if sent.outcome == ANSWERED else []
        return None if codes == [0] else f"login refused: {sent.outcome} {codes}".rstrip(" []")

    async def scram_login(self, user: str, password: str) -> Sent:
        """A SCRAM-SHA-256 exchange; the last answer (the handshake's when it was refused)."""
        refused = await self._handshake("SCRAM-SHA-256")
        if refused:
            return Sent(refused)
        bare = frames.scram_first(user, secrets.token_hex(12))
        first = await self.send(frames.sasl_authenticate(("n,," + bare).encode()))
        if first.outcome != ANSWERED or answer_codes(36, 2, first) != [0]:
            return first
        server_first = frames.decode_answer(36, 2, first.payload).auth_bytes.decode()
        final = frames.scram_final(bare, server_first, password)
        return await self.send(frames.sasl_authenticate(final.encode(), correlation_id=3))

    async def _handshake(self, mechanism: str) -> str | None:
        """None when the mechanism was taken, else what came back."""
        sent = await self.send(frames.sasl_handshake(mechanism))
        codes = answer_codes(17, 1, sent) if sent.outcome == ANSWERED else []
        return None if codes[:1] == [0] else f"handshake {sent.outcome} {codes}".rstrip(" []")


def answer_codes(api_key: int, version: int, sent: Sent) -> list[int]:
    """The error codes of an answer; [-1] when it does not decode."""
    try:
        return frames.error_codes(frames.decode_answer(api_key, version, sent.payload))
    except Exception:  # noqa: BLE001 - bytes that do not decode are no answer to judge
        return [-1]

