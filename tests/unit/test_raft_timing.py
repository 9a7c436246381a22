"""The metadata quorum's timers (kraft/quorum/raft_timing.py): a leader whose Raft thread is
held for a second (a busy disk, the interpreter lock) keeps its seat, as under Kafka's
defaults; one gone for longer than the fetch and election timeouts is replaced."""

from __future__ import annotations

import logging
import time

import pytest

from kraft.quorum.raft_timing import QuorumTimings
from raft_voters import three_voters, tick
from test_raft_prevote import elect, settled

VOTERS_HOST = "127.0.3.9"  # no other test's address
DEFAULTS = QuorumTimings()  # what cluster.toml's [timeouts] give when unset


@pytest.fixture
def voters():
    with three_voters(VOTERS_HOST, **DEFAULTS.syncobj_settings(), connectionRetryTime=0.1) as nodes:
        yield nodes


def hold(nodes, held, seconds: float) -> None:
    """`held` gets no tick for `seconds` while the others run; then all run for a moment."""
    tick([n for n in nodes if n is not held], seconds)
    tick(nodes, 0.5)


def test_the_timers_follow_kafkas_settings():
    timings = QuorumTimings(fetch_timeout_s=2.0, election_timeout_s=1.0)
    assert timings.syncobj_settings() == {"raftMinTimeout": 2.0, "raftMaxTimeout": 3.0, "leaderFallbackTimeout": 3.0,
                                          "connectionTimeout": 3.0}


@pytest.mark.slow  # real voters over seconds: in the default suite, not in `./dev unit`
def test_a_leader_held_past_the_old_election_timeout_keeps_its_seat(voters):
    leader = elect(voters)
    term = leader.raftCurrentTerm
    # 1.6 s: past the 0.4-1.4 s the quorum used to elect after, inside the 2 s fetch timeout
    hold(voters, leader, DEFAULTS.fetch_timeout_s - 0.4)
    assert settled(voters) is leader and leader.raftCurrentTerm == term, (
        [(n.selfNode.id, n.raftCurrentTerm, n._isLeader()) for n in voters])


@pytest.mark.slow
def test_a_leader_gone_past_the_fetch_timeout_is_replaced(voters):
    leader = elect(voters)
    term = leader.raftCurrentTerm
    others = [n for n in voters if n is not leader]
    gone_at = time.monotonic()
    assert tick(others, 30, lambda: any(n._isLeader() for n in others)), "no new leader within 30 s"
    assert max(n.raftCurrentTerm for n in others) > term
    # the followers heard the leader until gone_at: no timer of theirs runs out sooner
    assert time.monotonic() - gone_at >= DEFAULTS.fetch_timeout_s


@pytest.mark.slow
def test_a_slow_turn_of_the_raft_thread_is_logged(voters, caplog):
    leader = elect(voters)
    leader.call_on_tick(lambda: time.sleep(0.7))
    with caplog.at_level(logging.WARNING, logger="kraft.quorum.raft"):
        tick(voters, 1.5)
    lines = [r.getMessage() for r in caplog.records if "one turn of the Raft thread" in r.getMessage()]
    assert len(lines) == 1 and "this controller leads" in lines[0], lines
    assert settled(voters) is leader
