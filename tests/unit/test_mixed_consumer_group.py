"""KIP-848 mixed groups, pure: classic (JoinGroup) members inside a consumer group
(consumer_group.py) and a group changing kind (group_conversion.py). Simulated
members act on every answer as their clients do: a KIP-848 member owns what its last
assignment named; a classic member owns what its last SyncGroup gave it, and on
REBALANCE_IN_PROGRESS rejoins eagerly (revoking everything first)."""

from __future__ import annotations

import itertools

from kraft.groups import group_events as ev
from kraft.groups.classic_group import ClassicGroup
from kraft.groups.consumer_group import (ClassicJoin, ClassicJoined, ConsumerGroup, ConsumerGroupError, GroupConfig,
                                         GroupState, Heartbeat, Refusal)
from kraft.groups.group_conversion import (MigrationPolicy, classic_group_from_consumer, consumer_group_from_classic,
                                          upgrade_refusal)
from kraft.groups.group_events import GroupError

TOPICS = {"t": 6}
SESSION = 10_000
ALL = frozenset(("t", p) for p in range(6))


def new_group() -> ConsumerGroup:
    ids = itertools.count(1)
    return ConsumerGroup("g", GroupConfig(session_timeout_ms=SESSION, heartbeat_interval_ms=1000),
                         lambda: f"m{next(ids)}")


class Kip848:
    def __init__(self, group: ConsumerGroup):
        self.group, self.member_id, self.epoch, self.owned = group, "", 0, frozenset()

    def beat(self, now: int):
        joining = self.epoch == 0
        answer = self.group.heartbeat(Heartbeat(
            self.member_id, self.epoch, now, rebalance_timeout_ms=30_000 if joining else -1,
            topic_names=("t",) if joining else None, owned=self.owned), TOPICS)
        assert not isinstance(answer, Refusal), answer
        self.member_id, self.epoch = answer.member_id, answer.member_epoch
        if answer.assignment is not None:
            self.owned = answer.assignment
        return answer


class Classic:
    """An eager classic consumer: JoinGroup, SyncGroup, Heartbeat."""

    def __init__(self, group: ConsumerGroup, member_id: str = "", generation: int = -1, owned=frozenset()):
        self.group, self.member_id, self.generation, self.owned = group, member_id, generation, owned
        self.rejoins = 0

    def join(self, now: int) -> None:
        self.owned = frozenset()  # eager: revoke everything before joining
        joined = self.group.classic_join(ClassicJoin(
            self.member_id or None, now, SESSION, 30_000, (("range", b"sub"),), frozenset({"t"})), TOPICS)
        assert isinstance(joined, ClassicJoined), joined
        self.member_id, self.generation = joined.member_id, joined.generation
        assert joined.protocol_name == "range"
        synced = self.group.classic_sync(self.member_id, self.generation, "consumer", "range", now)
        assert not isinstance(synced, Refusal), synced
        self.owned = synced

    def beat(self, now: int) -> None:
        refused = self.group.classic_heartbeat(self.member_id, self.generation, now)
        if refused is not None:
            assert refused.error is ConsumerGroupError.REBALANCE_IN_PROGRESS, refused
            self.rejoins += 1
            self.join(now)


def settle(members, now: int, rounds: int = 20) -> int:
    for _ in range(rounds):
        for m in members:
            m.beat(now)
            owners: dict = {}
            for other in members:
                for tp in other.owned:
                    assert tp not in owners, f"{tp} owned twice"
                    owners[tp] = other
        now += 100
    return now


def test_a_classic_member_joins_a_consumer_group_and_gets_partitions_only_once_released():
    group = new_group()
    a = Kip848(group)
    now = settle([a], 0)
    assert a.owned == ALL
    c = Classic(group)
    c.join(now)
    # its target takes partitions a still owns: it gets them only after a revoked them
    assert c.owned == frozenset() and group.target[c.member_id]
    now = settle([a, c], now)
    assert len(a.owned) == len(c.owned) == 3 and a.owned | c.owned == ALL
    assert group.state is GroupState.STABLE and group.has_classic_members
    assert c.rejoins >= 1 and c.generation == group.members[c.member_id].epoch


