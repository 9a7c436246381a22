"""Transactions in the producer table, without files: open / commit / abort, the first
unstable offset, the fencing rules of a partition leader, what followers and replays
record, snapshots of open transactions; the marker batch format; the compaction rules
for transactional data."""
from __future__ import annotations

import pytest

from kraft.errors import (
    InvalidProducerEpoch,
    InvalidTxnState,
    OutOfOrderSequence,
    RecordBatchError,
    TransactionCoordinatorFenced,
)
from kraft.storage.compaction import BatchRef, RecordRef
from kraft.storage.compaction_txn import TxnCleaning
from kraft.storage.producer_state import CompletedTxn, ProducerInfo, ProducerStateTable
from kraft.storage.record_batch import (
    BatchHeader,
    ControlMarker,
    Record,
    control_marker,
    decode_records,
    encode_batch,
    encode_control_batch,
    verify_crc,
)
from kraft.storage.txn_index import TxnIndexEntry


def txn_data(t: ProducerStateTable, pid: int, epoch: int, seq: int, base: int, n: int = 2) -> None:
    """What every replica does after a transactional batch is appended at ``base``."""
    t.record(pid, epoch, seq, n, base, base + n - 1, is_transactional=True)


# -- the marker batch -------------------------------------------------------------------------
@pytest.mark.parametrize("commit", [True, False])
def test_a_marker_batch_is_kafkas_one_control_record(commit):
    batch = encode_control_batch(42, 3, commit, coordinator_epoch=7, base_offset=100, leader_epoch=5,
                                 timestamp_ms=1234)
    header = BatchHeader.parse(batch)
    assert header.is_control and header.is_transactional and verify_crc(batch)
    assert (header.base_offset, header.leader_epoch, header.producer_id, header.producer_epoch) == (100, 5, 42, 3)
    assert header.base_sequence == -1 and header.record_count == 1
    [record] = decode_records(batch)
    assert record.key == bytes([0, 0, 0, 1 if commit else 0])  # version 0, type COMMIT=1 / ABORT=0
    assert record.value == bytes([0, 0, 0, 0, 0, 7])  # version 0, coordinator epoch int32
    assert record.timestamp_ms == 1234
    assert control_marker(batch) == ControlMarker(commit, 7)
    assert control_marker(b"xx" + batch, 2) == ControlMarker(commit, 7)


def test_data_batches_and_other_control_records_are_not_markers():
    data = encode_batch([Record(b"k", b"v", (), 1)], 0, 0, 1, 0, 0, is_transactional=True)
    assert BatchHeader.parse(data).is_transactional and not BatchHeader.parse(data).is_control
    with pytest.raises(RecordBatchError, match="not a control batch"):
        control_marker(data)
    leader_change = encode_batch([Record(b"\x00\x00\x00\x02", b"\x00\x00", (), 1)], 0, 0, is_control=True)
    with pytest.raises(RecordBatchError, match="type 2"):
        control_marker(leader_change)


def test_a_later_marker_version_is_read_as_version_0():
    batch = encode_batch([Record(b"\x00\x01\x00\x01", b"\x00\x01\x00\x00\x00\x09extra", (), 1)], 0, 0,
                         5, 0, -1, is_transactional=True, is_control=True)
    assert control_marker(batch) == ControlMarker(True, 9)


# -- open, commit, abort ------------------------------------------------------------------------
def test_a_transactional_batch_opens_and_a_marker_closes_the_transaction():
    t = ProducerStateTable()
    assert t.first_unstable_offset is None
    txn_data(t, 1, 0, 0, base=10)
    txn_data(t, 1, 0, 2, base=14)  # the same transaction: its first offset stays
    assert t.get(1).txn_first_offset == 10 and t.first_unstable_offset == 10
    assert t.record_marker(1, 0, 0, commit=True, offset=20) == CompletedTxn(1, 10, 20, aborted=False)
    assert t.first_unstable_offset is None and t.get(1).txn_first_offset is None
    txn_data(t, 1, 0, 4, base=21)  # the next transaction continues the sequence (same epoch)
    assert t.record_marker(1, 0, 0, commit=False, offset=23) == CompletedTxn(1, 21, 23, aborted=True)


def test_the_first_unstable_offset_is_the_oldest_open_transaction():
    t = ProducerStateTable()
    txn_data(t, 1, 0, 0, base=0)
    txn_data(t, 2, 0, 0, base=2)
    txn_data(t, 3, 0, 0, base=4)
    assert t.first_unstable_offset == 0
    t.record_marker(2, 0, 0, True, 6)
    assert t.first_unstable_offset == 0
    t.record_marker(1, 0, 0, False, 7)
    assert t.first_unstable_offset == 4
    txn_data(t, 1, 0, 2, base=8)
    t.record_marker(3, 0, 0, True, 10)
    assert t.first_unstable_offset == 8


