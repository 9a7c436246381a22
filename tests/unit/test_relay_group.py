"""Groups whose leader assigns (Kafka clients): ClassicGroup(relay=True) and its adapter
KafkaClientGroup. Any protocol type and name; the leader's Sync bytes are relayed."""

import asyncio

import pytest

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import (
    AssignmentReceived,
    CommitCheck,
    CommitOk,
    ErrorResponse,
    GroupError,
    GroupState,
    Heartbeat,
    HeartbeatOk,
    Join,
    JoinPending,
    JoinResponse,
    Leave,
    Sync,
    SyncPending,
    SyncResponse,
    Tick,
    TopicsChanged,
    Unload,
)
from kraft.groups.kafka_client_group import Joined, KafkaClientGroup, Refused, Synced


def of(effects, cls):
    return [e for e in effects if isinstance(e, cls)]


def join(g, member_id=None, now=0, protocols=(("x", b"md-x"),), protocol_type="connect", rebalance=5_000):
    return g.handle(Join(member_id, "c", 10_000, rebalance, tuple(n for n, _ in protocols), frozenset(), now,
                         protocol_type, tuple(md for _, md in protocols)))


def two_members(protocols_a=(("x", b"a"),), protocols_b=(("x", b"b"),), rebalance=5_000):
    """A relay group whose two members completed a join phase (CompletingRebalance)."""
    g = ClassicGroup("g", relay=True)
    a = of(join(g, protocols=protocols_a, rebalance=rebalance), JoinPending)[0].member_id
    g.handle(Sync(a, 1, 0, {a: b"all"}))
    b = of(join(g, protocols=protocols_b, rebalance=rebalance), JoinPending)[0].member_id
    effects = join(g, a, protocols=protocols_a, rebalance=rebalance)
    assert g.state is GroupState.COMPLETING_REBALANCE and g.generation == 2
    return g, a, b, effects


def test_any_protocol_type_and_name_form_a_group_and_the_leader_gets_every_members_metadata():
    g, a, b, effects = two_members()
    responses = {r.member_id: r for r in of(effects, JoinResponse)}
    assert responses[a].protocol == "x" and responses[a].protocol_type == "connect" and responses[a].leader_id == a
    assert dict(responses[a].metadata) == {a: b"a", b: b"b"}
    assert responses[b].metadata == ()  # followers learn nothing of the others, as in Kafka
    assert g.protocol_type == "connect"


def test_protocol_selection_by_votes_among_the_protocols_every_member_supports():
    g = ClassicGroup("g", relay=True)
    wants = [(("cooperative-sticky", b""), ("range", b""), ("mine", b"")),
             (("range", b""), ("cooperative-sticky", b"")),
             (("cooperative-sticky", b""), ("range", b""))]
    ids = []
    for protocols in wants:  # each join rebalances; the earlier members rejoin
        ids.append(of(join(g, protocols=protocols), JoinPending)[0].member_id)
        effects = [e for m, ps in zip(ids[:-1], wants) for e in join(g, m, protocols=ps)]
    assert {r.protocol for r in of(effects, JoinResponse)} == {"cooperative-sticky"}  # 2 votes to 1
    assert g.generation == 3 and g.members == tuple(ids)
    # a joiner sharing nothing with the group is refused; another protocol type too
    [refused] = of(join(g, protocols=(("other", b""),)), ErrorResponse)
    assert refused.error is GroupError.INCONSISTENT_GROUP_PROTOCOL
    [refused] = of(join(g, protocols=(("range", b""),), protocol_type="consumer"), ErrorResponse)
    assert refused.error is GroupError.INCONSISTENT_GROUP_PROTOCOL
    [refused] = of(join(g, protocols=(), protocol_type="connect"), ErrorResponse)
    assert refused.error is GroupError.INCONSISTENT_GROUP_PROTOCOL
    [refused] = of(join(ClassicGroup("h", relay=True), protocol_type=""), ErrorResponse)
    assert refused.error is GroupError.INCONSISTENT_GROUP_PROTOCOL


