"""The metadata quorum takes a snapshot once the entries since the last one hold
snapshot_bytes (Kafka's metadata.log.max.record.bytes.between.snapshots), not only after
thousands of entries or minutes: at thousands of partitions a few hundred entries held
hundreds of MB, all replayed in one turn of the Raft thread at every start."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

from kraft.metadata.records import MetadataBatch, PartitionRecord, TopicRecord, encode_batch
from kraft.quorum.raft import RaftQuorum
from kraft.quorum.raft_files import RAFT_DIR, SNAPSHOT

HOST = "127.0.0.1"
BOUND_S = 60.0  # a busy machine's ticks, many times over; the library's own timer is 300 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def topic_batch(name: str, partitions: int) -> str:
    topic_id = uuid.uuid4().hex
    records = [TopicRecord(name=name, topic_id=topic_id)]
    records += [PartitionRecord(topic_id=topic_id, partition=p, replicas=(1, 2, 3), isr=(1, 2, 3), leader=1)
                for p in range(partitions)]
    return encode_batch(MetadataBatch(controller_epoch=0, records=tuple(records)))


async def until(check, bound_s: float = BOUND_S) -> bool:
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def test_a_snapshot_follows_the_bytes_written_not_the_entry_count(tmp_path):
    voters = {1: f"{HOST}:{free_port()}"}
    batches = [topic_batch(f"t{i}", 300) for i in range(10)]
    per_batch = len(batches[0])
    assert per_batch > 25_000  # each entry is large, as at thousands of partitions
    # entries alone would take 10,000; the bytes of four of these entries are enough
    quorum = RaftQuorum(1, voters, tmp_path, "a-raft-password", source_host=None,
                        snapshot_every=10_000, snapshot_bytes=4 * per_batch)
    snapshot = tmp_path / RAFT_DIR / SNAPSHOT
    quorum.start()
    try:
        assert await until(quorum.is_leader)
        for batch in batches[:3]:
            assert (await quorum.propose(batch, timeout_s=BOUND_S)).ok
        await asyncio.sleep(1.0)  # ticks pass: three entries' bytes take no snapshot
        assert not snapshot.exists()
        for batch in batches[3:]:
            assert (await quorum.propose(batch, timeout_s=BOUND_S)).ok
        assert await until(snapshot.exists), "no snapshot after ten large entries"
    finally:
        quorum.stop()
    again = RaftQuorum(1, voters, tmp_path, "a-raft-password", source_host=None,
                       snapshot_every=10_000, snapshot_bytes=4 * per_batch)
    again.start()
    try:  # the snapshot and the journal after it hold every topic
        assert await until(lambda: len(again.state_machine.image.topics) == len(batches))
    finally:
        again.stop()
