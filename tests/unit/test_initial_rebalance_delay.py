"""group.initial.rebalance.delay.ms (Kafka's InitialDelayedJoin) in the classic group
state machine: an Empty group's first join phase waits for more members."""

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import (
    ErrorResponse,
    GenerationStarted,
    GroupState,
    Join,
    JoinPending,
    JoinResponse,
    Leave,
    Sync,
    Tick,
)
from kraft.groups.group_member import GroupConfig, next_initial_delay
from kraft.groups.rest_instance_group import RestInstanceGroup
from kraft.groups.consumer_instance import ConsumerInstance, InstanceConfig

DELAY = 3_000


def of(effects, cls):
    return [e for e in effects if isinstance(e, cls)]


def group(delay=DELAY, relay=True):
    return ClassicGroup("g", {"t": 4}, GroupConfig(initial_rebalance_delay_ms=delay), relay=relay)


def join(g, member_id=None, now=0, rebalance=10_000):
    return g.handle(Join(member_id, "c", 10_000, rebalance, ("range",), frozenset({"t"}), now, "consumer", (b"",)))


def new_member(g, now=0, rebalance=10_000):
    return of(join(g, now=now, rebalance=rebalance), JoinPending)[0].member_id


def test_next_wait_is_one_delay_and_never_runs_past_the_rebalance_timeout():
    assert next_initial_delay(3_000, 7_000) == (3_000, 4_000)
    assert next_initial_delay(3_000, 2_000) == (2_000, 0)
    assert next_initial_delay(3_000, 0) == (0, 0)


def test_members_joining_within_the_delay_form_one_generation():
    g = group()
    a = new_member(g, now=0)
    assert g.state is GroupState.PREPARING_REBALANCE
    assert of(g.handle(Tick(1_000)), JoinResponse) == []  # every member has joined, yet it waits
    b = new_member(g, now=2_000)
    assert of(g.handle(Tick(3_000)), JoinResponse) == []  # b joined during the wait: one more delay
    effects = g.handle(Tick(6_000))
    assert [e.generation for e in of(effects, GenerationStarted)] == [1]
    assert {r.member_id for r in of(effects, JoinResponse)} == {a, b}
    assert g.state is GroupState.COMPLETING_REBALANCE and g.generation == 1


def test_a_lone_member_waits_one_delay():
    g = group()
    a = new_member(g, now=100)
    assert of(g.handle(Tick(3_099)), JoinResponse) == []
    [response] = of(g.handle(Tick(3_100)), JoinResponse)
    assert response.member_id == a and response.generation == 1 and response.leader_id == a


def test_arrivals_extend_the_wait_only_up_to_the_rebalance_timeout():
    g = group()
    new_member(g, now=0, rebalance=7_000)  # remaining after the first wait: 4 s
    now, generations = 0, []
    for _ in range(40):  # a member joins every second; the phase must still end by 7 s
        now += 1_000
        if now < 9_000:
            new_member(g, now=now)
        generations += [e.generation for e in of(g.handle(Tick(now)), GenerationStarted)]
        if generations:
            break
    assert generations == [1] and now == 7_000
    assert len(g.members) == 8  # those of 0 s to 7 s


def test_zero_delay_ends_the_phase_as_soon_as_every_member_joined():
    g = group(delay=0)
    a = new_member(g)
    assert g.state is GroupState.COMPLETING_REBALANCE and g.generation == 1 and g.members == (a,)


def test_only_a_join_phase_begun_in_empty_waits():
    g = group()
    a = new_member(g, now=0)
    g.handle(Tick(3_000))
    g.handle(Sync(a, 1, 3_000, {a: b""}))
    assert g.state is GroupState.STABLE
    b = new_member(g, now=4_000)
    effects = join(g, a, now=4_100)  # every member is in: a rebalance of a running group ends at once
    assert {r.member_id for r in of(effects, JoinResponse)} == {a, b} and g.generation == 2


def test_members_leaving_during_the_wait_do_not_end_it_early():
    g = group()
    a = new_member(g, now=0)
    b = new_member(g, now=500)
    g.handle(Leave(b, 600))
    assert g.state is GroupState.PREPARING_REBALANCE  # a alone has joined, but the wait goes on
    g.handle(Leave(a, 700))
    assert g.state is GroupState.PREPARING_REBALANCE
    effects = g.handle(Tick(3_000))  # the first wait ends; b's arrival earned another
    assert of(effects, GenerationStarted) == []
    effects = g.handle(Tick(6_000))
    assert [(e.generation, e.leader_id) for e in of(effects, GenerationStarted)] == [(1, None)]
    assert g.state is GroupState.EMPTY


def test_an_empty_group_past_generation_zero_waits_one_delay_without_extensions():
    g = group()
    a = new_member(g, now=0)
    g.handle(Tick(3_000))
    g.handle(Leave(a, 3_100))  # gone before syncing: the group is Empty at generation 2
    assert g.state is GroupState.EMPTY and g.generation == 2
    b = new_member(g, now=10_000)
    c = new_member(g, now=12_000)  # as in Kafka, only generation 0 extends the wait
    effects = g.handle(Tick(13_000))
    assert {r.member_id for r in of(effects, JoinResponse)} == {b, c} and g.generation == 3


def test_rest_instances_subscribing_within_the_delay_share_one_generation():
    g = RestInstanceGroup("g", {"t": 4}, "p.", GroupConfig(initial_rebalance_delay_ms=DELAY))
    instances = []
    for name, now in (("i1", 0), ("i2", 1_000)):
        instance = ConsumerInstance("g", name, InstanceConfig(), now)
        g.add(instance)
        instance.topics = frozenset({"t"})
        assert g.subscribe(instance, now) is None
        instances.append(instance)
    assert all(i.assignment == () for i in instances)  # nothing assigned while the group waits
    g.tick(3_000)
    assert all(i.assignment == () for i in instances)  # i2's arrival extended the wait
    g.tick(6_000)
    assert g.coordinator.generation == 1 and g.state is GroupState.STABLE
    assigned = [tp for i in instances for tp in i.assignment]
    assert sorted(tuple(tp) for tp in assigned) == [("t", p) for p in range(4)]
    assert all(len(i.assignment) == 2 for i in instances)


def test_a_refused_join_does_not_start_a_wait():
    g = group()
    [refused] = of(g.handle(Join(None, "c", 10, 10_000, ("range",), frozenset(), 0, "consumer", (b"",))),
                   ErrorResponse)  # session timeout below the minimum
    assert g.state is GroupState.EMPTY and refused.request == "join"