def test_a_classic_members_partitions_move_away_only_after_it_rejoined():
    group = new_group()
    c = Classic(group)
    c.join(0)
    a = Kip848(group)
    now = settle([c, a], 0)
    b = Kip848(group)
    b.beat(now)  # a new member: c must give partitions up
    member = group.members[c.member_id]
    before = c.owned
    # until c rejoins, the partitions it owns are held: nobody else gets them
    a.beat(now)
    b.beat(now)
    assert not (b.owned & before) and member.owns() >= before
    refused = group.classic_heartbeat(c.member_id, c.generation, now)
    assert refused is not None and refused.error is ConsumerGroupError.REBALANCE_IN_PROGRESS
    now = settle([a, b, c], now)
    assert sorted(len(m.owned) for m in (a, b, c)) == [2, 2, 2]


def test_classic_member_errors_stale_generation_unknown_member_and_commits():
    group = new_group()
    a = Kip848(group)
    settle([a], 0)
    c = Classic(group)
    c.join(1000)
    stale = group.classic_heartbeat(c.member_id, c.generation - 1, 1000)
    assert stale is not None and stale.error is ConsumerGroupError.ILLEGAL_GENERATION
    assert group.classic_sync("nobody", 1, None, None, 1000).error is ConsumerGroupError.UNKNOWN_MEMBER_ID
    assert group.classic_sync(c.member_id, c.generation, "consumer", "roundrobin", 1000).error \
        is ConsumerGroupError.INCONSISTENT_GROUP_PROTOCOL
    assert group.commit_error(c.member_id, c.generation) is None
    assert group.commit_error(c.member_id, c.generation + 5).error is ConsumerGroupError.ILLEGAL_GENERATION
    # a KIP-848 heartbeat cannot speak for a classic member
    refused = group.heartbeat(Heartbeat(c.member_id, c.generation, 1000), TOPICS)
    assert isinstance(refused, Refusal) and refused.error is ConsumerGroupError.UNKNOWN_MEMBER_ID


