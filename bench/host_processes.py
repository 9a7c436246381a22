"""Processes per host: what running P broker processes on each host costs and gives.

For each P in --processes (default 1,2): a fresh LocalCluster of 3 [[hosts]] entries of
P processes each (each host a loopback address of its own, its first process also a
controller, so 3 controllers whatever P), and a topic of 3 x P partitions, RF 3 (one
partition led by each broker; placement keeps each partition's replicas on 3 hosts;
--partitions N: N for every P, the control that tells more processes from more
partitions).
Then, in this order:

  idle      the nodes' CPU over --idle-seconds with no client at all (Raft ticks,
            heartbeats, followers' long polls, timers): what each extra process costs
            before it serves anything
  fixed     --rounds steps at --rate one-record produce requests a second (a
            confluent-kafka producer in its own process, linger 0, acks=all, 1 KiB
            records, open loop as bench/small_requests.py), --step-seconds each: the
            nodes' CPU-ms per request (all 3 x P processes, idle duties included)
  knee      with --knee RATES: the same sender(s) stepped through RATES; the knee is the
            highest rate that kept up with p99 delivery <= --p99-limit-ms
  large     with --large-batch N: N records through librdkafka's defaults (linger 5,
            1 MB requests), acks=all: MB/s and node CPU-ms per MB

With --knee or --large-batch, the same steps run against bench/replicated_ceiling.py
(three Python processes, RF 3, a topic of 3 partitions: the least three processes must
do) in the same run, so each P's knee and MB/s stand beside the ceiling's as ratios.

The summary: per P, idle CPU (all nodes, in % of one core, and per process), the fixed
rate's CPU-ms per request (median and range over the rounds), and the ratio CPU/request
(P) / CPU/request(1), the issue's goal being <= 1.15 for P = 2 at 2,000 requests/s.
More processes per host can only pay off where the host has the cores for them: on a
machine with fewer cores than 3 x P node processes, this shows what each extra process
costs, not the gain.

Takes /tmp/kraft-cluster-tests.lock while clusters run (so it never overlaps the
cluster tests of the same machine). Nodes use 127.0.0.160+ (--first-address).

    .venv/bin/python bench/host_processes.py                       # P = 1, 2; ~3 minutes
    .venv/bin/python bench/host_processes.py --processes 1,2,4 --knee 500,1000,2000 --large-batch 100000
    .venv/bin/python bench/host_processes.py --processes 1,2,4 --senders 4 --knee 2000,4000,8000,16000 \
        --knee-misses 2 --large-batch 100000     # many cores: 4 senders, the knee's search ends early
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import inspect
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parts.host_processes_load import (  # noqa: E402
    create_topic,
    idle_cpu,
    large_batch,
    leaders,
    median_range,
    steps,
)
from replicated_ceiling import ReplicatedCeiling  # noqa: E402
from small_requests import csv, fmt, lat  # noqa: E402

from kraft.perf.open_loop import knee_rate  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

HOSTS = 3
LOCK = "/tmp/kraft-cluster-tests.lock"
CEILING_PARTITIONS = 3


@contextlib.contextmanager
def cluster_lock(path: str = LOCK):
    """The lock the cluster tests take: a benchmark's nodes never share the machine with theirs."""
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {path} (cluster tests or another benchmark) ...", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def host_cluster(processes: int, first_address: int) -> LocalCluster:
    if "host_entries" not in inspect.signature(LocalCluster).parameters:
        raise SystemExit("this checkout's LocalCluster has no host_entries (a cluster of [[hosts]] entries)")
    return LocalCluster(host_entries=HOSTS, processes_per_host=processes, first_address=first_address)


