"""REST instances as group members (groups/rest_instance_group.py) and committed offsets as
records of the offsets topic (groups/offset_store.py): pure, no processes."""

from __future__ import annotations

import pytest

from kraft.groups.consumer_instance import ConsumerInstance, InstanceConfig
from kraft.groups.group_events import GroupError, GroupState, Leave
from kraft.groups.rest_instance_group import RestInstanceGroup
from kraft.groups.topic_pattern import PatternTooSlow, TopicPattern
from kraft.groups.offset_store import CommittedOffset, OffsetCache, commit_record, parse_key, tombstone_record
from kraft.storage.record import Record

PARTITIONS = {"orders": 6, "audit": 2}


def make(group: RestInstanceGroup, name: str, now: int = 0, session_ms: int = 10_000,
         assignor: str = "range") -> ConsumerInstance:
    instance = ConsumerInstance(group.group_id, name, InstanceConfig(session_timeout_ms=session_ms,
                                                                     assignor=assignor), now)
    group.add(instance)
    return instance


def subscribed(group, name, topics=("orders",), now=0, **kw) -> ConsumerInstance:
    instance = make(group, name, now, **kw)
    instance.topics = frozenset(topics)
    assert group.subscribe(instance, now) is None
    return instance


def shares(*instances) -> list[set]:
    return [set(i.assignment) for i in instances]


def assert_partitioned(parts: list[set], topic="orders", count=6):
    union = set().union(*parts)
    assert union == {(topic, p) for p in range(count)}
    assert sum(len(s) for s in parts) == count  # disjoint


def test_one_subscriber_owns_every_partition_and_the_group_is_stable():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a")
    assert set(a.assignment) == {("orders", p) for p in range(6)}
    assert g.state is GroupState.STABLE and a.generation == 1


def test_a_second_and_third_member_rebalance_at_once_into_disjoint_shares():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a")
    b = subscribed(g, "b", now=10)
    assert_partitioned(shares(a, b))
    assert len(a.assignment) == len(b.assignment) == 3
    c = subscribed(g, "c", now=20)
    assert_partitioned(shares(a, b, c))
    assert all(len(s) == 2 for s in shares(a, b, c))
    assert a.generation == b.generation == c.generation == 3 and g.state is GroupState.STABLE


def test_positions_survive_for_kept_partitions_only():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a", assignor="sticky")
    a.positions = {tp: 5 for tp in a.assignment}
    subscribed(g, "b", now=10, assignor="sticky")
    assert set(a.positions) == set(a.assignment) and len(a.positions) == 3


def test_the_proxy_heartbeats_for_a_silent_member_so_it_keeps_its_partitions():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a", session_ms=2000)
    b = subscribed(g, "b", now=0, session_ms=2000)
    owned = set(a.assignment)
    for now in range(250, 120_000, 250):  # only b's client keeps calling, for 60 sessions
        if now % 1000 == 0:
            g.touch(b, now)
        g.tick(now)
    assert a.member_id is not None and set(a.assignment) == owned and a.generation == b.generation == 2
    assert_partitioned(shares(a, b))


def test_rebalances_started_by_others_keep_a_silent_member_in():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    silent = subscribed(g, "silent", session_ms=10_000)
    live = subscribed(g, "live", session_ms=10_000)
    for n, now in enumerate(range(8_000, 80_000, 8_000)):  # a member joins and leaves every 8 s
        g.touch(live, now)
        churn = subscribed(g, f"churn{n}", now=now, session_ms=10_000)
        g.remove(churn.instance_id, now + 1)
        g.tick(now + 2)
    assert silent.member_id is not None
    assert_partitioned(shares(silent, live))


def expel(g: RestInstanceGroup, instance: ConsumerInstance, now: int) -> None:
    """The coordinator drops the instance's member (as a session that did expire would)."""
    g._feed([Leave(instance.member_id, now)], now)


def test_a_member_that_lost_its_membership_rejoins_on_its_next_records_request():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a", session_ms=1000)
    b = subscribed(g, "b", session_ms=1000)
    expel(g, a, 1100)
    assert a.member_id is None and a.assignment == ()
    assert g.touch(a, 1200) is None and a.member_id is None  # a commit or seek does not rejoin
    assert g.touch(a, 1300, rejoin=True) is None  # a records call does
    assert a.member_id is not None
    assert_partitioned(shares(a, b))


def test_a_stale_member_may_not_commit_and_a_live_one_may():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a", session_ms=1000)
    b = subscribed(g, "b", session_ms=1000)
    expel(g, a, 1100)
    error = g.commit_error(a)
    assert error is not None and error[0] is GroupError.UNKNOWN_MEMBER_ID
    assert g.commit_error(b) is None


def test_manual_assignment_commits_only_while_no_member_is_subscribed():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    manual = make(g, "m")
    manual.manual = (("orders", 0),)
    assert g.commit_error(manual) is None  # the group only stores offsets
    subscribed(g, "a")
    error = g.commit_error(manual)
    assert error is not None and error[0] is GroupError.UNKNOWN_MEMBER_ID


def test_leaving_gives_the_partitions_to_the_rest():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a")
    b = subscribed(g, "b")
    g.remove("a", 50)
    assert set(b.assignment) == {("orders", p) for p in range(6)}
    assert "a" not in g.instances and a.member_id is not None  # the removed object is left alone
    g.unsubscribe(b, 60)
    assert b.assignment == () and g.state is GroupState.EMPTY


