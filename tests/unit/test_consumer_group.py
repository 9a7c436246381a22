"""The KIP-848 consumer group machine (consumer_group.py, reconciliation.py,
server_assignors.py), driven by simulated members that act on every answer as a
client does: they own what the last assignment named and report it next time."""

from __future__ import annotations

import itertools

import pytest

from kraft.groups.consumer_group import (ConsumerGroup, ConsumerGroupError, GroupConfig, GroupState, Heartbeat,
                                         Refusal)
from kraft.groups.reconciliation import MemberState, reconcile
from kraft.groups.server_assignors import target_assignment

TOPICS = {"t": 6}
SESSION = 10_000


def new_group(**config) -> ConsumerGroup:
    ids = itertools.count(1)
    return ConsumerGroup("g", GroupConfig(session_timeout_ms=SESSION, heartbeat_interval_ms=1000, **config),
                         lambda: f"m{next(ids)}")


class Client:
    """A member as a client runs it: epoch, owned partitions, the heartbeat it sends."""

    def __init__(self, group: ConsumerGroup, member_id: str = "", topics=("t",), instance_id=None, regex=None):
        self.group, self.member_id, self.epoch = group, member_id, 0
        self.owned: frozenset = frozenset()
        self.topics, self.instance_id, self.regex = topics, instance_id, regex

    def beat(self, now: int, topics=TOPICS, epoch: int | None = None):
        joining = self.epoch == 0
        answer = self.group.heartbeat(Heartbeat(
            self.member_id, self.epoch if epoch is None else epoch, now, instance_id=self.instance_id,
            rebalance_timeout_ms=30_000 if joining else -1,
            topic_names=tuple(self.topics) if joining and self.topics is not None else None,
            topic_regex=self.regex if joining else None,
            owned=self.owned), topics)
        if isinstance(answer, Refusal):
            return answer
        self.member_id, self.epoch = answer.member_id, answer.member_epoch
        if answer.assignment is not None:
            self.owned = answer.assignment  # revoke what is gone, take what is new
        return answer


def no_overlap(clients) -> None:
    seen: dict = {}
    for c in clients:
        for tp in c.owned:
            assert tp not in seen, f"{tp} owned by {seen[tp]} and {c.member_id}"
            seen[tp] = c.member_id


def settle(clients, now: int, rounds: int = 20) -> int:
    for _ in range(rounds):
        for c in clients:
            c.beat(now)
            no_overlap(clients)
        now += 100
    return now


def test_three_members_share_six_partitions_and_no_partition_is_ever_owned_twice():
    group = new_group()
    clients, now = [], 0
    for _ in range(3):
        clients.append(Client(group))
        now = settle(clients, now)
        assert group.state is GroupState.STABLE
    assert sorted(len(c.owned) for c in clients) == [2, 2, 2]
    assert frozenset().union(*(c.owned for c in clients)) == {("t", p) for p in range(6)}
    assert {c.epoch for c in clients} == {group.group_epoch} == {group.assignment_epoch}


def test_a_partition_moves_only_after_its_owner_revoked_it():
    group = new_group()
    a = Client(group)
    a.beat(0)
    assert len(a.owned) == 6 and a.epoch == group.group_epoch
    b = Client(group)
    b.beat(10)  # joins: its target partitions are still a's
    assert b.owned == frozenset()
    assert group.members[b.member_id].state is MemberState.UNRELEASED_PARTITIONS
    old_epoch = a.epoch
    a.beat(20)  # told to give three up; its epoch stays until it has
    assert len(a.owned) == 3 and a.epoch == old_epoch
    assert group.members[a.member_id].state is MemberState.UNREVOKED_PARTITIONS
    b.beat(30)
    assert b.owned == frozenset()  # a has not reported the revocation yet
    a.beat(40)  # reports owning three: revoked, it moves to the new epoch
    assert a.epoch == group.assignment_epoch
    b.beat(50)
    assert len(b.owned) == 3 and not b.owned & a.owned
    assert group.state is GroupState.STABLE


def test_leave_and_session_timeout_free_the_partitions():
    group = new_group()
    a, b, c = Client(group), Client(group), Client(group)
    now = settle([a, b, c], 0)
    answer = group.heartbeat(Heartbeat(a.member_id, -1, now), TOPICS)
    assert answer.member_epoch == -1 and a.member_id not in group.members
    a.owned = frozenset()
    now = settle([b, c], now)
    assert sorted(len(x.owned) for x in (b, c)) == [3, 3]
    gone = group.expire(now + SESSION - 1000)  # b keeps beating, c went silent
    assert gone == []
    b.beat(now + SESSION - 500)
    gone = group.expire(now + SESSION)
    assert [mid for mid, _ in gone] == [c.member_id]
    b.beat(now + SESSION + 1)
    assert len(b.owned) == 6


