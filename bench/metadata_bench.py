"""Metadata benchmark: topic-creation latency, controller failover, 1,000 partitions.

Run:  .venv/bin/python bench/metadata_bench.py [--trials N] [--quick]

Every section starts its own fresh LocalCluster(3) (real node processes on
127.0.0.N), so no section inherits the topics or the restarts of another:

1. Topic creation latency: N sequential POST /v3/clusters/{cid}/topics
   (1 partition, RF 3) over one keep-alive HTTP connection, first to the active
   controller (handled locally), then to a node that is not the controller (the
   request is forwarded). p50/p90/p99/max in ms.
2. Controller failover: per trial, SIGKILL the Raft leader (active controller),
   then send topic creates to a surviving node until one answers 201; the time
   from the kill to that 201. The killed node is restarted and the quorum is
   allowed to settle before the next trial.
3. 1,000 partitions: 10 topics x 100 partitions, RF 3; time from the first create
   request until every partition of every topic reports a leader on every node.
   Then the idle CPU of each node process over a quiet window (% of one core).

The summary is printed as rich tables, followed by one line of JSON holding every
number (the last line of stdout). A missed target prints FAIL but the exit status
stays 0; only a crash of the benchmark itself exits non-zero.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

# the shared parts and the report are in metadata_bench_common.py and metadata_bench_report.py
from parts.metadata_bench_common import (
    TARGETS,
    Client,
    err,
    error_key,
    fmt,
    new_cluster,
    out,
    progress,
    summary,
    topic_body,
    wait_quorum_settled,
)
from parts.metadata_bench_report import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kraft.server.local_cluster import LocalCluster  # noqa: E402


# -- 1. topic creation latency ----------------------------------------------------------
def create_series(cluster: LocalCluster, node_id: int, n: int, prefix: str, label: str) -> dict:
    client = Client(cluster, node_id)
    latencies_ms, errors = [], Counter()
    deadline = time.monotonic() + max(60.0, n * 1.0)   # bounded in time as well as count
    try:
        client.connect()
        for i in range(5):                              # warm-up, not measured
            try:
                client.request("POST", "/topics", topic_body(f"{prefix}-warm-{i}"))
            except (OSError, http.client.HTTPException):
                pass
        connects_before = client.connects
        with progress() as prog:
            task = prog.add_task(label, total=n)
            for i in range(n):
                if time.monotonic() > deadline:
                    errors["benchmark time bound reached"] += n - i
                    break
                t0 = time.perf_counter()
                try:
                    status, body = client.request("POST", "/topics", topic_body(f"{prefix}-{i}"))
                except (OSError, http.client.HTTPException) as exc:
                    errors[f"{type(exc).__name__}: {exc}"] += 1
                    prog.advance(task)
                    continue
                elapsed = (time.perf_counter() - t0) * 1000.0
                if status == 201:
                    latencies_ms.append(elapsed)
                else:
                    errors[error_key(status, body)] += 1
                prog.advance(task)
        reconnects = client.connects - connects_before
    finally:
        client.close()
    return {"node": node_id, "requests": n, "ok": len(latencies_ms), "reconnects": reconnects,
            "errors": dict(errors), "latency_ms": summary(latencies_ms)}


def bench_create(n: int) -> dict:
    err.rule("[bold]1. topic creation latency")
    cluster = new_cluster()
    try:
        controller = cluster.raft_leader()
        ctrl_view = cluster.controller_id()
        other = min(x for x in cluster.hosts if x != controller)
        err.print(f"active controller: node {controller} (controller_id {ctrl_view}); "
                  f"forwarded series goes to node {other}")
        direct = create_series(cluster, controller, n, "lat-ctrl", f"create via controller (node {controller})")
        forwarded = create_series(cluster, other, n, "lat-fwd", f"create via node {other} (forwarded)")
        controller_after = cluster.raft_leader()
    finally:
        cluster.close()
    return {"controller": controller, "controller_after": controller_after,
            "direct": direct, "forwarded": forwarded}


# -- 2. controller failover --------------------------------------------------------------
def failover_trial(cluster: LocalCluster, trial: int, bound_s: float = 30.0) -> dict:
    leader = cluster.wait_until(cluster.raft_leader, 30, "a Raft leader")
    ctrl_view = cluster.controller_id()
    survivor = min(x for x in cluster.hosts if x != leader)
    client = Client(cluster, survivor, timeout=5.0)
    client.connect()                                     # connect before the clock starts
    errors: list[dict] = []
    attempts, took = 0, None
    t0 = time.perf_counter()
    cluster.kill(leader)
    killed_at = time.perf_counter() - t0
    try:
        while attempts < 5000:
            elapsed = time.perf_counter() - t0
            if elapsed >= bound_s:
                break
            attempts += 1
            a0 = time.perf_counter()
            try:
                status, body = client.request("POST", "/topics", topic_body(f"fo-{trial}-{attempts}"),
                                              timeout=max(0.5, min(5.0, bound_s - elapsed)))
            except (OSError, http.client.HTTPException) as exc:
                status, body = None, f"{type(exc).__name__}: {exc}"
            if status == 201:
                took = time.perf_counter() - t0
                break
            errors.append({"at_s": round(a0 - t0, 4),
                           "took_s": round(time.perf_counter() - a0, 4),
                           "status": status, "body": body})
            time.sleep(0.01)
    finally:
        client.close()
    new_leader = cluster.raft_leader()
    # bring the killed node back and let the quorum settle before the next trial
    r0 = time.perf_counter()
    cluster.start_node(leader)
    restart_error = None
    try:
        cluster.wait_ready([leader], timeout_s=60)
    except TimeoutError as exc:
        restart_error = str(exc)
    ready_s = time.perf_counter() - r0
    settled = wait_quorum_settled(cluster, 30)
    return {"trial": trial, "killed": leader, "controller_id_before": ctrl_view,
            "sent_to": survivor, "kill_call_s": killed_at, "failover_s": took,
            "attempts": attempts, "errors": errors, "new_leader": new_leader,
            "restart_ready_s": ready_s, "restart_error": restart_error,
            "quorum_settled": settled}


def bench_failover(trials: int) -> dict:
    err.rule("[bold]2. controller failover")
    cluster = new_cluster()
    results = []
    try:
        wait_quorum_settled(cluster, 30)
        with progress() as prog:
            task = prog.add_task("failover trials", total=trials)
            for trial in range(trials):
                try:
                    res = failover_trial(cluster, trial)
                except Exception as exc:  # keep going; the trial is recorded as failed
                    res = {"trial": trial, "failover_s": None, "exception": repr(exc),
                           "traceback": traceback.format_exc(), "errors": [], "attempts": 0}
                    for nid in cluster.hosts:         # best effort: everyone back up
                        if not cluster.running(nid):
                            cluster.start_node(nid)
                    try:
                        cluster.wait_ready(timeout_s=60)
                    except TimeoutError:
                        pass
                results.append(res)
                fo = res.get("failover_s")
                err.print(f"  trial {trial}: killed node {res.get('killed')} -> "
                          f"{'%.3f s' % fo if fo is not None else 'NO 201 within bound'}, "
                          f"{res.get('attempts')} attempts, {len(res['errors'])} errors, "
                          f"new leader {res.get('new_leader')}, "
                          f"restart ready {fmt(res.get('restart_ready_s'), 2)} s")
                prog.advance(task)
    finally:
        cluster.close()
    times = [r["failover_s"] for r in results if r.get("failover_s") is not None]
    distinct = Counter()
    for r in results:
        for e in r["errors"]:
            distinct[error_key(e["status"], e["body"])] += 1
    return {"trials": trials, "succeeded": len(times), "failover_s": summary(times),
            "distinct_errors": dict(distinct.most_common()), "per_trial": results}


# -- 3. 1,000 partitions and idle CPU ----------------------------------------------------
def cpu_seconds(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()     # fields from #3 (state) onwards
    utime, stime = int(fields[11]), int(fields[12])  # #14 and #15
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def idle_cpu(cluster: LocalCluster, seconds: float, label: str) -> dict:
    pids = {n: cluster.procs[n].pid for n in cluster.hosts}
    start = {n: cpu_seconds(p) for n, p in pids.items()}
    prev = dict(start)
    per_second = {n: [] for n in pids}
    t0 = time.monotonic()
    last = t0
    with progress() as prog:
        task = prog.add_task(label, total=int(seconds))
        for _ in range(int(seconds)):
            time.sleep(max(0.0, t0 + (_ + 1) - time.monotonic()))
            now = time.monotonic()
            for n, p in pids.items():
                c = cpu_seconds(p)
                per_second[n].append(100.0 * (c - prev[n]) / (now - last))
                prev[n] = c
            last = now
            prog.advance(task)
    wall = time.monotonic() - t0
    return {str(n): {"pid": pids[n], "cpu_s": prev[n] - start[n], "wall_s": wall,
                     "pct_one_core": 100.0 * (prev[n] - start[n]) / wall,
                     "max_1s_pct": max(per_second[n]) if per_second[n] else None,
                     "per_second_pct": [round(x, 1) for x in per_second[n]]}
            for n in pids}


def create_topics(creator: Client, names: list[str], per_topic: int) -> tuple[list[float], Counter, int]:
    """One create per topic, in turn: (each request's ms, errors, partitions created)."""
    create_ms, create_errors, created_ok = [], Counter(), 0
    for name in names:
        a0 = time.perf_counter()
        try:
            status, body = creator.request("POST", "/topics", topic_body(name, per_topic, 3))
        except (OSError, http.client.HTTPException) as exc:
            status, body = None, f"{type(exc).__name__}: {exc}"
        create_ms.append((time.perf_counter() - a0) * 1000.0)
        if status == 201:
            created_ok += per_topic
        else:
            create_errors[error_key(status, body)] += 1
    return create_ms, create_errors, created_ok


def count_partitions(client: Client, names: list[str], poll_errors: Counter) -> tuple[int, int]:
    """(partitions with a leader, partitions with a full ISR) of `names` as one node sees them."""
    led = full = 0
    for name in names:
        try:
            status, body = client.request("GET", f"/topics/{name}/partitions")
        except (OSError, http.client.HTTPException) as exc:
            poll_errors[f"{type(exc).__name__}: {exc}"] += 1
            continue
        if status != 200:
            poll_errors[error_key(status, body)] += 1
            continue
        data = body.get("data", [])
        led += sum(1 for p in data if p.get("leader_id") is not None)
        full += sum(1 for p in data if len(p.get("isr", [])) == 3)
    return led, full


def poll_leaders(pollers: dict[int, Client], names: list[str], total: int,
                 t0: float) -> tuple[dict, dict, Counter, int]:
    """Poll every node until every partition of every topic has a leader (and, for
    information, a full ISR); bounded at 60 s and a request count. (When each node first
    saw all leaders, all ISRs full, in s from t0; errors; requests.)"""
    leaders_at: dict[int, float | None] = {n: None for n in pollers}
    isr_at: dict[int, float | None] = {n: None for n in pollers}
    poll_errors, requests, bound_s = Counter(), 0, 60.0
    with progress() as prog:
        task = prog.add_task("partitions with a leader on all nodes", total=total * len(pollers))
        while time.perf_counter() - t0 < bound_s and requests < 20000:
            led_total = 0
            for n, client in pollers.items():
                requests += len(names)
                led, full = count_partitions(client, names, poll_errors)
                now = time.perf_counter() - t0
                if leaders_at[n] is None and led == total:
                    leaders_at[n] = now
                if isr_at[n] is None and full == total:
                    isr_at[n] = now
                led_total += led
            prog.update(task, completed=led_total)
            if all(v is not None for v in leaders_at.values()) and \
                    (all(v is not None for v in isr_at.values())
                     or time.perf_counter() - t0 > 30.0):
                break
            time.sleep(0.05)
    return leaders_at, isr_at, poll_errors, requests


def bench_partitions(topics: int, per_topic: int, idle_s: float) -> dict:
    err.rule("[bold]3. 1,000 partitions and idle CPU")
    cluster = new_cluster()
    try:
        baseline = idle_cpu(cluster, idle_s, f"idle CPU, empty cluster ({idle_s:.0f} s)")
        controller = cluster.raft_leader()
        creator = Client(cluster, controller, timeout=30.0)
        pollers = {n: Client(cluster, n, timeout=10.0) for n in cluster.hosts}
        names = [f"big-{i}" for i in range(topics)]
        total = topics * per_topic
        try:
            creator.connect()
            for p in pollers.values():
                p.connect()
            t0 = time.perf_counter()
            create_ms, create_errors, created_ok = create_topics(creator, names, per_topic)
            created_s = time.perf_counter() - t0
            leaders_at, isr_at, poll_errors, requests = poll_leaders(pollers, names, total, t0)
        finally:
            creator.close()
            for p in pollers.values():
                p.close()
        all_leaders = (max(leaders_at.values())
                       if all(v is not None for v in leaders_at.values()) else None)
        all_isr = max(isr_at.values()) if all(v is not None for v in isr_at.values()) else None
        time.sleep(10.0)  # the creation tail (opening 1,000 logs: dirs, files, fsyncs) is not idle
        loaded = idle_cpu(cluster, idle_s, f"idle CPU, {total} partitions ({idle_s:.0f} s)")
    finally:
        cluster.close()
    return {"topics": topics, "partitions_per_topic": per_topic, "partitions": total,
            "controller": controller, "create_requests_ms": create_ms,
            "create_errors": dict(create_errors), "created_s": created_s,
            "partitions_created_201": created_ok,
            "all_leaders_s": all_leaders, "leaders_at_s_per_node": {str(k): v for k, v in leaders_at.items()},
            "all_isr_full_s": all_isr, "isr_full_at_s_per_node": {str(k): v for k, v in isr_at.items()},
            "poll_requests": requests, "poll_errors": dict(poll_errors),
            "idle_cpu_empty": baseline, "idle_cpu_loaded": loaded}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10, help="failover trials (default 10)")
    ap.add_argument("--creates", type=int, default=200, help="topic creates per latency series (default 200)")
    ap.add_argument("--quick", action="store_true",
                    help="a fast smoke run: 30 creates, 3 failover trials, 5 s idle windows")
    ap.add_argument("--only", choices=["create", "failover", "partitions"], action="append",
                    help="run only these sections (repeatable)")
    args = ap.parse_args(argv)
    creates, trials, idle_s = args.creates, args.trials, 20.0
    if args.quick:
        creates, trials, idle_s = min(creates, 30), min(trials, 3), 5.0
    sections = args.only or ["create", "failover", "partitions"]

    res: dict = {"config": {"creates": creates, "trials": trials, "idle_s": idle_s,
                            "quick": args.quick, "python": platform.python_version(),
                            "cpus": os.cpu_count(), "targets": TARGETS}}
    started = time.monotonic()
    try:
        if "create" in sections:
            res["create"] = bench_create(creates)
        if "failover" in sections:
            res["failover"] = bench_failover(trials)
        if "partitions" in sections:
            res["partitions"] = bench_partitions(10, 100, idle_s)
    finally:
        res["duration_s"] = time.monotonic() - started
        out.rule("[bold]Metadata benchmark summary")
        try:
            res["checks"] = report(res)
        except Exception:  # a half-finished run must still print its JSON line
            err.print_exception()
        print(json.dumps(res, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
