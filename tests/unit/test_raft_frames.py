"""A Raft frame from a peer that knows the password is still opened with bounds (real
sockets on loopback, a real Fernet key): its zlib payload may not open into more than
MAX_MESSAGE_BYTES, and its pickle may not name a callable (any global in a pickle runs
code on load). Both were found by tests/fuzz/target_raft_frames.py; the inputs are in
its corpus."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import tracemalloc
import zlib

import pytest
from pysyncobj.encryptor import getEncryptor
from pysyncobj.monotonic import monotonic
from pysyncobj.poller import createPoller

from kraft.quorum import raft_frames
from kraft.quorum.raft_transport import BoundedConnection

ENCRYPTOR = getEncryptor("test-raft-password")


def deliver(payload: bytes) -> tuple[list, bool]:
    """(messages received, whether the connection is still open) after one authenticated
    frame carrying `payload` (the zlib stream) arrives."""
    token = ENCRYPTOR.encrypt_at_time(payload, int(monotonic()))
    poller = createPoller("select")
    received: list = []
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    conn = BoundedConnection(poller=poller, socket=ours, timeout=5.0, sendBufferSize=2**16,
                             recvBufferSize=2**16, onMessageReceived=received.append)
    conn.encryptor = ENCRYPTOR
    with theirs:
        theirs.setblocking(False)
        frame, sent = struct.pack("i", len(token)) + token, 0
        for _ in range(10_000):  # bounded: the frame is a few MiB, sent as the reader drains it
            if sent < len(frame):
                try:
                    sent += theirs.send(frame[sent:sent + 2**16])
                except BlockingIOError:
                    pass
            poller.poll(0.001)
            if received or conn.fileno() is None:
                break
        still_open = conn.fileno() is not None
        conn.disconnect()
    return received, still_open


def test_a_plain_message_arrives():
    # b"" and bytearray() too: a snapshot's transmission chunks and empty commands carry them
    message = {"type": "append_entries", "entries": [(b"\x01cmd", 3, 1), (b"", 4, 1)], "s": {1},
               "b": bytearray(b"x"), "e": bytearray(), "serialized": (b"", True, False)}
    received, still_open = deliver(zlib.compress(pickle.dumps(message, protocol=2), 3))
    assert received == [message] and still_open


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_a_payload_opening_beyond_the_bound_is_refused_without_opening_it():
    bomb = zlib.compress(bytes(raft_frames.MAX_MESSAGE_BYTES * 4), 9)  # ~250 KiB opening into 256 MiB
    tracemalloc.start()
    try:
        received, still_open = deliver(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == [] and not still_open
    # zlib's output grows in blocks joined at the end: up to twice the bound at once
    assert peak < 2 * raft_frames.MAX_MESSAGE_BYTES + (16 << 20), f"{peak} bytes allocated"


class _MakeDir:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_a_pickle_naming_a_callable_is_refused_and_never_called(tmp_path):
    target = tmp_path / "made-by-a-raft-frame"
    received, still_open = deliver(zlib.compress(pickle.dumps(_MakeDir(str(target)), protocol=2)))
    assert not target.exists()
    assert received == [] and not still_open


def test_only_latin1_bytes_may_be_rebuilt():
    # protocol 2 writes bytes as _codecs.encode(text, "latin1"); another codec is refused
    evil = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    try:
        raft_frames.loads(evil)
    except raft_frames.FrameRefused:
        pass
    else:
        raise AssertionError("a codec other than latin1 was accepted")
    assert raft_frames.loads(pickle.dumps(b"\x00\xff", protocol=2)) == b"\x00\xff"


def test_bytes_and_bytearray_are_rebuilt_only_as_protocol_2_writes_them():
    # bytes(n) and bytearray(n) would allocate n zero bytes: a size is never what protocol 2 writes
    for evil in (b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\x40\x85R.",
                 b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x40\x85R."):
        try:
            raft_frames.loads(evil)
        except raft_frames.FrameRefused:
            continue
        raise AssertionError(f"{evil!r} was accepted")
