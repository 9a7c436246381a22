"""A hardened transport for pysyncobj's Raft port (part of the pysyncobj adapter).

The library's own TCP code trusts whoever connects: a 4-byte length of 2^31-1 makes it
buffer (and re-copy) whatever follows for minutes on the Raft thread; idle or random
connections pile up; an accept error (out of file descriptors) closes the listener for
good. Here:

- only the configured controllers' addresses may connect (`allowed_hosts`);
- a frame is at most MAX_FRAME_BYTES, and a connection buffers at most one frame, in a
  bytearray (appending is amortised O(1), not a copy of everything so far); its payload
  opens into at most raft_frames.MAX_MESSAGE_BYTES of a pickle of plain values;
- at most MAX_PENDING connections may be waiting for their handshake, and each must
  finish it within HANDSHAKE_TIMEOUT_S;
- a peer that does not read what we send is cut once MAX_UNSENT_BYTES are waiting;
- an accept error pauses accepting for ACCEPT_PAUSE_S instead of closing the listener;
- a controller whose frames fail authentication (nodes formatted with different Raft
  passwords or cluster ids) is logged as a warning and kept in `AUTH_FAILURES`, so the
  node's readiness and `kraft quorum status` can say why no quorum forms;
- the listening socket is opened by `open_listener` on the caller's thread and handed
  to the library's server: the library binds on its own tick thread, swallows a failed
  bind and retries it every second for ever, so a taken port would never be reported.

`install()` puts these classes in place of the library's before a SyncObj is built.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from pysyncobj import tcp_server, transport
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.tcp_connection import TcpConnection
from pysyncobj.tcp_server import TcpServer
from pysyncobj.node import TCPNode
from pysyncobj.transport import TCPTransport

from kraft.quorum import raft_frames

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024 * 1024
MAX_UNSENT_BYTES = 128 * 1024 * 1024
MAX_PENDING = 16
HANDSHAKE_TIMEOUT_S = 5.0
PROBLEM_MEMORY_S = 10.0  # an authentication failure is reported this long after it is seen


class AuthFailures:
    """Peers (by address) whose Raft frames this node could not authenticate, lately."""

    warning = ("Raft frames from %s fail authentication: it was formatted with another "
               "raft_password or cluster id, so the quorum cannot include it")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}

    def note(self, host: str) -> None:
        now = self._clock()
        if now - self._seen.get(host, -1e9) > 60:  # one warning a minute per peer
            log.warning(self.warning, host)
        self._seen[host] = now

    def recent(self) -> list[str]:
        now = self._clock()
        return sorted(h for h, t in self._seen.items() if now - t <= PROBLEM_MEMORY_S)


class StrangeVoters(AuthFailures):
    """Controllers (by Raft address) that announce themselves as voters of this quorum
    but are not in its voter set: removed while down, or started again with their old
    Raft state. Refused; reported so the operator learns why."""

    warning = ("the controller at %s announces itself as a voter but is not in the voter set (it was "
               "removed): its connections are refused; stop it, or start it with no Raft state "
               "(move its __cluster_metadata aside) to follow as an observer")


class KafkaClients(AuthFailures):
    """Kafka clients (by address) that sent a Kafka request to this Raft port: the client
    reports only a closed connection (or blames TLS), so the node's log says where to go."""

    warning = ("a Kafka client at %s connected to this node's Raft port: Kafka clients connect to a "
               "node's kafka_port (cluster.toml; `kraft status` lists every node's)")


AUTH_FAILURES = AuthFailures()  # one Raft port per process
STRANGE_VOTERS = StrangeVoters()
KAFKA_CLIENTS = KafkaClients()
ACCEPT_PAUSE_S = 0.5
# An observer's second message on each connection: who it is ({"type", "node_id", "address"}).
OBSERVER_HELLO = "kraft_observer"
# The library's utility commands change membership, versions and leadership from the Raft
# port, past every check kraft makes: only "status" is answered.
UTILITY_ALLOWED = frozenset({"status"})
_LENGTH = struct.Struct("i")  # the library's frame prefix: native int


