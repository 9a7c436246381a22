"""The one node-to-node HTTP client: every call from this node to another goes here.

It signs each request (kraft.config.cluster_keys: an HMAC of the method, path, time
and body; the key itself never crosses the wire), leaves from the node's own address (network faults single a
node out by its 127.0.0.N), bounds every call by a timeout, and turns an error answer
back into the error class the peer raised, so an unknown outcome stays unknown and a
refusal stays a refusal across the hop. A peer that cannot be reached raises
`PeerUnreachable`; what that means (try elsewhere, not the leader, outcome unknown) is
the caller's to say.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import yarl

from kraft.config.cluster import is_ipv4_literal
from kraft.config.cluster_keys import on_behalf_token, request_signature
from kraft.errors import ERROR_CLASS_HEADER, KraftError, UnknownServerError, error_from_name

SIGNATURE_HEADER = "X-Kraft-Signature"
# The receiver serves the request itself and never forwards it again.
LOCAL_ONLY_HEADER = "X-Kraft-Forwarded"
# A client request passed on keeps its principal and host (kraft.config.cluster_keys).
ON_BEHALF_HEADER = "X-Kraft-On-Behalf-Of"
RETRY_PAUSE_S = 0.05


class PeerUnreachable(Exception):
    """No answer: refused, reset, or timed out. For a write, the outcome is unknown."""

    def __init__(self, node_id: int, cause: BaseException) -> None:
        super().__init__(f"node {node_id} unreachable: {type(cause).__name__}")
        self.node_id = node_id
        self.cause = cause

    @property
    def refused(self) -> bool:
        """True only when the connection was refused: the process is gone (a timeout
        may be a pause or a network partition)."""
        return (isinstance(self.cause, aiohttp.ClientConnectorError)
                and isinstance(self.cause.os_error, ConnectionRefusedError))

    @property
    def never_sent(self) -> bool:
        """True when no connection was made, so the peer cannot have seen the request
        (after that, a reset or timeout leaves a write's outcome unknown)."""
        return isinstance(self.cause, aiohttp.ClientConnectorError)


@dataclass(frozen=True)
class PeerAnswer:
    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return orjson.loads(self.body)


class Peers:
    def __init__(self, key: bytes, url_of: Callable[[int], str], local_host: str | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self._key = key
        self._tls = tls  # checks the other nodes' certificates (https URLs) and presents ours
        self._url_of = url_of
        self._local_host = local_host
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """Made on the event loop that uses it; the node closes it last at shutdown."""
        local = (self._local_host, 0) if self._local_host and is_ipv4_literal(self._local_host) else None
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            local_addr=local, ssl=self._tls if self._tls is not None else True))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Peers used before open()"
        return self._session

    async def request(self, node_id: int, method: str, path: str, *, timeout_s: float,
                      params: dict | None = None, data: bytes | None = None,
                      headers: dict | None = None, local_only: bool = True,
                      attempts: int = 1, on_behalf: tuple[str, str] | None = None) -> PeerAnswer:
        """One call (or up to `attempts` for idempotent reads) -> the answer, any status.
        on_behalf: the (principal, host) of the client whose request this passes on."""
        url = yarl.URL(self._url_of(node_id) + path)
        if params:
            url = url.update_query(params)
        now_ms = int(time.time() * 1000)
        sent = {SIGNATURE_HEADER: request_signature(self._key, method, url.raw_path_qs, data or b"",
                                                    now_ms), **(headers or {})}
        if on_behalf is not None:
            sent[ON_BEHALF_HEADER] = on_behalf_token(self._key, *on_behalf, method, url.raw_path_qs,
                                                     now_ms)
        if local_only:
            sent[LOCAL_ONLY_HEADER] = "1"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        for attempt in range(attempts):
            left = max(0.05, deadline - loop.time())
            try:
                async with self.session.request(method, url, data=data, headers=sent,
                                                timeout=aiohttp.ClientTimeout(total=left)) as resp:
                    return PeerAnswer(resp.status, await resp.read(), resp.content_type, dict(resp.headers))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                if attempt == attempts - 1 or loop.time() + RETRY_PAUSE_S >= deadline:
                    raise PeerUnreachable(node_id, exc) from None
                await asyncio.sleep(RETRY_PAUSE_S)
        raise AssertionError("unreachable")

    async def call(self, node_id: int, method: str, path: str, *, timeout_s: float,
                   payload: Any = None, data: bytes | None = None, params: dict | None = None,
                   attempts: int = 1) -> PeerAnswer:
        """An internal RPC: a 200 answer, or the peer's error raised as its own class."""
        headers = {ERROR_CLASS_HEADER: "1"}
        if payload is not None:
            data = orjson.dumps(payload)
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        answer = await self.request(node_id, method, path, timeout_s=timeout_s, params=params,
                                    data=data, headers=headers, attempts=attempts)
        if answer.status != 200:
            raise error_of(answer)
        return answer

    async def call_json(self, node_id: int, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self.call(node_id, method, path, **kwargs)
        try:
            return answer.json()
        except orjson.JSONDecodeError:
            raise UnknownServerError(f"node {node_id} answered {path} with non-JSON") from None


def error_of(answer: PeerAnswer) -> KraftError:
    """The error a peer's non-200 answer stands for."""
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return UnknownServerError(f"peer answered HTTP {answer.status}: {answer.body[:200]!r}")
    message = str(body.get("message", ""))
    name = body.get("error_class")
    if name is None:  # not one of our error answers (e.g. the HTTP server's own 404)
        return UnknownServerError(f"peer answered HTTP {answer.status}: {message}")
    return error_from_name(str(name), message)
