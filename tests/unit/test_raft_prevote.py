"""Pre-vote (kraft/quorum/raft_prevote.py): the rules, then three real pysyncobj voters on
loopback ticked by hand. A voter not ticked is a paused process: its sockets fill, its
election timer runs out. Back, it must not unseat the healthy leader; a leader that is
gone must still be replaced, and a leadership transfer still moves leadership."""

from __future__ import annotations

import pytest
from raft_voters import three_voters, tick

from kraft.quorum import raft_prevote
from kraft.quorum.raft_syncobj import MetadataSyncObj as _MetadataSyncObj

# -- the rules --------------------------------------------------------------------------


def voter(**changes) -> raft_prevote.VoterView:
    view = dict(term=5, last_log_index=10, last_log_term=5, is_leader=False, since_leader_s=float("inf"),
                min_election_timeout_s=0.4)
    return raft_prevote.VoterView(**{**view, **changes})


def asking(term=5, index=10, log_term=5) -> dict:
    return raft_prevote.request(term, index, log_term)


def test_a_voter_without_a_leader_grants_an_up_to_date_asker():
    assert raft_prevote.answer(asking(), voter()) == {"type": raft_prevote.PRE_VOTE_ANSWER, "term": 6,
                                                      "granted": True}
    assert raft_prevote.grants(asking(index=12), voter())  # a longer log of the same term
    assert raft_prevote.grants(asking(index=3, log_term=6), voter())  # a later last term


@pytest.mark.parametrize("why,message,view", [
    ("heard from its leader lately", asking(), voter(since_leader_s=0.1)),
    ("is the leader", asking(), voter(is_leader=True)),
    ("the asker's log is shorter", asking(index=9), voter()),
    ("the asker's last term is older", asking(index=20, log_term=4), voter()),
    ("the asker is two terms behind", asking(term=3), voter()),
])
def test_a_voter_refuses(why, message, view):
    assert not raft_prevote.grants(message, view), why


def test_a_round_is_won_by_a_majority_of_distinct_voters_for_its_own_term():
    rnd = raft_prevote.PreVoteRound()
    rnd.begin(5, "me", now=100.0, timeout_s=1.0)
    assert rnd.open(5, 100.5) and not rnd.open(5, 101.0) and not rnd.open(6, 100.5)
    yes = {"type": raft_prevote.PRE_VOTE_ANSWER, "term": 6, "granted": True}
    rnd.note("a", {**yes, "granted": False}, voters=5)
    rnd.note("b", {**yes, "term": 7}, voters=5)  # an answer to another round
    rnd.note("c", yes, voters=5)
    rnd.note("c", yes, voters=5)  # counted once
    assert not rnd.take_win(5)
    rnd.note("d", yes, voters=5)
    assert not rnd.take_win(6) and rnd.take_win(5)  # the term moved: void; then consumed once
    assert not rnd.take_win(5)


def test_malformed_pre_votes_are_recognised():
    assert raft_prevote.well_formed(asking())
    assert not raft_prevote.well_formed({**asking(), "term": "6"})
    assert not raft_prevote.well_formed({"type": raft_prevote.PRE_VOTE_ANSWER, "term": 6, "granted": 1})

# -- three real voters ------------------------------------------------------------------


VOTERS_HOST = "127.0.3.7"  # no other test's address


@pytest.fixture
def voters():
    # timeouts wider than the product's, so a test thread starved on a busy machine is no election
    with three_voters(VOTERS_HOST, raftMinTimeout=1.0, raftMaxTimeout=2.0, leaderFallbackTimeout=3.0,
                      connectionTimeout=3.0, connectionRetryTime=0.1) as nodes:
        yield nodes


def settled(nodes):
    """The leader every node follows, once there is one."""
    leaders = [n for n in nodes if n._isLeader()]
    if len(leaders) != 1 or any(n._getLeader() != leaders[0].selfNode for n in nodes):
        return None
    if len({n.raftCurrentTerm for n in nodes}) != 1:
        return None
    return leaders[0]


def elect(nodes):
    assert tick(nodes, 60, lambda: settled(nodes) is not None), "no leader within 60 s"
    return settled(nodes)


def pause_and_resume(nodes, paused, seconds: float) -> None:
    """`paused` gets no tick for `seconds` (longer than any election timeout), then all run."""
    tick([n for n in nodes if n is not paused], seconds)
    tick(nodes, 3.0)  # its election timer ran out while paused: it stands at once


@pytest.mark.slow  # real voters over seconds: in the default suite, not in `./dev unit`
def test_a_follower_back_from_pauses_does_not_unseat_the_leader(voters):
    leader = elect(voters)
    term = leader.raftCurrentTerm
    follower = next(n for n in voters if n is not leader)
    for _ in range(2):
        pause_and_resume(voters, follower, 3.0)
        assert settled(voters) is leader and leader.raftCurrentTerm == term, (
            [(n.selfNode.id, n.raftCurrentTerm, n._isLeader()) for n in voters])


@pytest.mark.slow  # real voters over seconds: in the default suite, not in `./dev unit`
def test_without_pre_vote_the_returning_follower_forces_an_election(voters, monkeypatch):
    """What pre-vote is for: this test's cluster can fail the one above."""
    monkeypatch.setattr(_MetadataSyncObj, "_may_stand", lambda self: True)
    leader = elect(voters)
    term = leader.raftCurrentTerm
    pause_and_resume(voters, next(n for n in voters if n is not leader), 3.0)
    assert max(n.raftCurrentTerm for n in voters) > term


@pytest.mark.slow  # real voters over seconds: in the default suite, not in `./dev unit`
def test_a_leader_gone_is_replaced_and_follows_when_back(voters):
    old = elect(voters)
    rest = [n for n in voters if n is not old]
    assert tick(rest, 60, lambda: any(n._isLeader() for n in rest)), "no new leader within 60 s"
    new = next(n for n in rest if n._isLeader())
    assert tick(voters, 30, lambda: settled(voters) is new), "the old leader did not follow the new one"
    assert new.raftCurrentTerm > 0 and not old._isLeader()


@pytest.mark.slow  # real voters over seconds: in the default suite, not in `./dev unit`
def test_a_leadership_transfer_needs_no_pre_vote(voters):
    """TimeoutNow: the other follower heard from the leader a moment ago and would refuse a
    pre-vote, yet the transfer's election is won at once."""
    leader = elect(voters)
    assert tick(voters, 30, lambda: leader._SyncObj__raftMatchIndex and all(
        m == leader.last_log_index() for m in leader._SyncObj__raftMatchIndex.values()))
    leader.transferLeadership()
    assert tick(voters, 30, lambda: (s := settled(voters)) is not None and s is not leader), "leadership stayed"
