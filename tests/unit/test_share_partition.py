"""A share-partition's rules (KIP-932), on the pure state machine with a clock in hand."""

import pytest

from kraft.share.share_partition import Ack, AckRefused, AckType, Acquired, Batch, SharePartition
from kraft.errors.kafka_codes import INVALID_RECORD_STATE, INVALID_REQUEST

LOCK_MS, LIMIT = 1000, 3


def partition(start: int = 0, max_locks: int = 100) -> SharePartition:
    return SharePartition(start, LOCK_MS, LIMIT, max_locks)


def ack(first: int, last: int, *types: AckType) -> Ack:
    return Ack(first, last, tuple(int(t) for t in types))


def test_new_records_are_acquired_a_whole_batch_at_a_time():
    p = partition()
    got = p.acquire("a", [Batch(0, 4), Batch(5, 9)], max_records=3, now_ms=0)
    assert got == [Acquired(0, 4, 1)]  # the batch is finished past max_records, the next is left
    assert p.acquire("b", [Batch(5, 9)], max_records=10, now_ms=0) == [Acquired(5, 9, 1)]
    assert p.fetch_offset() == 10


def test_a_record_is_held_by_one_member_at_a_time():
    p = partition()
    p.acquire("a", [Batch(0, 1)], 10, 0)
    assert p.acquire("b", [Batch(0, 1)], 10, 0) == []  # already acquired by a
    with pytest.raises(AckRefused) as refused:
        p.acknowledge("b", [ack(0, 0, AckType.ACCEPT)], 0)
    assert refused.value.code == INVALID_RECORD_STATE


def test_accepted_records_move_the_start_and_never_come_back():
    p = partition(start=10)
    p.acquire("a", [Batch(10, 12)], 10, 0)
    p.acknowledge("a", [ack(10, 12, AckType.ACCEPT)], 0)
    assert (p.start, p.records) == (13, {})
    assert p.acquire("a", [Batch(10, 12)], 10, 5000) == []


def test_released_records_are_delivered_again_with_a_higher_count():
    p = partition()
    p.acquire("a", [Batch(0, 2)], 10, 0)
    p.acknowledge("a", [ack(0, 2, AckType.ACCEPT, AckType.RELEASE, AckType.ACCEPT)], 0)
    assert p.start == 1 and p.fetch_offset() == 1
    assert p.acquire("b", [Batch(0, 2)], 10, 0) == [Acquired(1, 1, 2)]


def test_rejected_records_are_archived():
    p = partition()
    p.acquire("a", [Batch(0, 1)], 10, 0)
    p.acknowledge("a", [ack(0, 1, AckType.REJECT)], 0)
    assert p.start == 0 and p.counts()["archived"] == 2  # held in the window until their dead letters are out
    assert p.acquire("a", [Batch(0, 1)], 10, 0) == []
    p.buried(list(p.dead))
    assert p.start == 2 and p.counts()["archived"] == 0  # done: gone from the in-flight window


def test_an_expired_lock_makes_the_record_available_and_its_holder_loses_it():
    p = partition()
    p.acquire("a", [Batch(0, 0)], 10, now_ms=0)
    assert p.next_lock_deadline() == LOCK_MS
    assert p.expire_locks(LOCK_MS - 1) == 0
    assert p.expire_locks(LOCK_MS) == 1
    assert p.acquire("b", [Batch(0, 0)], 10, LOCK_MS) == [Acquired(0, 0, 2)]
    with pytest.raises(AckRefused):
        p.acknowledge("a", [ack(0, 0, AckType.ACCEPT)], LOCK_MS)


def test_the_delivery_limit_archives_a_record_instead_of_releasing_it():
    p = partition()
    for delivery in range(1, LIMIT + 1):
        assert p.acquire("a", [Batch(0, 0)], 10, 0) == [Acquired(0, 0, delivery)]
        p.acknowledge("a", [ack(0, 0, AckType.RELEASE)], 0)
    assert p.acquire("a", [Batch(0, 0)], 10, 0) == []
    p.buried(list(p.dead))
    assert p.start == 1


def test_renew_keeps_the_lock_only_where_the_version_allows_it():
    p = partition()
    p.acquire("a", [Batch(0, 0)], 10, 0)
    with pytest.raises(AckRefused) as refused:
        p.acknowledge("a", [ack(0, 0, AckType.RENEW)], 500)
    assert refused.value.code == INVALID_REQUEST
    p.acknowledge("a", [ack(0, 0, AckType.RENEW)], 500, renew_allowed=True)
    assert p.expire_locks(LOCK_MS) == 0 and p.next_lock_deadline() == 500 + LOCK_MS


def test_a_refused_acknowledgement_changes_nothing():
    p = partition()
    p.acquire("a", [Batch(0, 2)], 10, 0)
    with pytest.raises(AckRefused):  # offset 3 was never acquired: the whole request is refused
        p.acknowledge("a", [ack(0, 1, AckType.ACCEPT), ack(2, 3, AckType.ACCEPT)], 0)
    assert p.start == 0 and p.counts()["acquired"] == 3
    for bad in (ack(0, 2, AckType.ACCEPT, AckType.ACCEPT), Ack(0, 0, (9,)), Ack(2, 1, (1,))):
        with pytest.raises(AckRefused) as refused:
            p.acknowledge("a", [bad], 0)
        assert refused.value.code == INVALID_REQUEST


def test_closing_a_session_gives_back_what_its_member_holds():
    p = partition()
    p.acquire("a", [Batch(0, 1)], 10, 0)
    p.acquire("b", [Batch(2, 3)], 10, 0)
    assert p.release_member("a") == 2
    assert p.counts() == {"available": 2, "acquired": 2, "acknowledged": 0, "archived": 0}
    assert p.fetch_offset() == 0


