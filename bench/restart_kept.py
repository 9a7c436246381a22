"""Start a cluster kept by partition_scale.py --data-dir, time it, stop it cleanly.

    .venv/bin/python bench/partition_scale.py --partitions 10000 --steps create --data-dir /tmp/keep
    .venv/bin/python bench/restart_kept.py /tmp/keep/p10000 --repeats 3
    .venv/bin/python bench/restart_kept.py /tmp/keep/p10000 --against /tmp/old-tree   # alternating

Each repeat starts the three nodes from the kept directory's cluster.toml as it is (the
same ports and data), times every node answering `/status/ready` and node 1 answering
`/status/ready?acks=all` (every partition back at min.insync.replicas), then SIGTERMs all
three and times the stop. What a restart costs without the minutes of creating the
partitions first; each start is after a clean stop (controlled shutdown, as an operator's).
With `--against TREE` the repeats alternate between that checkout and this one, each on
its own copy of the kept directory (a start changes what the next one finds: the metadata
journal, the leader-epoch checkpoints).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return -1, str(exc)


def one_start(base: Path, tree: Path, bound_s: float) -> dict:
    config = tomllib.loads((base / "cluster.toml").read_text())
    urls = {n["id"]: f"http://{n['host']}:{n['http_port']}" for n in config["nodes"]}
    env = dict(os.environ, PYTHONPATH=str(tree))
    procs = {}
    started = time.monotonic()
    for node_id in urls:
        with open(base / f"node-{node_id}.log", "ab") as log:
            procs[node_id] = subprocess.Popen(
                [sys.executable, "-m", "kraft.server.node_process", "cluster.toml", str(node_id)],
                cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    out: dict = {}
    try:
        while time.monotonic() - started < bound_s:
            if all(status(url + "/status/ready")[0] == 200 for url in urls.values()):
                out["ready_s"] = round(time.monotonic() - started, 1)
                break
            time.sleep(0.5)
        first = urls[min(urls)]
        while "ready_s" in out and time.monotonic() - started < bound_s:
            code, body = status(first + "/status/ready?acks=all")
            if code == 200:
                out["acks_all_after_ready_s"] = round(time.monotonic() - started - out["ready_s"], 1)
                break
            out["last_reason"] = body[:200]
            time.sleep(1.0)
    finally:
        stopping = time.monotonic()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(180)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out["stop_s"] = round(time.monotonic() - stopping, 1)
        out["exit_codes"] = [p.returncode for p in procs.values()]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kept", help="a cluster directory partition_scale.py --data-dir left (holds cluster.toml)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--against", help="an older checkout, alternated with this one on a copy of its own")
    ap.add_argument("--bound", type=float, default=300.0, help="seconds a start may take to each figure")
    args = ap.parse_args()
    kept = Path(args.kept)
    trees = [("this", HERE, kept)]
    if args.against:
        copy = kept.with_name(kept.name + "-against")
        if not copy.exists():
            shutil.copytree(kept, copy, symlinks=True)
        trees.append(("against", Path(args.against), copy))
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in trees}
    for _ in range(args.repeats):
        for name, tree, base in trees:
            result = one_start(base, tree, args.bound)
            runs[name].append(result)
            print(name, json.dumps(result), file=sys.stderr, flush=True)
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