def measure_processes(args, processes: int) -> dict:
    """One fresh cluster of HOSTS hosts x `processes`: idle, fixed rate, knee, large batch."""
    partitions = args.partitions or HOSTS * processes
    label = {"processes": processes}
    with host_cluster(processes, args.first_address) as cluster:
        started = time.monotonic()
        cluster.start().wait_ready(timeout_s=120)
        ready_s = time.monotonic() - started
        pids = [cluster.procs[n].pid for n in sorted(cluster.procs)]
        create_topic(cluster, "hosts", partitions)
        led = sorted(leaders(cluster, "hosts").values())
        time.sleep(args.settle)  # the topic's first fetches, the new leaders' first timers
        idle = idle_cpu(pids, args.idle_seconds)
        print(f"P={processes}: idle {idle['cpu_pct']:.1f} % of a core ({idle['per_process_pct']:.1f} % per "
              f"process), leaders {led}", file=sys.stderr)
        load = os.getloadavg()[0]  # a busy machine (other work beside the nodes) shows here
        fixed = steps(pids, cluster.bootstrap_servers, "hosts", partitions, [args.rate] * args.rounds,
                      args.step_seconds, args.drain, label, senders=args.senders)
        knee_steps = []
        if args.knee:
            create_topic(cluster, "hosts-knee", partitions)
            knee_steps = steps(pids, cluster.bootstrap_servers, "hosts-knee", partitions, args.knee,
                               args.step_seconds, args.drain, label, len(fixed), **knee_search(args))
        large = None
        if args.large_batch:
            create_topic(cluster, "hosts-large", partitions)
            large = large_batch(pids, cluster.bootstrap_servers, "hosts-large", partitions, args.large_batch)
    return {"processes": processes, "nodes": len(pids), "partitions": partitions, "ready_s": ready_s,
            "leaders": led, "loadavg": load, "idle": idle, "fixed": fixed, "knee_steps": knee_steps,
            "knee": knee_rate(knee_steps, args.p99_limit_ms) if knee_steps else None, "large": large}


def knee_search(args) -> dict:
    return {"senders": args.senders, "stop_after_misses": args.knee_misses, "p99_limit_ms": args.p99_limit_ms}


def measure_ceiling(args) -> dict:
    """The replicated ceiling's knee and large-batch MB/s, the same steps."""
    out: dict = {"knee": None, "knee_steps": [], "large": None}
    if args.knee:
        ceiling = ReplicatedCeiling(partitions=CEILING_PARTITIONS).start()
        try:
            out["knee_steps"] = steps(ceiling.pids, ceiling.bootstrap, "ceiling", CEILING_PARTITIONS, args.knee,
                                      args.step_seconds, args.drain, {"processes": "ceiling"}, **knee_search(args))
        finally:
            ceiling.stop()
        out["knee"] = knee_rate(out["knee_steps"], args.p99_limit_ms)
    if args.large_batch:
        ceiling = ReplicatedCeiling(partitions=CEILING_PARTITIONS).start()
        try:
            out["large"] = large_batch(ceiling.pids, ceiling.bootstrap, "ceiling-large", CEILING_PARTITIONS,
                                       args.large_batch)
        finally:
            ceiling.stop()
    return out


def cpu_per_request(result: dict) -> list[float]:
    return [s["node_cpu_ms_per_request"] for s in result["fixed"] if s["node_cpu_ms_per_request"] is not None]