class BoundedConnection(TcpConnection):
    """pysyncobj's connection with bounded buffers (see the module docstring)."""

    recvLastTimestamp: int  # set by TcpConnection: the last accepted frame's Fernet timestamp

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._TcpConnection__readBuffer = bytearray()
        self.opened_at = time.monotonic()

    def connect(self, host, port):
        # The library's connect() starts a fresh bytes() buffer; ours must be the bytearray
        # _processRead appends to in place, or an outgoing connection drops what it reads
        # (every first handshake then stalled until HANDSHAKE_TIMEOUT_S cut it).
        connecting = super().connect(host, port)
        self._TcpConnection__readBuffer = bytearray()
        self.opened_at = time.monotonic()
        return connecting

    def disconnect(self):
        super().disconnect()
        self._TcpConnection__readBuffer = bytearray()

    def send(self, message):
        super().send(message)
        unsent = self.getSendBufferSize()
        if unsent > MAX_UNSENT_BYTES:
            log.warning("Raft peer is not reading (%d bytes unsent); disconnecting", unsent)
            self.disconnect()

    def _TcpConnection__processRead(self):
        sock = self._TcpConnection__socket
        try:
            incoming = sock.recv(self._TcpConnection__recvBufferSize)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                self.disconnect()
            return False
        if not incoming:
            self.disconnect()
            return False
        buffer = self._TcpConnection__readBuffer
        fresh = len(buffer) < 8 and not self.recvRandKey  # a stranger's first bytes
        buffer += incoming
        if fresh and raft_frames.kafka_request_shape(bytes(buffer[:8])):
            peer = _peer(sock)
            KAFKA_CLIENTS.note(peer[0] if isinstance(peer, tuple) else str(peer))
            self.disconnect()
            return False
        if len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            if not 0 <= length <= MAX_FRAME_BYTES:
                log.warning("Raft frame of %d bytes refused (limit %d); disconnecting %s",
                            length, MAX_FRAME_BYTES, _peer(sock))
                self.disconnect()
                return False
        return True

    def _TcpConnection__processParseMessage(self):
        buffer = self._TcpConnection__readBuffer
        if len(buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(buffer)
        end = _LENGTH.size + length
        if len(buffer) < end:
            return None
        data = bytes(buffer[_LENGTH.size:end])
        del buffer[:end]
        try:
            if self.encryptor:  # authenticated encryption: nothing is unpickled before it checks
                stamp = self.encryptor.extract_timestamp(data)
                if stamp < self.recvLastTimestamp:
                    raise ValueError("replayed frame")
                self.recvLastTimestamp = stamp
                data = self.encryptor.decrypt(data)
            message: Any = raft_frames.open_payload(data)  # bounded, and plain values only
            if self.recvRandKey:
                rand_key, message = message
                if rand_key != self.recvRandKey:
                    raise ValueError("wrong session key")
        except Exception:  # a stranger's or a damaged frame: drop the connection, say so
            peer = _peer(self._TcpConnection__socket)
            AUTH_FAILURES.note(peer[0] if isinstance(peer, tuple) else str(peer))
            self.disconnect()
            return None
        return message


class RaftPortUnavailable(Exception):
    """The Raft port could not be bound: one line with the address and the reason."""


def open_listener(address: str) -> socket.socket:
    """A socket bound and listening on `address` ("host:port"), with the options the
    library's own bind sets; raises RaftPortUnavailable."""
    host, port = address.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), int(port)))
        sock.listen(5)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise RaftPortUnavailable(f"cannot bind the Raft port {address}: {reason}") from None
    return sock


class ResilientServer(TcpServer):
    """Accepts with BoundedConnection; an accept error pauses accepting, it never unbinds."""

    paused_until = 0.0
    handed_over: socket.socket | None = None  # bound by open_listener; used by the first bind

    def bind(self):
        sock, self.handed_over = self.handed_over, None
        if sock is None:
            return super().bind()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._TcpServer__sendBufferSize)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._TcpServer__recvBufferSize)
        self._TcpServer__socket = sock
        self._TcpServer__fileno = sock.fileno()
        self._TcpServer__poller.subscribe(self._TcpServer__fileno, self._TcpServer__onNewConnection,
                                          POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR)
        self._TcpServer__state = tcp_server.SERVER_STATE.BINDED

    def _TcpServer__onNewConnection(self, descr, event):
        if event & POLL_EVENT_TYPE.READ:
            try:
                sock, _ = self._TcpServer__socket.accept()
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return
                log.warning("Raft port: accept failed (%s); pausing accepts for %.1fs", exc, ACCEPT_PAUSE_S)
                self._TcpServer__poller.unsubscribe(descr)
                self.paused_until = time.monotonic() + ACCEPT_PAUSE_S
                return
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._TcpServer__sendBufferSize)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._TcpServer__recvBufferSize)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn = BoundedConnection(poller=self._TcpServer__poller, socket=sock,
                                     timeout=self._TcpServer__connectionTimeout,
                                     sendBufferSize=self._TcpServer__sendBufferSize,
                                     recvBufferSize=self._TcpServer__recvBufferSize,
                                     keepalive=self._TcpServer__keepalive)
            self._TcpServer__onNewConnectionCallback(conn)
        elif event & POLL_EVENT_TYPE.ERROR:
            log.warning("Raft port: listener error event; pausing accepts for %.1fs", ACCEPT_PAUSE_S)
            self._TcpServer__poller.unsubscribe(descr)
            self.paused_until = time.monotonic() + ACCEPT_PAUSE_S

    def resume_if_due(self) -> None:
        fileno = self._TcpServer__fileno
        if self.paused_until and time.monotonic() >= self.paused_until and fileno is not None:
            self.paused_until = 0.0
            self._TcpServer__poller.subscribe(fileno, self._TcpServer__onNewConnection,
                                              POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR)

    @property
    def listening(self) -> bool:
        return self._TcpServer__fileno is not None


