"""Metadata storm benchmark: topic-create throughput and elections under concurrent creators.

Run:  .venv/bin/python bench/metadata_storm.py [--seconds 60] [--workers 20] [--runs 3] [--faults]
                                               [--compare-batching] [--partitions 1] [--replication-factor 1]

Each run starts a fresh LocalCluster(3) (real node processes on 127.0.0.N), lets
`--workers` threads create topics (`--partitions`, `--replication-factor`; 30 % followed by a delete or a
config change) against random nodes for `--seconds`, and sends one acks=all produce
to an RF 3 canary topic every 0.25 s. With `--faults`, the Raft leader is killed and
restarted a third of the way in and another is paused for 4 s.

Reported per run, then as median and min..max over the runs: creates per second, creates
refused and with an unknown outcome, Raft terms begun (elections) per minute, broker
fencings for an expired session, canary produces that failed, and the largest node's
resident memory at the end. The last line of
stdout is JSON with every number. Progress goes to stderr.

--compare-batching runs every seed twice, side by side: with the controller folding
waiting commands into one Raft entry (the default) and with one entry per command
(KRAFT_CONTROLLER_MAX_BATCH=1), and reports both and their ratio.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kraft.scenario.metadata_storm import run_storm  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

FENCE_LINE = re.compile(r"fencing brokers .* session expired")


def one_run(seconds: float, workers: int, seed: int, faults: bool, env: dict | None = None,
            partitions: int = 1, replication_factor: int = 1) -> dict:
    with LocalCluster(3, env=env) as cluster:
        cluster.start()
        cluster.wait_ready(timeout_s=60)
        result = run_storm(cluster, seconds=seconds, workers=workers, seed=seed, faults=faults,
                           partitions=partitions, replication_factor=replication_factor)
        rss_mb = {n: rss_of(cluster.procs[n].pid) for n in cluster.hosts if cluster.running(n)}
        fencings = sum(len(FENCE_LINE.findall(cluster.log_path(n).read_text())) for n in cluster.hosts)
    minutes = result.seconds / 60
    return {
        "seed": seed,
        "seconds": round(result.seconds, 1),
        "created": result.created,
        "creates_per_s": round(result.create_rate, 1),
        "refused": result.refused,
        "unknown": result.unknown,
        "elections": result.elections,
        "elections_per_min": round(result.elections / minutes, 2),
        "session_fencings": fencings,
        "canary_ok": result.canary_ok,
        "canary_failed": result.canary_failed,
        "divergent_nodes": result.divergent_nodes(),
        "max_rss_mb": max(rss_mb.values(), default=0),
        "rss_mb": rss_mb,
    }


def rss_of(pid: int) -> int:
    """Resident set size in MB, from /proc (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):g} ({min(values):g}..{max(values):g})"


KEYS = ["creates_per_s", "refused", "unknown", "elections_per_min", "session_fencings", "canary_failed",
        "max_rss_mb"]


def report(title: str, runs: list[dict]) -> None:
    print(title)
    for key in KEYS:
        print(f"  {key:>18}: {spread([r[key] for r in runs])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--faults", action="store_true")
    ap.add_argument("--compare-batching", action="store_true")
    ap.add_argument("--partitions", type=int, default=1, help="per created topic")
    ap.add_argument("--replication-factor", type=int, default=1, help="per created topic")
    args = ap.parse_args()
    variants = {"batched": None}
    if args.compare_batching:
        variants["one entry per command"] = {"KRAFT_CONTROLLER_MAX_BATCH": "1"}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for i in range(args.runs):
        for name, env in variants.items():
            print(f"run {i + 1}/{args.runs} ({name}) ...", file=sys.stderr, flush=True)
            runs[name].append(one_run(args.seconds, args.workers, seed=i + 1, faults=args.faults, env=env,
                                      partitions=args.partitions,
                                      replication_factor=args.replication_factor))
            print(f"  {runs[name][-1]}", file=sys.stderr, flush=True)
    for name in variants:
        report(f"{name}: {args.runs} runs x {args.seconds:g} s, {args.workers} creators, "
               f"faults={args.faults}", runs[name])
    if args.compare_batching:
        ratios = [b["creates_per_s"] / max(o["creates_per_s"], 0.1)
                  for b, o in zip(runs["batched"], runs["one entry per command"])]
        print(f"  creates/s batched / one per command, per seed: {spread([round(x, 2) for x in ratios])}")
    print(json.dumps({"args": vars(args), "runs": runs}))


if __name__ == "__main__":
    main()