def summary(args, results: list[dict], ceiling: dict | None) -> str:
    base = cpu_per_request(results[0]) if results and results[0]["processes"] == 1 else []
    base_median = sorted(base)[len(base) // 2] if base else None
    shape = f"{args.partitions} partitions" if args.partitions else "a partition per broker"
    lines = [f"\n{HOSTS} hosts x P processes, {shape}, RF 3; fixed rate {args.rate:.0f} one-record "
             f"acks=all produce requests/s from {args.senders} sender(s), linger 0, {args.rounds} x "
             f"{args.step_seconds:.0f} s; idle "
             f"{args.idle_seconds:.0f} s; {os.cpu_count()} CPUs here\n",
             "| P | nodes | ready s | idle CPU % (all nodes) | idle % per process | got/s | delivery ms "
             "p50/p99/p99.9/max | node CPU-ms/req | / P=1 | kept up | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        per_request = cpu_per_request(r)
        ratios = [v / base_median for v in per_request] if base_median else []
        last = r["fixed"][-1]
        lines.append(f"| {r['processes']} | {r['nodes']} | {r['ready_s']:.0f} | {r['idle']['cpu_pct']:.1f} | "
                     f"{r['idle']['per_process_pct']:.1f} | "
                     f"{'/'.join(str(round(s['achieved_per_s'])) for s in r['fixed'])} | {lat(last['delivery_ms'])} | "
                     f"{median_range(per_request)} | {median_range(ratios)} | "
                     f"{'yes' if all(s['kept_up'] for s in r['fixed']) else 'NO'} | {r['loadavg']:.1f} |")
    if args.knee or args.large_batch:
        # The many-core goal: P processes a host keep up with >= 0.7 x P times P = 1's knee.
        knee_1 = results[0].get("knee") if results and results[0]["processes"] == 1 else None
        lines += ["", "| P | one-record knee /s | / ceiling | / P=1 (goal >= 0.7 x P) | large-batch MB/s | "
                  "/ ceiling | node CPU-ms/MB |", "|---|---|---|---|---|---|---|"]
        rows = [(str(r["processes"]), r) for r in results] + [("replicated ceiling", ceiling or {})]
        for name, r in rows:
            knee, large = r.get("knee"), r.get("large")
            c_knee, c_large = (ceiling or {}).get("knee"), (ceiling or {}).get("large")
            scaled = (f"{knee / knee_1:.2f} (>= {0.7 * r['processes']:.1f})"
                      if knee and knee_1 and "processes" in r else "-")
            lines.append(f"| {name} | {fmt(knee, 0)} | {fmt(knee / c_knee if knee and c_knee else None, 2)} | "
                         f"{scaled} | "
                         f"{fmt(large and large['mb_per_s'])} | "
                         f"{fmt(large['mb_per_s'] / c_large['mb_per_s'] if large and c_large else None, 2)} | "
                         f"{fmt(large and large['cpu_ms_per_mb'])} |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=csv(int), default=[1, 2], help="processes per host, one cluster each")
    parser.add_argument("--rate", type=float, default=2000.0, help="the fixed rate, one-record requests/s")
    parser.add_argument("--rounds", type=int, default=3, help="steps at the fixed rate")
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the topic's creation, before idle")
    parser.add_argument("--knee", type=csv(float), default=[], metavar="RATES",
                        help="also step through these rates (and the replicated ceiling) for the knee")
    parser.add_argument("--large-batch", type=int, default=0, metavar="N",
                        help="also N 1 KiB records with librdkafka's defaults (and into the replicated ceiling)")
    parser.add_argument("--partitions", type=int, default=0,
                        help="the topic's partitions (default: one per broker, 3 x P); a control: the same count "
                             "for every P")
    parser.add_argument("--p99-limit-ms", type=float, default=50.0)
    parser.add_argument("--senders", type=int, default=1,
                        help="sender processes, each rate split between them (one sender tops out near "
                             "4,000/s on its own: a many-core knee needs several)")
    parser.add_argument("--knee-misses", type=int, default=0, metavar="K",
                        help="end a knee's steps after K missed in a row (0: every rate)")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds a step's answers may take after it")
    parser.add_argument("--first-address", type=int, default=160, help="hosts on 127.0.0.N from here")
    parser.add_argument("--json", metavar="FILE")
    return parser.parse_args()


def write_json(args, config: dict, results: list[dict], ceiling: dict | None) -> None:
    """After every cluster, not only at the end: a run cut short still leaves what it measured."""
    if args.json:
        config = {**config, "seconds": round(time.time() - config["epoch"]), "loadavg_end": os.getloadavg()}
        with open(args.json, "w") as f:
            json.dump({"config": config, "results": results, "ceiling": ceiling}, f, indent=1)


def main() -> int:
    args = parse_args()
    started = time.time()
    config = {"started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)) + " UTC", "epoch": started,
              "loadavg_start": os.getloadavg(), "cpus": os.cpu_count(), "argv": sys.argv[1:]}
    results: list[dict] = []
    ceiling = None
    with cluster_lock():
        for p in args.processes:
            results.append(measure_processes(args, p))
            write_json(args, config, results, ceiling)
        if args.knee or args.large_batch:
            ceiling = measure_ceiling(args)
    write_json(args, config, results, ceiling)
    print(summary(args, results, ceiling))
    print(f"\nstarted {config['started']}, {round(time.time() - started)} s; load average "
          f"{config['loadavg_start'][0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
