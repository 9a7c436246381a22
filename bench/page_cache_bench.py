"""Sustained log appends with and without drop-behind (kraft/storage/log_file.py).

    .venv/bin/python bench/page_cache_bench.py [--gib 4] [--pairs 2] [--dir /path]

Each run appends --gib GiB of ready-made 100 KiB batches to a fresh PartitionLog (the
follower path: bytes as they are, 128 MiB segments, rolled segments fsynced by a
worker thread as in the broker) and reports the process CPU time per MB for every
512 MiB slice, and how much the system's page cache grew by the end of the run, once
the worker has finished (Cached in /proc/meminfo; other processes move it too).
Modes alternate: "kernel" (the kernel keeps every written page) and "drop-behind"
(appends hand the bytes behind each segment's newest 8 MiB to a worker thread that
drops them from the page cache). The log is deleted after each run.

What it shows depends on the machine: on the VM this was written on, a write into
fresh page cache costs several times the CPU of a write into recycled pages, so the
kernel mode slows down once a few GiB are cached, and drop-behind does not.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

SLICE = 512 * 1024 * 1024
BATCH_RECORDS = 100


def cached_kib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Cached:"):
                return int(line.split()[1])
    return 0


def batch_and_count(total: int) -> tuple[bytes, int]:
    """One encoded batch, and how many of it make `total` bytes."""
    value = os.urandom(1024)
    one = encode_batch([Record(None, value, (), 1_700_000_000_000)] * BATCH_RECORDS, 0, 0)
    return one, total // len(one)


def run(base: str, mode: str, total: int) -> dict:
    template, count = batch_and_count(total)
    path = tempfile.mkdtemp(dir=base)
    log = PartitionLog.open(path, LogConfig(segment_bytes=128 * 1024 * 1024))
    worker = ThreadPoolExecutor(1)
    log.flush_rolls_with(lambda plog, seg: worker.submit(plog.fsync_sealed, seg))
    if mode == "drop-behind":
        log.drop_cold_pages_with(lambda f, start, end: worker.submit(f.drop_cached, start, end))
    slices, written, offset = [], 0, 0
    cached0 = cached_kib()
    cpu0 = time.process_time()
    for _ in range(count):
        batch = bytearray(template)
        batch[0:8] = offset.to_bytes(8, "big")  # base offset: the follower path checks it
        log.append_as_follower(bytes(batch))
        offset += BATCH_RECORDS
        written += len(batch)
        if written >= (len(slices) + 1) * SLICE:
            cpu = time.process_time()
            slices.append(1000 * (cpu - cpu0) / (SLICE / 1e6))
            cpu0 = cpu
    worker.shutdown(wait=True)  # the drops still queued run first
    grown = (cached_kib() - cached0) / 1024
    log.close()
    shutil.rmtree(path)
    return {"mode": mode, "cpu_ms_per_mb": slices, "cache_growth_mib": grown}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gib", type=float, default=4.0)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="page-cache-bench-", dir=args.dir)
    results: dict[str, list[dict]] = {"kernel": [], "drop-behind": []}
    try:
        for i in range(args.pairs):
            for mode in ("kernel", "drop-behind"):
                res = run(base, mode, int(args.gib * 1024 ** 3))
                results[mode].append(res)
                per = " ".join(f"{x:.2f}" for x in res["cpu_ms_per_mb"])
                print(f"pair {i + 1} {mode:<12} CPU ms/MB per 512 MiB slice: {per}  "
                      f"(page cache grew {res['cache_growth_mib']:.0f} MiB)", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for mode, runs in results.items():
        every = [x for r in runs for x in r["cpu_ms_per_mb"]]
        last = [r["cpu_ms_per_mb"][-1] for r in runs if r["cpu_ms_per_mb"]]
        print(f"{mode:<12} median {statistics.median(every):.2f} CPU ms/MB over all slices "
              f"(min {min(every):.2f}, max {max(every):.2f}); last slice median "
              f"{statistics.median(last):.2f}")


if __name__ == "__main__":
    main()
