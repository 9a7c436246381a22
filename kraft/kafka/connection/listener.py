"""The Kafka listener: a TCP server per broker, a task group per connection, all owned here.

Requests on a connection are answered in order, as a Kafka broker does. They are
served one at a time, except that a Produce lets the next request start once its
batches are appended (kafka/connection/request_context.py), so pipelined acks=all produces overlap
their replication. What one client can cost is bounded:
connections in all and per client address (connection/connection_limits.py), frames above
socket.request.max.bytes (sasl.server.max.receive.size before SASL succeeds) close the
connection, a frame's bytes take a share of a node-wide byte budget (Kafka's
queued.max.request.bytes) as they arrive and must all arrive within BODY_TIMEOUT_S once
begun (wire/frame_reader.py), a connection must authenticate within
sasl.server.authentication.timeout.ms when SASL is on (and close first within it after a
failed login's answer), a connection's TLS handshake and first request must be in within
connections.first.request.timeout.ms, a full listener closes its oldest connection not
served yet to let a newcomer in, an idle connection is closed after
connections.max.idle.ms, and a client that stops reading its answers is cut off.
"""

from __future__ import annotations

import asyncio
import ssl
import contextlib
import logging
import struct
import time

from kraft.broker.services import BrokerServices
from kraft.broker.access import Identity, principal_of_certificate
from kraft.kafka.wire.codec import MalformedRequest, RequestHead
from kraft.kafka.connection.session import Session, security_protocol
from kraft.config.connection_overrides import parse_overrides
from kraft.kafka.connection.connection_limits import ConnectionLimits
from kraft.kafka.wire.tls_reads import tls_protocol_factory
from kraft.kafka.wire.frame_reader import ByteBudget, read_frame
from kraft.kafka.wire.lazy_deadline import LazyDeadline
from kraft.kafka.handlers.fetch_sessions import FetchSessionCache
from kraft.kafka.connection.apis import PIPELINED
from kraft.kafka.connection.dispatch import Request, Unanswerable, parse, respond
from kraft.kafka.connection.wrong_door import HttpOnKafkaPort, answer_http, not_kafka
from kraft.storage.file_slice import FileSlice

log = logging.getLogger(__name__)

CLOSE_HOOKS_BOUND_S = 5.0  # a closed connection's share records go back within this, else at their locks

MAX_FRAME_BYTES = 100 * 1024 * 1024       # Kafka's socket.request.max.bytes
QUEUED_REQUEST_BYTES = 256 * 1024 * 1024  # node-wide bytes of requests being read or served
IDLE_TIMEOUT_S = 600.0                    # Kafka's connections.max.idle.ms
BODY_TIMEOUT_S = 30.0
MAX_IN_FLIGHT = 16                         # requests of one connection begun and not yet answered
WRITE_TIMEOUT_S = 30.0
# an answer whose records are at most this is copied and written, not sent with sendfile:
# sendfile's fixed cost (the transport paused, drained twice, a future) is more than a copy
INLINE_RECORDS_BYTES = 64 * 1024
DECODE_BESIDE_BYTES = 256 * 1024  # a frame above this is decoded in a worker thread
_SIZE = struct.Struct(">i")
_NOTHING_HELD = object()  # _write_answers: no queue item taken ahead


