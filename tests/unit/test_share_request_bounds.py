"""What one share request may carry (acknowledgement batches and records, counted before
any is read) and whose share session it may use (the connection's that opened it), pure."""

import uuid

from kio.schema.share_acknowledge.v2 import request as sa
from kio.schema.share_fetch.v2 import request as sf

from kraft.kafka.handlers.share_api import MAX_ACK_BATCHES, size_problem
from kraft.share.share_partition import Ack, ack_shape_problem
from kraft.share.share_sessions import CLOSE, MAX_PARTITIONS, OPEN, SessionRefusal, ShareSessions
from kraft.errors.kafka_codes import INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_NOT_FOUND

MAX_LOCKS = 2000  # group.share.partition.max.record.locks' default
P0 = ("orders", 0)


def acknowledge(*partitions: int, topics: int = 1):
    """ShareAcknowledge topics, each partition with that many one-record batches."""
    batches = lambda n: tuple(sa.AcknowledgementBatch(first_offset=i, last_offset=i, acknowledge_types=(1,))
                              for i in range(n))
    return tuple(sa.AcknowledgeTopic(topic_id=uuid.uuid4(), partitions=tuple(
        sa.AcknowledgePartition(partition_index=i, acknowledgement_batches=batches(n))
        for i, n in enumerate(partitions))) for _ in range(topics))


def test_a_request_of_more_batches_than_the_cap_is_refused_from_its_lengths_alone():
    assert size_problem(acknowledge(MAX_ACK_BATCHES // 2, MAX_ACK_BATCHES // 2)) is None
    refused = size_problem(acknowledge(MAX_ACK_BATCHES // 2, MAX_ACK_BATCHES // 2 + 1))
    assert refused is not None and str(MAX_ACK_BATCHES) in refused


def test_a_request_naming_more_partitions_than_a_session_may_is_refused():
    forgotten = (sf.ForgottenTopic(topic_id=uuid.uuid4(), partitions=tuple(range(MAX_PARTITIONS))),)
    fetched = (sf.FetchTopic(topic_id=uuid.uuid4(), partitions=(sf.FetchPartition(partition_index=0, acknowledgement_batches=()),)),)
    assert size_problem(fetched, forgotten) is not None
    assert size_problem((), forgotten) is None
    assert size_problem(acknowledge(topics=MAX_PARTITIONS + 1)) is not None  # topics naming nothing count too


def test_a_partition_acknowledges_no_more_records_than_it_can_have_in_flight():
    assert ack_shape_problem([Ack(0, MAX_LOCKS - 1, (1,))], MAX_LOCKS) is None
    assert ack_shape_problem([Ack(0, MAX_LOCKS, (1,))], MAX_LOCKS) is not None
    assert ack_shape_problem([Ack(0, 999, (1,)), Ack(1000, 2000, (1,))], MAX_LOCKS) is not None
    assert ack_shape_problem([Ack(i, i, (1,)) for i in range(MAX_LOCKS + 1)], MAX_LOCKS) is not None
    assert ack_shape_problem([Ack(0, 1 << 62, (1,))], MAX_LOCKS) is not None  # one huge range, one step


def test_acknowledgement_ranges_go_up_without_overlapping_and_fit_their_types():
    assert ack_shape_problem([Ack(0, 1, (1,)), Ack(3, 4, (1, 2))], MAX_LOCKS) is None
    for bad in ([Ack(0, 1, (1,)), Ack(1, 2, (2,))],  # offset 1 twice: accepted, then released
                [Ack(3, 4, (1,)), Ack(0, 1, (1,))],  # out of order
                [Ack(2, 1, (1,))],  # reversed
                [Ack(-3, -1, (1,))],  # below any offset
                [Ack(0, 2, (1, 1))]):  # neither one type nor one per record
        assert ack_shape_problem(bad, MAX_LOCKS) is not None, bad


def test_a_session_is_used_only_from_the_connection_that_opened_it():
    sessions = ShareSessions(max_sessions=10, idle_ms=10_000)
    mine = sessions.use("g", "m", OPEN, {P0}, set(), 0, owner=1)
    assert not isinstance(mine, SessionRefusal)
    for epoch, code in ((1, SHARE_SESSION_NOT_FOUND), (CLOSE, SHARE_SESSION_NOT_FOUND),
                        (OPEN, INVALID_SHARE_SESSION_EPOCH)):
        refused = sessions.use("g", "m", epoch, {("audit", 0)}, {P0}, 1, owner=2)
        assert isinstance(refused, SessionRefusal) and refused.code == code
    assert sessions.sessions[("g", "m")] is mine and mine.next_epoch == 1 and mine.partitions == {P0}
    assert sessions.use("g", "m", 1, set(), set(), 2, owner=1) is mine and mine.next_epoch == 2


def test_a_connection_closing_ends_its_sessions_and_no_other():
    sessions = ShareSessions(max_sessions=10, idle_ms=10_000)
    for member, owner in (("a", 1), ("b", 1), ("c", 2)):
        sessions.use("g", member, OPEN, {P0}, set(), 0, owner=owner)
    assert sorted(s.member_id for s in sessions.close_owner(1)) == ["a", "b"]
    assert list(sessions.sessions) == [("g", "c")] and sessions.close_owner(1) == []
    reopened = sessions.use("g", "a", OPEN, {P0}, set(), 1, owner=3)  # the member on its new connection
    assert not isinstance(reopened, SessionRefusal)
    assert sessions.by_owner == {2: {("g", "c")}, 3: {("g", "a")}}


def test_a_session_closed_or_gone_idle_leaves_no_trace_of_its_connection():
    sessions = ShareSessions(max_sessions=10, idle_ms=100)
    sessions.use("g", "a", OPEN, {P0}, set(), 0, owner=1)
    sessions.use("g", "b", OPEN, {P0}, set(), 0, owner=1)
    sessions.use("g", "a", CLOSE, set(), set(), 1, owner=1)
    assert sessions.by_owner == {1: {("g", "b")}}
    sessions.use("g", "c", OPEN, {P0}, set(), 500, owner=2)  # b has gone idle meanwhile
    assert sessions.by_owner == {2: {("g", "c")}}
