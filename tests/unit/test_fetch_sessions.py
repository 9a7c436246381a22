"""Incremental fetch sessions (KIP-227): the cache's rules as Kafka's FetchManager and
FetchSessionCache apply them, with the clock passed in."""

from __future__ import annotations

import itertools

from kraft.kafka.handlers.fetch_sessions import (EVICTION_MS, FINAL_EPOCH, FULL, INCREMENTAL, INITIAL_EPOCH, SESSION_ERROR,
                                        SESSIONLESS, FetchSessionCache, Outcome, Wanted, next_epoch)
from kraft.errors.kafka_codes import (
    FETCH_SESSION_ID_NOT_FOUND,
    FETCH_SESSION_TOPIC_ID_ERROR,
    INVALID_FETCH_SESSION_EPOCH,
)

V = 12  # a version with sessions, topics by name
NOTHING = Outcome(records_bytes=0, high_watermark=10, log_start_offset=0)


def wants(*keys, offset=0) -> dict:
    return {key: Wanted(offset, 1 << 20) for key in keys}


def ids(start=1):
    counter = itertools.count(start)
    return lambda: next(counter)


def open_session(cache, keys, now=0, version=V, outcome=NOTHING) -> int:
    context = cache.new_context(version, 0, INITIAL_EPOCH, wants(*keys), [], False, now)
    assert context.kind == FULL
    answer = context.answer({key: outcome for key, _ in context.to_read()}, now)
    return answer.session_id


def test_a_full_fetch_opens_a_session_and_answers_every_partition():
    cache = FetchSessionCache(10, new_id=ids(7))
    context = cache.new_context(V, 0, INITIAL_EPOCH, wants(("a", 0), ("a", 1)), [], False, 0)
    answer = context.answer({("a", 0): NOTHING, ("a", 1): NOTHING}, 0)
    assert (answer.error_code, answer.session_id, answer.partitions) == (0, 7, [("a", 0), ("a", 1)])
    assert cache.get(7).epoch == 1  # the client's next request carries epoch 1


def test_an_incremental_fetch_reads_the_whole_session_and_answers_only_what_changed():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0), ("a", 1), ("b", 0)])
    context = cache.new_context(V, sid, 1, {}, [], False, 1)
    assert context.kind == INCREMENTAL
    assert [key for key, _ in context.to_read()] == [("a", 0), ("a", 1), ("b", 0)]
    answer = context.answer({("a", 0): NOTHING,
                             ("a", 1): Outcome(records_bytes=100, high_watermark=10, log_start_offset=0),
                             ("b", 0): Outcome(records_bytes=0, high_watermark=11, log_start_offset=0)}, 1)
    assert (answer.error_code, answer.session_id) == (0, sid)
    assert answer.partitions == [("a", 1), ("b", 0)]  # new records, a moved high watermark
    # nothing new at all: an empty answer, and the epoch moves on each time
    for epoch in (2, 3):
        context = cache.new_context(V, sid, epoch, {}, [], False, epoch)
        quiet = {key: Outcome(0, 11 if key == ("b", 0) else 10, 0) for key, _ in context.to_read()}
        assert context.answer(quiet, epoch).partitions == []


def test_a_moved_log_start_an_error_or_a_diverging_epoch_is_answered():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0)])
    for epoch, outcome in enumerate([Outcome(0, 10, 5), Outcome(0, 10, 5, diverging=True),
                                     Outcome(0, 10, 5, preferred_read_replica=2), Outcome(0, 10, 5, error_code=6)],
                                    start=1):
        context = cache.new_context(V, sid, epoch, {}, [], False, epoch)
        assert context.answer({("a", 0): outcome}, epoch).partitions == [("a", 0)], outcome
    # after an error the partition is answered again even though its offsets did not move
    context = cache.new_context(V, sid, 5, {}, [], False, 5)
    assert context.answer({("a", 0): Outcome(0, 10, 5)}, 5).partitions == [("a", 0)]
    context = cache.new_context(V, sid, 6, {}, [], False, 6)
    assert context.answer({("a", 0): Outcome(0, 10, 5)}, 6).partitions == []


def test_an_incremental_fetch_updates_positions_adds_and_forgets_partitions():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0), ("a", 1)])
    context = cache.new_context(V, sid, 1, wants(("a", 1), ("c", 0), offset=42), [("a", 0)], False, 1)
    read = dict(context.to_read())
    assert list(read) == [("a", 1), ("c", 0)]
    assert read[("a", 1)].fetch_offset == 42 and read[("c", 0)].fetch_offset == 42
    # a partition new to the session is answered the first time whatever it holds
    answer = context.answer({("a", 1): Outcome(0, 10, 0), ("c", 0): Outcome(0, 3, 0)}, 1)
    assert answer.partitions == [("c", 0)]


def test_partitions_that_answered_records_are_read_last_next_time():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0), ("a", 1), ("a", 2)])
    context = cache.new_context(V, sid, 1, {}, [], False, 1)
    context.answer({("a", 0): Outcome(50, 10, 0), ("a", 1): NOTHING, ("a", 2): NOTHING}, 1)
    context = cache.new_context(V, sid, 2, {}, [], False, 2)
    assert [key for key, _ in context.to_read()] == [("a", 1), ("a", 2), ("a", 0)]


def test_forgetting_every_partition_ends_the_session():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0)])
    context = cache.new_context(V, sid, 1, {}, [("a", 0)], False, 1)
    assert context.kind == SESSIONLESS and cache.get(sid) is None
    assert context.answer({}, 1).session_id == 0


