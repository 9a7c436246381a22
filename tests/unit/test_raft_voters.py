"""The controller quorum's voter set (kraft/quorum/raft_voters.py and the adapter in
kraft/quorum/raft.py): which changes are allowed, how the set is read back from a log,
and one change at a time on a real pysyncobj leader, which the library alone does not
keep to."""

from __future__ import annotations

import socket
import time

import pytest
from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf
from pysyncobj.transport import TCPTransport

from kraft.metadata.state_machine import MetadataStateMachine
from kraft.quorum import raft_voters as rv
from kraft.quorum.raft_syncobj import MetadataSyncObj as _MetadataSyncObj

VOTERS = {1: "h1:9091", 2: "h2:9091", 3: "h3:9091"}
NO_OP = bytes([1])  # pysyncobj's _COMMAND_TYPE.NO_OP entry


def test_an_observer_that_caught_up_is_added_with_the_whole_new_set():
    change = rv.plan_add(VOTERS, 4, "h4:9091", caught_up={1, 2, 4})
    assert change.kind == rv.ADD and change.voters_after == {**VOTERS, 4: "h4:9091"}


@pytest.mark.parametrize("node_id, address, kind, words", [
    (2, "h2:9091", "duplicate", "already a voter"),
    (4, None, "not_observer", "not connected to the active controller as an observer"),
    (4, "h3:9091", "bad_address", "voter 3 already uses"),
])
def test_adding_is_refused_clearly(node_id, address, kind, words):
    with pytest.raises(rv.VoterChangeProblem, match=words) as refused:
        rv.plan_add(VOTERS, node_id, address, caught_up={1, 2, 3, 4})
    assert refused.value.kind == kind


def test_an_addition_whose_set_has_no_live_majority_is_refused():
    # 1 and 4 up of {1, 2, 3, 4}: three are needed and the quorum would stop
    with pytest.raises(rv.VoterChangeProblem, match="needs 3 and would stop") as refused:
        rv.plan_add(VOTERS, 4, "h4:9091", caught_up={1, 4})
    assert refused.value.kind == "unsafe"


def test_removing_a_dead_voter_keeps_the_two_live_ones():
    change = rv.plan_remove(VOTERS, 3, caught_up={1, 2})
    assert change.kind == rv.REMOVE and change.address == "h3:9091" and change.voters_after == {1: "h1:9091",
                                                                                                 2: "h2:9091"}


def test_removing_a_live_voter_while_another_is_down_is_refused():
    with pytest.raises(rv.VoterChangeProblem, match=r"leave voters 1, 3, of which 1 is up"):
        rv.plan_remove(VOTERS, 2, caught_up={1, 2})


def test_unknown_and_last_voters_cannot_be_removed():
    with pytest.raises(rv.VoterChangeProblem, match="node 9 is not a voter") as unknown:
        rv.plan_remove(VOTERS, 9, caught_up={1, 2, 3})
    assert unknown.value.kind == "not_found"
    with pytest.raises(rv.VoterChangeProblem, match="only voter"):
        rv.plan_remove({1: "h1:9091"}, 1, caught_up={1})


def test_a_log_says_who_votes_from_its_last_change_and_a_truncated_change_is_undone():
    removed = rv.plan_remove(VOTERS, 3, caught_up={1, 2})
    added = rv.plan_add(removed.voters_after, 4, "h4:9091", caught_up={1, 2, 4})
    log = [b"\x00regular", rv.membership_command(removed), b"\x01", rv.membership_command(added)]
    assert rv.voters_in_log(VOTERS, log) == {1: "h1:9091", 2: "h2:9091", 4: "h4:9091"}
    assert rv.voters_in_log(VOTERS, log[:2]) == {1: "h1:9091", 2: "h2:9091"}
    assert rv.voters_in_log(VOTERS, [b"\x00regular"]) == VOTERS
    assert rv.reverse(added, added.voters_after) == removed.voters_after
    assert rv.reverse(removed, removed.voters_after) == VOTERS


# -- a real pysyncobj leader -------------------------------------------------------------
def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def lone_leader(build):
    """A one-voter quorum, ticked by hand until its first entry of the term is applied."""
    conf = SyncObjConf(autoTick=False, dynamicMembershipChange=True, raftMinTimeout=0.05, raftMaxTimeout=0.1,
                      appendEntriesPeriod=0.01)
    obj = build(free_address(), conf)
    deadline = time.monotonic() + 10
    while not (obj._isLeader() and obj.raftLastApplied >= 2) and time.monotonic() < deadline:
        obj.doTick(0.01)
    assert obj._isLeader() and obj.raftLastApplied >= 2
    return obj


def two_changes_in_one_tick(obj, propose) -> list:
    """Two additions proposed at once: the first cannot commit (its new voter is not
    there), so the second would be appended on top of an uncommitted change."""
    answers: list = []
    for address in (free_address(), free_address()):
        propose(obj, address, lambda result, error: answers.append(error))
    obj.doTick(0)
    return answers


def test_the_library_alone_appends_a_second_change_before_the_first_commits():
    # what the guard is for: this follower of the library's own rule can fail
    obj = lone_leader(lambda address, conf: SyncObj(address, [], conf))
    try:
        two_changes_in_one_tick(obj, lambda o, address, callback: o.addNodeToCluster(address, callback))
        assert len(obj.otherNodes) == 2  # {self} -> {self, A} -> {self, A, B}: two servers apart, uncommitted
    finally:
        obj.destroy()