def test_a_pattern_subscription_follows_new_topics():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = make(g, "a")
    a.pattern = TopicPattern("ord.*|new.*")
    assert g.subscribe(a, 0) is None
    assert {t for t, _ in a.assignment} == {"orders"}
    g.topics_changed({**PARTITIONS, "news": 2, "__consumer_offsets": 6}, 10)
    assert {t for t, _ in a.assignment} == {"orders", "news"}  # internal topics never match


def test_more_partitions_rebalance_the_group():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a")
    b = subscribed(g, "b")
    g.topics_changed({**PARTITIONS, "orders": 8}, 10)
    assert_partitioned(shares(a, b), count=8)


def test_an_assignor_no_member_shares_is_refused_and_changes_nothing():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a", assignor="range")
    b = make(g, "b", assignor="sticky")
    b.topics = frozenset({"orders"})
    error = g.subscribe(b, 10)
    assert error is not None and error[0] is GroupError.INCONSISTENT_GROUP_PROTOCOL
    assert b.member_id is None and len(a.assignment) == 6


def test_unload_forgets_every_instance():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    subscribed(g, "a")
    g.unload()
    assert g.instances == {} and g.state is GroupState.DEAD


# -- committed offsets as records ------------------------------------------------------------
def replayed(records) -> OffsetCache:
    cache = OffsetCache()
    for offset, record in enumerate(records):
        cache.replay(Record(record.key, record.value, record.headers, record.timestamp_ms, offset))
    return cache


def test_replaying_the_log_gives_the_latest_commit_per_partition():
    cache = replayed([commit_record("g", "t", 0, 5, "", 1), commit_record("g", "t", 1, 7, "m", 2),
                      commit_record("g", "t", 0, 9, "", 3), commit_record("h", "t", 0, 1, "", 4)])
    assert cache.get("g", "t", 0).offset == 9
    assert cache.get("g", "t", 1) == CommittedOffset(7, "m", 2, 1)
    assert cache.groups() == ["g", "h"]


def test_a_tombstone_deletes_a_commit_and_strangers_are_skipped():
    cache = replayed([commit_record("g", "t", 0, 5, "", 1), Record(b"not json", b"x"),
                      Record(b'["offset/1", "g", "t", "zero"]', b"{}"), Record(None, b"x"),
                      commit_record("g", "t", 1, 2, "", 2), tombstone_record("g", "t", 1, 3)])
    assert cache.get("g", "t", 0).offset == 5 and cache.get("g", "t", 1) is None


def test_an_older_log_position_never_overwrites_a_newer_one():
    cache = OffsetCache()
    cache.put("g", "t", 0, CommittedOffset(9, "", 0, log_offset=20))
    cache.put("g", "t", 0, CommittedOffset(3, "", 0, log_offset=19))  # an ack that arrived late
    assert cache.get("g", "t", 0).offset == 9


def test_keys_round_trip_and_group_names_with_odd_characters_are_safe():
    record = commit_record('we"ird/group', "t", 3, 1, "", 0)
    assert parse_key(record.key) == ('we"ird/group', "t", 3)


def test_a_pattern_that_takes_too_long_is_refused_then_never_matches():
    # the regex module has no catastrophic cases easy to write down: a tiny time bound
    # stands in for an expensive pattern on a long name
    slow = TopicPattern("(a|b|ab)*c", timeout_s=1e-6)
    names = ["ab" * 120]
    with pytest.raises(PatternTooSlow):
        slow.matching(names, strict=True)
    assert slow.matching(names) == frozenset()  # later topic changes: no match, no stall
    assert TopicPattern("(a|b|ab)*c").matching(names + ["abc"]) == {"abc"}


def test_a_commit_for_a_deleted_topic_keeps_its_topic_id_so_a_new_topic_of_that_name_can_tell():
    cache = replayed([commit_record("g", "t", 0, 5, "", 1, topic_id="old-id")])
    assert cache.get("g", "t", 0).topic_id == "old-id"
    legacy = replayed([Record(commit_record("g", "t", 0, 5, "", 1).key, b'{"offset": 3}')])
    assert legacy.get("g", "t", 0) == CommittedOffset(3, "", 0, 0, "")


def test_a_named_topic_deleted_under_an_instance_is_known_and_one_to_come_is_not():
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = subscribed(g, "a", topics=("orders", "later"))
    assert a.deleted_topics(PARTITIONS) == []
    g.topics_changed({"audit": 2}, 100)  # orders deleted; later never existed
    assert a.deleted_topics({"audit"}) == ["orders"] and a.assignment == ()
    g.topics_changed({"audit": 2, "later": 1, "orders": 6}, 200)  # both there now
    assert a.deleted_topics({"audit", "later", "orders"}) == []
    g.topics_changed({"audit": 2}, 300)
    assert a.deleted_topics({"audit"}) == ["later", "orders"]
    g.unsubscribe(a, 400)
    assert a.deleted_topics({"audit"}) == []  # it names nothing now
    manual = make(g, "m")
    manual.manual = (("audit", 0),)
    manual.note_existing({"audit"})
    assert manual.deleted_topics(set()) == ["audit"]


def test_a_pattern_skips_the_clusters_own_topics_but_not_a_users_double_underscore_topic():
    """Kafka's rule (Topic.isInternal): the internal topics are a set, not a prefix; a
    user's `__app_state` is a topic like any other."""
    g = RestInstanceGroup("g", PARTITIONS, "x.")
    a = make(g, "a")
    a.pattern = TopicPattern("__.*")
    assert g.subscribe(a, 0) is None
    g.topics_changed({**PARTITIONS, "__app_state": 1, "__consumer_offsets": 6, "__transaction_state": 4}, 10)
    assert {t for t, _ in a.assignment} == {"__app_state"}