def test_a_followers_sync_waits_for_the_leaders_whose_bytes_are_relayed_verbatim():
    g, a, b, _ = two_members()
    assert of(g.handle(Sync(b, 2, 10)), SyncPending) == [SyncPending(b)]
    assert g.state is GroupState.COMPLETING_REBALANCE
    effects = g.handle(Sync(a, 2, 20, {a: b"\x00for-a", b: b"\x01for-b\xff"}))
    answers = {r.member_id: r.member_assignment for r in of(effects, SyncResponse)}
    assert answers == {a: b"\x00for-a", b: b"\x01for-b\xff"}
    assert of(effects, AssignmentReceived) == [AssignmentReceived(2, {a: b"\x00for-a", b: b"\x01for-b\xff"})]
    assert g.state is GroupState.STABLE
    # a sync after the leader's (Stable) is answered at once with the stored bytes
    assert of(g.handle(Sync(b, 2, 30)), SyncResponse)[0].member_assignment == b"\x01for-b\xff"


def test_a_member_the_leader_left_out_gets_an_empty_assignment():
    g, a, b, _ = two_members()
    g.handle(Sync(b, 2, 10))
    effects = g.handle(Sync(a, 2, 20, {a: b"everything", "not-a-member": b"?"}))
    answers = {r.member_id: r.member_assignment for r in of(effects, SyncResponse)}
    assert answers == {a: b"everything", b: b""}
    assert g.member_assignment(b) == b""


def test_partitions_read_by_the_caller_are_kept_for_views():
    g, a, b, _ = two_members()
    g.handle(Sync(a, 2, 0, {a: b"1", b: b"2"}, {a: (("t", 0), ("t", 1)), b: ()}))
    assert g.assignment_of(a) == (("t", 0), ("t", 1)) and g.assignment_of(b) == ()


def test_the_leader_leaving_during_completing_rebalance_fails_held_syncs_and_rebalances():
    g, a, b, _ = two_members()
    assert of(g.handle(Sync(b, 2, 10)), SyncPending)
    effects = g.handle(Leave(a, 20))
    [held] = of(effects, ErrorResponse)
    assert (held.request, held.member_id, held.error) == ("sync", b, GroupError.REBALANCE_IN_PROGRESS)
    assert g.state is GroupState.PREPARING_REBALANCE and g.leader_id == b
    effects = join(g, b, now=30, protocols=(("x", b"b"),))
    [resp] = of(effects, JoinResponse)
    assert (resp.generation, resp.leader_id) == (3, b) and dict(resp.metadata) == {b: b"b"}


def test_a_leader_that_never_syncs_is_removed_and_held_syncs_are_told_to_rejoin():
    g, a, b, _ = two_members()
    g.handle(Sync(b, 2, 10))
    effects = g.handle(Tick(6_000))  # the rebalance timeout (5 s) bounds the wait for syncs
    assert [e.member_id for e in of(effects, ErrorResponse)] == [b]
    assert of(effects, ErrorResponse)[0].error is GroupError.REBALANCE_IN_PROGRESS
    assert a not in g.members and g.state is GroupState.PREPARING_REBALANCE


def test_a_held_sync_keeps_its_member_alive_until_the_sync_deadline():
    g, a, b, _ = two_members(rebalance=30_000)
    g.handle(Sync(b, 2, 0))
    g.handle(Heartbeat(a, 2, 9_000))
    g.handle(Tick(15_000))  # b's session (10 s) passed, but its sync waits on the leader
    assert g.members == (a, b)
    effects = g.handle(Sync(a, 2, 16_000, {a: b"x", b: b"y"}))
    assert {r.member_id for r in of(effects, SyncResponse)} == {a, b}
    g.handle(Tick(25_000))  # its session runs from the answer
    assert g.members == (a, b) and g.state is GroupState.STABLE


