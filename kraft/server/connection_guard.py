"""Bounds on the HTTP connections a node holds: how many, and how long they may sit.

aiohttp keeps a connection that never completes its headers (bytes trickling in) or
never sends anything for as long as the client likes, and takes any number of them:
file descriptors run out long before memory does. The guard wraps the server's
protocol factory and its request middleware:

- at most `limit` client connections at once, and at most `per_address_limit` (a
  quarter of them by default) from any one address, so one address's idle connections
  cannot lock the others out; one more gets a 429 in the API's error envelope and is
  closed. Connections from the cluster's own nodes are not counted, so clients cannot
  starve heartbeats, replication or forwarding;
- a connection whose request headers have not all arrived `header_timeout_s` after its
  first byte is closed (slow headers);
- a connection with no request in progress and no byte for `idle_timeout_s` is closed
  (idle keep-alive, or nothing sent at all);
- a connection whose first byte is 0 is a Kafka client at the wrong door (a Kafka frame
  begins with its size; no HTTP request begins so): with `kafka_hint` it is answered 400
  with the hint (which names the Kafka port) and closed, and the log says so, sparingly.

A request in progress is never cut here: its body has its own read timeout and long
polls are legitimate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

log = logging.getLogger(__name__)

SWEEP_PERIOD_S = 0.5


def default_limit() -> int:
    """4,096, or a quarter of this process's file descriptors when that is fewer: the
    rest are for log segments, peers and the Raft port."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, min(4096, soft // 4)) if soft > 0 else 4096


def _env_seconds(name: str, default_s: float) -> float:
    value = os.environ.get(name)
    return int(value) / 1000 if value else default_s


@dataclass
class _Conn:
    opened: float
    host: str | None
    counted: bool  # against the limit (not one of the cluster's own nodes)
    busy: int = 0  # requests started and not finished
    last_seen: float = 0.0  # last byte or last response
    partial_since: float | None = None  # first byte of a request not yet started


class _GuardedProtocol(asyncio.Protocol):
    """Stands between the transport and aiohttp's RequestHandler."""

    def __init__(self, guard: "ConnectionGuard", inner: asyncio.Protocol):
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._refused = False
        self._first = True  # no byte seen yet
        self._diverted = False  # a Kafka client answered here: nothing more reaches aiohttp

    def connection_made(self, transport):
        self._transport = transport
        if not self._guard._admit(transport):
            self._refused = True
            return
        self._inner.connection_made(transport)

    def connection_lost(self, exc):
        if self._refused:
            return
        self._guard._forget(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data):
        if self._refused or self._diverted:
            return
        if self._first:
            self._first = False
            if data[:1] == b"\x00" and self._guard.kafka_hint is not None:
                self._diverted = True  # answered and closed; connection_lost ends it as any other
                self._guard._kafka_at_http_port(self._transport)
                return
        self._guard._bytes_arrived(self._transport)
        self._inner.data_received(data)

    def eof_received(self):
        return None if self._refused else self._inner.eof_received()

    def pause_writing(self):
        if not self._refused:
            self._inner.pause_writing()

    def resume_writing(self):
        if not self._refused:
            self._inner.resume_writing()


class _GuardedServer:
    """What AppRunner hands the listening socket: our protocol around aiohttp's."""

    def __init__(self, guard: "ConnectionGuard", server: web.Server):
        self._guard = guard
        self._server = server

    def __call__(self) -> asyncio.Protocol:
        return _GuardedProtocol(self._guard, self._server())

    def __getattr__(self, name):  # shutdown(), connections, ... as aiohttp expects
        return getattr(self._server, name)


