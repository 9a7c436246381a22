"""Transactional offset commits (KIP-98, KIP-447) in the offsets store: pending until
the producer's marker, ordered with plain commits by log position, the same state
from the live path and from a replay of the log (groups/offset_store.py: pure), and
the transactional check of a member's generation (groups/classic_group.py)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import CommitCheck, CommitOk, ErrorResponse, GroupError, GroupState, Join, JoinPending, \
    Sync
from kraft.groups.offset_store import CommittedOffset, OffsetCache, commit_record, marker_is_commit, tombstone_record
from kraft.storage.record import Record


def at(record: Record, offset: int) -> Record:
    return Record(record.key, record.value, record.headers, record.timestamp_ms, offset)


def commit(offset: int, log_offset: int, group: str = "g", topic: str = "t", partition: int = 0) -> Record:
    return at(commit_record(group, topic, partition, offset, "", 0), log_offset)


def placeholder(offset: int) -> CommittedOffset:
    return CommittedOffset(offset, "", 0)


# -- markers --------------------------------------------------------------------------------
def test_a_control_records_key_names_commit_or_abort_and_anything_else_is_no_marker():
    assert marker_is_commit(struct.pack(">hh", 0, 1)) is True
    assert marker_is_commit(struct.pack(">hh", 0, 0)) is False
    for key in (None, b"", b"\x00", struct.pack(">hh", 0, 2), struct.pack(">hh", -1, 1)):
        assert marker_is_commit(key) is None


# -- replay -----------------------------------------------------------------------------------
def test_a_transactions_offsets_are_pending_until_a_commit_marker_makes_them_visible():
    cache = OffsetCache()
    cache.replay(commit(5, 0))
    cache.replay_transactional(7, commit(9, 1))
    cache.replay_transactional(7, commit(3, 2, partition=1))
    assert cache.get("g", "t", 0).offset == 5 and cache.get("g", "t", 1) is None  # readers see the stable ones
    assert cache.has_pending("g", "t", 0) and cache.has_pending("g", "t", 1)
    assert cache.pending_of_group("g") == {("t", 0), ("t", 1)} and cache.open_producers() == [7]
    assert cache.pending(7, "g", "t", 0) == CommittedOffset(9, "", 0, 1)
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(9, "", 0, 1) and cache.get("g", "t", 1).offset == 3
    assert not cache.has_pending("g", "t", 0) and cache.pending_of_group("g") == set()
    assert cache.open_producers() == []


def test_an_abort_marker_drops_the_pending_offsets_and_leaves_the_committed_ones():
    cache = OffsetCache()
    cache.replay(commit(5, 0))
    cache.replay_transactional(7, commit(9, 1))
    cache.replay_marker(7, commit=False)
    assert cache.get("g", "t", 0).offset == 5 and cache.pending_of_group("g") == set()
    cache.replay_marker(7, commit=True)  # a marker with nothing pending: nothing happens
    assert cache.get("g", "t", 0).offset == 5


def test_a_plain_commit_later_in_the_log_than_a_transactions_offset_keeps_precedence():
    """Kafka keeps the commit latest in the log whatever the marker's position."""
    cache = OffsetCache()
    cache.replay_transactional(7, commit(9, 1))
    cache.replay(commit(20, 2))  # visible at once; the transaction's offset stays pending
    assert cache.get("g", "t", 0).offset == 20 and cache.has_pending("g", "t", 0)
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0).offset == 20
    # the other way round: the transaction's offset is later in the log, so it wins
    cache.replay(commit(30, 3))
    cache.replay_transactional(8, commit(31, 4))
    cache.replay_marker(8, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(31, "", 0, 4)


def test_transactions_of_two_producers_and_two_groups_end_separately():
    cache = OffsetCache()
    cache.replay_transactional(7, commit(1, 0))
    cache.replay_transactional(8, commit(2, 1))
    cache.replay_transactional(8, commit(3, 2, group="h"))
    cache.replay_marker(8, commit=True)
    assert cache.get("g", "t", 0).offset == 2 and cache.get("h", "t", 0).offset == 3
    assert cache.has_pending("g", "t", 0) and not cache.has_pending("h", "t", 0)
    cache.replay_marker(7, commit=True)  # older in the log than producer 8's: does not win
    assert cache.get("g", "t", 0).offset == 2 and cache.groups() == ["g", "h"]


def test_a_later_commit_of_the_same_transaction_replaces_its_earlier_one():
    cache = OffsetCache()
    cache.replay_transactional(7, commit(1, 0))
    cache.replay_transactional(7, commit(2, 1))
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(2, "", 0, 1)


def test_a_tombstone_deletes_the_commit_and_the_pending_offsets_of_its_key():
    cache = OffsetCache()
    cache.replay(commit(5, 0))
    cache.replay_transactional(7, commit(9, 1))
    cache.replay_transactional(7, commit(4, 2, partition=1))
    cache.replay(at(tombstone_record("g", "t", 0, 0), 3))
    assert cache.get("g", "t", 0) is None and not cache.has_pending("g", "t", 0)
    assert cache.has_pending("g", "t", 1)
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0) is None and cache.get("g", "t", 1).offset == 4


