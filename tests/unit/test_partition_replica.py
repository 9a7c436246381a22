"""Replica role changes on real logs: divergence truncation and stale fetch answers."""

from __future__ import annotations

from kraft.metadata.image import PartitionRegistration
from kraft.storage.partition_log import PartitionLog
from kraft.replication.partition_replica import PartitionReplica
from kraft.storage.batch_rewrite import filler
from kraft.storage.record import Record
from kraft.replication import fetch_protocol as fp
from kraft.storage.record_batch import decode_all, encode_batch


def replica(tmp_path, broker):
    return PartitionReplica(broker, "t", "tid", 0, PartitionLog.open(tmp_path / f"b{broker}"), 0)


def reg(leader, epoch, isr=(1, 2), partition_epoch=None):
    return PartitionRegistration((1, 2), tuple(isr), leader, epoch,
                                 epoch if partition_epoch is None else partition_epoch)


def produce(r, n):
    for i in range(n):
        r.append(encode_batch([Record(None, f"v{i}".encode())], 0, -1), False)


def fetch(follower, leader, now=0):
    asked = follower.fetch_position()
    data, _ = leader.serve_fetch(follower.broker_id, asked, 1 << 20, now)
    return follower.on_fetched(data, asked, leader.broker_id), data


def test_an_empty_epoch_at_the_log_end_is_dropped_instead_of_looping(tmp_path):
    a, b = replica(tmp_path, 1), replica(tmp_path, 2)
    a.apply_registration(reg(1, 1), 0)
    b.apply_registration(reg(1, 1), 0)
    produce(a, 3)
    fetch(b, a)
    assert b.log.log_end_offset == 3
    # B leads epoch 2 and writes nothing; then A leads again in epoch 3
    b.apply_registration(reg(2, 2), 0)
    a.apply_registration(reg(2, 2), 0)
    a.apply_registration(reg(1, 3), 0)
    b.apply_registration(reg(1, 3), 0)
    assert b.log.latest_epoch == 2  # an epoch the new leader never saw
    _, data = fetch(b, a)
    assert data.diverging_end_offset == 3
    assert b.log.latest_epoch == 1 and b.log.log_end_offset == 3
    produce(a, 2)
    backoff, data = fetch(b, a)  # no more divergence: data flows again
    assert not backoff and data.diverging_end_offset < 0 and b.log.log_end_offset == 5


def test_a_divergent_tail_is_truncated_to_the_leaders_end_of_that_epoch(tmp_path):
    a, b = replica(tmp_path, 1), replica(tmp_path, 2)
    a.apply_registration(reg(1, 1), 0)
    b.apply_registration(reg(1, 1), 0)
    produce(a, 2)
    fetch(b, a)
    produce(a, 3)  # A's unreplicated tail (offsets 2..4)
    a.apply_registration(reg(2, 2), 0)
    b.apply_registration(reg(2, 2), 0)
    produce(b, 1)  # B's epoch 2 writes offset 2
    b_values = [r.value for r in decode_all(b.log.read(0, 1 << 20))]
    a.apply_registration(reg(2, 2), 0)
    fetch(a, b)  # A learns it diverges at 2 and cuts its tail
    assert a.log.log_end_offset == 2
    fetch(a, b)
    assert [r.value for r in decode_all(a.log.read(0, 1 << 20))] == b_values


def test_an_answer_to_an_older_question_is_ignored(tmp_path):
    a, b = replica(tmp_path, 1), replica(tmp_path, 2)
    a.apply_registration(reg(1, 1), 0)
    b.apply_registration(reg(1, 1), 0)
    produce(a, 2)
    stale_question = b.fetch_position()
    stale_answer, _ = a.serve_fetch(2, stale_question, 1 << 20, 0)
    fetch(b, a)  # the log moves on meanwhile
    assert b.log.log_end_offset == 2
    assert b.on_fetched(stale_answer, stale_question, 1) is False  # no InvalidAppend, no change
    assert b.log.log_end_offset == 2
    b.apply_registration(reg(2, 2), 0)  # and from a leader it no longer follows
    assert b.on_fetched(stale_answer, b.fetch_position(), 1) is False


def test_a_follower_inside_a_compacted_run_takes_the_leaders_merged_batch(tmp_path):
    """The leader's cleaner merged emptied batches 0..5 into one record-less batch; a
    follower that holds 0..2 fetches at 3 and is answered with that batch. It must cut
    to 0 and take the batch, not refuse it on every fetch (seen in a 1,000 s chaos run:
    a replica of the compacted topic stuck for good)."""
    a, b = replica(tmp_path, 1), replica(tmp_path, 2)
    a.apply_registration(reg(1, 1), 0)
    b.apply_registration(reg(1, 1), 0)
    produce(a, 3)
    fetch(b, a)
    assert b.log.log_end_offset == 3

    def answer_with_the_merged_batch(high_watermark):
        answer = fp.PartitionData("tid", 0, high_watermark=high_watermark, log_start_offset=0,
                                  log_end_offset=high_watermark, records=filler(0, 5, 1, 0, 0))
        return b.on_fetched(answer, b.fetch_position(), 1)

    assert answer_with_the_merged_batch(7) is False
    assert b.log.log_end_offset == 0 and b.follower_hw == 0
    assert answer_with_the_merged_batch(6) is False
    assert b.log.log_end_offset == 6 and decode_all(b.log.read(0, 1 << 20)) == []
