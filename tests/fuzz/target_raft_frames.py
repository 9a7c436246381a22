"""Fuzz target: the Raft port's frame reader (kraft.quorum.raft_transport.BoundedConnection),
fed over a real socket pair, with a Raft password set as on every kraft node.

The first byte is a switch, not data:
- even: the rest is a byte stream from a stranger, sent as is (length prefixes,
  Fernet tokens, anything);
- odd: the rest is the zlib payload of one frame from a peer that knows the password: the
  target encrypts and frames it, so mutations reach the decompression and the unpickling.

Oracles: nothing escapes the reader; a stranger's bytes never become a message; a peer's
message is made of plain values only (a pickle naming any other callable is refused).
"""

from __future__ import annotations

import pathlib
import socket
import struct

from pysyncobj.encryptor import getEncryptor
from pysyncobj.monotonic import monotonic
from pysyncobj.poller import createPoller

from kraft.quorum.raft_transport import BoundedConnection

CORPUS = pathlib.Path(__file__).parent / "corpus" / "raft_frames"
PASSWORD = "fuzz-raft-password"
PLAIN = (type(None), bool, int, float, str, bytes, bytearray)
_ENCRYPTOR = None  # the key derivation takes a tenth of a second: once per process
_POLLER = createPoller("select")


def encryptor():
    global _ENCRYPTOR
    if _ENCRYPTOR is None:
        _ENCRYPTOR = getEncryptor(PASSWORD)
    return _ENCRYPTOR


def fuzz_one(data: bytes) -> None:
    if not data:
        return
    from_peer, body = data[0] & 1, data[1:]
    if from_peer:
        token = encryptor().encrypt_at_time(body, int(monotonic()))
        body = struct.pack("i", len(token)) + token
    received = _read(body)
    if received and not from_peer:
        raise AssertionError(f"a stranger's bytes became messages: {received!r:.200}")
    for message in received:
        _check_plain(message)


def _read(stream: bytes) -> list:
    received: list = []
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    conn = BoundedConnection(poller=_POLLER, socket=ours, timeout=5.0, sendBufferSize=2**16,
                             recvBufferSize=2**16, onMessageReceived=received.append)
    conn.encryptor = encryptor()
    try:
        theirs.sendall(stream[:2**16])  # fits the socket buffer: the input is never bigger in practice
        for _ in range(4):  # bounded: the first poll reads all that was sent and parses it
            _POLLER.poll(0)
            if conn.fileno() is None:
                break
        theirs.close()  # then the peer goes, as a stranger's connection does
        _POLLER.poll(0)
    finally:
        conn.disconnect()
        theirs.close()
    return received


def _check_plain(value, depth: int = 0) -> None:
    if depth > 200 or isinstance(value, PLAIN):
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_plain(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
        return
    raise AssertionError(f"a Raft message holds a {type(value).__name__}: only plain values may arrive")
