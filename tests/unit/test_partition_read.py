"""The one read (replication/partition_read.py) on real logs: each reader's bound, the
KIP-320 check for followers and consumers, whole first batches, read_committed's aborted
transactions, and the REST read's long poll waiting for the high watermark."""

from __future__ import annotations

import asyncio
import time

import pytest

from kraft.errors import OffsetOutOfRange
from kraft.metadata.image import PartitionRegistration
from kraft.replication.partition_read import Diverging, ReadRequest
from kraft.replication.partition_replica import PartitionReplica
from kraft.replication.read_bounds import Isolation
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_all, encode_batch

REPLICA, UNCOMMITTED, COMMITTED = Isolation.REPLICA, Isolation.UNCOMMITTED, Isolation.COMMITTED


def leader(tmp_path, epoch=1) -> PartitionReplica:
    r = PartitionReplica(1, "t", "tid", 0, PartitionLog.open(tmp_path / "leader"), 0)
    r.apply_registration(PartitionRegistration((1, 2), (1, 2), 1, epoch, epoch), 0)
    return r


def produce(r: PartitionReplica, n: int, size: int = 10, pid: int = -1, txn: bool = False) -> None:
    for i in range(n):
        if txn:
            batch = encode_batch([Record(None, b"t" * size)], 0, -1, pid, 0, i, is_transactional=True)
        else:
            batch = encode_batch([Record(None, f"{i}".encode().ljust(size, b"."))], 0, -1)
        r.append(batch, False)


def follower_caught_up_to(r: PartitionReplica, offset: int) -> None:
    """Follower 2 fetched from `offset`: the HW moves there (ISR 1, 2)."""
    plan = r.plan_read(ReadRequest(offset, 1 << 20, REPLICA))
    r.leader.on_follower_fetch(2, offset, 0, -1)  # type: ignore[union-attr]
    assert plan.diverging is None


def offsets(data: bytes) -> list[int]:
    return [rec.offset for rec in decode_all(data)]


def test_each_reader_reads_to_its_own_bound(tmp_path):
    r = leader(tmp_path)
    produce(r, 5)
    follower_caught_up_to(r, 3)  # HW 3, log end 5
    replica = r.take(r.plan_read(ReadRequest(0, 1 << 20, REPLICA)))
    consumer = r.take(r.plan_read(ReadRequest(0, 1 << 20, UNCOMMITTED)))
    assert offsets(replica.records) == [0, 1, 2, 3, 4]
    assert offsets(consumer.records) == [0, 1, 2]
    # past the HW but within the log: nothing yet, not out of range (it waits, as in Kafka)
    waiting = r.plan_read(ReadRequest(4, 1 << 20, UNCOMMITTED))
    assert not waiting.has_records and r.take(waiting).size == 0
    for outside in (6, -1):
        with pytest.raises(OffsetOutOfRange):
            r.plan_read(ReadRequest(outside, 1 << 20, UNCOMMITTED))


def test_a_first_batch_larger_than_the_budget_comes_whole(tmp_path):
    r = leader(tmp_path)
    produce(r, 3, size=500)
    follower_caught_up_to(r, 3)
    plan = r.plan_read(ReadRequest(0, 1 << 20, UNCOMMITTED))
    assert offsets(r.take(plan, max_bytes=10).records) == [0]
    slices = r.take(plan, max_bytes=10, as_slices=True)
    try:
        assert len(slices.slices) == 1 and slices.size == len(r.take(plan, max_bytes=10).records)
    finally:
        for part in slices.slices:
            part.close()


def test_read_committed_stops_at_the_open_transaction_and_names_aborted_ones(tmp_path):
    r = leader(tmp_path)
    produce(r, 2, pid=7, txn=True)  # offsets 0-1: a transaction of producer 7
    r.append_marker(7, 0, False, 0)  # aborted at offset 2
    produce(r, 1)  # 3
    produce(r, 1, pid=8, txn=True)  # 4: still open
    follower_caught_up_to(r, 5)
    committed = r.take(r.plan_read(ReadRequest(0, 1 << 20, COMMITTED)))
    assert r.plan_read(ReadRequest(0, 1 << 20, COMMITTED)).end == 4  # the LSO: producer 8's transaction
    assert [(a.producer_id, a.first_offset) for a in committed.aborted] == [(7, 0)]
    assert max(offsets(committed.records)) == 3
    assert r.take(r.plan_read(ReadRequest(0, 1 << 20, UNCOMMITTED))).aborted == []


def test_kip_320_a_reader_past_the_end_of_its_epoch_is_told_where_it_ends(tmp_path):
    r = leader(tmp_path, epoch=1)
    produce(r, 3)
    r.apply_registration(PartitionRegistration((1, 2), (1, 2), 1, 2, 2), 0)  # epoch 2 from offset 3
    produce(r, 2)
    follower_caught_up_to(r, 5)
    # a reader that fetched epoch 1 up to offset 4 diverged: epoch 1 ended at 3 here
    for isolation in (REPLICA, UNCOMMITTED):
        plan = r.plan_read(ReadRequest(4, 1 << 20, isolation, last_fetched_epoch=1))
        assert plan.diverging == Diverging(1, 3) and not plan.has_records
    # within its epoch: no divergence
    assert r.plan_read(ReadRequest(2, 1 << 20, UNCOMMITTED, last_fetched_epoch=1)).diverging is None
    # an epoch newer than this log knows: a follower truncates to the start, a consumer is out of range
    assert r.plan_read(ReadRequest(5, 1 << 20, REPLICA, last_fetched_epoch=9)).diverging == Diverging(-1, 0)
    with pytest.raises(OffsetOutOfRange):
        r.plan_read(ReadRequest(5, 1 << 20, UNCOMMITTED, last_fetched_epoch=9))


def test_the_rest_read_past_the_high_watermark_waits_for_it(tmp_path):
    async def scenario():
        r = leader(tmp_path)
        produce(r, 3)
        follower_caught_up_to(r, 1)
        started = time.monotonic()
        reading = asyncio.create_task(r.read_committed(1, 1 << 20, time.monotonic() + 30))
        await asyncio.sleep(0.05)
        assert not reading.done()  # nothing at 1 is committed yet
        follower_caught_up_to(r, 3)
        r.signal_change()
        taken = await asyncio.wait_for(reading, 10)
        assert offsets(taken.records) == [1, 2] and time.monotonic() - started < 30
        # at the deadline: an empty answer, not an error
        assert (await r.read_committed(3, 1 << 20, time.monotonic() + 0.05)).size == 0
    asyncio.run(scenario())
