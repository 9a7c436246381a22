"""The file system's floor under hosting new partitions: what this disk takes to make the
files a new log needs, with no kraft code in the way.

    .venv/bin/python bench/fs_create_floor.py [--logs 10000] [--nodes 3] [--repeats 3] [--dir /path]

A node hosting a new replica makes three entries (kraft/storage/partition_dir.py and
log_loader.new_log): the partition's directory, its `partition.metadata` (one write) and
its first segment's `.log`; the ids are made durable in batches (one fsync of the
partitions root). Here `--nodes` processes (three nodes on one machine) each make
`--logs` such directories with OPEN_AT_ONCE threads, as the opening threads do, then
fsync their root; the wall time until every process is done is the floor under
bench/partition_scale.py's "every node hosts every partition" on this disk, measured in
the same hour. The disk is synced before each repeat, and the files removed after it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraft.replication.log_manager import OPEN_AT_ONCE  # noqa: E402

ID = b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n"


def make_logs(root: str, count: int) -> None:
    """One node's share: `count` new log directories, OPEN_AT_ONCE at a time."""
    os.makedirs(root, exist_ok=True)

    def one(i: int) -> None:
        path = os.path.join(root, f"topic-{i // 100}-{i % 100}")
        os.mkdir(path)
        fd = os.open(os.path.join(path, "partition.metadata"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, ID)
        os.close(fd)
        os.close(os.open(os.path.join(path, "00000000000000000000.log"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644))
    with ThreadPoolExecutor(OPEN_AT_ONCE) as pool:
        list(pool.map(one, range(count)))
    fd = os.open(root, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def one_repeat(logs: int, nodes: int, base: Path) -> float:
    """Wall seconds until `nodes` processes have each made `logs` log directories."""
    roots = [base / f"node-{n}" for n in range(nodes)]
    subprocess.run(["sync"], check=False)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(root), "--logs", str(logs)]) for root in roots]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a child failed ({proc.returncode})")
    wall = time.monotonic() - started
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=10_000, help="new logs per node")
    parser.add_argument("--nodes", type=int, default=3, help="processes making them side by side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where (default: a temporary directory)")
    parser.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        make_logs(args.child, args.logs)
        return
    base = Path(tempfile.mkdtemp(prefix="fs-floor-", dir=args.dir))
    try:
        walls = [one_repeat(args.logs, args.nodes, base) for _ in range(args.repeats)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"logs_per_node": args.logs, "nodes": args.nodes, "threads": OPEN_AT_ONCE,
                      "wall_s": [round(w, 2) for w in walls], "median_s": round(statistics.median(walls), 2)}))


if __name__ == "__main__":
    main()
