"""Data path benchmark: produce/consume throughput against a ceiling, latency, failover, memory.

Run:  .venv/bin/python bench/data_bench.py [--quick] [--only SECTION ...]

One fresh LocalCluster(3) (real node processes on 127.0.0.N) and one ceiling server
(bench/ceiling.py: a bare aiohttp + orjson process that appends produced values to
a file) serve the whole run:

1. throughput: for each of acks=all, acks=1, acks=0, >= 3 alternating pairs of
   equal-length runs (ceiling, mode, ceiling, mode, ...) with 1 KiB records, 100 per
   v2 JSON request, C requests in flight spread over all nodes (kraft.perf.produce_load).
   Each mode's MB/s divided by the ceiling's MB/s of the same pair; median and range.
2. consume: topic "bench" read from offset 0, every partition from its leader
   (kraft.perf.consume_load); MB/s compared with the acks=1 produce median.
3. latency: acks=all produce capped at 20 % of the measured acks=all rate to topic
   "lat"; per-request produce latency, and end-to-end latency per record: from the
   produce request being sent to the record arriving at a long-polling reader
   (GET .../records?offset=N&timeout=1000 on the partition leader).
4. failover: kill -9 the leader of bench-0 while 4 producers write acks=all to
   partition 0 through another node; time from the kill to the first successful write
   sent after it. The node is restarted between trials (and the ISR allowed to refill).
5. controlled shutdown: SIGTERM the leader of bench-0 during the same load; the
   unavailability window is the longest gap between two successful writes from the
   last success before the signal on.
6. memory: write to a one-partition topic on one leader for ~60 s (acks=1), then read
   it all back from offset 0 while sampling the leader's VmRSS every 0.2 s.

Progress notes go to stderr; the summary table and the final JSON line go to stdout.
A missed target prints FAIL; the exit status stays 0 unless the benchmark crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ceiling import CeilingServer  # noqa: E402

# the sections, their helpers and the report are in data_bench_*.py beside this file
from parts.data_bench_common import TARGETS, create_topic, err, note, out, r, wait_healthy  # noqa: E402
from parts.data_bench_latency import section_latency  # noqa: E402
from parts.data_bench_report import report  # noqa: E402
from parts.data_bench_sections import (  # noqa: E402
    section_consume,
    section_failover,
    section_memory,
    section_shutdown,
    section_throughput,
)
from kraft.server.local_cluster import LocalCluster  # noqa: E402

FULL = {"pairs": 3, "pair_s": 5.0, "warmup_s": 2.0, "concurrency": 8, "consume_records": 500_000,
        "consume_timeout_s": 60.0, "lat_s": 15.0, "failover_trials": 5, "shutdown_trials": 3,
        "mem_write_s": 60.0, "mem_read_timeout_s": 240.0}
QUICK = {"pairs": 3, "pair_s": 1.5, "warmup_s": 0.5, "concurrency": 8, "consume_records": 50_000,
         "consume_timeout_s": 15.0, "lat_s": 4.0, "failover_trials": 2, "shutdown_trials": 1,
         "mem_write_s": 6.0, "mem_read_timeout_s": 60.0}

SECTIONS = ("throughput", "consume", "latency", "failover", "shutdown", "memory")


def parse_args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short smoke run (~1.5 min)")
    ap.add_argument("--pairs", type=int, default=None, help="alternating pairs per mode (min 3)")
    ap.add_argument("--pair-seconds", type=float, default=None, help="length of each run of a pair")
    ap.add_argument("--concurrency", type=int, default=None, help="requests in flight (default 8)")
    ap.add_argument("--mem-seconds", type=float, default=None, help="write time of the memory test")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only these sections (repeatable); latency needs throughput")
    return ap.parse_args(argv)


def config_of(args: argparse.Namespace) -> dict:
    cfg = dict(QUICK if args.quick else FULL)
    if args.pairs is not None:
        cfg["pairs"] = max(3, args.pairs)
    if args.pair_seconds is not None:
        cfg["pair_s"] = args.pair_seconds
    if args.concurrency is not None:
        cfg["concurrency"] = args.concurrency
    if args.mem_seconds is not None:
        cfg["mem_write_s"] = args.mem_seconds
    return cfg


def check_nodes(cluster: LocalCluster, res: dict, before: str) -> None:
    """A node process that died on its own is recorded (with its last log line) and restarted."""
    for n in cluster.hosts:
        if cluster.running(n):
            continue
        rc = cluster.procs[n].poll()
        try:
            lines = [ln for ln in cluster.log_path(n).read_text(errors="replace").splitlines()
                     if ln.strip() and not ln.startswith(("│", "╭", "╰", " "))]
        except OSError:
            lines = []
        last = lines[-1][:300] if lines else ""
        res.setdefault("node_exits", []).append({"node": n, "returncode": rc, "found_before": before,
                                                 "last_line": last})
        note(f"[red]node {n} exited on its own (rc {rc}); last log line: {last}; restarting it[/red]")
        cluster.start_node(n)
        try:
            cluster.wait_ready(timeout_s=60)
            wait_healthy(cluster, "bench", 3, 3, timeout_s=60)
        except TimeoutError as exc:
            note(f"[yellow]{exc}[/yellow]")


def run_section(cluster: LocalCluster, res: dict, sections: list[str], name: str, fn) -> None:
    """One section, its result (or its traceback: one broken section must not hide the
    others) and its duration in res[name]."""
    if name not in sections:
        return
    check_nodes(cluster, res, name)
    t0 = time.monotonic()
    try:
        res[name] = fn()
    except Exception:  # noqa: BLE001 - one broken section must not hide the others
        res[name] = {"error": traceback.format_exc()}
        err.print(f"[red]section {name} crashed[/red]")
        err.print(res[name]["error"])
    if isinstance(res.get(name), dict):
        res[name]["section_s"] = r(time.monotonic() - t0, 1)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = config_of(args)
    sections = args.only or list(SECTIONS)
    res: dict = {"config": {**cfg, "quick": args.quick, "python": platform.python_version(),
                            "cpus": os.cpu_count(), "loadavg_start": os.getloadavg(),
                            "targets": TARGETS}}
    started = time.monotonic()
    cluster = ceiling = None
    try:
        ceiling = CeilingServer().start()
        note(f"ceiling server on {ceiling.url} (pid {ceiling.proc.pid})")
        cluster = LocalCluster(nodes=3)
        cluster.start()
        cluster.wait_ready(timeout_s=60)
        note(f"cluster up: {[cluster.url(n) for n in cluster.hosts]}, pids "
             f"{ {n: cluster.procs[n].pid for n in cluster.hosts} }")
        create_topic(cluster, "bench", 3)
        run_section(cluster, res, sections, "throughput", lambda: section_throughput(cluster, ceiling, cfg))
        modes = (res.get("throughput") or {}).get("modes", {})
        acks1 = (modes.get("1") or {}).get("mb_per_s", {}).get("median")
        all_rate = (modes.get("all") or {}).get("records_per_s", {}).get("median")
        run_section(cluster, res, sections, "consume", lambda: section_consume(cluster, cfg, acks1))
        run_section(cluster, res, sections, "latency", lambda: section_latency(cluster, cfg, all_rate))
        run_section(cluster, res, sections, "failover", lambda: section_failover(cluster, cfg))
        run_section(cluster, res, sections, "shutdown", lambda: section_shutdown(cluster, cfg))
        run_section(cluster, res, sections, "memory", lambda: section_memory(cluster, cfg))
        check_nodes(cluster, res, "end")
    finally:
        if cluster is not None:
            cluster.close()
        if ceiling is not None:
            ceiling.stop()
        res["duration_s"] = r(time.monotonic() - started, 1)
        res["config"]["loadavg_end"] = os.getloadavg()
        out.rule("[bold]Data path benchmark summary")
        try:
            res["checks"] = report(res)
        except Exception:  # noqa: BLE001 - a half-finished run must still print its JSON line
            err.print_exception()
        print(json.dumps(res, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
