"""Transactional offset commits (KIP-98, KIP-447) in the offsets store: pending until
the producer's marker, ordered with plain commits by log position
(groups/offset_store.py: pure; the coordinator's writes replay the same way, see
test_txn_group_coordinator.py), and the transactional check of a member's generation
(groups/classic_group.py)."""

from __future__ import annotations

import struct

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import CommitCheck, CommitOk, ErrorResponse, GroupError, GroupState, Join, JoinPending, \
    Sync
from kraft.groups.offset_store import CommittedOffset, OffsetCache, commit_record, marker_is_commit, tombstone_record
from kraft.storage.record import Record


def at(record: Record, offset: int) -> Record:
    return Record(record.key, record.value, record.headers, record.timestamp_ms, offset)


def commit(offset: int, log_offset: int, group: str = "g", topic: str = "t", partition: int = 0) -> Record:
    return at(commit_record(group, topic, partition, offset, "", 0), log_offset)


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
    cache.replay(commit(9, 1), 7)
    cache.replay(commit(3, 2, partition=1), 7)
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
    cache.replay(commit(9, 1), 7)
    cache.replay_marker(7, commit=False)
    assert cache.get("g", "t", 0).offset == 5 and cache.pending_of_group("g") == set()
    cache.replay_marker(7, commit=True)  # a marker with nothing pending: nothing happens
    assert cache.get("g", "t", 0).offset == 5


def test_a_plain_commit_later_in_the_log_than_a_transactions_offset_keeps_precedence():
    """Kafka keeps the commit latest in the log whatever the marker's position."""
    cache = OffsetCache()
    cache.replay(commit(9, 1), 7)
    cache.replay(commit(20, 2))  # visible at once; the transaction's offset stays pending
    assert cache.get("g", "t", 0).offset == 20 and cache.has_pending("g", "t", 0)
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0).offset == 20
    # the other way round: the transaction's offset is later in the log, so it wins
    cache.replay(commit(30, 3))
    cache.replay(commit(31, 4), 8)
    cache.replay_marker(8, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(31, "", 0, 4)


def test_transactions_of_two_producers_and_two_groups_end_separately():
    cache = OffsetCache()
    cache.replay(commit(1, 0), 7)
    cache.replay(commit(2, 1), 8)
    cache.replay(commit(3, 2, group="h"), 8)
    cache.replay_marker(8, commit=True)
    assert cache.get("g", "t", 0).offset == 2 and cache.get("h", "t", 0).offset == 3
    assert cache.has_pending("g", "t", 0) and not cache.has_pending("h", "t", 0)
    cache.replay_marker(7, commit=True)  # older in the log than producer 8's: does not win
    assert cache.get("g", "t", 0).offset == 2 and cache.groups() == ["g", "h"]


def test_a_later_commit_of_the_same_transaction_replaces_its_earlier_one():
    cache = OffsetCache()
    cache.replay(commit(1, 0), 7)
    cache.replay(commit(2, 1), 7)
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0) == CommittedOffset(2, "", 0, 1)


def test_a_tombstone_deletes_the_commit_and_the_pending_offsets_of_its_key():
    cache = OffsetCache()
    cache.replay(commit(5, 0))
    cache.replay(commit(9, 1), 7)
    cache.replay(commit(4, 2, partition=1), 7)
    cache.replay(at(tombstone_record("g", "t", 0, 0), 3))
    assert cache.get("g", "t", 0) is None and not cache.has_pending("g", "t", 0)
    assert cache.has_pending("g", "t", 1)
    cache.replay_marker(7, commit=True)
    assert cache.get("g", "t", 0) is None and cache.get("g", "t", 1).offset == 4


def test_groups_lists_only_groups_with_a_committed_offset():
    cache = OffsetCache()
    cache.replay(commit(1, 0, group="pending-only"), 7)
    assert cache.groups() == [] and cache.of_group("pending-only") == {}


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
    cache.replay(at(commit_record("g", "t", 2, 7, "", 0, leader_epoch=2), 2), 7)
    cache.replay_marker(7, commit=True)
    assert (cache.get("g", "t", 0).offset, cache.get("g", "t", 0).leader_epoch) == (5, 4)
    assert cache.get("g", "t", 1).leader_epoch == -1
    assert (cache.get("g", "t", 2).offset, cache.get("g", "t", 2).leader_epoch) == (7, 2)
