"""Static members of classic groups (KIP-345): ClassicGroup with group.instance.id. A
restarted process takes its predecessor's place without a rebalance; the predecessor is
fenced; an admin removes a static member by its instance id."""

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import (
    CommitCheck,
    CommitOk,
    ErrorResponse,
    GroupError,
    GroupState,
    Heartbeat,
    Join,
    JoinPending,
    JoinResponse,
    Leave,
    LeaveOk,
    MemberReplaced,
    Sync,
    SyncResponse,
    Tick,
)


def of(effects, cls):
    return [e for e in effects if isinstance(e, cls)]


def join(g, member_id=None, instance=None, now=0, metadata=b"md", client="c", topics=("t",)):
    return g.handle(Join(member_id, client, 10_000, 5_000, ("range",), frozenset(topics), now, "consumer",
                         (metadata,), instance))


def stable_pair():
    """A Stable relay group of static members a (leader, instance "ia") and b ("ib")."""
    g = ClassicGroup("g", relay=True)
    a = of(join(g, instance="ia"), JoinPending)[0].member_id
    g.handle(Sync(a, 1, 0, {a: b"A1"}))
    b = of(join(g, instance="ib"), JoinPending)[0].member_id
    join(g, a, instance="ia")
    assert g.state is GroupState.COMPLETING_REBALANCE
    g.handle(Sync(b, 2, 0))
    g.handle(Sync(a, 2, 0, {a: b"for-a", b: b"for-b"}))
    assert g.state is GroupState.STABLE and g.generation == 2 and g.leader_id == a
    return g, a, b


def test_a_restarted_static_member_takes_its_place_without_a_rebalance_and_keeps_its_assignment():
    g, a, b = stable_pair()
    effects = join(g, instance="ib", now=100, metadata=b"owns nothing yet")  # b restarted: no member id
    [replaced] = of(effects, MemberReplaced)
    b2 = replaced.new_member_id
    assert (replaced.old_member_id, replaced.group_instance_id) == (b, "ib") and b2 != b
    [answer] = of(effects, JoinResponse)
    assert answer.member_id == b2 and answer.generation == 2 and not answer.skip_assignment
    assert g.state is GroupState.STABLE and g.generation == 2  # nobody else rebalances
    [synced] = of(g.handle(Sync(b2, 2, 100, group_instance_id="ib")), SyncResponse)
    assert synced.member_assignment == b"for-b"
    assert g.members == (a, b2)


def test_the_replaced_process_is_fenced_on_every_request():
    g, a, b = stable_pair()
    join(g, instance="ib", now=100)
    for event, request in ((Heartbeat(b, 2, 200, "ib"), "heartbeat"), (Sync(b, 2, 200, group_instance_id="ib"), "sync"),
                           (CommitCheck(b, 2, group_instance_id="ib"), "commit"), (Leave(b, 200, "ib"), "leave")):
        [refused] = of(g.handle(event), ErrorResponse)
        assert (refused.request, refused.error) == (request, GroupError.FENCED_INSTANCE_ID)
    [refused] = of(join(g, b, instance="ib"), ErrorResponse)  # a rejoin with the old id
    assert refused.error is GroupError.FENCED_INSTANCE_ID
    assert g.state is GroupState.STABLE  # none of that moved the group


def test_a_static_leader_back_in_a_stable_group_gets_the_members_but_skips_the_assignment():
    g, a, b = stable_pair()
    [answer] = of(join(g, instance="ia", now=100), JoinResponse)
    assert answer.member_id == g.leader_id != a and answer.skip_assignment
    assert {m for m, _ in answer.metadata} == {answer.member_id, b}
    assert g.state is GroupState.STABLE


def test_a_static_member_back_with_another_subscription_rebalances_the_group():
    g, a, b = stable_pair()
    effects = join(g, instance="ib", now=100, topics=("t", "u"))
    assert of(effects, JoinPending) and g.state is GroupState.PREPARING_REBALANCE


def test_a_static_member_stays_through_its_session_and_leaves_by_its_timeout_or_an_admin():
    g, a, b = stable_pair()
    g.handle(Heartbeat(a, 2, 9_000, "ia"))
    g.handle(Tick(10_500))  # b silent for a whole session: removed, as a dynamic member
    assert g.members == (a,)
    g2, a2, b2 = stable_pair()
    [ok] = of(g2.handle(Leave("", 100, "ib")), LeaveOk)  # LeaveGroup v3+ naming the instance
    assert ok.member_id == b2 and g2.members == (a2,)
    [refused] = of(g2.handle(Leave("", 100, "nobody")), ErrorResponse)
    assert refused.error is GroupError.UNKNOWN_MEMBER_ID


def test_an_instance_id_is_free_again_once_its_member_is_gone():
    g, a, b = stable_pair()
    g.handle(Leave("", 100, "ib"))
    effects = join(g, instance="ib", now=200)
    assert not of(effects, MemberReplaced) and of(effects, JoinPending)  # a new member, a rebalance
    assert of(g.handle(CommitCheck(a, 2, group_instance_id="ia")), CommitOk)
