"""Partition log throughput: append and read MB/s with 1 KiB records, 100 per batch.

    .venv/bin/python bench/log_bench.py [--mib 64] [--repeats 3] [--dir /path]

Rows: leader append (encodes the records), follower append (stores ready-made
batch bytes, as replication does) and a read of the whole log from offset 0 in
1 MiB fetches. Each run uses a fresh directory; the read hits the page cache.
Default flush policy (no fsync on append), fsync on roll and close.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import Record, encode_batch, iter_batches

RECORD_BYTES = 1024
PER_BATCH = 100
FETCH_BYTES = 1024 * 1024
CONFIG = LogConfig(segment_bytes=64 * 1024 * 1024)


def make_batches(total_bytes: int) -> list[list[Record]]:
    count = max(1, total_bytes // (RECORD_BYTES * PER_BATCH))
    payload = os.urandom(RECORD_BYTES)
    return [
        [Record(b"key-%d" % j, payload, (), 1_700_000_000_000 + i) for j in range(PER_BATCH)]
        for i in range(count)
    ]


def timed(run: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    written = run()
    return time.perf_counter() - start, written


def bench_once(base_dir: str, batches: list[list[Record]], encoded: list[bytes]) -> dict[str, float]:
    results = {}
    leader_dir = tempfile.mkdtemp(dir=base_dir)
    log = PartitionLog.open(leader_dir, CONFIG)

    def leader_append() -> int:
        for records in batches:
            log.append(records, leader_epoch=0)
        log.flush()
        return log.size_bytes

    seconds, size = timed(leader_append)
    results["append (records)"] = size / seconds

    def read_all() -> int:
        offset, total = 0, 0
        while offset < log.log_end_offset:
            data = log.read(offset, FETCH_BYTES)
            total += len(data)
            *_, (_, last) = iter_batches(data)  # headers only: where the next fetch starts
            offset = last.next_offset
        return total

    seconds, size = timed(read_all)
    results["read from 0"] = size / seconds
    log.close()

    follower_dir = tempfile.mkdtemp(dir=base_dir)
    follower = PartitionLog.open(follower_dir, CONFIG)

    def follower_append() -> int:
        for data in encoded:
            follower.append_as_follower(data)
        follower.flush()
        return follower.size_bytes

    seconds, size = timed(follower_append)
    results["append_as_follower (bytes)"] = size / seconds
    follower.close()
    shutil.rmtree(leader_dir)
    shutil.rmtree(follower_dir)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64, help="data written per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to put the logs (default: system temp)")
    args = parser.parse_args()

    batches = make_batches(args.mib * 1024 * 1024)
    offset, encoded = 0, []
    for records in batches:
        encoded.append(encode_batch(records, offset, 0))
        offset += len(records)
    base_dir = tempfile.mkdtemp(prefix="log-bench-", dir=args.dir)
    try:
        runs = [bench_once(base_dir, batches, encoded) for _ in range(args.repeats)]
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)

    mb = 1_000_000
    print(f"{len(batches)} batches x {PER_BATCH} records x {RECORD_BYTES} B "
          f"({len(batches) * PER_BATCH * RECORD_BYTES / mb:.0f} MB payload), {args.repeats} runs")
    print(f"{'operation':<28} {'median MB/s':>12} {'min':>8} {'max':>8} {'spread':>8}")
    for name in runs[0]:
        rates = [run[name] / mb for run in runs]
        median = statistics.median(rates)
        spread = (max(rates) - min(rates)) / median * 100
        print(f"{name:<28} {median:>12.1f} {min(rates):>8.1f} {max(rates):>8.1f} {spread:>7.1f}%")


if __name__ == "__main__":
    main()
