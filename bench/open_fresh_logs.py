"""Opening brand-new partition logs, as a node does for the replicas CreateTopics gives it.

    .venv/bin/python bench/open_fresh_logs.py [--logs 10000] [--repeats 3] [--dir /path]
    .venv/bin/python bench/open_fresh_logs.py --against /tmp/old-open   # old and new, alternating

Each repeat opens `--logs` logs (topics of 100 partitions) in a fresh partitions root
through the code LogManager runs in its opening threads (partition_dir.prepare, then
PartitionLog.open), OPEN_AT_ONCE at a time in a thread pool, and reports the wall time
until all are open and the CPU time the process used meanwhile (user + system: what three
nodes on two cores compete for); the logs are closed (unclean, as kill -9 would) and
removed after the clock stops, and the disk is synced before each repeat starts. Each
repeat runs in a child process; with `--against TREE` they alternate between that checkout
(PYTHONPATH=TREE) and this one. The file system calls per log are counted with
`strace -c -f -e trace=%file,%desc` over the opening alone (a run with 0 logs
subtracted) when strace exists. Wall times on a shared disk spread widely (creating a
file took 0.4 ms here at a busy hour): compare the two columns of one run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PER_TOPIC = 100
HERE = Path(__file__).resolve().parent.parent  # this checkout's root


def _opener() -> tuple[Callable[..., Any], int]:
    """The function LogManager's opening threads run; a checkout without one (before the
    fast path) inlined it in LogManager.open, as copied here."""
    from kraft.replication import log_manager
    if hasattr(log_manager, "open_replica_log"):
        return log_manager.open_replica_log, log_manager.OPEN_AT_ONCE
    from kraft.storage import partition_dir
    from kraft.storage.partition_log import PartitionLog

    def open_replica_log(root: Path, topic: str, index: int, topic_id: str, config: Any,
                         previous_run_closed: bool | None) -> Any:
        prepared = partition_dir.prepare(root, topic, index, topic_id)
        return PartitionLog.open(prepared.path, config, unsynced_identity=prepared.unsynced,
                                 previous_run_closed=previous_run_closed)
    return open_replica_log, log_manager.OPEN_AT_ONCE


def one_repeat(count: int, base: Path, cleanup: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to open `count` new logs."""
    from kraft.storage.log_config import LogConfig
    open_log, threads = _opener()
    root = Path(tempfile.mkdtemp(dir=base)) / "partitions"
    root.mkdir()
    config = LogConfig()
    ids = [str(uuid.uuid4()) for _ in range(count // PER_TOPIC + 1)]
    jobs = [(f"bench-{i // PER_TOPIC}", i % PER_TOPIC, ids[i // PER_TOPIC]) for i in range(count)]
    os.sync()
    with ThreadPoolExecutor(threads, thread_name_prefix="log-open") as pool:
        pool.submit(lambda: None).result()  # the first thread started outside the clock
        start, cpu = time.perf_counter(), time.process_time()
        logs = list(pool.map(lambda job: open_log(root, job[0], job[1], job[2], config, True), jobs))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if cleanup:
        for plog in logs:
            plog.close(clean=False)
        shutil.rmtree(root.parent)
    return elapsed, cpu


def child(tree: Path, count: int, base: Path, strace: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", "--logs", str(count), "--dir", str(base)]
    if strace:  # the logs are left for the parent to remove: only the opening is counted
        cmd = ["strace", "-c", "-f", "-e", "trace=%file,%desc", "-o", str(base / "strace.out")] + cmd + ["--keep"]
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if strace:
        total = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)", (base / "strace.out").read_text(), re.M)
        result["calls"] = int(total.group(1)) if total else None
    return result


def calls_per_log(tree: Path, count: int, base: Path) -> float | None:
    if shutil.which("strace") is None:
        return None
    with_logs = child(tree, count, base, strace=True)["calls"]
    without = child(tree, 0, base, strace=True)["calls"]
    return None if with_logs is None or without is None else (with_logs - without) / count


def spread(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logs", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", help="where the partitions roots are made (default: the temp dir)")
    ap.add_argument("--against", help="an older checkout to run alternately with this one")
    ap.add_argument("--strace-logs", type=int, default=1000, help="logs opened under strace (0: no count)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="open-fresh-", dir=args.dir))
    try:
        if args.child:
            seconds, cpu_seconds = one_repeat(args.logs, base, cleanup=not args.keep)  # 0 logs: the imports alone
            print(json.dumps({"seconds": seconds, "cpu": cpu_seconds}))
            return
        trees = {"old": Path(args.against).resolve(), "new": HERE} if args.against else {"this": HERE}
        wall: dict[str, list[float]] = {name: [] for name in trees}
        cpu: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                result = child(tree, args.logs, base)
                wall[name].append(result["seconds"])
                cpu[name].append(result["cpu"])
                print(f"{name}: {wall[name][-1]:.2f} s, CPU {cpu[name][-1]:.2f} s", flush=True)
        for name in trees:
            calls = calls_per_log(trees[name], args.strace_logs, base) if args.strace_logs else None
            counted = f"; {calls:.1f} file system calls per log" if calls is not None else ""
            print(f"{name} ({trees[name]}), {args.logs} new logs: wall {spread(wall[name])}; "
                  f"CPU {spread(cpu[name])}{counted}")
        if args.against:
            for what, times in (("wall", wall), ("CPU", cpu)):
                print(f"old / new, {what} (medians): "
                      f"{statistics.median(times['old']) / statistics.median(times['new']):.2f}")
    finally:
        if not args.keep:  # kept: the parent removes it
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
