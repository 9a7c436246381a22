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
