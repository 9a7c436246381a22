"""The consumer-group coordinator state machine (sans-IO): join, sync, heartbeat, leave,
timeouts, generation fencing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.groups.classic_group import VALID_PREVIOUS, GroupConfig, ClassicGroup
from kraft.coordinator.placement import java_string_hashcode, kafka_abs
from kraft.groups.coordinator_placement import coordinator_partition
from kraft.groups.group_events import (
    CommitCheck,
    CommitOk,
    DeleteGroup,
    DeleteOk,
    ErrorResponse,
    GenerationStarted,
    GroupError,
    GroupState,
    Heartbeat,
    HeartbeatOk,
    Join,
    JoinPending,
    JoinResponse,
    Leave,
    LeaveOk,
    MemberRemoved,
    StateChanged,
    Sync,
    SyncResponse,
    Tick,
    TopicsChanged,
    Unload,
)

PARTITIONS = {"t": 4, "u": 2}


def join(g, member_id=None, now=0, topics=("t", "u"), protocols=("range",), session=10_000, rebalance=5_000):
    return g.handle(Join(member_id, "c", session, rebalance, tuple(protocols), frozenset(topics), now))


def of(effects, cls):
    return [e for e in effects if isinstance(e, cls)]


def error(effects):
    [e] = of(effects, ErrorResponse)
    return e.error


def stable_group(n, now=0):
    """A Stable group of n members that joined and synced one after the other."""
    g = ClassicGroup("g", PARTITIONS)
    ids = []
    for _ in range(n):
        ids.append(of(join(g, now=now), JoinPending)[0].member_id)
        for mid in ids[:-1]:
            join(g, mid, now=now)
        for mid in ids:
            g.handle(Sync(mid, g.generation, now))
    assert g.state is GroupState.STABLE
    return g, ids


def test_first_member_join_sync_stable():
    g = ClassicGroup("g", PARTITIONS)
    effects = join(g, now=100)
    [pending] = of(effects, JoinPending)
    [resp] = of(effects, JoinResponse)
    assert resp == JoinResponse(pending.member_id, 1, "range", pending.member_id, ((pending.member_id, ("t", "u")),),
                                ((pending.member_id, b""),))
    assert g.state is GroupState.COMPLETING_REBALANCE
    assert [(s.old, s.new) for s in of(effects, StateChanged)] == [
        (GroupState.EMPTY, GroupState.PREPARING_REBALANCE),
        (GroupState.PREPARING_REBALANCE, GroupState.COMPLETING_REBALANCE)]
    sync = g.handle(Sync(resp.member_id, 1, 200))
    assert of(sync, SyncResponse)[0].assignment == (("t", 0), ("t", 1), ("t", 2), ("t", 3), ("u", 0), ("u", 1))
    assert g.state is GroupState.STABLE
    assert g.handle(Heartbeat(resp.member_id, 1, 300)) == [HeartbeatOk(resp.member_id)]
    assert g.handle(CommitCheck(resp.member_id, 1)) == [CommitOk(resp.member_id, 1)]


def test_second_member_triggers_rebalance_and_both_get_disjoint_shares():
    g, [m1] = stable_group(1)
    effects = join(g, now=1_000)
    [m2] = [p.member_id for p in of(effects, JoinPending)]
    assert not of(effects, JoinResponse) and g.state is GroupState.PREPARING_REBALANCE
    assert error(g.handle(Heartbeat(m1, 1, 1_100))) is GroupError.REBALANCE_IN_PROGRESS
    assert error(g.handle(Sync(m1, 1, 1_100))) is GroupError.REBALANCE_IN_PROGRESS
    assert g.handle(CommitCheck(m1, 1)) == [CommitOk(m1, 1)]  # may commit before rejoining
    effects = join(g, m1, now=1_200)
    responses = {r.member_id: r for r in of(effects, JoinResponse)}
    assert set(responses) == {m1, m2} and {r.generation for r in responses.values()} == {2}
    assert responses[m1].leader_id == m1 == responses[m2].leader_id
    assert len(responses[m1].members) == 2 and responses[m2].members == ()
    assert of(effects, GenerationStarted)[0].generation == 2
    shares = [of(g.handle(Sync(m, 2, 1_300)), SyncResponse)[0].assignment for m in (m1, m2)]
    assert not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == [("t", p) for p in range(4)] + [("u", 0), ("u", 1)]
    assert g.state is GroupState.STABLE


def test_session_timeout_expels_a_silent_member_and_rebalances():
    g, [m1, m2] = stable_group(2)
    g.handle(Heartbeat(m1, 2, 6_000))
    assert g.handle(Tick(9_999)) == []
    effects = g.handle(Tick(10_000))  # m2's last heartbeat was its sync at 0; session 10 s
    assert of(effects, MemberRemoved) == [MemberRemoved(m2, "session_timeout")]
    assert g.state is GroupState.PREPARING_REBALANCE and g.members == (m1,)
    effects = join(g, m1, now=10_100)
    assert of(effects, JoinResponse)[0].generation == 3
    assert len(of(g.handle(Sync(m1, 3, 10_200)), SyncResponse)[0].assignment) == 6


def test_stale_generation_commit_is_fenced():
    g, [m1, m2] = stable_group(2)
    assert g.generation == 2
    assert g.handle(CommitCheck(m1, 2)) == [CommitOk(m1, 2)]
    for e in (CommitCheck(m1, 1), Heartbeat(m1, 1, 10), Sync(m1, 1, 10)):
        [err] = g.handle(e)
        assert err.error is GroupError.ILLEGAL_GENERATION and err.error.fault == "client"
        assert "stale" in err.message
    g.handle(Leave(m2, 20))
    join(g, m1, now=30)  # generation 3: m1's generation-2 commits are now refused
    assert error(g.handle(CommitCheck(m1, 2))) is GroupError.ILLEGAL_GENERATION
    assert error(g.handle(CommitCheck(m1, 3))) is GroupError.REBALANCE_IN_PROGRESS  # not synced yet
    g.handle(Sync(m1, 3, 40))
    assert g.handle(CommitCheck(m1, 3)) == [CommitOk(m1, 3)]


def test_leave_triggers_rebalance_and_last_leave_empties_the_group():
    g, [m1, m2] = stable_group(2)
    effects = g.handle(Leave(m2, 100))
    assert LeaveOk(m2) in effects and MemberRemoved(m2, "left") in effects
    assert g.state is GroupState.PREPARING_REBALANCE
    effects = join(g, m1, now=200)
    assert [r.member_id for r in of(effects, JoinResponse)] == [m1]
    g.handle(Sync(m1, 3, 300))
    g.handle(Leave(m1, 400))
    assert g.state is GroupState.EMPTY and g.generation == 4 and g.members == ()
    assert g.handle(CommitCheck("", -1)) == [CommitOk("", -1)]  # standalone commits need an empty group


def test_unknown_member_errors():
    g = ClassicGroup("g", PARTITIONS)
    for e in (Heartbeat("x", 0, 0), Sync("x", 0, 0), Leave("x", 0), CommitCheck("x", 0)):
        [err] = g.handle(e)
        assert err.error is GroupError.UNKNOWN_MEMBER_ID and err.member_id == "x" and "client's fault" in err.message
    assert error(join(g, "x")) is GroupError.UNKNOWN_MEMBER_ID
    g, _ = stable_group(1)
    assert error(g.handle(Heartbeat("ghost", 1, 0))) is GroupError.UNKNOWN_MEMBER_ID
    assert error(g.handle(CommitCheck("", -1))) is GroupError.UNKNOWN_MEMBER_ID  # group not empty


def test_rebalance_timeout_drops_a_member_that_does_not_rejoin():
    g, [m1, m2] = stable_group(2)
    [m3] = [p.member_id for p in of(join(g, now=1_000), JoinPending)]  # deadline 1 000 + 5 000
    join(g, m1, now=2_000)
    for now in (3_000, 5_000, 5_999):
        g.handle(Heartbeat(m2, 2, now))  # alive, but it never rejoins
        assert g.handle(Tick(now)) == []
    effects = g.handle(Tick(6_000))
    assert of(effects, MemberRemoved) == [MemberRemoved(m2, "rebalance_timeout")]
    assert {r.member_id for r in of(effects, JoinResponse)} == {m1, m3}
    assert g.generation == 3 and g.members == (m1, m3)
    assert error(g.handle(Heartbeat(m2, 2, 6_100))) is GroupError.UNKNOWN_MEMBER_ID


def test_member_that_never_syncs_is_removed():
    g = ClassicGroup("g", PARTITIONS)
    [m1] = [p.member_id for p in of(join(g, now=0), JoinPending)]
    effects = g.handle(Tick(5_000))
    assert MemberRemoved(m1, "sync_timeout") in effects and g.state is GroupState.EMPTY


def test_subscription_change_rebalances_but_an_unchanged_rejoin_does_not():
    g, [m1, m2] = stable_group(2)
    assert of(join(g, m2, now=10), JoinResponse)[0].generation == 2 and g.state is GroupState.STABLE
    effects = join(g, m2, now=20, topics=("u",))
    assert of(effects, JoinPending) and g.state is GroupState.PREPARING_REBALANCE
    join(g, m1, now=30)
    assert g.member(m2).topics == frozenset({"u"})
    assert set(g.assignment_of(m2)) <= {("u", 0), ("u", 1)} and g.generation == 3


def test_partition_count_change_rebalances():
    g, [m1] = stable_group(1)
    assert g.handle(TopicsChanged({"t": 4, "u": 2, "other": 9}, 10)) == []
    g.handle(TopicsChanged({"t": 6, "u": 2}, 20))
    assert g.state is GroupState.PREPARING_REBALANCE
    join(g, m1, now=30)
    assert len(g.assignment_of(m1)) == 8


def test_protocol_negotiation_and_bad_joins():
    g = ClassicGroup("g", PARTITIONS, GroupConfig(min_session_timeout_ms=6_000))
    assert error(join(g, session=3_000)) is GroupError.INVALID_SESSION_TIMEOUT
    assert error(join(g, session=6_000, protocols=("magic",))) is GroupError.INCONSISTENT_GROUP_PROTOCOL
    [m1] = [p.member_id for p in of(join(g, session=6_000, protocols=("sticky", "range")), JoinPending)]
    assert g.protocol == "sticky"
    assert error(join(g, session=6_000, protocols=("roundrobin",))) is GroupError.INCONSISTENT_GROUP_PROTOCOL
    join(g, session=6_000, protocols=("range", "roundrobin"))
    effects = join(g, m1, session=6_000, protocols=("sticky", "range"))
    assert {r.protocol for r in of(effects, JoinResponse)} == {"range"}  # the only common one


def test_sticky_group_keeps_partitions_across_rebalance():
    g = ClassicGroup("g", {"t": 12})
    ids = []
    for _ in range(3):
        ids.append(of(join(g, topics=("t",), protocols=("sticky",)), JoinPending)[0].member_id)
        for mid in ids[:-1]:
            join(g, mid, topics=("t",), protocols=("sticky",))
    before = {m: set(g.assignment_of(m)) for m in ids}
    g.handle(Leave(ids[2], 0))
    for mid in ids[:2]:
        join(g, mid, topics=("t",), protocols=("sticky",))
    for m in ids[:2]:
        assert before[m] <= set(g.assignment_of(m)) and len(g.assignment_of(m)) == 6


def test_unload_delete_and_dead():
    g, [m1] = stable_group(1)
    assert error(g.handle(DeleteGroup())) is GroupError.NON_EMPTY_GROUP
    [m2] = [p.member_id for p in of(join(g), JoinPending)]
    effects = g.handle(Unload())
    assert error(effects) is GroupError.NOT_COORDINATOR and of(effects, ErrorResponse)[0].member_id == m2
    assert g.state is GroupState.DEAD
    for e in (Heartbeat(m1, 1, 0), Sync(m1, 1, 0), CommitCheck(m1, 1), Leave(m1, 0), DeleteGroup()):
        assert error(g.handle(e)) is GroupError.COORDINATOR_NOT_AVAILABLE
    assert GroupError.COORDINATOR_NOT_AVAILABLE.fault == "coordinator"
    assert g.handle(Tick(99_999)) == []
    empty = ClassicGroup("e")
    assert empty.handle(DeleteGroup()) == [StateChanged(GroupState.EMPTY, GroupState.DEAD, 0), DeleteOk()]


ACTIONS = st.lists(st.tuples(st.sampled_from(["join", "rejoin", "sync", "heartbeat", "leave", "tick", "topics"]),
                             st.integers(0, 3), st.integers(0, 4_000)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(ACTIONS, st.sampled_from(["range", "roundrobin", "sticky"]))
def test_random_runs_keep_the_invariants(actions, protocol):
    g = ClassicGroup("g", PARTITIONS)
    now, known, generation, partitions = 0, [], 0, dict(PARTITIONS)
    for kind, who, dt in actions:
        now += dt
        mid = known[who % len(known)] if known else "nobody"
        topics = ("t", "u") if who % 2 else ("t",)
        event = {"join": Join(None, "c", 10_000, 5_000, (protocol,), frozenset(topics), now),
                 "rejoin": Join(mid, "c", 10_000, 5_000, (protocol,), frozenset(topics), now),
                 "sync": Sync(mid, g.generation, now), "heartbeat": Heartbeat(mid, g.generation, now),
                 "leave": Leave(mid, now), "tick": Tick(now),
                 "topics": TopicsChanged({"t": 4 + who, "u": 2}, now)}[kind]
        if kind == "topics":
            partitions = dict(event.partitions)
        for effect in g.handle(event):
            if isinstance(effect, JoinPending) and effect.member_id not in known:
                known.append(effect.member_id)
            if isinstance(effect, StateChanged):
                assert effect.old in VALID_PREVIOUS[effect.new]
        assert g.generation >= generation
        generation = g.generation
        assert (g.state is GroupState.EMPTY) == (not g.members)
        if g.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            owned = [tp for m in g.members for tp in g.assignment_of(m)]
            wanted = {t for m in g.members for t in g.member(m).topics}
            assert sorted(owned) == sorted((t, p) for t in wanted for p in range(partitions[t]))


def test_coordinator_partition_matches_java_hashcode():
    assert [java_string_hashcode(s) for s in ("", "a", "ab")] == [0, 97, 3105]  # 97*31 + 98
    assert java_string_hashcode("Aa") == java_string_hashcode("BB") == 2112  # 65*31+97 == 66*31+66
    assert java_string_hashcode("\U0001F600") == 0xD83D * 31 + 0xDE00  # two UTF-16 code units
    # Overflow: compare with the spec's sum s[i]*31^(n-1-i), wrapped to a signed int32.
    s = "consumer-group-with-a-long-name"
    total = sum(ord(c) * 31 ** (len(s) - 1 - i) for i, c in enumerate(s)) % 2**32
    assert java_string_hashcode(s) == (total - 2**32 if total >= 2**31 else total) < 0
    assert java_string_hashcode("polygenelubricants") == -(2**31) and kafka_abs(-(2**31)) == 0
    assert coordinator_partition("polygenelubricants", 50) == 0
    assert coordinator_partition("ab", 50) == 3105 % 50 == 5
    assert coordinator_partition(s, 50) == abs(java_string_hashcode(s)) % 50
