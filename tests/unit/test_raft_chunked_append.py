"""A Raft entry of appendEntriesBatchSizeBytes or more travels in chunks (pysyncobj's
"transmission"); its last chunk meets the same AppendEntries guard as any message
(kraft/quorum/raft.py). A real pysyncobj follower holding six applied entries gets a
stale resend of entry 3 in chunks: guarded it keeps all six, the library alone drops
three applied entries (the divergence the metadata storm once caught). And an entry the
library's leader sends with two last chunks (docs/DESIGN.md) reaches every follower."""

from __future__ import annotations

import pickle
import socket

from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.syncobj import _COMMAND_TYPE, _bchr
from pysyncobj.transport import TCPTransport

from kraft.metadata.state_machine import MetadataStateMachine
from kraft.quorum.raft_syncobj import MetadataSyncObj as _MetadataSyncObj

NO_OP = _bchr(_COMMAND_TYPE.NO_OP)


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def follower_with_six_applied_entries():
    conf = SyncObjConf(autoTick=False, appendEntriesBatchSizeBytes=64)
    follower = _MetadataSyncObj(free_address(), [free_address()], conf, MetadataStateMachine(), lambda: None,
                                TCPTransport, durable=False)
    leader = next(iter(follower.otherNodes))
    follower._SyncObj__onMessageReceived(leader, {
        "type": "append_entries", "term": 1, "commit_index": 6, "prevLogIdx": 1, "prevLogTerm": 0,
        "entries": [(NO_OP, index, 1) for index in range(2, 7)]})
    follower.doTick(0)  # applies up to the commit index
    assert follower.raftLastApplied == 6
    return follower, leader


def stale_resend_in_chunks(deliver) -> None:
    """Entry 3 again, after entry 2, as a leader resending from an older index sends it."""
    whole = pickle.dumps((NO_OP, 3, 1))
    for transmission, part in (("start", whole[:10]), ("finish", whole[10:])):
        deliver({"type": "append_entries", "term": 1, "commit_index": 6, "prevLogIdx": 2, "prevLogTerm": 1,
                 "transmission": transmission, "data": part})


def indexes(follower) -> list[int]:
    return [entry[1] for entry in follower._SyncObj__raftLog]


def test_a_chunked_stale_resend_never_drops_applied_entries():
    follower, leader = follower_with_six_applied_entries()
    try:
        stale_resend_in_chunks(lambda message: follower._SyncObj__onMessageReceived(leader, message))
        assert indexes(follower) == [1, 2, 3, 4, 5, 6]
    finally:
        follower.destroy()


def test_the_library_alone_drops_them():  # what the guard is for: this test's follower can fail
    follower, leader = follower_with_six_applied_entries()
    try:
        stale_resend_in_chunks(lambda message: SyncObj._SyncObj__onMessageReceived(follower, leader, message))
        assert indexes(follower) == [1, 2, 3]
    finally:
        follower.destroy()


# -- the library's leader marks a chunk "finish" by the command's length, not its pickle's ----

def two_finishes(leader, batch: int) -> str:
    """A command whose pickled entry runs a few bytes past a chunk boundary its command
    stops short of: the library's leader sends the entry with two "finish" chunks."""
    func_id = leader._methodToID[leader._getFuncName("apply")]
    index, term = leader._SyncObj__getCurrentLogIndex() + 1, leader.raftCurrentTerm
    for pad in range(batch * 4, batch * 6):
        text = "x" * pad
        command = _bchr(_COMMAND_TYPE.REGULAR) + pickle.dumps((func_id, (text,)))
        entry = pickle.dumps((command, index, term))
        if any(len(command) <= edge < len(entry) for edge in range(batch, len(entry), batch)):
            return text
    raise AssertionError("no such length")


def test_an_entry_sent_with_two_last_chunks_reaches_every_follower():
    from raft_voters import three_voters, tick
    from test_raft_prevote import elect
    batch = 256
    with three_voters("127.0.3.10", appendEntriesBatchSizeBytes=batch, raftMinTimeout=1.0, raftMaxTimeout=2.0,
                      leaderFallbackTimeout=3.0, connectionTimeout=3.0, connectionRetryTime=0.1) as nodes:
        leader = elect(nodes)
        sent = leader._SyncObj__transport.send
        finishes = []

        def counting(node, message):
            if isinstance(message, dict) and message.get("transmission") == "finish":
                finishes.append(node)
            return sent(node, message)
        leader._SyncObj__transport.send = counting
        leader.apply(two_finishes(leader, batch), callback=lambda *_: None)
        target = leader._SyncObj__getCurrentLogIndex() + 1
        assert tick(nodes, 30, lambda: all(n.raftLastApplied >= target for n in nodes)), (
            [(n.raftLastApplied, n._SyncObj__getCurrentLogIndex()) for n in nodes], target)
        assert len(finishes) >= 4  # two to each follower: the case is exercised
