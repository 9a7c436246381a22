"""bench/data_bench.py's sections but latency (bench/data_bench_latency.py): throughput
against the ceiling, consume from offset 0, leader failover, controlled shutdown, memory."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from pathlib import Path

from ceiling import CeilingServer
from parts.data_bench_common import (
    BATCH,
    BOUND_S,
    MB,
    MODES,
    RECORD_SIZE,
    cpu_ms_per_mb,
    create_topic,
    leader_of,
    measure,
    note,
    partitions_of,
    r,
    running,
    wait_healthy,
)
from kraft.perf.consume_load import consume_load
from kraft.perf.produce_load import ProduceSpec, produce_load
from kraft.perf.stats import cpu_seconds, rss_bytes, spread
from kraft.server.local_cluster import LocalCluster


# -- 1. throughput -------------------------------------------------------------------------
def section_throughput(cluster: LocalCluster, ceiling: CeilingServer, cfg: dict) -> dict:
    urls = [cluster.url(n) for n in cluster.hosts]
    node_pids = {f"node{n}": cluster.procs[n].pid for n in cluster.hosts}
    ceil_pids = {"ceiling": ceiling.proc.pid}
    note(f"throughput: warm-up ({cfg['warmup_s']} s each)")
    measure(urls, "1", cfg["warmup_s"], cfg["concurrency"], "bench", {})
    measure([ceiling.url], "1", cfg["warmup_s"], cfg["concurrency"], "bench", {})
    ceiling.truncate()
    res: dict = {"pair_s": cfg["pair_s"], "pairs": cfg["pairs"], "concurrency": cfg["concurrency"],
                 "record_size": RECORD_SIZE, "batch": BATCH, "modes": {}}
    for mode in MODES:
        pairs = []
        for i in range(cfg["pairs"]):
            c = measure([ceiling.url], mode, cfg["pair_s"], cfg["concurrency"], "bench", ceil_pids)
            ceiling.truncate()
            m = measure(urls, mode, cfg["pair_s"], cfg["concurrency"], "bench", node_pids)
            ratio = m["mb_per_s"] / c["mb_per_s"] if c["mb_per_s"] else None
            pairs.append({"ceiling": c, "mode": m, "ratio": r(ratio, 4)})
            errs = sum(v["records"] for v in m["errors"].values())
            note(f"acks={mode} pair {i + 1}/{cfg['pairs']}: ceiling {c['mb_per_s']:.1f} MB/s, "
                 f"kraft {m['mb_per_s']:.1f} MB/s ({100 * (ratio or 0):.0f} %), p99 "
                 f"{m['latency_ms']['p99']} ms, cpu {m['cpu_pct']}"
                 + (f", [red]{errs} failed records {list(m['errors'])}[/red]" if errs else ""))
        res["modes"][mode] = {
            "pairs": pairs,
            "ratio": spread([p["ratio"] for p in pairs]),
            "mb_per_s": spread([p["mode"]["mb_per_s"] for p in pairs]),
            "records_per_s": spread([p["mode"]["records_per_s"] for p in pairs]),
            "ceiling_mb_per_s": spread([p["ceiling"]["mb_per_s"] for p in pairs]),
            "p99_ms": spread([p["mode"]["latency_ms"]["p99"] for p in pairs]),
            "failed_records": sum(sum(v["records"] for v in p["mode"]["errors"].values()) for p in pairs),
            # CPU time spent per MB accepted: all node processes vs the ceiling process
            "cpu_ms_per_mb": spread([cpu_ms_per_mb(p["mode"]) for p in pairs]),
            "ceiling_cpu_ms_per_mb": spread([cpu_ms_per_mb(p["ceiling"]) for p in pairs]),
            # the kernel's part of those (system time: sockets, page cache, disk)
            "kernel_ms_per_mb": spread([cpu_ms_per_mb(p["mode"], "kernel_cpu_pct") for p in pairs]),
            "ceiling_kernel_ms_per_mb": spread([cpu_ms_per_mb(p["ceiling"], "kernel_cpu_pct")
                                                for p in pairs]),
        }
    res["ceiling_mb_per_s"] = spread([p["ceiling"]["mb_per_s"] for m in res["modes"].values()
                                      for p in m["pairs"]])
    return res


# -- 2. consume ----------------------------------------------------------------------------
def section_consume(cluster: LocalCluster, cfg: dict, acks1_mb_s: float | None) -> dict:
    total = sum(p["log_end_offset"] or 0 for p in partitions_of(cluster, "bench").values())
    n = min(total, cfg["consume_records"]) if total else cfg["consume_records"]
    note(f"consume: {n:,} of {total:,} records of 'bench' from offset 0")
    pids = {f"node{k}": cluster.procs[k].pid for k in running(cluster)}
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    res = asyncio.run(consume_load(cluster.url(1), "bench", n, timeout_s=cfg["consume_timeout_s"]))
    d = res.to_json()
    d["cpu_pct"] = {k: r(100 * (cpu_seconds(p) - before[k]) / res.elapsed_s, 1) for k, p in pids.items()}
    d["vs_acks_1"] = r(res.mb_per_s / acks1_mb_s, 3) if acks1_mb_s else None
    note(f"consume: {res.records:,} records, {res.mb_per_s:.1f} MB/s, {res.records_per_s:,.0f} records/s"
         f" (acks=1 produce median {acks1_mb_s} MB/s)")
    return d


# -- 4/5. failover and controlled shutdown ----------------------------------------------------
async def disruption_trial(cluster: LocalCluster, kind: str, topic: str = "bench", partition: int = 0,
                           pre_s: float = 1.0, bound_s: float = BOUND_S) -> dict:
    """Produce acks=all to one partition through a non-leader, then kill or stop its leader."""
    leader = leader_of(cluster, topic, partition)
    via = min(n for n in running(cluster) if n != leader)
    controller = cluster.controller_id()
    samples: list[tuple[float, float, bool]] = []   # (sent, done, every record acked)
    stop = asyncio.Event()
    spec = ProduceSpec(topic=topic, records=None, duration_s=pre_s + bound_s + 10, batch=10,
                       record_size=RECORD_SIZE, acks="all", concurrency=4, partition=partition,
                       timeout_ms=2000, request_timeout_s=5)
    load = asyncio.create_task(produce_load(
        [cluster.url(via)], spec, stop=stop,
        on_request=lambda k, count, sent, done, ok: samples.append((sent, done, ok == count))))
    await asyncio.sleep(pre_s)
    ok_before = sum(1 for s in samples if s[2])
    t0 = time.perf_counter()
    if kind == "kill":
        await asyncio.to_thread(cluster.kill, leader)
        rc = None
    else:
        rc = await asyncio.to_thread(cluster.stop, leader, 20.0)
    t_exit = time.perf_counter()
    deadline = t0 + bound_s
    first_ok = None
    while time.perf_counter() < deadline:
        after = [s for s in samples if s[0] >= t0 and s[2]]
        if after:
            first_ok = min(s[1] for s in after)
            if kind == "kill" or time.perf_counter() >= max(t_exit, first_ok) + 1.0:
                break
        await asyncio.sleep(0.02)
    stop.set()
    res = await load
    oks = sorted(s[1] for s in samples if s[2])
    before = [d for d in oks if d < t0]
    window_start = before[-1] if before else t0
    later = [d for d in oks if d >= window_start]
    gaps = [b - a for a, b in itertools.pairwise(later)]
    max_gap = max(gaps) if gaps else None
    if first_ok is None:
        max_gap = None
    new_leader = None
    try:
        new_leader = leader_of(cluster, topic, partition)
    except TimeoutError:
        pass
    return {"killed" if kind == "kill" else "stopped": leader, "via": via,
            "was_controller": controller == leader, "new_leader": new_leader,
            "ok_writes_before": ok_before,
            "time_to_first_ok_s": r(first_ok - t0) if first_ok is not None else None,
            "max_gap_s": r(max_gap), "stop_call_s": r(t_exit - t0), "returncode": rc,
            "errors": res.errors.to_json(), "requests": res.requests}


def censored(values, bound: float = BOUND_S) -> dict:
    """Median/min/max where a trial without any successful write counts as the bound
    (it was at least that long); `censored` says how many such trials there were."""
    vals = list(values)
    d = spread([bound if v is None else v for v in vals])
    d["censored"] = sum(1 for v in vals if v is None)
    return d


def restore(cluster: LocalCluster, node_id: int, topic: str = "bench", partitions: int = 3) -> bool:
    cluster.start_node(node_id)
    cluster.wait_ready(timeout_s=60)
    return wait_healthy(cluster, topic, partitions, 3, timeout_s=60)


def section_failover(cluster: LocalCluster, cfg: dict) -> dict:
    trials = []
    for i in range(cfg["failover_trials"]):
        t = asyncio.run(disruption_trial(cluster, "kill"))
        trials.append(t)
        note(f"failover {i + 1}/{cfg['failover_trials']}: killed {t['killed']} (controller: "
             f"{t['was_controller']}), first ok write after {t['time_to_first_ok_s']} s, new leader "
             f"{t['new_leader']}, errors {list(t['errors'])}")
        t["restored"] = restore(cluster, t["killed"])
    return {"trials": trials, "time_to_first_ok_s": censored(t["time_to_first_ok_s"] for t in trials),
            "leader_was_controller_s": spread([t["time_to_first_ok_s"] for t in trials if t["was_controller"]]),
            "leader_not_controller_s": spread([t["time_to_first_ok_s"] for t in trials if not t["was_controller"]])}


def section_shutdown(cluster: LocalCluster, cfg: dict) -> dict:
    trials = []
    for i in range(cfg["shutdown_trials"]):
        t = asyncio.run(disruption_trial(cluster, "stop"))
        trials.append(t)
        note(f"controlled shutdown {i + 1}/{cfg['shutdown_trials']}: stopped {t['stopped']} (rc "
             f"{t['returncode']}, {t['stop_call_s']} s), window {t['max_gap_s']} s, first ok "
             f"write after {t['time_to_first_ok_s']} s, errors {list(t['errors'])}")
        t["restored"] = restore(cluster, t["stopped"])
    return {"trials": trials, "window_s": censored(t["max_gap_s"] for t in trials),
            "time_to_first_ok_s": censored(t["time_to_first_ok_s"] for t in trials)}


# -- 6. memory -------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    def __init__(self, pid: int, period_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period_s
        self.phase = "idle"
        self.max: dict[str, int] = {}
        self.samples: dict[str, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            v = rss_bytes(self.pid)
            if v is not None:
                self.max[self.phase] = max(self.max.get(self.phase, 0), v)
                self.samples[self.phase] = self.samples.get(self.phase, 0) + 1
            self._stop_event.wait(self.period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(2)


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def section_memory(cluster: LocalCluster, cfg: dict) -> dict:
    create_topic(cluster, "mem", 1)
    leader = leader_of(cluster, "mem", 0)
    pid = cluster.procs[leader].pid
    sampler = RssSampler(pid)
    sampler.start()
    try:
        time.sleep(1.0)
        sampler.phase = "write"
        note(f"memory: writing to mem-0 on node {leader} (pid {pid}) for {cfg['mem_write_s']} s, acks=1")
        spec = ProduceSpec(topic="mem", records=None, duration_s=cfg["mem_write_s"], record_size=RECORD_SIZE,
                           batch=BATCH, acks="1", concurrency=cfg["concurrency"], partition=0,
                           request_timeout_s=30)
        w = asyncio.run(produce_load([cluster.url(leader)], spec))
        sampler.phase = "between"
        time.sleep(1.0)
        data_path = cluster.config.node(leader).data_path / "partitions"
        log_bytes = sum(dir_bytes(p) for p in data_path.glob("mem-0*")) if data_path.exists() else None
        note(f"memory: wrote {w.records:,} records ({w.bytes / 2**20:,.0f} MiB of values, "
             f"{(log_bytes or 0) / 2**20:,.0f} MiB of log on node {leader}) at {w.mb_per_s:.1f} MB/s; "
             "reading back from offset 0")
        sampler.phase = "read"
        rd = asyncio.run(consume_load(cluster.url(leader), "mem", None, partitions=[0],
                                      timeout_s=cfg["mem_read_timeout_s"], idle_timeout_s=20))
        sampler.phase = "after"
        time.sleep(0.6)
    finally:
        sampler.stop()
    mib = {k: r(v / 2**20, 1) for k, v in sampler.max.items()}
    note(f"memory: read {rd.records:,} records at {rd.mb_per_s:.1f} MB/s; max RSS by phase (MiB) {mib}")
    return {"leader": leader, "written_records": w.records, "written_value_bytes": w.bytes,
            "log_bytes_on_leader": log_bytes, "write_mb_per_s": r(w.mb_per_s), "write_errors": w.errors.to_json(),
            "read_records": rd.records, "read_complete": rd.extra.get("complete"),
            "read_mb_per_s": r(rd.mb_per_s), "read_errors": rd.errors.to_json(),
            "rss_max_mb": {k: r(v / MB, 1) for k, v in sampler.max.items()},
            "rss_samples": sampler.samples,
            "read_rss_max_mb": r(sampler.max.get("read", 0) / MB, 1) if "read" in sampler.max else None}
