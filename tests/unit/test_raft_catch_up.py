"""A controller back with entries of an older term at its log's end (a leader killed or
paused before its appends left it) catches up with the new leader, however far ahead
that leader is: three real voters ticked by hand (raft_voters.py)."""

from __future__ import annotations

import pytest
from raft_voters import three_voters, tick

pytestmark = pytest.mark.slow  # real voters over seconds: in the default suite, not in `./dev unit`

VOTERS_HOST = "127.0.3.8"  # no other test's address
ENTRY = "x" * 4000  # the state machine refuses it, but it is a log entry like any other


@pytest.fixture
def voters():
    with three_voters(VOTERS_HOST, raftMinTimeout=0.4, raftMaxTimeout=0.8, leaderFallbackTimeout=1.0,
                      connectionTimeout=3.0, connectionRetryTime=0.1, appendEntriesUseBatch=False) as nodes:
        yield nodes


def the_leader(nodes):
    leaders = [n for n in nodes if n._isLeader()]
    return leaders[0] if len(leaders) == 1 else None


def write(node, count: int) -> None:
    for _ in range(count):
        node.apply(ENTRY, callback=lambda result, error: None)


def test_a_leader_back_with_an_unreplicated_tail_catches_up_with_a_leader_far_ahead(voters):
    assert tick(voters, 30, lambda: the_leader(voters) is not None), "no leader"
    old = the_leader(voters)
    write(old, 5)
    assert tick(voters, 30, lambda: all(n.raftLastApplied == old.raftCommitIndex == old.last_log_index()
                                         for n in voters))
    # its appends never leave it: a tail of its own term that no one else holds
    unsent(old, lambda node: True)
    write(old, 5)
    tick([old], 0.05)
    assert old.last_log_index() > old.raftCommitIndex
    rest = [n for n in voters if n is not old]
    for node in rest:  # nothing reaches it while the others elect and write
        unsent(node, lambda peer: peer.address == old.selfNode.address)
    assert tick(rest, 30, lambda: the_leader(rest) is not None), "no new leader"
    new = the_leader(rest)
    # more than one AppendEntries (64 KiB) ahead of it: the leader sends it several at
    # once, and all but the first start past its log's end
    write(new, 40)
    assert tick(rest, 30, lambda: new.raftCommitIndex == new.last_log_index())
    for node in voters:
        unsent(node, None)
    caught_up = tick(voters, 10, lambda: old.raftLastApplied == new.raftCommitIndex == new.last_log_index())
    assert caught_up, (f"the old leader stayed at {old.last_log_index()} (applied {old.raftLastApplied}); "
                       f"the leader is at {new.last_log_index()}")


def unsent(node, dropped) -> None:
    """Messages from `node` to the peers `dropped(peer)` names are lost (None: none are)."""
    transport = node._SyncObj__transport
    transport.__dict__.pop("send", None)
    if dropped is not None:
        send = transport.send
        transport.send = lambda peer, message: False if dropped(peer) else send(peer, message)