def test_an_ended_transaction_holds_the_stable_offset_until_its_marker_is_replicated():
    t = ProducerStateTable()
    txn_data(t, 1, 0, 0, base=5)
    t.record_marker(1, 0, 0, True, 9)
    assert t.first_unstable_offset is None
    assert t.unstable_bound(high_watermark=9) == 5  # the marker itself is not below the HW yet
    assert t.unstable_bound(high_watermark=10) is None
    assert t.unstable_bound(high_watermark=9) is None  # once passed, forgotten


def test_an_empty_transaction_or_a_retried_marker_ends_nothing_but_is_recorded():
    t = ProducerStateTable()
    assert t.record_marker(4, 2, 5, False, 0) is None  # producer never wrote here
    assert t.get(4).epoch == 2 and t.get(4).coordinator_epoch == 5 and t.get(4).batches == ()
    txn_data(t, 4, 2, 0, base=1)
    assert t.record_marker(4, 2, 5, True, 3) is not None
    assert t.record_marker(4, 2, 5, True, 4) is None  # the coordinator retried it


def test_describe_producers_answers_from_the_table():
    t = ProducerStateTable()
    t.record(9, 1, 0, 3, 0, 2, timestamp=500)
    txn_data(t, 2, 0, 0, base=3)
    t.record_marker(7, 4, 3, True, 5, timestamp=900)
    assert t.producer_infos() == [
        ProducerInfo(2, 0, 1, -1, -1, 3),
        ProducerInfo(7, 4, -1, 900, 3, -1),
        ProducerInfo(9, 1, 2, 500, -1, -1),
    ]


# -- what a leader refuses ------------------------------------------------------------------------
def test_a_non_transactional_write_during_an_open_transaction_is_invalid_txn_state():
    t = ProducerStateTable()
    txn_data(t, 1, 0, 0, base=0)
    with pytest.raises(InvalidTxnState, match="transaction open here since offset 0"):
        t.check(1, 0, 2, 1)
    assert t.check(1, 0, 2, 1, is_transactional=True) is None
    assert t.check(1, 0, 0, 2, is_transactional=True) is not None  # a retry is still a duplicate
    t.record_marker(1, 0, 0, True, 2)
    assert t.check(1, 0, 2, 1) is None  # after the marker, plain idempotent writes are fine


def test_markers_from_a_zombie_coordinator_are_fenced():
    t = ProducerStateTable()
    txn_data(t, 1, 0, 0, base=0)
    t.check_marker(1, 0, coordinator_epoch=4)
    t.record_marker(1, 0, 4, False, 2)
    with pytest.raises(TransactionCoordinatorFenced, match="coordinator epoch 3"):
        t.check_marker(1, 0, coordinator_epoch=3)
    t.check_marker(1, 0, coordinator_epoch=4)  # the same coordinator retrying
    t.check_marker(1, 0, coordinator_epoch=5)
    t.check_marker(99, 0, coordinator_epoch=0)  # unknown producer: nothing to compare with


def test_a_marker_with_an_older_producer_epoch_is_refused():
    t = ProducerStateTable()
    txn_data(t, 1, 3, 0, base=0)
    with pytest.raises(InvalidProducerEpoch, match="epoch 2, older than its epoch 3"):
        t.check_marker(1, 2, 0)


def test_a_marker_with_a_newer_epoch_fences_the_old_producer():
    t = ProducerStateTable()
    txn_data(t, 1, 0, 0, base=0)
    t.check_marker(1, 1, 0)
    assert t.record_marker(1, 1, 0, False, 2) == CompletedTxn(1, 0, 2, True)
    assert t.get(1).epoch == 1 and t.get(1).batches == ()
    with pytest.raises(InvalidProducerEpoch):
        t.check(1, 0, 2, 1, is_transactional=True)  # the zombie's next batch
    with pytest.raises(OutOfOrderSequence, match="expected sequence 0, got 2"):
        t.check(1, 1, 2, 1, is_transactional=True)
    assert t.check(1, 1, 0, 1, is_transactional=True) is None


def test_a_coordinators_batch_without_sequence_is_checked_for_epoch_and_transaction_only():
    t = ProducerStateTable()
    assert t.check(5, 0, -1, 1, is_transactional=True) is None
    t.record(5, 0, -1, 1, 0, 0, is_transactional=True)
    assert t.get(5).txn_first_offset == 0 and t.get(5).batches == ()
    assert t.check(5, 0, -1, 1, is_transactional=True) is None  # no sequence, so no duplicate
    with pytest.raises(InvalidTxnState):
        t.check(5, 0, -1, 1)
    t.record_marker(5, 1, 0, True, 1)
    with pytest.raises(InvalidProducerEpoch):
        t.check(5, 0, -1, 1, is_transactional=True)


