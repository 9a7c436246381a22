"""A broker opening its logs after a crash keeps its event loop free: recovering a large
newest segment walks every batch, and meanwhile the node must go on heartbeating (or
the controller fences it) and serving its followers' fetches."""

from __future__ import annotations

import asyncio
import time

from kraft.replication.replica_manager import ReplicaManager
from kraft.storage import partition_dir
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record

CONFIGS = {"segment.bytes": str(1 << 30)}


def crashed_log_with_many_batches(root, batches: int) -> None:
    path = partition_dir.prepare(root, "t", 0, "topic-id").path
    log = PartitionLog.open(path)
    for i in range(batches):
        log.append([Record(None, b"v%d" % i, (), i)], leader_epoch=i // 1000)
    log.close(clean=False)  # killed: the next open recovers the segment batch by batch


def test_the_event_loop_keeps_running_while_a_crashed_log_recovers(tmp_path):
    manager = ReplicaManager(1, tmp_path / "node", lambda topic: CONFIGS, 5000, None, None)
    crashed_log_with_many_batches(manager.root, 40_000)

    async def open_while_ticking():
        ticks = 0
        opening = True

        async def ticker():  # stands in for the heartbeat and fetch-serving tasks
            nonlocal ticks
            while opening:
                await asyncio.sleep(0.005)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        replica = await manager.roles.open_replica("t", "topic-id", 0)
        took = time.monotonic() - started
        opening = False
        await task
        return replica, ticks, took

    replica, ticks, took = asyncio.run(open_while_ticking())
    assert replica.log.log_end_offset == 40_000
    assert manager.replica("t", 0) is replica
    # On the event loop the open would leave the ticker no turn at all until it ended (0
    # ticks); a worker thread shares the GIL with it, so how many turns it gets depends on
    # the machine's load, not asserted beyond "several".
    assert ticks >= 3, (ticks, took)
    replica.log.close()