def test_a_member_that_never_revokes_is_removed_at_its_rebalance_timeout():
    group = new_group()
    a = Client(group)
    a.beat(0)
    b = Client(group)
    b.beat(10)
    group.heartbeat(Heartbeat(a.member_id, a.epoch, 20, owned=a.owned), TOPICS)  # told to revoke; ignores it
    assert group.members[a.member_id].state is MemberState.UNREVOKED_PARTITIONS
    for now in range(1000, 30_000, 1000):
        assert group.expire(now) == []  # keeps its session, never revokes
        group.heartbeat(Heartbeat(a.member_id, a.epoch, now, owned=a.owned), TOPICS)
        b.beat(now)
        assert b.owned == frozenset()
    assert [mid for mid, _ in group.expire(30_020)] == [a.member_id]


def test_epochs_fence_stale_and_unknown_members_as_kafka_does():
    group = new_group()
    a = Client(group)
    a.beat(0)
    ahead = group.heartbeat(Heartbeat(a.member_id, a.epoch + 1, 1, owned=a.owned), TOPICS)
    assert ahead.error is ConsumerGroupError.FENCED_MEMBER_EPOCH
    unknown = group.heartbeat(Heartbeat("nobody", 3, 1), TOPICS)
    assert unknown.error is ConsumerGroupError.UNKNOWN_MEMBER_ID
    b = Client(group)
    b.beat(2)
    a.beat(3)
    a.beat(4)  # revoked: a's epoch moved on
    previous = group.members[a.member_id].previous_epoch
    # its last answer lost: the previous epoch with a subset of its partitions is accepted
    lost = group.heartbeat(Heartbeat(a.member_id, previous, 5, owned=a.owned), TOPICS)
    assert not isinstance(lost, Refusal) and lost.member_epoch == a.epoch
    older = group.heartbeat(Heartbeat(a.member_id, previous - 1, 6, owned=a.owned), TOPICS)
    assert older.error is ConsumerGroupError.FENCED_MEMBER_EPOCH
    # fenced, it rejoins with epoch 0 and the same id, owning nothing
    a.epoch, a.owned = 0, frozenset()
    settle([a, b], 7)
    assert sorted(len(x.owned) for x in (a, b)) == [3, 3]


def test_commits_need_the_members_current_epoch():
    group = new_group()
    assert group.commit_error("", -1) is None  # empty: commits from outside are fine
    a = Client(group)
    a.beat(0)
    assert group.commit_error(a.member_id, a.epoch) is None
    assert group.commit_error(a.member_id, a.epoch - 1).error is ConsumerGroupError.STALE_MEMBER_EPOCH
    assert group.commit_error("other", a.epoch).error is ConsumerGroupError.UNKNOWN_MEMBER_ID
    assert group.commit_error("", -1).error is ConsumerGroupError.UNKNOWN_MEMBER_ID


def test_static_member_returns_under_a_new_id_and_keeps_its_partitions():
    group = new_group()
    a, b = Client(group, instance_id="i-a"), Client(group)
    now = settle([a, b], 0)
    epoch, owned = group.group_epoch, a.owned
    left = group.heartbeat(Heartbeat(a.member_id, -2, now, instance_id="i-a"), TOPICS)
    assert left.member_epoch == -2 and group.group_epoch == epoch
    back = Client(group, member_id="new-id", instance_id="i-a")
    back.beat(now + 1)
    assert back.owned == owned and back.epoch == epoch and group.group_epoch == epoch
    assert a.member_id not in group.members
    clash = Client(group, member_id="third", instance_id="i-a")
    assert clash.beat(now + 2).error is ConsumerGroupError.UNRELEASED_INSTANCE_ID


def test_regex_subscription_follows_new_topics():
    group = new_group()
    a = Client(group, topics=None, regex="orders-.*")
    topics = {"orders-1": 2, "other": 3}
    a.beat(0, topics)
    assert a.owned == {("orders-1", 0), ("orders-1", 1)}
    topics = {**topics, "orders-2": 1}
    a.beat(10, topics)
    a.beat(20, topics)
    assert ("orders-2", 0) in a.owned and not any(t == "other" for t, _ in a.owned)
    bad = group.heartbeat(Heartbeat("", 0, 30, rebalance_timeout_ms=1, topic_regex="("), topics)
    assert bad.error is ConsumerGroupError.INVALID_REGULAR_EXPRESSION


def test_assignor_choice_and_bad_requests():
    group = new_group()
    bad = group.heartbeat(Heartbeat("", 0, 0, rebalance_timeout_ms=1, topic_names=("t",), assignor="sticky"), TOPICS)
    assert bad.error is ConsumerGroupError.UNSUPPORTED_ASSIGNOR
    no_topics = group.heartbeat(Heartbeat("", 0, 0, rebalance_timeout_ms=1), TOPICS)
    assert no_topics.error is ConsumerGroupError.INVALID_REQUEST
    assert group.heartbeat(Heartbeat("", 5, 0), TOPICS).error is ConsumerGroupError.INVALID_REQUEST
    group.heartbeat(Heartbeat("r1", 0, 0, rebalance_timeout_ms=1, topic_names=("t",), assignor="range"), TOPICS)
    assert group.assignor == "range"


def test_range_gives_co_partitioned_topics_the_same_numbers():
    result = target_assignment("range", {"a": {"x", "y"}, "b": {"x", "y"}}, {"x": 4, "y": 4}, {})
    assert {p for t, p in result["a"] if t == "x"} == {p for t, p in result["a"] if t == "y"} == {0, 1}