def test_a_classic_member_leaves_or_times_out_and_its_partitions_go_to_the_others():
    group = new_group()
    a = Kip848(group)
    c1, c2 = Classic(group), Classic(group)
    c1.join(0)
    c2.join(0)
    now = settle([a, c1, c2], 0)
    assert group.classic_leave(c1.member_id) is None
    assert group.classic_leave(c1.member_id).error is ConsumerGroupError.UNKNOWN_MEMBER_ID
    now = settle([a, c2], now)
    assert len(a.owned) == len(c2.owned) == 3
    # c2 goes silent: its own session timeout removes it
    for _ in range(SESSION // 500 + 2):
        now += 500
        a.beat(now)
        group.expire(now)
    assert c2.member_id not in group.members
    now = settle([a], now)
    assert a.owned == ALL


def test_a_classic_member_told_to_rejoin_that_does_not_is_removed_after_its_rebalance_timeout():
    group = new_group()
    c = Classic(group)
    c.join(0)
    Kip848(group).beat(0)
    for now in range(100, 30_100, 5_000):  # it heartbeats, is told to rejoin, and never does
        assert group.classic_heartbeat(c.member_id, c.generation, now) is not None
        assert c.member_id not in dict(group.expire(now))
    assert dict(group.expire(100 + 30_000))[c.member_id] == "rebalance timeout (did not rejoin)"


def test_the_group_record_keeps_classic_members():
    group = new_group()
    c = Classic(group)
    c.join(0)
    loaded = ConsumerGroup.from_record("g", group.to_record(), group.config, lambda: "x", 5)
    member = loaded.members[c.member_id]
    assert member.classic == group.members[c.member_id].classic and member.assigned == c.owned


def stable_classic_group() -> ClassicGroup:
    """Two kafka-python-like members of a relay group, the leader's range assignment synced."""
    classic = ClassicGroup("g", TOPICS, relay=True)
    def join(member_id, client):
        return classic.handle(ev.Join(member_id, client, SESSION, 30_000, ("range",), frozenset({"t"}), 0, "consumer",
                                      (b"sub",)))[0].member_id

    ids = [join(None, "c0"), join(None, "c1")]
    join(ids[0], "c0")  # the first rejoins: the join phase ends
    halves = {ids[0]: (("t", 0), ("t", 1), ("t", 2)), ids[1]: (("t", 3), ("t", 4), ("t", 5))}
    classic.handle(ev.Sync(ids[0], classic.generation, 0, {m: b"x" for m in ids}, halves))
    classic.handle(ev.Sync(ids[1], classic.generation, 0))
    assert classic.state.value == "Stable"
    return classic


def test_upgrade_keeps_classic_assignments_until_the_new_member_moves_the_epoch():
    classic = stable_classic_group()
    assert upgrade_refusal(classic) is None
    group = consumer_group_from_classic(classic, new_group().config, lambda: "new", TOPICS, 0)
    c0, c1 = (Classic(group, mid, classic.generation, frozenset(classic.assignment_of(mid))) for mid in classic.members)
    assert group.group_epoch == group.assignment_epoch == classic.generation
    assert group.classic_heartbeat(c0.member_id, c0.generation, 10) is None  # nothing moved yet
    assert group.commit_error(c1.member_id, classic.generation) is None
    a = Kip848(group)
    settle([a, c0, c1], 10)
    assert sorted(len(m.owned) for m in (a, c0, c1)) == [2, 2, 2]
    assert c0.rejoins >= 1 and c1.rejoins >= 1


def test_upgrade_is_refused_for_other_protocol_types_and_while_rebalancing():
    connect = ClassicGroup("g", relay=True)
    connect.handle(ev.Join(None, "w", SESSION, 30_000, ("default",), frozenset(), 0, "connect", (b"",)))
    assert "protocol type" in upgrade_refusal(connect)
    assert "no members" in upgrade_refusal(ClassicGroup("g", relay=True))
    rebalancing = ClassicGroup("g", TOPICS, relay=True)
    rebalancing.handle(ev.Join(None, "c", SESSION, 30_000, ("range",), frozenset({"t"}), 0, "consumer", (b"",)))
    assert "rebalancing" in upgrade_refusal(rebalancing)


def test_downgrade_hands_classic_members_their_partitions_and_a_rebalance_they_rejoin():
    group = new_group()
    a = Kip848(group)
    c = Classic(group)
    c.join(0)
    now = settle([a, c], 0)
    group.heartbeat(Heartbeat(a.member_id, -1, now), TOPICS)  # the last KIP-848 member leaves
    assert group.only_classic_members
    classic = classic_group_from_consumer(group, TOPICS, "p.", now)
    assert classic.state.value == "PreparingRebalance" and classic.members == (c.member_id,)
    assert classic.assignment_of(c.member_id) == tuple(sorted(c.owned))
    # the epoch it had counts until it rejoins: its heartbeat says rejoin, its commit passes
    [hb] = [e for e in classic.handle(ev.Heartbeat(c.member_id, c.generation, now)) if isinstance(e, ev.ErrorResponse)]
    assert hb.error is GroupError.REBALANCE_IN_PROGRESS
    assert not [e for e in classic.handle(ev.CommitCheck(c.member_id, c.generation))
                if isinstance(e, ev.ErrorResponse)]
    effects = classic.handle(ev.Join(c.member_id, "c", SESSION, 30_000, ("range",), frozenset({"t"}), now + 1,
                                     "consumer", (b"sub",)))
    [answer] = [e for e in effects if isinstance(e, ev.JoinResponse)]
    assert answer.leader_id == c.member_id and answer.generation == group.group_epoch + 1


def test_migration_policy_values_are_kafkas():
    assert [p.value for p in MigrationPolicy] == ["disabled", "upgrade", "downgrade", "bidirectional"]
    assert MigrationPolicy("bidirectional").upgrades and MigrationPolicy("bidirectional").downgrades
    assert not MigrationPolicy("upgrade").downgrades and not MigrationPolicy("downgrade").upgrades


def test_the_migration_policy_setting_takes_kafkas_values_and_defaults_to_bidirectional():
    import pytest
    from kraft.config.cluster import GroupSettings
    assert MigrationPolicy(GroupSettings().consumer_migration_policy) is MigrationPolicy.BIDIRECTIONAL
    chosen = GroupSettings.model_validate({"group.consumer.migration.policy": "upgrade"})
    assert MigrationPolicy(chosen.consumer_migration_policy) is MigrationPolicy.UPGRADE
    with pytest.raises(ValueError, match="bidirectional"):
        GroupSettings.model_validate({"group.consumer.migration.policy": "sideways"})


def test_a_cooperative_classic_member_keeps_what_it_still_may_own_and_revokes_by_rejoining():
    group = new_group()
    joined = group.classic_join(ClassicJoin(None, 0, SESSION, 30_000, (("cooperative-sticky", b""),),
                                            frozenset({"t"})), TOPICS)
    member_id, generation = joined.member_id, joined.generation
    owned = group.classic_sync(member_id, generation, "consumer", "cooperative-sticky", 0)
    assert owned == ALL
    a = Kip848(group)
    a.beat(100)  # the target moves half the partitions to a, which waits for them
    assert a.owned == frozenset()
    assert group.classic_heartbeat(member_id, generation, 200).error is ConsumerGroupError.REBALANCE_IN_PROGRESS
    # it rejoins naming everything it owns (subscription v1+): it keeps its share, the
    # rest waits for its revocation
    rejoined = group.classic_join(ClassicJoin(member_id, 300, SESSION, 30_000, (("cooperative-sticky", b""),),
                                              frozenset({"t"}), owned=ALL), TOPICS)
    kept = group.classic_sync(member_id, rejoined.generation, None, None, 300)
    assert len(kept) == 3 and group.members[member_id].pending_revocation == ALL - kept
    a.beat(400)
    assert a.owned == frozenset()  # still owned by the classic member
    # the client drops the revoked ones and rejoins owning the rest
    again = group.classic_join(ClassicJoin(member_id, 500, SESSION, 30_000, (("cooperative-sticky", b""),),
                                           frozenset({"t"}), owned=kept), TOPICS)
    assert group.classic_sync(member_id, again.generation, None, None, 500) == kept
    a.beat(600)
    assert a.owned == ALL - kept


def test_owned_partitions_are_read_from_a_v1_subscription_and_none_from_v0():
    import io
    import struct

    from kio.schema.consumer_protocol_subscription.v1.data import ConsumerProtocolSubscription, TopicPartition
    from kio.schema.types import TopicName
    from kio.serial import entity_writer
    from kio.static.primitive import i32

    from kraft.kafka.handlers.group_api import owned_partitions

    buf = io.BytesIO()
    buf.write(struct.pack(">h", 1))
    entity_writer(ConsumerProtocolSubscription)(buf, ConsumerProtocolSubscription(
        topics=("t",), user_data=None,
        owned_partitions=(TopicPartition(topic=TopicName("t"), partitions=(i32(0), i32(2))),)))
    assert owned_partitions(buf.getvalue()) == {("t", 0), ("t", 2)}
    assert owned_partitions(struct.pack(">h", 0) + buf.getvalue()[2:]) == frozenset()
    assert owned_partitions(b"\x00\x01garbage") == frozenset()


def test_a_static_classic_member_restarting_takes_its_place_and_partitions_back():
    group = new_group()
    a = Kip848(group)
    static = ClassicJoin(None, 0, SESSION, 30_000, (("range", b""),), frozenset({"t"}), instance_id="box-1")
    first = group.classic_join(static, TOPICS)
    now = settle([a, Classic(group, first.member_id, first.generation)], 0)
    mine = group.members[first.member_id].assigned
    epoch = group.group_epoch
    # the process restarts: a new join with its instance id and no member id
    back = group.classic_join(ClassicJoin(None, now, SESSION, 30_000, (("range", b""),), frozenset({"t"}),
                                          instance_id="box-1"), TOPICS)
    assert back.member_id != first.member_id and first.member_id not in group.members
    assert group.classic_sync(back.member_id, back.generation, None, None, now) == mine
    assert group.group_epoch == epoch  # no rebalance
    fenced = group.classic_join(ClassicJoin(first.member_id, now, SESSION, 30_000, (("range", b""),),
                                            frozenset({"t"}), instance_id="box-1"), TOPICS)
    assert fenced.error is ConsumerGroupError.FENCED_INSTANCE_ID
    assert group.classic_leave("", "box-1") is None and back.member_id not in group.members  # an admin removes it


def test_a_classic_member_must_share_an_assignor_name_with_the_classic_members_there():
    group = new_group()
    Classic(group).join(0)  # range
    refused = group.classic_join(ClassicJoin(None, 0, SESSION, 30_000, (("roundrobin", b""),), frozenset({"t"})),
                                 TOPICS)
    assert refused.error is ConsumerGroupError.INCONSISTENT_GROUP_PROTOCOL
    both = group.classic_join(ClassicJoin(None, 0, SESSION, 30_000, (("roundrobin", b""), ("range", b"")),
                                          frozenset({"t"})), TOPICS)
    assert isinstance(both, ClassicJoined) and both.protocol_name == "roundrobin"


def test_a_replaced_static_classic_member_is_fenced_on_every_request_that_names_its_instance():
    # Kafka's validateConsumerGroupMember: with the instance id, the old member id gets
    # FENCED_INSTANCE_ID; without it, the id is simply unknown; a commit (which Kafka
    # checks by member id alone in a consumer group) is UNKNOWN_MEMBER_ID
    group = new_group()
    a = Kip848(group)
    first = group.classic_join(ClassicJoin(None, 0, SESSION, 30_000, (("range", b""),), frozenset({"t"}),
                                           instance_id="box-1"), TOPICS)
    now = settle([a, Classic(group, first.member_id, first.generation)], 0)
    old, generation = first.member_id, group.members[first.member_id].epoch
    back = group.classic_join(ClassicJoin(None, now, SESSION, 30_000, (("range", b""),), frozenset({"t"}),
                                          instance_id="box-1"), TOPICS)
    assert isinstance(back, ClassicJoined) and back.member_id != old
    fenced = ConsumerGroupError.FENCED_INSTANCE_ID
    assert group.classic_heartbeat(old, generation, now, "box-1").error is fenced
    assert group.classic_sync(old, generation, "consumer", "range", now, "box-1").error is fenced
    assert group.classic_leave(old, "box-1").error is fenced
    assert group.classic_heartbeat(old, generation, now).error is ConsumerGroupError.UNKNOWN_MEMBER_ID
    assert group.commit_error(old, generation).error is ConsumerGroupError.UNKNOWN_MEMBER_ID
    assert group.classic_heartbeat(back.member_id, back.generation, now, "box-1") is None  # the new one carries on
    assert back.member_id in group.members
    unknown = group.classic_heartbeat(old, generation, now, "box-2")  # an instance id nobody holds
    assert unknown.error is ConsumerGroupError.UNKNOWN_MEMBER_ID


def test_a_static_instance_moves_between_protocols_replacing_its_holder_at_once():
    # as Kafka: only a KIP-848 process replacing a KIP-848 holder needs the holder to have
    # left (epoch -2); across protocols the new process takes the place at once
    group = new_group()
    other = Kip848(group)
    first = group.heartbeat(Heartbeat("k-old", 0, 0, instance_id="box", rebalance_timeout_ms=30_000,
                                      topic_names=("t",), owned=frozenset()), TOPICS)
    assert not isinstance(first, Refusal)
    settle([other], 0)
    classic = group.classic_join(ClassicJoin(None, 10, SESSION, 30_000, (("range", b""),), frozenset({"t"}),
                                             instance_id="box"), TOPICS)  # the app restarted as a classic consumer
    assert isinstance(classic, ClassicJoined) and "k-old" not in group.members
    assert group.members[classic.member_id].classic is not None
    fenced = group.heartbeat(Heartbeat("k-old", first.member_epoch, 20, instance_id="box"), TOPICS)
    assert fenced.error is ConsumerGroupError.FENCED_INSTANCE_ID
    back = group.heartbeat(Heartbeat("k-new", 0, 30, instance_id="box", rebalance_timeout_ms=30_000,
                                     topic_names=("t",), owned=frozenset()), TOPICS)  # and back to KIP-848
    assert not isinstance(back, Refusal) and group.members["k-new"].classic is None
    assert classic.member_id not in group.members
    refused = group.classic_heartbeat(classic.member_id, classic.generation, 40, "box")
    assert refused.error is ConsumerGroupError.FENCED_INSTANCE_ID
    clash = group.heartbeat(Heartbeat("k-third", 0, 50, instance_id="box", rebalance_timeout_ms=30_000,
                                      topic_names=("t",), owned=frozenset()), TOPICS)
    assert clash.error is ConsumerGroupError.UNRELEASED_INSTANCE_ID  # KIP-848 over KIP-848: it must leave first