def test_control_batches_are_never_handed_out():
    p = partition()
    got = p.acquire("a", [Batch(0, 1), Batch(2, 2, withheld=True), Batch(3, 3)], 10, 0)
    assert got == [Acquired(0, 1, 1), Acquired(3, 3, 1)]
    p.acknowledge("a", [ack(0, 1, AckType.ACCEPT), ack(3, 3, AckType.ACCEPT)], 0)
    assert p.start == 4


def test_the_lock_limit_stops_acquisition_until_records_are_done():
    p = partition(max_locks=2)
    assert p.acquire("a", [Batch(0, 1)], 10, 0) == [Acquired(0, 1, 1)]
    assert p.fetch_offset() is None
    p.acknowledge("a", [ack(0, 0, AckType.ACCEPT)], 0)
    assert p.fetch_offset() == 2


def test_records_deleted_from_the_log_leave_the_partition():
    p = partition()
    p.acquire("a", [Batch(0, 3)], 10, 0)
    p.log_start_moved(2)
    assert p.start == 2 and sorted(p.records) == [2, 3]
    assert p.lag(high_watermark=10) == 8


def test_the_window_from_the_start_is_bounded_by_the_lock_limit():
    p = partition(max_locks=3)
    p.acquire("a", [Batch(0, 0)], 10, 0)  # held: the start cannot move past it
    p.acquire("a", [Batch(1, 2)], 10, 0)
    p.acknowledge("a", [ack(1, 2, AckType.ACCEPT)], 0)
    assert p.fetch_offset() is None and p.acquire("b", [Batch(3, 3)], 10, 0) == []
    p.acknowledge("a", [ack(0, 0, AckType.ACCEPT)], 0)
    assert p.start == 3 and p.acquire("b", [Batch(3, 3)], 10, 0) == [Acquired(3, 3, 1)]


def test_a_restored_partition_holds_nothing_and_keeps_counts_and_done_records():
    p = partition()
    p.acquire("a", [Batch(0, 3)], 10, 0)
    p.acknowledge("a", [ack(1, 1, AckType.ACCEPT), ack(2, 2, AckType.RELEASE)], 0)
    runs = p.runs()
    assert runs == [(0, 0, 0, 1), (1, 1, 2, 1), (2, 3, 0, 1)]  # held records are kept as available
    q = partition()
    q.restore(p.start, runs)
    assert q.acquire("b", [Batch(0, 3)], 10, 0) == [Acquired(0, 0, 2), Acquired(2, 3, 2)]
    assert q.fetch_offset() == 4


def test_records_that_fail_are_noted_as_dead_letters_once():
    from kraft.share.share_partition import DeadLetter
    p = SharePartition(0, LOCK_MS, 2, 100)
    p.acquire("a", [Batch(0, 2)], 10, 0)
    p.acknowledge("a", [ack(0, 0, AckType.REJECT), ack(1, 1, AckType.GAP), ack(2, 2, AckType.RELEASE)], 0)
    p.acquire("a", [Batch(2, 2)], 10, 0)
    p.expire_locks(LOCK_MS)  # its second delivery's lock runs out: the limit archives it
    assert p.dead == [DeadLetter(0, 1, rejected=True), DeadLetter(2, 2, rejected=False)]  # a gap is never one
    assert (p.start, [run[2] for run in p.runs()]) == (0, [0, 4, 0])  # stored available until written
    p.buried([DeadLetter(0, 1, rejected=True)])
    assert (p.start, p.dead) == (2, [DeadLetter(2, 2, rejected=False)])  # past the gap, up to the unwritten one
    p.buried(list(p.dead))
    assert (p.start, p.dead, p.runs()) == (3, [], [])


def test_a_record_restored_at_its_delivery_limit_is_archived_not_delivered_again():
    from kraft.share.share_partition import DeadLetter
    p = SharePartition(0, LOCK_MS, 3, 100)
    p.restore(0, [(0, 0, 0, 3), (1, 1, 0, 2)])  # a failed-over leader stored both available
    assert p.acquire("a", [Batch(0, 1)], 10, 0) == [Acquired(1, 1, 3)]
    assert p.dead == [DeadLetter(0, 3, rejected=False)]


def test_a_batch_larger_than_the_locks_left_is_handed_out_in_parts():
    p = partition(max_locks=100)
    huge = Batch(0, 999_999)  # a million one-byte records in one batch
    assert p.acquire("a", [huge], 500, 0) == [Acquired(0, 99, 1)]
    assert len(p.records) == 100 and p.fetch_offset() is None  # no more until some are done
    p.acknowledge("a", [ack(0, 99, AckType.ACCEPT)], 0)
    assert p.acquire("b", [huge], 500, 0) == [Acquired(100, 199, 1)]


def test_record_limit_mode_never_passes_max_records():
    p = partition()
    assert p.acquire("a", [Batch(0, 9)], 3, 0, record_limit=True) == [Acquired(0, 2, 1)]
    assert p.acquire("b", [Batch(0, 9)], 3, 0, record_limit=True) == [Acquired(3, 5, 1)]


def test_acknowledging_more_records_than_are_in_flight_is_refused_before_any_is_looked_at():
    p = partition()
    p.acquire("a", [Batch(0, 1)], 10, 0)
    many = [ack(0, 1, AckType.ACCEPT)] * 2  # 4 records acknowledged, 2 in flight
    with pytest.raises(AckRefused) as refused:
        p.acknowledge("a", many, 0)
    assert refused.value.code == INVALID_RECORD_STATE and p.counts()["acquired"] == 2