class GuardedTransport(TCPTransport):
    """TCPTransport that admits only the configured controllers, a bounded number of
    handshakes at a time, each within a deadline."""

    allowed_hosts: frozenset[str] = frozenset()
    listener: socket.socket | None = None  # from open_listener: the next server's socket

    def _createServer(self):
        super()._createServer()
        listener, GuardedTransport.listener = GuardedTransport.listener, None  # used once
        if listener is not None and isinstance(self._server, ResilientServer):
            self._server.handed_over = listener

    def _voting(self) -> bool:
        return getattr(self._syncObj, "is_voter", True)

    def _shouldConnect(self, node):
        # an observer opens every connection itself: the voters do not know its address
        if not self._voting():
            return isinstance(node, TCPNode) and node not in self._preventConnectNodes
        return super()._shouldConnect(node)

    def _sendSelfAddress(self, conn):
        if self._voting():
            return super()._sendSelfAddress(conn)
        conn.send("readonly")  # the library's observer: appended to, never counted
        conn.send({"type": OBSERVER_HELLO, "node_id": self._syncObj.node_id, "address": self._selfNode.address})

    def _onIncomingMessageReceived(self, conn, message):
        keyed = conn.sendRandKey or not self._syncObj.encryptor  # past the session key: an announce
        if keyed and isinstance(message, str) and message != "readonly" and message not in self._nodeAddrToNode:
            STRANGE_VOTERS.note(message)  # the library refuses it; say why
        return super()._onIncomingMessageReceived(conn, message)

    def _onUtilityMessage(self, conn, message):
        if message and message[0] not in UTILITY_ALLOWED:
            log.info("Raft port: utility command %r refused", message[0])
            conn.disconnect()
            return True
        return super()._onUtilityMessage(conn, message)

    def _onNewIncomingConnection(self, conn):
        peer = _peer(conn._TcpConnection__socket)
        host = peer[0] if isinstance(peer, tuple) else None
        if host not in self.allowed_hosts:
            log.info("Raft port: connection from %s refused (not a controller of this cluster)", peer)
            conn.disconnect()
            return
        if len(self._unknownConnections) >= MAX_PENDING:
            log.info("Raft port: %d handshakes pending; refusing %s", MAX_PENDING, peer)
            conn.disconnect()
            return
        super()._onNewIncomingConnection(conn)

    def send(self, node, message):
        conn = self._connections.get(node)
        if conn is not None and self._syncObj.encryptor and not conn.sendRandKey:
            # The library counts a connection as up once TCP is, before the peer's session
            # key has arrived: this message would go without it, the peer would take it for
            # a stranger's frame and cut the connection. Raft sends again on its next tick.
            return False
        # Whatever this message says (an acknowledgement, entries a follower will count, a
        # vote), the journal, term and vote behind it must be on disk first (see raft_durable).
        ready = getattr(self._syncObj, "ready_to_send", None)
        if ready is not None and not ready():
            return False  # Raft sends again on a later tick
        return super().send(node, message)

    def _onTick(self):
        super()._onTick()
        now = time.monotonic()
        for conn in list(self._unknownConnections):
            if now - getattr(conn, "opened_at", now) > HANDSHAKE_TIMEOUT_S:
                log.info("Raft port: handshake from %s not finished in %.0fs; disconnecting",
                         _peer(conn._TcpConnection__socket), HANDSHAKE_TIMEOUT_S)
                conn.disconnect()
                self._unknownConnections.discard(conn)
        if isinstance(self._server, ResilientServer):
            self._server.resume_if_due()

    @property
    def listening(self) -> bool:
        return isinstance(self._server, ResilientServer) and self._server.listening


def _peer(sock) -> object:
    try:
        return sock.getpeername() if sock is not None else None
    except OSError:
        return None


def allow_hosts(hosts: set[str]) -> None:
    """The hosts whose connections the Raft port accepts (any thread: one swap)."""
    GuardedTransport.allowed_hosts = frozenset(hosts)


def install(allowed_hosts: set[str], listener: socket.socket | None = None) -> type[GuardedTransport]:
    """Use the bounded classes for every connection and listener the library makes;
    `listener` (from open_listener) becomes the next SyncObj's Raft port."""
    tcp_server.TcpConnection = BoundedConnection
    transport.TcpConnection = BoundedConnection
    transport.TcpServer = ResilientServer
    allow_hosts(allowed_hosts)
    GuardedTransport.listener = listener
    return GuardedTransport