def test_a_follower_that_never_syncs_is_removed_even_once_stable():
    g, a, b, _ = two_members()
    g.handle(Sync(a, 2, 10, {a: b"x", b: b"y"}))
    g.handle(Heartbeat(b, 2, 4_000))
    g.handle(Heartbeat(a, 2, 4_000))
    assert g.state is GroupState.STABLE
    g.handle(Tick(6_000))
    assert g.members == (a,) and g.state is GroupState.PREPARING_REBALANCE


def test_rejoins_in_stable_a_changed_metadata_or_the_leader_rebalance_an_unchanged_follower_does_not():
    g, a, b, _ = two_members()
    g.handle(Sync(a, 2, 0, {a: b"x", b: b"y"}))
    g.handle(Sync(b, 2, 0))
    [resp] = of(join(g, b, protocols=(("x", b"b"),)), JoinResponse)
    assert resp.generation == 2 and g.state is GroupState.STABLE
    join(g, b, protocols=(("x", b"b-owns-more"),))  # KIP-429: owned partitions live in the metadata
    assert g.state is GroupState.PREPARING_REBALANCE
    g2, a2, b2, _ = two_members()
    g2.handle(Sync(a2, 2, 0, {}))
    join(g2, a2, protocols=(("x", b"a"),))
    assert g2.state is GroupState.PREPARING_REBALANCE


def test_generation_answers_on_heartbeat_sync_and_commit_across_a_rebalance():
    g, a, b, _ = two_members()
    assert of(g.handle(Heartbeat(b, 2, 0)), HeartbeatOk)  # CompletingRebalance: heartbeats are fine
    assert of(g.handle(CommitCheck(b, 2)), ErrorResponse)[0].error is GroupError.REBALANCE_IN_PROGRESS
    g.handle(Sync(a, 2, 0, {a: b"x", b: b"y"}))
    assert of(g.handle(CommitCheck(b, 2)), CommitOk)
    assert of(g.handle(CommitCheck(b, 1)), ErrorResponse)[0].error is GroupError.ILLEGAL_GENERATION
    join(g, a, protocols=(("x", b"a"),))  # the leader rejoins: a rebalance starts
    assert of(g.handle(Heartbeat(b, 2, 0)), ErrorResponse)[0].error is GroupError.REBALANCE_IN_PROGRESS
    assert of(g.handle(Sync(b, 2, 0)), ErrorResponse)[0].error is GroupError.REBALANCE_IN_PROGRESS
    assert of(g.handle(Sync(b, 1, 0)), ErrorResponse)[0].error is GroupError.ILLEGAL_GENERATION


def test_a_sync_naming_another_protocol_is_inconsistent():
    g, a, b, _ = two_members()
    [e] = of(g.handle(Sync(b, 2, 0, protocol_type="consumer")), ErrorResponse)
    assert e.error is GroupError.INCONSISTENT_GROUP_PROTOCOL
    [e] = of(g.handle(Sync(b, 2, 0, protocol_type="connect", protocol_name="y")), ErrorResponse)
    assert e.error is GroupError.INCONSISTENT_GROUP_PROTOCOL
    assert of(g.handle(Sync(b, 2, 0, protocol_type="connect", protocol_name="x")), SyncPending)


def test_unload_fails_held_syncs_with_not_coordinator():
    g, a, b, _ = two_members()
    g.handle(Sync(b, 2, 0))
    [e] = of(g.handle(Unload()), ErrorResponse)
    assert (e.request, e.member_id, e.error) == ("sync", b, GroupError.NOT_COORDINATOR)


def test_rest_groups_keep_the_coordinators_assignors():
    g = ClassicGroup("g", {"t": 2})
    [e] = of(g.handle(Join(None, "c", 10_000, 5_000, ("everything-to-first",), frozenset({"t"}), 0)), ErrorResponse)
    assert e.error is GroupError.INCONSISTENT_GROUP_PROTOCOL


