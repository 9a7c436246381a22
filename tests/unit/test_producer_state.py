"""Idempotent produce in the partition: the producer table (pure) and the real log that
keeps it: duplicates, gaps, epochs, the last-5 window, and rebuilding it from disk."""
from __future__ import annotations

import pytest

from kraft.storage.log_config import LogConfig
from kraft.errors import InvalidProducerEpoch, OutOfOrderSequence
from kraft.storage.partition_log import PartitionLog
from kraft.storage.producer_snapshots import snapshot_offsets
from kraft.storage.producer_state import BATCHES_KEPT, BatchSeq, ProducerStateTable
from kraft.storage.record_batch import Record, decode_all, encode_batch

SMALL = LogConfig(segment_bytes=1024, index_interval_bytes=128, segment_ms=None)


def recs(n: int, tag: str = "v") -> list[Record]:
    return [Record(None, f"{tag}{i}".encode().ljust(30, b"."), (), 1000 + i) for i in range(n)]


def produced(pid: int, epoch: int, seq: int, n: int = 2, tag: str = "v") -> bytes:
    """A batch as the API's data plane builds it (offsets are stamped by the leader)."""
    return encode_batch(recs(n, tag), 0, -1, pid, epoch, seq)


def values(log: PartitionLog) -> list[bytes]:
    return [r.value for r in decode_all(log.read(log.log_start_offset, 10**9))]


# -- the table alone -------------------------------------------------------------------------
def test_first_batch_then_in_order_batches_are_accepted():
    t = ProducerStateTable()
    assert t.check(7, 0, 0, 3) is None
    t.record(7, 0, 0, 3, 0, 2)
    assert t.check(7, 0, 3, 1) is None
    t.record(7, 0, 3, 1, 3, 3)
    assert t.get(7).next_seq == 4


def test_retry_of_a_known_batch_is_a_duplicate_with_its_original_offsets():
    t = ProducerStateTable()
    t.record(7, 0, 0, 3, 10, 12)
    t.record(7, 0, 3, 2, 20, 21)
    assert t.check(7, 0, 0, 3) == BatchSeq(0, 2, 10, 12)
    assert t.check(7, 0, 3, 2) == BatchSeq(3, 4, 20, 21)


def test_gap_overlap_and_unknown_producer_are_out_of_order():
    t = ProducerStateTable()
    with pytest.raises(OutOfOrderSequence, match="unknown here .* must be 0, got 5"):
        t.check(7, 0, 5, 1)
    t.record(7, 0, 0, 3, 0, 2)
    with pytest.raises(OutOfOrderSequence, match="^OUT_OF_ORDER_SEQUENCE_NUMBER: .*expected sequence 3, got 4"):
        t.check(7, 0, 4, 1)  # gap
    with pytest.raises(OutOfOrderSequence, match="expected sequence 3, got 2"):
        t.check(7, 0, 2, 2)  # overlaps the last batch without being it
    with pytest.raises(OutOfOrderSequence):
        t.check(7, 0, 0, 2)  # same start, other length: not a retry of the same batch


def test_stale_epoch_is_refused_and_a_new_epoch_starts_at_zero():
    t = ProducerStateTable()
    t.record(7, 1, 0, 2, 0, 1)
    with pytest.raises(InvalidProducerEpoch, match="^INVALID_PRODUCER_EPOCH: .*epoch 0 is stale"):
        t.check(7, 0, 2, 1)
    with pytest.raises(OutOfOrderSequence, match="begins epoch 2"):
        t.check(7, 2, 2, 1)
    assert t.check(7, 2, 0, 1) is None
    t.record(7, 2, 0, 1, 2, 2)
    assert t.get(7).epoch == 2 and t.get(7).batches == (BatchSeq(0, 0, 2, 2),)
    with pytest.raises(InvalidProducerEpoch):
        t.check(7, 1, 2, 1)


