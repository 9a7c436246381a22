"""The scrubber on real segment files: finds damage, notes it on the log, keeps its rate."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from kraft.replication.scrubber import Scrubber
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, iter_batches

CONFIG = LogConfig(segment_bytes=256 * 1024, index_interval_bytes=4096, segment_ms=None)


class Replica:  # what the scrubber reads of a replica: its log and its name
    def __init__(self, log):
        self.log, self.topic, self.partition = log, "t", 0


def filled(path, megabytes: float) -> PartitionLog:
    log = PartitionLog.open(path, CONFIG)
    value = os.urandom(1000)
    for _ in range(int(megabytes * 1000 / 50)):
        log.append([Record(None, value, (), 0)] * 50, leader_epoch=0)
    return log


def test_scrub_pass_finds_a_flipped_byte_and_notes_it_on_the_log(tmp_path):
    log = filled(tmp_path, 1.5)
    segment = log.segments[2]
    position, header = list(iter_batches(segment.log.path.read_bytes()))[3]
    fd = os.open(segment.log.path, os.O_WRONLY)
    os.pwrite(fd, b"\xff\x00\xff", position + 500)
    os.close(fd)
    scrubber = Scrubber(lambda: [Replica(log)], rate_mb_s=1000, interval_s=1)
    asyncio.run(scrubber.scrub_pass())
    assert [(d.start, d.end) for d in log.damage] == [(header.base_offset, header.next_offset)]
    assert scrubber.progress.damaged_found == 1
    closed = log.segments[:-1]
    assert scrubber.progress.segments_checked == len(closed)
    assert scrubber.progress.bytes_checked == sum(s.size for s in closed)
    asyncio.run(scrubber.scrub_pass())  # found again: not counted twice
    assert scrubber.progress.damaged_found == 1 and len(log.damage) == 1
    log.close()


@pytest.mark.slow  # a long property or timing run: in the default suite, not in `./dev unit`
def test_scrubber_never_reads_faster_than_its_rate(tmp_path):
    log = filled(tmp_path, 3)
    scrubber = Scrubber(lambda: [Replica(log)], rate_mb_s=2, interval_s=1)
    started = time.monotonic()
    asyncio.run(scrubber.scrub_pass())
    elapsed = time.monotonic() - started
    checked = scrubber.progress.bytes_checked
    assert checked > 2_000_000 and not log.damage
    # a lower bound only: a slow machine makes it slower, never faster
    assert elapsed >= checked / 2e6 * 0.9, (checked, elapsed)
    log.close()


def test_a_segment_cut_during_its_walk_is_not_blamed(tmp_path):
    log = filled(tmp_path, 1.5)
    scrubber = Scrubber(lambda: [Replica(log)], rate_mb_s=1, interval_s=1)

    async def cut_soon():
        task = asyncio.create_task(scrubber.scrub_pass())
        await asyncio.sleep(0.3)
        log.truncate_to(log.segments[1].base_offset + 5)  # the walked segments shrink or go
        await task

    asyncio.run(cut_soon())
    assert not log.damage
    log.close()
