"""Drop-behind: a log keeps only its newest bytes in the page cache, data untouched.

Resident pages are counted with mincore(2) on the real segment file.
"""
from __future__ import annotations

import ctypes
import itertools
import mmap
import os

import pytest

from kraft.storage.log_config import LogConfig
from kraft.storage.log_file import CACHE_WINDOW_BYTES, LogFile
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record
from kraft.storage.record_batch import decode_records, iter_batches

MiB = 1024 * 1024
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]


def resident_bytes(path) -> int:
    """How much of the file is in the page cache right now."""
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vec = (ctypes.c_ubyte * pages)()
            assert _libc.mincore(addr, size, vec) == 0, ctypes.get_errno()
            return sum(v & 1 for v in vec) * mmap.PAGESIZE
        finally:
            _libc.munmap(addr, size)
    finally:
        os.close(fd)


def big_batch(i: int) -> list[Record]:
    return [Record(b"k%d" % i, bytes([i % 251]) * 100_000, (), 1_700_000_000_000 + i)]


def test_cold_ranges_cover_everything_but_the_newest_window_once_per_window(tmp_path):
    f = LogFile(tmp_path / "x.log")
    window = 1000
    handed, cold_end = [], 0
    for _ in range(100):
        f.append(b"z" * 170)
        cold = f.cold_range(window)
        assert (cold is not None) == (f.size - cold_end >= 2 * window)  # once per window
        if cold is not None:
            assert cold[1] == f.size - window  # the newest window stays
            handed.append(cold)
            cold_end = cold[1]
    assert len(handed) >= 7 and handed[0][0] == 0
    for (_, e1), (s2, e2) in itertools.pairwise(handed):
        assert s2 == max(0, e1 - window) and e2 > e1  # contiguous, one window again
    # a truncation below what was handed starts over from there
    f.truncate(500)
    f.append(b"z" * 3 * window)
    assert f.cold_range(window) == (0, 500 + 3 * window - window)
    f.close()


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is Linux/Unix only")
def test_appends_keep_only_the_newest_bytes_cached_and_every_record_reads_back(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=512 * MiB))
    drops = []
    log.drop_cold_pages_with(lambda f, start, end: drops.append((f, start, end)))
    batches = 400  # 40 MB in one segment, five windows
    for i in range(batches):
        log.append(big_batch(i), leader_epoch=0)
    log.flush()  # pages now clean, so advice can drop them all
    for f, start, end in drops:
        f.drop_cached(start, end)
    path = log.segments[-1].log.path
    size = os.path.getsize(path)
    assert size > 4 * CACHE_WINDOW_BYTES
    assert drops, "no cold range was handed over"
    # all but the newest two windows left the cache (pages written after the last
    # hand-over stay too); without the drops the whole file would be resident
    assert resident_bytes(path) <= 2 * CACHE_WINDOW_BYTES + 64 * 1024
    offset, seen = 0, 0
    while offset < log.log_end_offset:  # read back from disk: nothing was lost
        data = log.read(offset, MiB)
        for pos, header in iter_batches(data):
            (rec,) = decode_records(data[pos:pos + header.size])
            assert rec.value == bytes([header.base_offset % 251]) * 100_000
            seen += 1
            offset = header.next_offset
    assert seen == batches
    log.close()


def test_a_log_without_an_owner_hands_nothing_over(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=512 * MiB))
    for i in range(200):
        log.append(big_batch(i), leader_epoch=0)
    log.flush()
    path = log.segments[-1].log.path
    assert resident_bytes(path) >= os.path.getsize(path) - MiB  # the kernel keeps it all
    log.close()