def test_session_errors_as_kafka_answers_them():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0)])
    unknown = cache.new_context(V, sid + 100, 1, {}, [], False, 1)
    assert (unknown.kind, unknown.error_code) == (SESSION_ERROR, FETCH_SESSION_ID_NOT_FOUND)
    stale = cache.new_context(V, sid, 5, {}, [], False, 1)
    assert (stale.kind, stale.error_code) == (SESSION_ERROR, INVALID_FETCH_SESSION_EPOCH)
    answer = stale.answer({}, 1)
    assert (answer.error_code, answer.session_id, answer.partitions) == (INVALID_FETCH_SESSION_EPOCH, 0, [])
    # a session opened without topic ids cannot go on with them (v13+), nor the other way round
    mixed = cache.new_context(13, sid, 1, {}, [], False, 1)
    assert (mixed.kind, mixed.error_code) == (SESSION_ERROR, FETCH_SESSION_TOPIC_ID_ERROR)
    by_id = open_session(cache, [("0f" * 16, 0)], version=13)
    mixed = cache.new_context(12, by_id, 1, {}, [], False, 1)
    assert mixed.error_code == FETCH_SESSION_TOPIC_ID_ERROR
    # the failed requests did not move the session on
    assert cache.new_context(V, sid, 1, {}, [], False, 1).kind == INCREMENTAL


def test_two_requests_of_one_epoch_the_second_is_refused():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0)])
    first = cache.new_context(V, sid, 1, {}, [], False, 1)
    second = cache.new_context(V, sid, 1, {}, [], False, 1)
    assert second.error_code == INVALID_FETCH_SESSION_EPOCH
    assert first.answer({("a", 0): NOTHING}, 1).error_code == 0
    # a request of the next epoch that overtook an unanswered one: the older is refused
    slow = cache.new_context(V, sid, 2, {}, [], False, 2)
    cache.new_context(V, sid, 3, {}, [], False, 2)
    assert slow.answer({("a", 0): NOTHING}, 2).error_code == INVALID_FETCH_SESSION_EPOCH


def test_full_fetches_close_the_session_they_name():
    cache = FetchSessionCache(10, new_id=ids())
    sid = open_session(cache, [("a", 0)])
    context = cache.new_context(V, sid, FINAL_EPOCH, wants(("a", 0)), [], False, 1)
    assert context.kind == SESSIONLESS and cache.get(sid) is None
    assert context.answer({("a", 0): NOTHING}, 1).session_id == 0
    sid = open_session(cache, [("a", 0)])
    again = open_session(cache, [("a", 0)])  # a new full fetch naming no session: another one
    assert len(cache) == 2
    context = cache.new_context(V, again, INITIAL_EPOCH, wants(("a", 0)), [], False, 1)
    assert cache.get(again) is None and context.kind == FULL
    assert context.answer({("a", 0): NOTHING}, 1).session_id not in (0, again, sid)


def test_versions_before_7_are_sessionless():
    cache = FetchSessionCache(10, new_id=ids())
    context = cache.new_context(6, 0, INITIAL_EPOCH, wants(("a", 0)), [], False, 0)
    assert context.kind == SESSIONLESS and context.answer({("a", 0): NOTHING}, 0).session_id == 0
    assert len(cache) == 0


def test_no_slots_no_sessions():
    cache = FetchSessionCache(0, new_id=ids())
    assert open_session(cache, [("a", 0)]) == 0 and len(cache) == 0


def test_a_full_cache_evicts_a_session_unused_for_the_eviction_time_first():
    cache = FetchSessionCache(2, new_id=ids())
    big = open_session(cache, [("a", p) for p in range(10)], now=0)
    small = open_session(cache, [("b", 0)], now=1000)
    cache.new_context(V, small, 1, {}, [], False, EVICTION_MS)  # small is used, big is not
    sid = open_session(cache, [("c", 0)], now=EVICTION_MS + 1)
    assert sid != 0 and cache.get(big) is None and cache.get(small) is not None
    assert cache.evictions == 1


def test_a_full_cache_keeps_its_new_sessions_from_consumers():
    cache = FetchSessionCache(2, new_id=ids())
    open_session(cache, [("a", 0)], now=0)
    open_session(cache, [("b", 0)], now=0)
    # both in use and younger than the eviction time: a bigger consumer session gets no slot
    assert open_session(cache, [("c", p) for p in range(50)], now=1000) == 0
    assert len(cache) == 2 and cache.evictions == 0


def test_a_full_cache_gives_an_old_sessions_slot_to_a_bigger_one_only():
    cache = FetchSessionCache(2, new_id=ids())
    three = open_session(cache, [("a", p) for p in range(3)], now=0)
    five = open_session(cache, [("b", p) for p in range(5)], now=0)
    now = EVICTION_MS + 10
    for sid in (three, five):  # in use: not stale, but older than the eviction time
        cache.new_context(V, sid, 1, {}, [], False, now)
    assert open_session(cache, [("c", p) for p in range(3)], now=now) == 0  # not worth more than 3
    bigger = open_session(cache, [("c", p) for p in range(4)], now=now)
    assert bigger != 0 and cache.get(three) is None and cache.get(five) is not None


def test_a_follower_takes_a_consumers_slot_even_from_a_new_session():
    cache = FetchSessionCache(1, new_id=ids())
    consumer = open_session(cache, [("a", p) for p in range(100)], now=0)
    context = cache.new_context(V, 0, INITIAL_EPOCH, wants(("b", 0)), [], True, 10)
    follower = context.answer({("b", 0): NOTHING}, 10).session_id
    assert follower != 0 and cache.get(consumer) is None
    # and a consumer cannot take a new follower's
    assert open_session(cache, [("c", p) for p in range(500)], now=20) == 0


def test_epochs_wrap_and_final_stays_final():
    assert next_epoch(0) == 1 and next_epoch(41) == 42
    assert next_epoch(2**31 - 1) == 1
    assert next_epoch(FINAL_EPOCH) == FINAL_EPOCH
