"""A follower's connection to one leader: each fetch is one message each way.

Kafka's replica fetcher keeps one connection per leader and sends Fetch after Fetch on
it. A follower here opens a WebSocket on the leader's HTTP port (the handshake signed
like every node-to-node request) and sends each FetchRequest as one binary message,
itself signed, and reads each answer as one binary message: a round trip costs two
frames instead of an HTTP request through the API's middleware, with its headers built
and parsed (over half of a node's replication CPU went there at 100 MB/s).

One request at a time per channel, so an answer always belongs to the last request;
after any failure or timeout the connection is dropped and the next fetch opens a new
one, so a late answer can never be taken for the next request's. A connection whose
leader agreed to it carries a fetch session (kraft/replication/fetch_session.py) that
lives and dies with the connection.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from kraft.internode.peers import Peers, PeerUnreachable
from kraft.config.cluster_keys import request_signature, signature_valid
from kraft.replication.fetch_protocol import FetchRequest, PartitionData, decode_response
from kraft.replication.fetch_session import SESSION_PROTOCOL, FollowerFetchSession

FETCH_STREAM_PATH = "/internal/v1/fetch"
SIGNED_AS = "FETCH"  # the method in a message's signature (the handshake's is GET)
ANSWER_GRACE_S = 5.0  # on top of the request's own long-poll wait


def signed_message(key: bytes, request: FetchRequest, now_ms: int) -> bytes:
    return signed_body(key, request.encode(), now_ms)


def signed_body(key: bytes, body: bytes, now_ms: int) -> bytes:
    """A message: its signature, a newline, the body (what verified_request takes apart)."""
    return request_signature(key, SIGNED_AS, FETCH_STREAM_PATH, body, now_ms).encode() + b"\n" + body


def verified_request(key: bytes, message: bytes, now_ms: int) -> FetchRequest:
    """The FetchRequest in a follower's message; ValueError when unsigned, stale or malformed."""
    signature, newline, body = message.partition(b"\n")
    if not newline or not signature_valid(key, signature.decode("ascii", "replace"), SIGNED_AS,
                                          FETCH_STREAM_PATH, body, now_ms):
        raise ValueError("missing, stale or wrong node-to-node signature on a fetch")
    try:
        return FetchRequest.decode(body)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed fetch request: {exc!r}") from None


def _now_ms() -> int:
    return int(time.time() * 1000)


class FetchStreamClosed(ConnectionError):
    """The leader ended the stream (shutting down, or it refused a request)."""


class FetchChannel:
    """Owned by one fetcher task (`async with`), closed when the fetcher ends."""

    def __init__(self, peers: Peers, leader_id: int, key: bytes):
        self._peers = peers
        self._leader_id = leader_id
        self._key = key
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: FollowerFetchSession | None = None  # None: full requests (the leader keeps no sessions)

    async def __aenter__(self) -> "FetchChannel":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def fetch(self, request: FetchRequest) -> list[PartitionData]:
        """request: every partition this follower fetches from the leader. The answer
        holds those with news (with a session) or all of them (without)."""
        try:
            async with asyncio.timeout(request.max_wait_ms / 1000 + ANSWER_GRACE_S):
                ws = self._ws
                if ws is None or ws.closed:
                    ws = self._ws = await self._peers.open_stream(self._leader_id, FETCH_STREAM_PATH,
                                                                  protocols=(SESSION_PROTOCOL,))
                    self._session = FollowerFetchSession() if ws.protocol == SESSION_PROTOCOL else None
                wire = self._session.to_send(request) if self._session is not None else request
                await ws.send_bytes(signed_message(self._key, wire, _now_ms()))
                message = await ws.receive()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self.close()
            raise PeerUnreachable(self._leader_id, exc) from None
        except BaseException:
            await self.close()
            raise
        if message.type is not aiohttp.WSMsgType.BINARY:
            await self.close()
            raise FetchStreamClosed(f"node {self._leader_id} ended the fetch stream "
                                    f"({message.type.name} {message.extra or ''})")
        return decode_response(message.data)

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