# -- the adapter: futures for held requests -----------------------------------------------------
def test_adapter_holds_the_followers_sync_until_the_leaders_arrives():
    async def run():
        group = KafkaClientGroup("g", {}, "p.")
        first = asyncio.create_task(group.join(None, "c1", 10_000, 5_000, "connect", [("x", b"m1")], frozenset(), 0))
        joined_a = await first
        assert isinstance(joined_a, Joined)
        assert isinstance(await group.sync(joined_a.member_id, 1, 0, {joined_a.member_id: b"solo"}), Synced)
        joins = [asyncio.create_task(group.join(None, "c2", 10_000, 5_000, "connect", [("x", b"m2")], frozenset(), 1)),
                 asyncio.create_task(group.join(joined_a.member_id, "c1", 10_000, 5_000, "connect", [("x", b"m1")],
                                                frozenset(), 1))]
        b, a = await asyncio.gather(*joins)
        assert a.leader_id == a.member_id and dict(a.members) == {a.member_id: b"m1", b.member_id: b"m2"}
        follower = asyncio.create_task(group.sync(b.member_id, 2, 2))
        await asyncio.sleep(0)
        assert not follower.done()
        leader = await group.sync(a.member_id, 2, 3, {a.member_id: b"A", b.member_id: b"B"})
        assert leader == Synced(b"A", "connect", "x")
        assert await follower == Synced(b"B", "connect", "x")
        described = {m["member_id"]: m["member_assignment"] for m in group.members()}
        assert described == {a.member_id: b"A", b.member_id: b"B"}
        stale = await group.sync(b.member_id, 1, 4)
        assert isinstance(stale, Refused) and stale.error is GroupError.ILLEGAL_GENERATION

    asyncio.run(run())


def test_adapter_unload_answers_held_syncs():
    async def run():
        group = KafkaClientGroup("g", {}, "p.")
        a = await group.join(None, "c1", 10_000, 5_000, "connect", [("x", b"")], frozenset(), 0)
        await group.sync(a.member_id, 1, 0, {})
        joins = [asyncio.create_task(group.join(None, "c2", 10_000, 5_000, "connect", [("x", b"")], frozenset(), 1)),
                 asyncio.create_task(group.join(a.member_id, "c1", 10_000, 5_000, "connect", [("x", b"")],
                                                frozenset(), 1))]
        b, _ = await asyncio.gather(*joins)
        held = asyncio.create_task(group.sync(b.member_id, 2, 2))
        await asyncio.sleep(0)
        group.unload()
        result = await held
        assert isinstance(result, Refused) and result.error is GroupError.NOT_COORDINATOR
        assert group.empty

    asyncio.run(run())


@pytest.mark.parametrize("data, expected", [(b"", ()), (b"\x00", None)])
def test_consumer_assignment_reader(data, expected):
    from kraft.kafka.handlers.group_api import assigned_partitions, assignment_bytes
    assert assigned_partitions(data) == expected
    assert assigned_partitions(assignment_bytes([("t", 1), ("u", 0), ("t", 0)])) == (("t", 0), ("t", 1), ("u", 0))


def test_a_topic_growing_or_going_does_not_rebalance_a_group_whose_leader_assigns():
    # as Kafka's classic coordinator: the leader's client watches metadata and rejoins;
    # the coordinator-assigned (REST) group does rebalance (test_group_coordinator.py)
    g = ClassicGroup("g", {"t": 2}, relay=True)
    a = of(g.handle(Join(None, "c", 10_000, 5_000, ("range",), frozenset({"t"}), 0, "consumer", (b"",))),
           JoinPending)[0].member_id
    g.handle(Sync(a, 1, 0, {a: b"both"}))
    assert g.state is GroupState.STABLE
    for partitions in ({"t": 6}, {}, {"t": 1}):  # grown, deleted, created again
        assert g.handle(TopicsChanged(partitions, 10)) == []
        assert g.state is GroupState.STABLE and g.generation == 1
    effects = g.handle(Join(a, "c", 10_000, 5_000, ("range",), frozenset({"t"}), 20, "consumer", (b"",)))
    assert of(effects, JoinResponse)[0].generation == 2  # the leader's rejoin is what rebalances
