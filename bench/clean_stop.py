"""A broker's clean stop with thousands of logs, and the start after it.

    .venv/bin/python bench/clean_stop.py [--logs 10000] [--processes 3] [--repeats 1]
    .venv/bin/python bench/clean_stop.py --against /tmp/old-tree   # old and new, alternating

Each of `--processes` child processes (three nodes on one machine, side by side) runs a
ReplicaManager on a fresh data dir, opens `--logs` replicas through its opening threads
and appends one record to each (no fsync: as a produce leaves them), then times:

- close after writes: LogManager.close_all_cleanly, as a SIGTERM'd node runs it;
- reopen: every log opened again as the next start does (the previous run closed);
  with `--led` each log's newest epoch starts at its end (leadership taken and nothing
  written since: every log of the node that led when the others stopped), which the
  open drops;
- close when idle: the same close with nothing written since the reopen.

The figure per step is the slowest process's wall time. With `--against TREE` the
repeats alternate between that checkout (PYTHONPATH=TREE) and this one. The disk is
synced before each repeat; the data dirs are removed after it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def child(data_dir: Path, logs: int, led: bool) -> dict:
    import logging
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="  %(message)s")
    from kraft.replication.log_manager import OPEN_AT_ONCE, open_replica_log
    from kraft.replication.replica_manager import ReplicaManager
    from kraft.storage.log_config import LogConfig
    from kraft.storage.record_batch import Record

    manager = ReplicaManager(1, data_dir, lambda topic: {}, 5000, None, None)
    names = [(f"t{i // 100}", i % 100) for i in range(logs)]

    async def open_and_write():
        replicas = [await manager.roles.open_replica(t, f"id-{t}", p) for t, p in names]
        for replica in replicas:
            replica.log.append([Record(None, b"v" * 100, (), 0)], leader_epoch=0)
            if led:  # leadership taken at the end, nothing written since (a controlled shutdown's)
                replica.log.leader_epoch_cache.assign(1, replica.log.log_end_offset)
        return replicas
    replicas = asyncio.run(open_and_write())
    out = {}
    t0 = time.monotonic()
    manager.logs.close_all_cleanly(replicas)
    out["close_after_writes_s"] = time.monotonic() - t0

    def reopen(name):
        return open_replica_log(manager.root, name[0], name[1], f"id-{name[0]}", LogConfig(), True)
    t0 = time.monotonic()
    with ThreadPoolExecutor(OPEN_AT_ONCE) as pool:
        plogs = list(pool.map(reopen, names))
    out["reopen_s"] = time.monotonic() - t0
    for replica, plog in zip(replicas, plogs):
        replica.log = plog
    manager = ReplicaManager(1, data_dir, lambda topic: {}, 5000, None, None)
    t0 = time.monotonic()
    manager.logs.close_all_cleanly(replicas)
    out["close_idle_s"] = time.monotonic() - t0
    return out


def one_repeat(tree: Path, logs: int, processes: int, led: bool) -> dict:
    base = Path(tempfile.mkdtemp(prefix="clean-stop-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    os.sync()
    env = dict(os.environ, PYTHONPATH=str(tree))
    try:
        argv = [sys.executable, __file__, "--logs", str(logs)] + (["--led"] if led else [])
        procs = [subprocess.Popen(argv + ["--child", str(base / f"node-{i}")],
                                  env=env, stdout=subprocess.PIPE, text=True) for i in range(processes)]
        results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {k: round(max(r[k] for r in results), 2) for k in results[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logs", type=int, default=10_000, help="logs per process")
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--against", help="an older checkout, alternated with this one")
    ap.add_argument("--led", action="store_true",
                    help="each log's last epoch begins at its end, as on the node that led when the others stopped")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), args.logs, args.led)))
        return
    trees = [("this", HERE)] + ([("against", Path(args.against))] if args.against else [])
    runs: dict[str, list[dict]] = {name: [] for name, _ in trees}
    for _ in range(args.repeats):
        for name, tree in trees:
            result = one_repeat(tree, args.logs, args.processes, args.led)
            runs[name].append(result)
            print(name, json.dumps(result), file=sys.stderr, flush=True)
    print(json.dumps({"logs_per_process": args.logs, "processes": args.processes, "runs": runs}))


if __name__ == "__main__":
    main()