def test_groups_lists_only_groups_with_a_committed_offset():
    cache = OffsetCache()
    cache.replay_transactional(7, commit(1, 0, group="pending-only"))
    assert cache.groups() == [] and cache.of_group("pending-only") == {}


# -- the live path ------------------------------------------------------------------------------
def test_a_live_write_is_pending_from_before_its_append_and_takes_its_log_positions():
    cache = OffsetCache()
    write = cache.begin_txn_write(7, "g", {("t", 0): placeholder(9), ("t", 1): placeholder(4)})
    assert cache.pending_of_group("g") == {("t", 0), ("t", 1)} and cache.get("g", "t", 0) is None
    cache.txn_write_appended(write, 40)
    assert cache.pending(7, "g", "t", 0).log_offset == 40 and cache.pending(7, "g", "t", 1).log_offset == 41
    cache.complete(7, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(9, "", 0, 40) and cache.get("g", "t", 1).log_offset == 41


def test_a_failed_append_leaves_nothing_pending():
    cache = OffsetCache()
    write = cache.begin_txn_write(7, "g", {("t", 0): placeholder(9)})
    cache.txn_write_failed(write)
    assert cache.pending_of_group("g") == set() and cache.open_producers() == []
    cache.complete(7, commit=True)
    assert cache.get("g", "t", 0) is None


def test_a_failed_append_does_not_drop_a_later_write_of_the_same_key():
    cache = OffsetCache()
    first = cache.begin_txn_write(7, "g", {("t", 0): placeholder(1)})
    second = cache.begin_txn_write(7, "g", {("t", 0): placeholder(2)})
    cache.txn_write_failed(first)
    cache.txn_write_appended(second, 10)
    assert cache.pending(7, "g", "t", 0) == CommittedOffset(2, "", 0, 10)


def test_a_transaction_that_ends_while_an_append_is_in_flight_settles_it_when_it_returns():
    cache = OffsetCache()
    cache.replay(commit(5, 0))
    committed = cache.begin_txn_write(7, "g", {("t", 0): placeholder(9)})
    aborted = cache.begin_txn_write(8, "g", {("t", 1): placeholder(3)})
    cache.complete(7, commit=True)
    cache.complete(8, commit=False)
    assert cache.get("g", "t", 0).offset == 5 and cache.pending_of_group("g") == set()
    cache.txn_write_appended(committed, 12)
    cache.txn_write_appended(aborted, 13)
    assert cache.get("g", "t", 0) == CommittedOffset(9, "", 0, 12) and cache.get("g", "t", 1) is None
    assert cache.pending_of_group("g") == set()


def test_a_write_in_flight_when_its_transaction_ended_never_touches_the_next_transaction():
    cache = OffsetCache()
    old = cache.begin_txn_write(7, "g", {("t", 0): placeholder(1)})
    cache.complete(7, commit=False)
    new = cache.begin_txn_write(7, "g", {("t", 0): placeholder(2)})  # the producer's next transaction
    cache.txn_write_failed(old)
    cache.txn_write_appended(new, 20)
    assert cache.pending(7, "g", "t", 0) == CommittedOffset(2, "", 0, 20)


# -- live path and replay agree -----------------------------------------------------------------
# An action: ("plain", partition, offset) | ("txn", producer, partition, offset) | ("end", producer, commit)
actions = st.lists(st.one_of(
    st.tuples(st.just("plain"), st.integers(0, 1), st.integers(0, 99)),
    st.tuples(st.just("txn"), st.integers(1, 3), st.integers(0, 1), st.integers(0, 99)),
    st.tuples(st.just("end"), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("tombstone"), st.integers(0, 1)),
), max_size=30)


@settings(max_examples=200, deadline=None)
@given(actions)
def test_the_live_path_and_a_replay_of_the_log_give_the_same_state(steps):
    """Live: commits cached after their append, transactional ones through a write,
    markers through complete(); replay: the log those steps wrote, read back."""
    live, log = OffsetCache(), []
    for step in steps:
        position = len(log)
        if step[0] == "plain":
            _, partition, offset = step
            log.append(("plain", commit(offset, position, partition=partition)))
            live.put("g", "t", partition, CommittedOffset(offset, "", 0, position))
        elif step[0] == "txn":
            _, producer, partition, offset = step
            log.append(("txn", producer, commit(offset, position, partition=partition)))
            write = live.begin_txn_write(producer, "g", {("t", partition): placeholder(offset)})
            live.txn_write_appended(write, position)
        elif step[0] == "end":
            _, producer, outcome = step
            log.append(("end", producer, outcome))
            live.complete(producer, outcome)
        else:
            _, partition = step
            log.append(("plain", at(tombstone_record("g", "t", partition, 0), position)))
            live.forget("g", "t", partition)
    replayed = OffsetCache()
    for entry in log:
        if entry[0] == "plain":
            replayed.replay(entry[1])
        elif entry[0] == "txn":
            replayed.replay_transactional(entry[1], entry[2])
        else:
            replayed.replay_marker(entry[1], entry[2])
    assert replayed.of_group("g") == live.of_group("g")
    assert replayed.pending_of_group("g") == live.pending_of_group("g")
    for producer in (1, 2, 3):
        for partition in (0, 1):
            assert replayed.pending(producer, "g", "t", partition) == live.pending(producer, "g", "t", partition)


# -- KIP-447: a transactional commit's member check ---------------------------------------------
def completing_group() -> tuple[ClassicGroup, str]:
    g = ClassicGroup("g", {"t": 2})
    [pending] = [e for e in g.handle(Join(None, "c", 10_000, 5_000, ("range",), frozenset({"t"}), 0))
                 if isinstance(e, JoinPending)]
    assert g.state is GroupState.COMPLETING_REBALANCE and g.generation == 1
    return g, pending.member_id


def test_a_transactional_commit_is_fenced_by_member_and_generation_but_not_by_a_rebalance():
    g, member = completing_group()
    [plain] = g.handle(CommitCheck(member, 1))
    assert isinstance(plain, ErrorResponse) and plain.error is GroupError.REBALANCE_IN_PROGRESS
    assert g.handle(CommitCheck(member, 1, transactional=True)) == [CommitOk(member, 1)]  # as Kafka's
    [stale] = g.handle(CommitCheck(member, 0, transactional=True))
    assert stale.error is GroupError.ILLEGAL_GENERATION
    [unknown] = g.handle(CommitCheck("someone", 1, transactional=True))
    assert unknown.error is GroupError.UNKNOWN_MEMBER_ID
    g.handle(Sync(member, 1, 10))
    assert g.handle(CommitCheck(member, 1, transactional=True)) == [CommitOk(member, 1)]
    assert ClassicGroup("empty").handle(CommitCheck("", -1, transactional=True)) == [CommitOk("", -1)]


def test_a_committed_leader_epoch_survives_the_offsets_topic():
    from kraft.groups.offset_store import commit_record, parse_value
    kept = parse_value(commit_record("g", "t", 0, 42, "m", 1000, "id", leader_epoch=7).value, 5)
    assert (kept.offset, kept.leader_epoch, kept.log_offset) == (42, 7, 5)
    assert parse_value(commit_record("g", "t", 0, 42, "m", 1000).value, 6).leader_epoch == -1  # none given


# -- leader epochs (KIP-320) ------------------------------------------------------------------
def test_a_commits_leader_epoch_survives_a_replay_and_a_commit_without_one_reads_minus_one():
    cache = OffsetCache()
    cache.replay(at(commit_record("g", "t", 0, 5, "m", 0, "id", leader_epoch=4), 0))
    cache.replay(at(commit_record("g", "t", 1, 6, "", 0), 1))  # no epoch, as records written before epochs were kept
    cache.replay_transactional(7, at(commit_record("g", "t", 2, 7, "", 0, leader_epoch=2), 2))
    cache.replay_marker(7, commit=True)
    assert (cache.get("g", "t", 0).offset, cache.get("g", "t", 0).leader_epoch) == (5, 4)
    assert cache.get("g", "t", 1).leader_epoch == -1
    assert (cache.get("g", "t", 2).offset, cache.get("g", "t", 2).leader_epoch) == (7, 2)


def test_a_live_transactional_write_keeps_its_leader_epoch_once_appended():
    cache = OffsetCache()
    write = cache.begin_txn_write(7, "g", {("t", 0): CommittedOffset(9, "", 0, -1, "", 3)})
    cache.txn_write_appended(write, 40)
    cache.complete(7, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(9, "", 0, 40, "", 3)