def test_only_the_last_five_batches_are_remembered():
    t = ProducerStateTable()
    for i in range(BATCHES_KEPT + 2):
        t.record(7, 0, i, 1, i, i)
    assert [b.first_seq for b in t.get(7).batches] == list(range(2, BATCHES_KEPT + 2))
    assert t.check(7, 0, 2, 1) == BatchSeq(2, 2, 2, 2)
    with pytest.raises(OutOfOrderSequence):
        t.check(7, 0, 1, 1)  # older than the window: cannot be told from a reordering


def test_sequences_wrap_after_int32_max():
    t = ProducerStateTable()
    t.record(7, 0, 0, 1, 0, 0)
    t.record(7, 0, 1, 2**31 - 2, 1, 2**31 - 2)  # last seq INT32_MAX - 1 ... then 2 more
    assert t.check(7, 0, 2**31 - 1, 3) is None
    t.record(7, 0, 2**31 - 1, 3, 2**31 - 1, 2**31 + 1)
    assert t.get(7).batches[-1] == BatchSeq(2**31 - 1, 1, 2**31 - 1, 2**31 + 1)
    assert t.check(7, 0, 2, 1) is None


def test_non_idempotent_batches_are_not_tracked():
    t = ProducerStateTable()
    assert t.check(-1, -1, -1, 5) is None
    t.record(-1, -1, -1, 5, 0, 4)
    assert len(t) == 0


def test_least_recently_appended_producers_are_evicted_beyond_the_bound():
    t = ProducerStateTable(max_producers=3)
    for pid in (1, 2, 3):
        t.record(pid, 0, 0, 1, pid, pid)
    t.record(1, 0, 1, 1, 4, 4)  # 1 appended again: 2 is now the oldest
    t.record(4, 0, 0, 1, 5, 5)
    assert t.get(2) is None and all(t.get(p) for p in (1, 3, 4))


def test_json_round_trip_keeps_order_and_refuses_garbage():
    t = ProducerStateTable()
    t.record(5, 0, 0, 2, 0, 1)
    t.record(9, 3, 0, 1, 2, 2)
    t.record(5, 0, 2, 1, 3, 3)
    back = ProducerStateTable.from_json(t.to_json())
    assert back.to_json() == t.to_json() and list(back._entries) == [9, 5]
    for bad in ([[1, 0, []]], [[1, 0, [[1, 2, 3]]]], [["x", 0, [[0, 0, 0, 0]]]], [1]):
        with pytest.raises((ValueError, TypeError)):
            ProducerStateTable.from_json(bad)