class ConnectionGuard:
    def __init__(self, node_hosts: set[str], limit: int | None = None,
                 header_timeout_s: float | None = None, idle_timeout_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic, per_address_limit: int | None = None,
                 kafka_hint: str | None = None):
        """kafka_hint: what a Kafka client at this HTTP port is told (and the log says)."""
        self.limit = limit or int(os.environ.get("KRAFT_HTTP_MAX_CONNECTIONS", 0)) or default_limit()
        self.per_address_limit = (per_address_limit or int(os.environ.get("KRAFT_HTTP_MAX_CONNECTIONS_PER_IP", 0))
                                  or max(1, self.limit // 4))
        self._per_host: Counter[str | None] = Counter()  # counted connections by client address
        self.header_timeout_s = header_timeout_s or _env_seconds("KRAFT_HTTP_HEADER_TIMEOUT_MS", 10.0)
        self.idle_timeout_s = idle_timeout_s or _env_seconds("KRAFT_HTTP_IDLE_TIMEOUT_MS", 60.0)
        self._node_hosts = frozenset(node_hosts)
        self._clock = clock
        self._conns: dict[asyncio.BaseTransport, _Conn] = {}
        self.refused = 0
        self.kafka_hint = kafka_hint
        self.kafka_clients = 0  # Kafka clients that dialled this HTTP port

    # -- wiring ------------------------------------------------------------------------
    def wrap(self, runner: web.AppRunner) -> None:
        """After runner.setup(), before a site starts."""
        server = runner.server
        assert server is not None, "ConnectionGuard.wrap() comes after runner.setup()"
        # the factory sites listen with: a duck-typed stand-in in aiohttp's private slot
        runner._server = _GuardedServer(self, server)  # type: ignore[assignment]

    @web.middleware
    async def middleware(self, request, handler):
        conn = self._conns.get(request.transport) if request.transport is not None else None
        if conn is None:
            return await handler(request)
        conn.busy += 1
        conn.partial_since = None
        try:
            return await handler(request)
        finally:
            conn.busy -= 1
            conn.last_seen = self._clock()

    async def run(self) -> None:
        """Owned by the node's task group; returns only when cancelled."""
        while True:
            await asyncio.sleep(SWEEP_PERIOD_S)
            self.sweep()

    # -- the rules -----------------------------------------------------------------------
    @property
    def counted(self) -> int:
        return sum(self._per_host.values())

    def _over_limit(self, host: str | None) -> str | None:
        """Why one more connection from `host` is refused, or None."""
        if self._per_host[host] >= self.per_address_limit:
            return (f"this node already holds {self.per_address_limit} connections from your address; "
                    f"retry later or reuse connections")
        if self.counted >= self.limit:
            return f"this node already holds {self.limit} client connections; retry later or reuse connections"
        return None

    def _admit(self, transport) -> bool:
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else None
        counted = host not in self._node_hosts
        if counted and (why := self._over_limit(host)) is not None:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("HTTP connection limits (%d, %d per address) reached: refusing (%d refused so far)",
                            self.limit, self.per_address_limit, self.refused)
            body = orjson.dumps({"error_code": 429, "message": why})
            transport.write(b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                            b"Connection: close\r\nContent-Length: " + str(len(body)).encode()
                            + b"\r\n\r\n" + body)
            transport.close()
            return False
        now = self._clock()
        self._conns[transport] = _Conn(opened=now, host=host, counted=counted, last_seen=now)
        if counted:
            self._per_host[host] += 1
        return True

    def _kafka_at_http_port(self, transport) -> None:
        """A Kafka client's first frame on the HTTP port: HTTP's 400 with the hint (the
        client cannot read it, but anything that shows raw bytes can), then closed."""
        self.kafka_clients += 1
        if self.kafka_clients == 1 or self.kafka_clients % 1000 == 0:
            log.warning("a Kafka client at %s dialled the HTTP port (%d so far): %s",
                        transport.get_extra_info("peername"), self.kafka_clients, self.kafka_hint)
        body = orjson.dumps({"error_code": 400, "message": self.kafka_hint})
        transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        transport.close()

    def _forget(self, transport) -> None:
        """Every way a connection leaves the table goes through here (one count, kept right)."""
        conn = self._conns.pop(transport, None)
        if conn is not None and conn.counted:
            self._per_host[conn.host] -= 1
            if self._per_host[conn.host] <= 0:
                del self._per_host[conn.host]

    def _bytes_arrived(self, transport) -> None:
        conn = self._conns.get(transport)
        if conn is None:
            return
        conn.last_seen = self._clock()
        if not conn.busy and conn.partial_since is None:
            conn.partial_since = conn.last_seen

    def sweep(self) -> None:
        now = self._clock()
        for transport, conn in list(self._conns.items()):
            if conn.busy:
                continue
            if conn.partial_since is not None and now - conn.partial_since > self.header_timeout_s:
                self._close(transport, "request headers incomplete after %.0f s", self.header_timeout_s)
            elif conn.partial_since is None and now - conn.last_seen > self.idle_timeout_s:
                self._close(transport, "idle for %.0f s", self.idle_timeout_s)

    def _close(self, transport, why: str, seconds: float) -> None:
        log.debug("closing HTTP connection from %s: " + why,
                  transport.get_extra_info("peername"), seconds)
        self._forget(transport)
        transport.close()
