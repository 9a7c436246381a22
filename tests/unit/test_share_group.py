"""A share group's membership and assignment (ShareGroupHeartbeat), pure."""

from kraft.share.share_group import Refusal, ShareGroup
from kraft.errors.kafka_codes import FENCED_MEMBER_EPOCH, INVALID_REQUEST, UNKNOWN_MEMBER_ID
from kraft.share.share_sessions import SessionRefusal, ShareSessions
from kraft.errors.kafka_codes import INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_LIMIT_REACHED, SHARE_SESSION_NOT_FOUND

TOPICS = {"orders": 2, "audit": 1}


def partitions(topic: str):
    return TOPICS.get(topic)


def join(group: ShareGroup, member: str, topics=("orders",), now: int = 0):
    return group.heartbeat(member, 0, tuple(topics), "client", None, now, partitions)


def test_every_member_gets_every_partition_so_more_members_than_partitions_all_work():
    group = ShareGroup("g")
    answers = [join(group, m) for m in ("a", "b", "c")]
    assert all(a.assignment == {("orders", 0), ("orders", 1)} for a in answers)
    assert group.epoch == 3


def test_a_member_learns_of_a_new_epoch_at_its_next_heartbeat():
    group = ShareGroup("g")
    first = join(group, "a")
    join(group, "b", topics=("orders", "audit"))
    again = group.heartbeat("a", first.member_epoch, None, "client", None, 1, partitions)
    assert again.member_epoch == group.epoch and again.assignment == {("orders", 0), ("orders", 1)}
    steady = group.heartbeat("a", again.member_epoch, None, "client", None, 2, partitions)
    assert steady.assignment is None  # unchanged: not sent again


def test_a_grown_topic_is_assigned_at_the_next_heartbeat():
    group = ShareGroup("g")
    first = join(group, "a")
    TOPICS["orders"] = 3
    try:
        grown = group.heartbeat("a", first.member_epoch, None, "client", None, 1, partitions)
    finally:
        TOPICS["orders"] = 2
    assert grown.assignment == {("orders", 0), ("orders", 1), ("orders", 2)}


def test_stale_epochs_and_unknown_members_are_refused_with_kafkas_codes():
    group = ShareGroup("g")
    join(group, "a")
    assert group.heartbeat("a", 99, None, "client", None, 0, partitions) == Refusal(
        FENCED_MEMBER_EPOCH, "member epoch 99 is not the member's (1)")
    assert group.heartbeat("x", 1, None, "client", None, 0, partitions).code == UNKNOWN_MEMBER_ID
    assert group.heartbeat("y", 0, None, "client", None, 0, partitions).code == INVALID_REQUEST


def test_members_leave_by_asking_or_by_going_silent():
    group = ShareGroup("g")
    join(group, "a")
    join(group, "b", now=5_000)
    assert group.heartbeat("a", -1, None, "client", None, 0, partitions).member_epoch == -1
    assert group.expire(now_ms=60_000, session_timeout_ms=45_000, partitions=partitions) == ["b"]
    assert group.members == {}


def test_a_member_without_an_id_is_given_one():
    answer = join(ShareGroup("g"), "")
    assert len(answer.member_id) == 36


def test_share_sessions_follow_kafkas_epochs():
    sessions = ShareSessions(max_sessions=1, idle_ms=10_000)
    opened = sessions.use("g", "a", 0, {("orders", 0)}, set(), 0)
    assert opened.next_epoch == 1
    assert sessions.use("g", "a", 2, set(), set(), 1) == SessionRefusal(
        INVALID_SHARE_SESSION_EPOCH, "share session epoch 2, expected 1")
    assert sessions.use("g", "a", 1, {("orders", 1)}, {("orders", 0)}, 2).partitions == {("orders", 1)}
    assert sessions.use("g", "b", 0, set(), set(), 3).code == SHARE_SESSION_LIMIT_REACHED
    assert sessions.use("g", "a", -1, set(), set(), 4).partitions == {("orders", 1)}
    assert sessions.use("g", "a", 2, set(), set(), 5).code == SHARE_SESSION_NOT_FOUND
    sessions.use("g", "b", 0, set(), set(), 6)
    assert sessions.use("g", "c", 0, set(), set(), 20_000).next_epoch == 1  # b went idle and was evicted


def test_a_share_session_names_a_bounded_number_of_partitions():
    from kraft.share.share_sessions import MAX_PARTITIONS
    from kraft.errors.kafka_codes import INVALID_REQUEST
    sessions = ShareSessions(max_sessions=10, idle_ms=10_000)
    too_many = {("orders", p) for p in range(MAX_PARTITIONS + 1)}
    assert sessions.use("g", "a", 0, too_many, set(), 0).code == INVALID_REQUEST
    assert sessions.sessions == {}  # the refused opening left nothing behind