# -- in the partition log -----------------------------------------------------------------------
def test_log_answers_a_retry_with_the_original_offsets_and_writes_it_once(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    assert log.append(produced(3, 0, 0, tag="a"), 1) == (0, 1)
    assert log.append(recs(2, "plain"), 1) == (2, 3)
    assert log.append(produced(3, 0, 2, tag="b"), 1) == (4, 5)
    assert log.append(produced(3, 0, 0, tag="a"), 1) == (0, 1)  # retried: not written again
    assert log.append(produced(3, 0, 2, tag="b"), 1) == (4, 5)
    assert log.log_end_offset == 6 and len(values(log)) == 6
    with pytest.raises(OutOfOrderSequence):
        log.append(produced(3, 0, 9), 1)
    assert log.log_end_offset == 6
    # the records path (not bytes) is checked the same way
    assert log.append(recs(1, "r"), 1, producer_id=4, producer_epoch=0, base_sequence=0) == (6, 6)
    assert log.append(recs(1, "r"), 1, producer_id=4, producer_epoch=0, base_sequence=0) == (6, 6)
    log.close()


def test_follower_appends_teach_the_table_so_a_new_leader_knows(tmp_path):
    leader = PartitionLog.open(tmp_path / "leader", SMALL)
    follower = PartitionLog.open(tmp_path / "follower", SMALL)
    leader.append(produced(3, 0, 0), 1)
    leader.append(produced(3, 0, 2), 1)
    follower.append_as_follower(leader.read(0, 10**6))
    assert follower.append(produced(3, 0, 2), 2) == (2, 3)  # now leading: a retry is known
    assert follower.log_end_offset == 4
    leader.close()
    follower.close()


def _fill_rolling(log: PartitionLog, batches: int) -> None:
    """Batches from two producers over several segments (SMALL rolls every ~7 batches)."""
    for i in range(batches):
        pid = 1 if i % 2 == 0 else 2
        log.append(produced(pid, 0, (i // 2) * 2, tag=f"{i}-"), 1)


@pytest.mark.parametrize("clean", [True, False])
def test_table_is_rebuilt_when_a_real_log_reopens(tmp_path, clean):
    log = PartitionLog.open(tmp_path, SMALL)
    _fill_rolling(log, 30)
    assert len(log.segments) > 2 and snapshot_offsets(tmp_path)
    before = log.producers.to_json()
    log.close(clean=clean)  # clean: snapshot at the log end; kill -9: the last roll's + replay
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.producers.to_json() == before
    end = reopened.log_end_offset
    assert reopened.append(produced(1, 0, 26, tag="26-"), 1)[0] < end  # retry of batch 26
    assert reopened.log_end_offset == end
    with pytest.raises(OutOfOrderSequence):
        reopened.append(produced(2, 0, 40), 1)
    reopened.close()


def test_table_is_rebuilt_from_headers_when_every_snapshot_is_gone_or_torn(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    _fill_rolling(log, 30)
    before = log.producers.to_json()
    log.close()
    offsets = snapshot_offsets(tmp_path)
    (tmp_path / f"{offsets[-1]:020d}.producer").write_bytes(b'{"version": 1, "offs')  # torn
    for o in offsets[:-1]:
        (tmp_path / f"{o:020d}.producer").unlink()
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.producers.to_json() == before
    assert snapshot_offsets(tmp_path) == []  # the torn one was dropped
    reopened.close()


def test_truncation_forgets_the_cut_batches_and_keeps_the_rest(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    _fill_rolling(log, 30)  # producer 1 wrote batches 0, 2, 4, ...; each batch is 2 records
    log.truncate_to(20)  # keeps batches 0..9: producer 1 up to seq 9, producer 2 up to seq 9
    assert all(o <= 20 for o in snapshot_offsets(tmp_path))
    assert log.producers.get(1).next_seq == 10 and log.producers.get(2).next_seq == 10
    # a batch that was cut is new again: appended, at the log end
    assert log.append(produced(1, 0, 10, tag="again"), 2) == (20, 21)
    assert log.append(produced(1, 0, 8, tag="8-"), 2) == (16, 17)  # still known: a retry
    log.close(clean=False)
    reopened = PartitionLog.open(tmp_path, SMALL)
    assert reopened.producers.get(1).next_seq == 12
    reopened.truncate_fully_and_start_at(100)
    assert len(reopened.producers) == 0 and snapshot_offsets(tmp_path) == []
    reopened.close()


def test_retention_keeps_the_table_and_only_current_snapshots(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    _fill_rolling(log, 30)
    before = log.producers.to_json()
    assert log.apply_retention(now_ms=10**12, retention_ms=1) > 0
    assert all(o >= log.log_start_offset for o in snapshot_offsets(tmp_path))
    assert log.producers.to_json() == before
    log.close()
    assert PartitionLog.open(tmp_path, SMALL).producers.to_json() == before


def test_a_batch_compaction_trimmed_keeps_its_whole_sequence_range():
    """The range comes from lastOffsetDelta, not the record count, as in Kafka."""
    from kraft.storage.record_batch import BatchHeader
    header = BatchHeader.parse(encode_batch(recs(4), 10, 1, 7, 0, 0))
    t = ProducerStateTable()
    t.record_header(header._replace(record_count=1))  # 3 of its 4 records compacted away
    assert t.get(7).batches == (BatchSeq(0, 3, 10, 13),) and t.check(7, 0, 4, 1) is None