def test_recording_follows_the_log_without_refusing():
    """A follower or a replay records what the leader wrote, even what a leader would
    now refuse; the coordinator epoch never goes back."""
    t = ProducerStateTable()
    t.record_marker(1, 2, 7, True, 0)
    t.record_marker(1, 1, 6, True, 1)
    assert (t.get(1).epoch, t.get(1).coordinator_epoch) == (2, 7)
    t.record(1, 1, 0, 1, 2, 2, is_transactional=True)  # an old epoch's batch still opens its transaction
    assert t.first_unstable_offset == 2


def test_producers_with_an_open_transaction_are_never_evicted():
    t = ProducerStateTable(max_producers=2)
    txn_data(t, 1, 0, 0, base=0)
    t.record(2, 0, 0, 1, 2, 2)
    t.record(3, 0, 0, 1, 3, 3)
    assert t.get(1) is not None and t.get(2) is None and t.get(3) is not None
    txn_data(t, 3, 0, 1, base=4)
    t.record(4, 0, 0, 1, 6, 6)
    assert len(t) == 3 and t.get(4) is not None  # nothing evictable: the bound waits
    t.record_marker(1, 0, 0, True, 7)
    t.record(5, 0, 0, 1, 8, 8)
    assert t.get(1) is None and t.first_unstable_offset == 4


def test_snapshot_json_keeps_open_transactions_and_coordinator_epochs():
    t = ProducerStateTable()
    txn_data(t, 1, 0, 0, base=10)
    txn_data(t, 2, 0, 0, base=4)
    t.record_marker(3, 2, 9, False, 12, timestamp=77)
    back = ProducerStateTable.from_json(t.to_json())
    assert back.to_json() == t.to_json()
    assert back.first_unstable_offset == 4 and back.get(3).coordinator_epoch == 9
    back.record_marker(2, 0, 0, True, 13)
    assert back.first_unstable_offset == 10
    with pytest.raises(TransactionCoordinatorFenced):
        back.check_marker(3, 2, 8)


def test_version_1_snapshot_entries_still_load():
    back = ProducerStateTable.from_json([[5, 0, [[0, 1, 0, 1]]], [9, 3, [[0, 0, 2, 2]]]])
    assert back.get(5).next_seq == 2 and back.get(9).epoch == 3
    assert back.first_unstable_offset is None and back.get(9).coordinator_epoch == -1


# -- compaction rules for transactions ------------------------------------------------------------
def ref(base: int, pid: int, n: int = 1, *, txn: bool = True, marker: bool | None = None) -> BatchRef:
    recs = tuple(RecordRef(base + i, b"k", False) for i in range(n))
    return BatchRef(base, base + n - 1, 0, 0, 0, pid, recs, is_control=marker is not None,
                    is_transactional=txn, marker=marker)


def test_the_batches_of_an_aborted_transaction_are_told_apart():
    c = TxnCleaning([TxnIndexEntry(1, 2, 5, 6)])
    assert not c.is_aborted(ref(0, 1))  # before the aborted range: a committed transaction
    assert c.marker(ref(1, 1, marker=True), expired=True, must_keep=False)[0] is False
    assert c.is_aborted(ref(2, 1))
    assert not c.is_aborted(ref(3, 2))  # another producer, interleaved
    assert not c.is_aborted(ref(4, 1, txn=False))
    assert c.marker(ref(5, 1, marker=False), expired=True, must_keep=False) == (False, None)
    assert not c.is_aborted(ref(6, 1))  # its next transaction


def test_a_marker_stays_while_data_of_its_transaction_is_kept_or_retention_has_not_passed():
    entry = TxnIndexEntry(1, 0, 2, 3)
    c = TxnCleaning([entry])
    c.is_aborted(ref(0, 1))
    c.kept(ref(0, 1))  # e.g. the producer's last batch below the limit, kept as a header
    assert c.marker(ref(2, 1, marker=False), expired=True, must_keep=False) == (True, entry)
    c.kept(ref(3, 1))
    assert c.marker(ref(4, 1, marker=True), expired=True, must_keep=False) == (True, None)
    assert c.marker(ref(5, 1, marker=True), expired=False, must_keep=False) == (True, None)
    assert c.marker(ref(6, 1, marker=True), expired=True, must_keep=True) == (True, None)
    assert c.marker(ref(7, 1, marker=True), expired=True, must_keep=False) == (False, None)
