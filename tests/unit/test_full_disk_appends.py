"""Appends on a filesystem that runs out of space (a real tmpfs; needs root): a failed
append leaves no torn batch or index entry, and appends go on once there is room."""
from __future__ import annotations

import errno
import os

import pytest

from kraft.server import small_disks
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, decode_all
from kraft.storage.sparse_index import OFFSET_ENTRY

DISKS_OK, DISKS_WHY = small_disks.available()
pytestmark = pytest.mark.skipif(not DISKS_OK, reason=f"small disks unavailable: {DISKS_WHY}")


@pytest.fixture
def small_disk(tmp_path):
    path = tmp_path / "disk"
    small_disks.mount(path, 1)
    yield path
    small_disks.unmount(path)


def test_append_that_hits_enospc_leaves_the_log_whole(small_disk):
    config = LogConfig(segment_bytes=256 * 1024, index_interval_bytes=512, segment_ms=None)
    log = PartitionLog.open(small_disk / "t-0", config)
    value = os.urandom(3000)
    appended = 0
    with pytest.raises(OSError) as failure:
        for _ in range(10_000):
            log.append([Record(None, value, (), 0)] * 3, leader_epoch=0)
            appended += 3
    assert failure.value.errno == errno.ENOSPC
    assert log.log_end_offset == appended
    active = log.segments[-1]
    assert active.log.path.stat().st_size == active.size  # no torn batch behind the log's end
    assert active.offset_index.path.stat().st_size == len(active.offset_index) * OFFSET_ENTRY.size
    assert [r.offset for r in decode_all(log.read(0, 10**9))] == list(range(appended))
    log.close(clean=False)  # as after kill -9: recovery walks the newest segment
    reopened = PartitionLog.open(small_disk / "t-0", config)
    assert reopened.log_end_offset == appended and reopened.damage == ()
    reopened.truncate_to(appended - 30)  # room again
    reopened.append([Record(None, b"after", (), 0)], leader_epoch=0)
    records = decode_all(reopened.read(appended - 31, 10**9))
    assert [(r.offset, r.value) for r in records][-1] == (appended - 30, b"after")
    reopened.close()
