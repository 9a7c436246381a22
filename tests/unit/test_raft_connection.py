"""The bounded Raft connection reads what a peer sends on a connection it opened itself
(real sockets on loopback): an outgoing connection whose reads were dropped stalled every
first handshake between controllers until the handshake timeout cut it."""

from __future__ import annotations

import socket
import struct
import zlib

from pysyncobj import pickle as raft_pickle
from pysyncobj.poller import createPoller

from kraft.quorum.raft_transport import BoundedConnection


def frame(message) -> bytes:
    data = zlib.compress(raft_pickle.dumps(message), 3)
    return struct.pack("i", len(data)) + data


def test_an_outgoing_connection_receives_frames_across_reconnects():
    poller = createPoller("auto")
    received = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        port = server.getsockname()[1]
        conn = BoundedConnection(poller=poller, timeout=5.0, sendBufferSize=2**16, recvBufferSize=2**16,
                                 onMessageReceived=received.append)
        for attempt in range(2):  # the second connect() reuses the object, as the library does
            received.clear()
            assert conn.connect("127.0.0.1", port)
            peer, _ = server.accept()
            with peer:
                peer.sendall(frame(f"hello {attempt}") + frame(["two", attempt]))
                for _ in range(200):  # bounded: 200 polls of at most 10 ms
                    poller.poll(0.01)
                    if len(received) == 2:
                        break
                assert received == [f"hello {attempt}", ["two", attempt]]
                conn.disconnect()


def test_nothing_is_sent_to_a_controller_before_the_key_exchange_ends(monkeypatch):
    """Two real SyncObjs with a Raft password on loopback, ticked by hand. The library
    counts a connection as up once TCP is, before the peer's session key has arrived; a
    Raft message sent then went without the key, and the peer cut the connection as a
    stranger's (chaos runs logged "fail authentication" between controllers every few
    minutes, and a follower missed its leader's appends for seconds)."""
    from pysyncobj import SyncObj, SyncObjConf
    from pysyncobj.tcp_connection import CONNECTION_STATE

    from kraft.quorum import raft_transport

    host = "127.0.0.1"

    def free_port() -> int:
        with socket.socket() as s:
            s.bind((host, 0))
            return s.getsockname()[1]

    monkeypatch.setattr(raft_transport.GuardedTransport, "allowed_hosts", frozenset())
    failures = raft_transport.AuthFailures()  # this test's own record of cut connections
    monkeypatch.setattr(raft_transport, "AUTH_FAILURES", failures)
    transport_class = raft_transport.install({host})
    addrs = [f"{host}:{free_port()}", f"{host}:{free_port()}"]
    objs = [SyncObj(addrs[i], [addrs[1 - i]], SyncObjConf(autoTick=False, password="pw", connectionRetryTime=0.05),
                    transportClass=transport_class) for i in (0, 1)]
    try:
        transports = [o._SyncObj__transport for o in objs]
        dialer = next(i for i in (0, 1) if transports[i]._shouldConnect(next(iter(transports[i]._nodes))))
        peer = next(iter(transports[dialer]._nodes))
        conn = transports[dialer]._connections[peer]
        for _ in range(200):  # only the dialer runs: it connects and sends its key
            objs[dialer].doTick(0.005)
            if conn.state == CONNECTION_STATE.CONNECTED:
                break
        assert conn.state == CONNECTION_STATE.CONNECTED and conn.sendRandKey is None
        transports[dialer].send(peer, {"type": "append_entries"})  # what a leader's tick does
        for _ in range(400):  # both run: the exchange ends and a leader is elected
            for o in objs:
                o.doTick(0.005)
            if objs[0]._getLeader() is not None and objs[0]._getLeader() == objs[1]._getLeader():
                break
        assert failures.recent() == []
        assert objs[0]._getLeader() is not None and objs[0]._getLeader() == objs[1]._getLeader()
    finally:
        for o in objs:
            o.destroy()