class KafkaListener:
    def __init__(self, node: BrokerServices, host: str, port: int, tls: ssl.SSLContext | None = None,
                 brokers_only: bool = False, shares_with: KafkaListener | None = None):
        """brokers_only: the inter-broker listener, where every connection must log in as a
        broker (broker_login.py) before anything but ApiVersions and the login is served,
        and a login as anyone else ends the connection; its connection limits are its own.
        shares_with: the broker's other listener, whose KIP-227 cache and node-wide bytes
        budget this one uses too."""
        self._node = node
        self._brokers_only = brokers_only
        self._tls = tls
        self._host, self._port = host, port
        self._budget: ByteBudget = shares_with._budget if shares_with is not None else ByteBudget(QUEUED_REQUEST_BYTES)
        settings = node.config.cluster
        self._limits: ConnectionLimits[asyncio.BaseTransport] = ConnectionLimits(
            settings.max_connections, settings.max_connections_per_ip,
            parse_overrides(settings.max_connections_per_ip_overrides))
        self._sasl_max_frame = settings.sasl_server_max_receive_size
        self._authentication_s = settings.sasl_server_authentication_timeout_ms / 1000
        self._first_request_s = settings.connections_first_request_timeout_ms / 1000
        self.refused_connections = 0
        self.evicted_connections = 0  # unserved ones closed to let a newcomer in
        # TLS connections, admitted at the accept (before their handshake): their socket -> raw transport
        self._tls_slots: dict[object, asyncio.BaseTransport] = {}
        self._connections: set[asyncio.Task] = set()
        self.listener = security_protocol(tls is not None, node.access.authentication)
        self._server: asyncio.Server | None = None
        self.requests_in_flight = 0  # clients' requests read and not yet answered, every connection (/metrics)
        # incremental fetch sessions (KIP-227): the broker's, kept across connections as Kafka keeps them
        self.fetch_sessions: FetchSessionCache = (
            shares_with.fetch_sessions if shares_with is not None
            else FetchSessionCache(node.config.cluster.max_incremental_fetch_session_cache_slots))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def streams() -> asyncio.StreamReaderProtocol:  # as asyncio.start_server builds each connection
            return asyncio.StreamReaderProtocol(asyncio.StreamReader(64 * 1024, loop), self._serve, loop=loop)
        tls = None if self._tls is None else tls_protocol_factory(loop, self._tls, self._first_request_s, streams,
                                                                  self)
        if self._tls is not None and tls is None:  # asyncio's own TLS, a read buffer per connection
            self._server = await loop.create_server(streams, self._host, self._port, reuse_address=True,
                                                    ssl=self._tls, ssl_handshake_timeout=self._first_request_s)
        else:
            self._server = await loop.create_server(tls or streams, self._host, self._port, reuse_address=True)

    async def close(self) -> None:
        """Stop accepting, cut every connection and wait for their tasks to end."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_connection(reader, writer)
        except asyncio.CancelledError:
            # close() cancels every connection on purpose. Python 3.11's streams report a
            # cancelled connection task as an unhandled exception (3.12 checks first), which
            # logged an ERROR per open connection at every stop: it ends quietly instead.
            pass

    @property
    def connections(self) -> int:
        """Connections counted against the limits, TLS handshakes in progress included."""
        return self._limits.held

    def opened(self, transport: asyncio.BaseTransport) -> bool:
        """A TLS connection, accepted: admitted (its handshake may begin) or refused."""
        if not self._admitted(transport):
            return False
        self._tls_slots[transport.get_extra_info("socket")] = transport
        return True

    def lost(self, transport: asyncio.BaseTransport) -> None:
        self._tls_slots.pop(transport.get_extra_info("socket"), None)
        self._limits.release(transport)

    def _slot(self, writer: asyncio.StreamWriter) -> asyncio.BaseTransport:
        """The connection's key in the limits, and how it is closed: a TLS connection's raw
        transport, admitted at its accept; else its own."""
        return self._tls_slots.get(writer.get_extra_info("socket"), writer.transport)

    def _admitted(self, transport: asyncio.BaseTransport) -> bool:
        peer = transport.get_extra_info("peername")
        host = peer[0] if peer else ""
        admission = self._limits.admit(host, transport)
        if admission.refused is not None:
            self._refuse(transport, admission.refused)
            return False
        if admission.evicted is not None:
            self._evict(admission.evicted, host)
        return True

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = peer[0] if peer else ""
        slot = self._slot(writer)
        if slot is writer.transport and not self._admitted(slot):
            return
        try:
            await self._serve_admitted(reader, writer, host)
        finally:
            self._limits.release(slot)

    def _refuse(self, transport: asyncio.BaseTransport, why: str) -> None:
        """Over a connection limit: closed at once, as Kafka's acceptor does; logged sparingly
        (a flood would otherwise flood the log too)."""
        self.refused_connections += 1
        if self.refused_connections == 1 or self.refused_connections % 1000 == 0:
            log.warning("refusing Kafka connections: %s (%d refused so far)", why, self.refused_connections)
        transport.abort()  # type: ignore[attr-defined]  # nothing owed to it: no lingering close

    def _evict(self, slot: asyncio.BaseTransport, newcomer: str) -> None:
        """The listener is full: an unserved connection (nothing owed to it) gives its slot
        to a newcomer; its task ends on the lost connection. Logged sparingly."""
        self.evicted_connections += 1
        if self.evicted_connections == 1 or self.evicted_connections % 1000 == 0:
            log.warning("the Kafka listener is full (max.connections %d): closing connections that sent "
                        "no request yet for newcomers, the last for %s (%d so far)",
                        self._limits.total, newcomer, self.evicted_connections)
        slot.abort()  # type: ignore[attr-defined]

    async def _serve_admitted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              host: str) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs each connection in a task of its own
        if self._node.access.enabled and not self._node.access.ready():
            writer.close()  # users and ACLs not loaded yet: the client reconnects
            return
        self._connections.add(task)
        access = self._node.access
        certified = principal_of_certificate(writer.get_extra_info("peercert"))
        identity: Identity | None
        if self._brokers_only:
            identity = None  # a broker proves itself with its login, certificate or not
        elif certified is not None:  # a verified client certificate names the principal (SSL)
            identity = Identity(certified, host)
        else:
            identity = None if access.authentication else access.anonymous(host)
        # the deadline on the loop's clock (time.monotonic), as the read timeouts are
        authenticate_by = time.monotonic() + self._authentication_s if identity is None else None
        connection = Session(host, identity, self.listener, access, fetch_sessions=self.fetch_sessions,
                             authenticate_by=authenticate_by)
        try:
            await self._requests(reader, writer, connection, time.monotonic() + self._first_request_s)
            if connection.closing is not None:
                await self._client_closes_first(reader)
        except* (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or stalled: its connection ends, nothing else
        except* Unanswerable:  # logged with its traceback and id where it failed
            log.info("closing a Kafka connection from %s: a request failed and its API has no "
                     "whole-request error code to answer with", _peer(writer))
        except* Exception:  # a bug in a handler: this client reconnects, the broker stays up
            log.exception("closing a Kafka connection from %s after an unexpected error", _peer(writer))
        finally:
            self._connections.discard(task)
            with contextlib.suppress(Exception):  # what is bound to it goes (share sessions), bounded
                await asyncio.wait_for(connection.closed(), CLOSE_HOOKS_BOUND_S)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _client_closes_first(self, reader: asyncio.StreamReader) -> None:
        """After an answer that ends the connection (a failed login), the client is given the
        time an unauthenticated connection has to close first: a close right behind the answer
        can reach the client in the same read as it, and kafka-python then drops the answer
        and reports a lost connection instead of the failed login. Any bytes end the wait."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._authentication_s):
                await reader.read(1)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        connection: Session, first_by: float) -> None:
        """A reader and a writer per connection, owned by one task group, so any failure
        ends them together. A request that finds nothing else owed on its connection is
        served and answered by the reader itself; one behind others, or a Produce (which
        lets the next request start before it is answered), is served by a task of its
        own and answered in turn by the writer, at most MAX_IN_FLIGHT queued."""
        # each queued: its serving task, its turn, whether another broker sent it
        answers: asyncio.Queue[tuple[asyncio.Task, asyncio.Event, bool] | None] = asyncio.Queue(MAX_IN_FLIGHT)
        unsent: set[FileSlice] = set()  # slices of answers served but not sent yet
        owed = _Owed()
        deadline = LazyDeadline()  # the reads' deadlines, on this (the connection's) task
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._write_answers(answers, writer, unsent, owed))
                await self._read_requests(reader, writer, answers, tg, unsent, owed, connection, deadline, first_by)
        finally:
            deadline.close()
            self.requests_in_flight -= owed.clients  # the connection ended with these unanswered
            for part in unsent:  # the connection ended first: their descriptors close here
                part.close()

    async def _read_requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             answers: asyncio.Queue, tg: asyncio.TaskGroup, unsent: set, owed: "_Owed",
                             connection: Session, deadline: LazyDeadline, first_by: float | None) -> None:
        """first_by: the first request must be in by then (monotonic)."""
        counted_served = False  # told to the limits once: from then on no newcomer takes this slot
        while True:
            if (muted_s := connection.muted_for_s()) > 0:  # over a quota: the client waits
                await asyncio.sleep(muted_s)
            try:
                size, request = await self._next_request(reader, connection, deadline, first_by)
            except MalformedRequest as exc:  # also: a frame that stalled, or no login in time
                if isinstance(exc, HttpOnKafkaPort):  # nothing else owed yet: said to it over HTTP
                    await answer_http(reader, writer, exc)
                return await self._end(answers, writer, str(exc))
            first_by = None
            from_broker = connection.identity is not None and connection.identity.broker
            if owed.count == 0 and request.head.api_key not in PIPELINED:
                # nothing else owed: served and answered here, without a task, a turn or the queue
                self._owing(owed, from_broker)
                await self._send(await self._serve_one(request, None, size, unsent, connection), writer, unsent)
                self._answered(owed, from_broker)
            else:
                turn = asyncio.Event()  # set once the next request may start
                served = tg.create_task(self._serve_one(request, turn, size, unsent, connection))
                await answers.put((served, turn, from_broker))
                self._owing(owed, from_broker)  # queued; with the queue full, nothing more is read
                await turn.wait()
            if not counted_served and connection.identity is not None:  # a request served, past any login
                counted_served = True
                self._limits.served(self._slot(writer))
            if (closing := connection.closing) is not None:  # its answer went out first
                return await self._end(answers, writer, closing)
            if self._brokers_only and connection.identity is not None and not connection.identity.broker:
                # a user's login here is answered, then the connection ends: no slot held idle
                return await self._end(answers, writer, "the inter-broker listener serves the other brokers only")

    async def _next_request(self, reader: asyncio.StreamReader, connection: Session,
                            deadline: LazyDeadline, first_by: float | None) -> tuple[int, Request]:
        """The next frame's size and request, its bytes held in the budget. MalformedRequest:
        the connection ends with the answers it is owed; TimeoutError: idle, or no request at
        all in time (a silent flood is not logged line by line), it just ends."""
        authenticate_by = connection.authentication_deadline()
        set_up_by = _earliest(authenticate_by, first_by)  # past this, the connection ends
        idle_until = time.monotonic() + IDLE_TIMEOUT_S
        frame_by: float | None = None  # set once a frame has begun
        try:
            with deadline.until(min(idle_until, set_up_by or idle_until)):
                first = await reader.readexactly(4)
            (size,) = _SIZE.unpack(first)
            limit = self._sasl_max_frame if connection.authentication_pending() else MAX_FRAME_BYTES
            if not 0 < size <= limit:  # HTTP or TLS where Kafka was meant: said, where it can be
                raise (not_kafka(first, self._node.config.node(self._node.node_id), first_by is not None)
                       or MalformedRequest(f"frame of {size} bytes (limit {limit})"))
            frame_by = time.monotonic() + BODY_TIMEOUT_S
            with deadline.until(min(frame_by, set_up_by or frame_by)):
                frame = await read_frame(reader, size, self._budget, lambda head: self._check_head(head, connection))
        except TimeoutError:
            if authenticate_by is not None and time.monotonic() >= authenticate_by:
                raise MalformedRequest(f"not authenticated within {self._authentication_s:g} s") from None
            if first_by is not None and time.monotonic() >= first_by and frame_by is not None:
                raise MalformedRequest(f"the first request was not in within {self._first_request_s:g} s "
                                       "of connecting") from None
            if frame_by is not None:
                raise MalformedRequest(f"a frame's bytes did not all arrive within {BODY_TIMEOUT_S:g} s") from None
            raise
        try:
            # a large frame's decode (a walk of every element: 100,000 share acknowledgements
            # take a quarter second) runs beside the loop, which serves others meanwhile
            return size, (parse(frame) if size <= DECODE_BESIDE_BYTES else await asyncio.to_thread(parse, frame))
        except BaseException:
            self._budget.release(size)
            raise

    def _check_head(self, head: RequestHead, connection: Session) -> None:
        """What is refused from the header alone, before the rest of the frame is read or decoded."""
        if not connection.may_serve(head.api_key):
            raise MalformedRequest(f"API key {head.api_key} without a current SASL "
                                   "authentication (none yet, or its lifetime has passed)")
        if self._node.access.enabled and not self._node.access.ready():
            # never a spurious AUTHORIZATION_FAILED, which clients take as final: they reconnect
            raise MalformedRequest("users and ACLs are being reloaded (the broker re-registers)")

    async def _serve_one(self, request: Request, turn: asyncio.Event | None, size: int, unsent: set,
                         connection: Session):
        try:
            if (muted_s := connection.muted_for_s()) > 0:  # read ahead while the client was over its
                await asyncio.sleep(muted_s)               # quota: served after the throttle, as Kafka
            response = await respond(self._node, request, size, connection, turn.set if turn is not None else None)
        finally:
            self._budget.release(size)
        if isinstance(response, list):
            if sum(part.length for part in response if isinstance(part, FileSlice)) <= INLINE_RECORDS_BYTES:
                return _inline(response)
            unsent.update(part for part in response if isinstance(part, FileSlice))
        return response

    async def _send(self, response, writer: asyncio.StreamWriter, unsent: set) -> None:
        """One answer written: bytes (waiting for a slow reader, bounded), parts, or none."""
        if isinstance(response, list):
            await self._send_parts(response, writer, unsent)
        elif response is not None:
            await self._write_chunks([response], writer)

    def _owing(self, owed: "_Owed", from_broker: bool) -> None:
        owed.count += 1
        if not from_broker:  # another broker's (a follower's long poll) is no client's backlog
            owed.clients += 1
            self.requests_in_flight += 1

    def _answered(self, owed: "_Owed", from_broker: bool) -> None:
        owed.count -= 1
        if not from_broker:
            owed.clients -= 1
            self.requests_in_flight -= 1

    @staticmethod
    async def _write_chunks(chunks: list, writer: asyncio.StreamWriter) -> None:
        writer.writelines(chunks)
        if writer.transport.get_write_buffer_size() > writer.transport.get_write_buffer_limits()[1]:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await writer.drain()  # the client reads slowly: wait for it, bounded

    async def _write_answers(self, answers: asyncio.Queue, writer: asyncio.StreamWriter, unsent: set,
                             owed: "_Owed") -> None:
        item = await answers.get()
        while item is not None:
            served, turn, from_broker = item
            response = await served
            answered = [(turn, from_broker)]
            held: object = _NOTHING_HELD
            if isinstance(response, list):
                await self._send_parts(response, writer, unsent)
            else:
                chunks = [response] if response is not None else []
                held = self._take_served(answers, chunks, answered)
                if chunks:  # the answers served by now leave in one write (one send, not one each)
                    await self._write_chunks(chunks, writer)
            for turn, from_broker in answered:
                self._answered(owed, from_broker)
                turn.set()  # written (or none owed): a request that did not pipeline lets the next in
            item = await answers.get() if held is _NOTHING_HELD else held

    @staticmethod
    def _take_served(answers: asyncio.Queue, chunks: list, answered: list) -> object:
        """Move the queued answers that are already served (bytes) into chunks, in order;
        returns the first queue item that is not one (to await next), or _NOTHING_HELD."""
        while not answers.empty():
            item = answers.get_nowait()
            if item is None or not item[0].done():
                return item
            response = item[0].result()  # a handler's failure ends the connection, as awaiting it would
            if isinstance(response, list):
                return item  # file slices: sent on their own
            if response is not None:
                chunks.append(response)
            answered.append((item[1], item[2]))
        return _NOTHING_HELD

    @staticmethod
    async def _send_parts(parts: list, writer: asyncio.StreamWriter, unsent: set) -> None:
        """Bytes written, file slices sent by the kernel (sendfile); every slice is
        closed however this ends. A slice that comes up short (its file was cut)
        leaves the frame broken, so the connection ends."""
        loop = asyncio.get_running_loop()
        try:
            for part in parts:
                if isinstance(part, bytes):
                    writer.write(part)
                    continue
                if writer.get_extra_info("sslcontext") is not None or part.file is None:
                    writer.write(_whole(part))  # TLS (encrypted in Python) or a copied slice
                    continue
                async with asyncio.timeout(WRITE_TIMEOUT_S):
                    await writer.drain()
                    sent = await loop.sendfile(writer.transport, part.file, part.position, part.length)
                if sent != part.length:
                    raise ConnectionAbortedError(f"a log file ended {part.length - sent} bytes early")
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await writer.drain()
        finally:
            for part in parts:
                if isinstance(part, FileSlice):
                    part.close()
                    unsent.discard(part)

    @staticmethod
    async def _end(answers: asyncio.Queue, writer: asyncio.StreamWriter, why: str) -> None:
        """Kafka's answer to a frame it cannot serve: the answers owed go out, then the
        connection closes."""
        log.info("closing a Kafka connection from %s: %s", _peer(writer), why)
        await answers.put(None)


class _Owed:
    """A connection's requests read and not answered yet."""

    def __init__(self) -> None:
        self.count = 0
        self.clients = 0  # of them, those no other broker sent (counted in requests_in_flight)


def _inline(parts: list) -> bytes:
    """An answer's parts as one frame, each file slice read and closed."""
    try:
        return b"".join(part if isinstance(part, bytes) else _whole(part) for part in parts)
    finally:
        for part in parts:
            if isinstance(part, FileSlice):
                part.close()


def _whole(part: FileSlice) -> bytes:
    """A slice's bytes; one that comes up short (its file was cut) leaves the frame broken,
    so the connection ends, as a short sendfile does."""
    data = part.read()
    if len(data) != part.length:
        raise ConnectionAbortedError(f"a log file ended {part.length - len(data)} bytes early")
    return data


def _earliest(*times: float | None) -> float | None:
    return min((t for t in times if t is not None), default=None)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if peer else "?"