def test_kraft_takes_one_change_at_a_time():
    def build(address, conf):
        return _MetadataSyncObj(address, [], conf, MetadataStateMachine(), lambda: None, TCPTransport,
                                durable=False, node_id=1, voters={1: address})
    obj = lone_leader(build)
    try:
        def propose(o, address, callback):
            voters = {**o.voters, len(o.voters) + 7: address}  # ids 8, 8: the set of each proposal
            change = rv.VoterChange(rv.ADD, max(voters), address, voters)
            o._applyCommand(rv.membership_command(change)[1:], callback, rv.MEMBERSHIP)
        answers = two_changes_in_one_tick(obj, propose)
        assert len(obj.otherNodes) == 1 and answers == [FAIL_REASON.REQUEST_DENIED]
        assert obj.voters != obj.applied_voters  # the first change waits for its new voter
    finally:
        obj.destroy()


# -- a follower: a change counts once appended, and only a truncation undoes it -------------
def follower_with_a_change():
    conf = SyncObjConf(autoTick=False, dynamicMembershipChange=True)
    me, leader_address = free_address(), free_address()
    follower = _MetadataSyncObj(me, [], conf, MetadataStateMachine(), lambda: None, TCPTransport, durable=False,
                                node_id=1, voters={1: me, 2: leader_address})
    leader = next(iter(follower.otherNodes))
    added = rv.plan_add(follower.voters, 3, free_address(), caught_up={1, 2, 3})
    follower._SyncObj__onMessageReceived(leader, {
        "type": "append_entries", "term": 1, "commit_index": 1, "prevLogIdx": 1, "prevLogTerm": 0,
        "entries": [(NO_OP, 2, 1), (rv.membership_command(added), 3, 1), (NO_OP, 4, 1)]})
    assert follower.voters == added.voters_after  # appended, not yet committed
    return follower, leader, added


def test_a_stale_resend_keeps_the_change_the_guard_keeps():
    follower, leader, added = follower_with_a_change()
    try:  # entry 2 again: the append guard keeps 3 and 4, so the set they hold stands
        follower._SyncObj__onMessageReceived(leader, {
            "type": "append_entries", "term": 1, "commit_index": 1, "prevLogIdx": 1, "prevLogTerm": 0,
            "entries": [(NO_OP, 2, 1)]})
        assert [e[1] for e in follower._SyncObj__raftLog] == [1, 2, 3, 4]
        assert follower.voters == added.voters_after
    finally:
        follower.destroy()


def test_a_conflicting_entry_truncates_the_change_and_the_set_goes_back():
    follower, leader, added = follower_with_a_change()
    try:  # a new leader's entry 3 of term 2: the uncommitted change is gone
        follower._SyncObj__onMessageReceived(leader, {
            "type": "append_entries", "term": 2, "commit_index": 1, "prevLogIdx": 2, "prevLogTerm": 1,
            "entries": [(NO_OP, 3, 2)]})
        assert [e[1] for e in follower._SyncObj__raftLog] == [1, 2, 3]
        assert sorted(follower.voters) == [1, 2]
    finally:
        follower.destroy()


def observer(leader_address: str):
    conf = SyncObjConf(autoTick=False, dynamicMembershipChange=True)
    me = free_address()
    obj = _MetadataSyncObj(me, [], conf, MetadataStateMachine(), lambda: None, TCPTransport, durable=False,
                           node_id=1, voters={2: leader_address})
    assert not obj.is_voter
    return obj, me, next(iter(obj.otherNodes))


def test_an_observer_replaying_an_old_set_that_names_it_does_not_act_as_a_voter():
    """A removed controller back with no Raft state: the log it is sent names it in an
    older set. Only a set still naming it once it has what the leader committed counts."""
    leader_address = free_address()
    obj, me, leader = observer(leader_address)
    try:
        added = rv.VoterChange(rv.ADD, 1, me, {1: me, 2: leader_address})
        removed = rv.VoterChange(rv.REMOVE, 1, me, {2: leader_address})
        obj._SyncObj__onMessageReceived(leader, {  # the leader has committed up to 5
            "type": "append_entries", "term": 1, "commit_index": 5, "prevLogIdx": 1, "prevLogTerm": 0,
            "entries": [(NO_OP, 2, 1), (rv.membership_command(added), 3, 1)]})
        assert obj.voters == added.voters_after and not obj.is_voter  # named, but behind the leader
        obj._SyncObj__onMessageReceived(leader, {
            "type": "append_entries", "term": 1, "commit_index": 5, "prevLogIdx": 3, "prevLogTerm": 1,
            "entries": [(NO_OP, 4, 1), (rv.membership_command(removed), 5, 1)]})
        assert obj.voters == removed.voters_after and not obj.is_voter
    finally:
        obj.destroy()


def test_an_observer_that_is_caught_up_becomes_a_voter_when_added():
    leader_address = free_address()
    obj, me, leader = observer(leader_address)
    try:
        added = rv.VoterChange(rv.ADD, 1, me, {1: me, 2: leader_address})
        obj._SyncObj__onMessageReceived(leader, {  # the change itself is not committed yet
            "type": "append_entries", "term": 1, "commit_index": 2, "prevLogIdx": 1, "prevLogTerm": 0,
            "entries": [(NO_OP, 2, 1), (rv.membership_command(added), 3, 1)]})
        assert obj.is_voter
    finally:
        obj.destroy()