def test_uniform_keeps_the_previous_target_where_it_can():
    before = target_assignment("uniform", {"a": {"t"}, "b": {"t"}}, {"t": 6}, {})
    after = target_assignment("uniform", {"a": {"t"}, "b": {"t"}, "c": {"t"}}, {"t": 6}, before)
    assert len(before["a"] - after["a"]) == 1 and len(before["b"] - after["b"]) == 1 and len(after["c"]) == 2


def test_record_round_trip_keeps_epochs_and_assignments():
    group = new_group()
    a, b = Client(group), Client(group)
    now = settle([a, b], 0)
    loaded = ConsumerGroup.from_record("g", group.to_record(), group.config, lambda: "x", now + 50_000)
    assert loaded.to_record() == group.to_record()
    assert loaded.expire(now + 50_000 + SESSION - 1) == []  # sessions restart at the load
    answer = loaded.heartbeat(Heartbeat(a.member_id, a.epoch, now + 50_001, owned=a.owned), TOPICS)
    assert answer.member_epoch == a.epoch


def test_reconcile_waits_for_the_revocation_report():
    step = reconcile(MemberState.STABLE, 1, frozenset({("t", 0), ("t", 1)}), frozenset(), 2,
                     frozenset({("t", 0)}), None, frozenset())
    assert step.state is MemberState.UNREVOKED_PARTITIONS and step.epoch == 1
    step = reconcile(step.state, step.epoch, step.assigned, step.pending_revocation, 2, frozenset({("t", 0)}),
                     frozenset({("t", 0)}), frozenset())
    assert step.state is MemberState.STABLE and step.epoch == 2 and step.assigned == {("t", 0)}


@pytest.mark.parametrize("members", [2, 3, 5])
def test_members_joining_and_leaving_in_turn_never_overlap(members):
    group = new_group()
    clients, now = [], 0
    for i in range(members):
        clients.append(Client(group))
        for c in clients:
            c.beat(now)
            no_overlap(clients)
            now += 10
    leaver = clients.pop(0)
    group.heartbeat(Heartbeat(leaver.member_id, -1, now), TOPICS)
    now = settle(clients, now)
    assert frozenset().union(*(c.owned for c in clients)) == {("t", p) for p in range(6)}


def test_a_report_older_than_the_last_assignment_releases_nothing():
    """A client still applying its assignment may report what it owned before (librdkafka
    does while it looks its topics up): that must not free partitions it is about to take."""
    group = new_group()
    a = Client(group)
    first = a.beat(0)
    assert len(first.assignment) == 6
    a.owned = frozenset()  # it has not applied the assignment yet, and says so
    b = Client(group)
    b.beat(10)
    a.beat(20)  # the stale report: nothing is released
    b.beat(30)
    assert b.owned == frozenset()
    a.owned = first.assignment  # the first assignment applied at last ...
    a.beat(40)
    b.beat(50)
    assert b.owned == frozenset()
    a.owned = frozenset(group.members[a.member_id].assigned)  # ... then the revocation
    a.beat(60)
    b.beat(70)
    assert len(b.owned) == 3 and not b.owned & a.owned


def test_a_replaced_static_members_old_id_is_fenced_not_unknown():
    group = new_group()
    a, b = Client(group, instance_id="i-a"), Client(group)
    now = settle([a, b], 0)
    old, old_epoch = a.member_id, a.epoch
    group.heartbeat(Heartbeat(old, -2, now, instance_id="i-a"), TOPICS)
    Client(group, member_id="new-id", instance_id="i-a").beat(now + 1)
    fenced = ConsumerGroupError.FENCED_INSTANCE_ID
    for epoch in (old_epoch, -1, -2):  # a heartbeat, a leave, a static leave of the old process
        assert group.heartbeat(Heartbeat(old, epoch, now + 2, instance_id="i-a"), TOPICS).error is fenced
    assert "new-id" in group.members
    assert group.commit_error(old, old_epoch).error is ConsumerGroupError.UNKNOWN_MEMBER_ID  # as Kafka checks commits


def test_the_coordinator_follows_a_subscribed_topic_growing_and_going_by_itself():
    # unlike a classic group's coordinator, Kafka's KIP-848 one reacts to metadata: a new
    # group epoch and target assignment, which members take on their next heartbeats
    group = new_group()
    a, b = Client(group), Client(group)
    settle([a, b], 0)
    epoch = group.group_epoch
    assert group.topics_changed({"t": 10, "other": 3}) and group.group_epoch == epoch + 1
    assert not group.topics_changed({"t": 10, "other": 4})  # nobody subscribes to it
    for c in (a, b):
        c.beat(5_000, topics={"t": 10})
    for _ in range(5):
        for c in (a, b):
            c.beat(5_100, topics={"t": 10})
    assert sorted(len(c.owned) for c in (a, b)) == [5, 5]
    assert group.topics_changed({})  # deleted
    for _ in range(5):
        for c in (a, b):
            c.beat(5_200, topics={})
    assert a.owned == b.owned == frozenset()
