"""A node binds its outgoing Raft connections to its own address (so network faults can
single it out) and starts Raft before it listens for HTTP and Kafka. Such a connection
must never keep the node from binding a listening port the kernel happened to give it."""

import socket

from kraft.quorum.raft_syncobj import _SourceBoundSockets

# An address no other test or client uses as its source: a connection made elsewhere on
# this machine (most come from 127.0.0.1) may share the port the kernel picks here, and
# would then hold the listener off for a reason that is not the Raft socket's.
NODE = "127.0.3.1"


def test_a_port_held_by_an_outgoing_raft_connection_can_still_be_listened_on():
    peer = socket.socket()
    peer.bind((NODE, 0))
    peer.listen(1)
    outgoing = _SourceBoundSockets(socket, NODE).socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        outgoing.connect(peer.getsockname())
        taken = outgoing.getsockname()
        assert taken[0] == NODE  # the node's own source address
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as every node listener does
        try:
            listener.bind(taken)  # EADDRINUSE when the outgoing socket reserved the port
            listener.listen(1)
        finally:
            listener.close()
    finally:
        outgoing.close()
        peer.close()
