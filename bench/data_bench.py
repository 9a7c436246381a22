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
import asyncio
import itertools
import json
import os
import platform
import sys
import threading
import time
import traceback
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ceiling import CeilingServer

from kraft.server.local_cluster import LocalCluster, http_json
from kraft.perf import meta
from kraft.perf.consume_load import consume_load
from kraft.perf.produce_load import ProduceSpec, build_body, new_session, produce_load
from kraft.perf.stats import (
    LoadResult,
    cpu_seconds,
    latency_summary,
    percentile,
    rss_bytes,
    spread,
)

out = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

MODES = ("all", "1", "0")
TARGETS = {
    "ratio_acks_all": 0.25,      # >= share of the ceiling's MB/s
    "ratio_acks_1": 0.35,
    "ratio_acks_0": 0.50,
    "consume_vs_acks_1": 1.0,    # consume MB/s >= acks=1 produce MB/s
    "produce_p99_ms": 25.0,      # acks=all at 20 % load
    "e2e_p99_ms": 50.0,
    "failover_median_s": 3.0,
    "shutdown_window_s": 1.0,    # strictly below
    "read_rss_mb": 300.0,        # strictly below
}

FULL = {"pairs": 3, "pair_s": 5.0, "warmup_s": 2.0, "concurrency": 8, "consume_records": 500_000,
        "consume_timeout_s": 60.0, "lat_s": 15.0, "failover_trials": 5, "shutdown_trials": 3,
        "mem_write_s": 60.0, "mem_read_timeout_s": 240.0}
QUICK = {"pairs": 3, "pair_s": 1.5, "warmup_s": 0.5, "concurrency": 8, "consume_records": 50_000,
         "consume_timeout_s": 15.0, "lat_s": 4.0, "failover_trials": 2, "shutdown_trials": 1,
         "mem_write_s": 6.0, "mem_read_timeout_s": 60.0}

RECORD_SIZE = 1024
BOUND_S = 30.0  # a failover/shutdown trial waits at most this long for a successful write
BATCH = 100
MB = 1_000_000


def note(msg: str) -> None:
    err.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {msg}")


def r(v, digits: int = 3):
    return None if v is None else round(v, digits)


# -- cluster helpers (sync, urllib) -------------------------------------------------------
def running(cluster: LocalCluster) -> list[int]:
    return [n for n in cluster.hosts if cluster.running(n)]


def create_topic(cluster: LocalCluster, name: str, partitions: int, rf: int = 3, min_isr: int = 2) -> None:
    body = {"topic_name": name, "partitions_count": partitions, "replication_factor": rf,
            "configs": [{"name": "min.insync.replicas", "value": str(min_isr)}]}
    deadline = time.monotonic() + 30
    while True:
        status, resp = http_json("POST", cluster.v3(running(cluster)[0]) + "/topics", body, timeout=10)
        if status == 201:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"create topic {name}: {status} {resp}")
        time.sleep(0.5)
    wait_healthy(cluster, name, partitions, rf)


def partitions_of(cluster: LocalCluster, topic: str, node_id: int | None = None) -> dict[int, dict]:
    for n in ([node_id] if node_id else running(cluster)):
        try:
            status, body = http_json("GET", cluster.v3(n) + f"/topics/{topic}/partitions", timeout=3)
        except OSError:
            continue
        if status == 200:
            return {p["partition_id"]: p for p in body["data"]}
    return {}


def wait_healthy(cluster: LocalCluster, topic: str, partitions: int, isr: int = 3,
                 timeout_s: float = 60.0) -> bool:
    """Every running node knows a leader for every partition and the ISR has `isr` members."""
    def ok():
        for n in running(cluster):
            parts = partitions_of(cluster, topic, n)
            if len(parts) != partitions:
                return False
            for p in parts.values():
                if p.get("leader_id") is None or len(p.get("isr") or []) < isr:
                    return False
        return True
    try:
        cluster.wait_until(ok, timeout_s, f"{topic} healthy", interval_s=0.2)
        return True
    except TimeoutError as exc:
        note(f"[yellow]warning: {exc}[/yellow]")
        return False


def leader_of(cluster: LocalCluster, topic: str, partition: int) -> int:
    def find():
        p = partitions_of(cluster, topic).get(partition)
        return p and p.get("leader_id")
    return cluster.wait_until(find, 30, f"leader of {topic}-{partition}")


def node_cpu(cluster: LocalCluster) -> dict[int, float | None]:
    return {n: cpu_seconds(cluster.procs[n].pid) for n in running(cluster)}


def measure(urls: list[str], acks: str, seconds: float, concurrency: int, topic: str,
            pids: dict[str, int]) -> dict:
    """One duration-bounded produce run; with the CPU use (in % of one core) of `pids`
    and of this process (the load generator), and the kernel's part of the former."""
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    before_sys = {k: cpu_seconds(p, kernel_only=True) for k, p in pids.items()}
    me = os.times()
    spec = ProduceSpec(topic=topic, records=None, duration_s=seconds, record_size=RECORD_SIZE,
                       batch=BATCH, acks=acks, concurrency=concurrency, request_timeout_s=30)
    res = asyncio.run(produce_load(urls, spec))
    me2 = os.times()
    wall = res.elapsed_s
    cpu = {k: r(100 * (cpu_seconds(p) - before[k]) / wall, 1)
           if before[k] is not None and cpu_seconds(p) is not None else None for k, p in pids.items()}
    cpu["loadgen"] = r(100 * (me2.user + me2.system - me.user - me.system) / wall, 1)
    d = res.to_json()
    d["cpu_pct"] = cpu
    d["kernel_cpu_pct"] = {k: r(100 * (cpu_seconds(p, kernel_only=True) - before_sys[k]) / wall, 1)
                           if before_sys[k] is not None else None for k, p in pids.items()}
    return d


def cpu_ms_per_mb(run: dict, key: str = "cpu_pct") -> float | None:
    """CPU time of the server processes (not the load generator) per MB accepted."""
    cores = sum(v for k, v in run[key].items() if k != "loadgen" and v is not None) / 100
    return r(1000 * cores / run["mb_per_s"], 2) if run["mb_per_s"] else None


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


# -- 3. latency ----------------------------------------------------------------------------
async def latency_run(cluster: LocalCluster, rate: float, seconds: float, concurrency: int,
                      warmup_s: float = 1.0) -> dict:
    topic = "lat"
    async with new_session(concurrency + 8) as session:
        cid = cluster.cluster_id
        bootstrap = cluster.url(running(cluster)[0])
        brokers = await meta.brokers(session, bootstrap, cid)
        leaders = await meta.partition_leaders(session, bootstrap, topic, cid)
        sent_at: dict[int, float] = {}
        e2e: list[float] = []
        reader_errors: list[str] = []
        produced_done = asyncio.Event()
        acked = [0]
        seen = [0]

        id_base = [10**11]  # warm-up requests carry ids >= 10**11, never looked up

        def body_factory(k: int, n: int) -> bytes:
            body = build_body(RECORD_SIZE, n, prefix=f"{id_base[0] + k:012d}|")
            if not id_base[0]:
                sent_at[k] = time.perf_counter()  # just before the request goes out
            return body

        timeline: list[tuple[float, float, int]] = []  # (sent, latency, target index)

        def on_request(k, count, sent, done, ok):
            acked[0] += ok
            timeline.append((sent, done - sent, k % len(urls)))

        async def reader(p: int) -> None:
            offset = 0
            url = brokers[leaders[p]]
            finish_by = None
            while True:
                if produced_done.is_set():
                    finish_by = finish_by or time.perf_counter() + 3.0
                    if seen[0] >= acked[0] or time.perf_counter() > finish_by:
                        return
                q = (f"{url}/topics/{topic}/partitions/{p}/records?offset={offset}"
                     f"&timeout=1000&max_bytes=4194304")
                try:
                    async with session.get(q, headers={"Accept": "application/vnd.kafka.json.v2+json"}) as resp:
                        raw = await resp.read()
                        status = resp.status
                except Exception as exc:  # noqa: BLE001 - recorded, bounded by finish_by
                    reader_errors.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.05)
                    continue
                now = time.perf_counter()
                if status != 200:
                    reader_errors.append(f"{status} {raw[:200]!r}")
                    await asyncio.sleep(0.05)
                    continue
                records = orjson.loads(raw)
                for rec in records:
                    k = int(rec["value"][:12])
                    if k in sent_at:
                        e2e.append(now - sent_at[k])
                        seen[0] += 1
                if records:
                    offset = records[-1]["offset"] + 1

        urls = list(brokers.values())
        readers = [asyncio.create_task(reader(p)) for p in sorted(leaders)]
        await asyncio.sleep(0.3)  # readers are waiting before the first record is sent
        spec = ProduceSpec(topic=topic, records=None, duration_s=seconds, record_size=RECORD_SIZE,
                           batch=BATCH, acks="all", concurrency=concurrency, throughput=rate)
        # warm-up at the same rate (connections, follower fetch sessions of the new
        # topic); not counted
        warm = ProduceSpec(topic=topic, records=None, duration_s=warmup_s, record_size=RECORD_SIZE,
                           batch=BATCH, acks="all", concurrency=concurrency, throughput=rate)
        await produce_load(urls, warm, session=session, body_factory=body_factory)
        id_base[0] = 0
        res: LoadResult = await produce_load(urls, spec, session=session, body_factory=body_factory,
                                             on_request=on_request)
        res.bytes = res.records * RECORD_SIZE
        produced_done.set()
        try:
            await asyncio.wait_for(asyncio.gather(*readers), 10)
        except TimeoutError:
            for t in readers:
                t.cancel()
        d = res.to_json()
        t_first = min((t[0] for t in timeline), default=0.0)
        slowest = sorted(timeline, key=lambda t: -t[1])[:10]
        return {"target_rate_records_per_s": r(rate, 1), "produce": d,
                "slowest_requests": [{"at_s": r(s - t_first), "ms": r(l * 1000, 1), "node_url": urls[u]}
                                     for s, l, u in slowest],
                "produce_p99_ms": d["latency_ms"]["p99"],
                "e2e_ms": {k: r(v) for k, v in latency_summary(e2e).items()},
                "e2e_p99_ms": r(percentile([x * 1000 for x in e2e], 99)),
                "records_acked": acked[0], "records_seen_by_reader": seen[0],
                "reader_errors": reader_errors[:10]}


def section_latency(cluster: LocalCluster, cfg: dict, max_all_rate: float | None) -> dict:
    if not max_all_rate:  # run without the throughput section: measure the max rate here
        m = measure([cluster.url(n) for n in running(cluster)], "all", cfg["pair_s"], cfg["concurrency"],
                    "bench", {})
        max_all_rate = m["records_per_s"]
    create_topic(cluster, "lat", 3)
    rate = 0.2 * max_all_rate
    note(f"latency: acks=all at {rate:,.0f} records/s (20 % of {max_all_rate:,.0f}) for {cfg['lat_s']} s")
    d = asyncio.run(latency_run(cluster, rate, cfg["lat_s"], cfg["concurrency"]))
    note(f"latency: produce p99 {d['produce_p99_ms']} ms, end-to-end p99 {d['e2e_p99_ms']} ms, "
         f"achieved {d['produce']['records_per_s']:,.0f} records/s")
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


# -- report ---------------------------------------------------------------------------------
def verdict(ok: bool | None) -> str:
    if ok is None:
        return "[red]FAIL (no data)[/red]"
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def fmt(v, digits: int = 1, unit: str = "") -> str:
    return "-" if v is None else f"{v:,.{digits}f}{unit}"


def report(res: dict) -> dict:
    checks: dict[str, bool | None] = {}
    t = Table(title="Data path benchmark (1 KiB records, 100 per request)", show_lines=False)
    for col, j in (("measure", "left"), ("value", "right"), ("spread / detail", "left"),
                   ("target", "left"), ("", "left")):
        t.add_column(col, justify=j)

    def row(name, value, detail, target, check_key=None, ok=None):
        if check_key:
            checks[check_key] = ok
        t.add_row(name, value, detail, target, verdict(ok) if check_key else "")

    def sec(name):
        v = res.get(name)
        return v if isinstance(v, dict) and "error" not in v else None

    tp = sec("throughput") or {}
    modes = tp.get("modes", {})
    if tp:
        c = tp["ceiling_mb_per_s"]
        row("ceiling MB/s", fmt(c["median"]), f"{fmt(c['min'])}..{fmt(c['max'])} over {c['n']} runs", "")
    for mode, key in (("all", "ratio_acks_all"), ("1", "ratio_acks_1"), ("0", "ratio_acks_0")):
        m = modes.get(mode)
        if not m:
            row(f"acks={mode} / ceiling", "-", "not run", f">= {TARGETS[key]:.0%}", key, None)
            continue
        mb, ra = m["mb_per_s"], m["ratio"]
        row(f"acks={mode} MB/s", fmt(mb["median"]), f"{fmt(mb['min'])}..{fmt(mb['max'])}, "
            f"{fmt(m['records_per_s']['median'], 0)} rec/s, p99 {fmt(m['p99_ms']['median'])} ms, "
            f"{fmt(m['cpu_ms_per_mb']['median'])} CPU-ms/MB, {fmt(m['kernel_ms_per_mb']['median'])} of it "
            f"kernel (ceiling {fmt(m['ceiling_cpu_ms_per_mb']['median'])}, "
            f"{fmt(m['ceiling_kernel_ms_per_mb']['median'])} kernel)"
            + (f", {m['failed_records']} failed" if m["failed_records"] else ""), "")
        row(f"acks={mode} / ceiling", fmt(100 * ra["median"], 1, " %"),
            f"{fmt(100 * ra['min'], 1)}..{fmt(100 * ra['max'], 1)} % over {ra['n']} pairs",
            f">= {TARGETS[key]:.0%}", key, ra["median"] is not None and ra["median"] >= TARGETS[key])
    cons = sec("consume")
    if cons:
        row("consume MB/s (from 0)", fmt(cons["mb_per_s"]), f"{cons['records']:,} records, "
            f"{fmt(cons['records_per_s'], 0)} rec/s, {fmt((cons['vs_acks_1'] or 0) * 100, 0)} % of acks=1",
            ">= acks=1 produce", "consume_vs_acks_1",
            cons["vs_acks_1"] is not None and cons["vs_acks_1"] >= TARGETS["consume_vs_acks_1"])
    else:
        row("consume MB/s (from 0)", "-", "not run", ">= acks=1 produce", "consume_vs_acks_1", None)
    lat = sec("latency")
    if lat:
        row("acks=all p99 at 20 % load", fmt(lat["produce_p99_ms"], 1, " ms"),
            f"{fmt(lat['produce']['records_per_s'], 0)} rec/s; p50 {fmt(lat['produce']['latency_ms']['p50'])} ms",
            "<= 25 ms", "produce_p99_ms",
            lat["produce_p99_ms"] is not None and lat["produce_p99_ms"] <= TARGETS["produce_p99_ms"])
        row("end-to-end p99", fmt(lat["e2e_p99_ms"], 1, " ms"),
            f"p50 {fmt(lat['e2e_ms']['p50'])} ms, {lat['e2e_ms']['n']:,} records", "<= 50 ms", "e2e_p99_ms",
            lat["e2e_p99_ms"] is not None and lat["e2e_p99_ms"] <= TARGETS["e2e_p99_ms"])
    else:
        row("acks=all p99 at 20 % load", "-", "not run", "<= 25 ms", "produce_p99_ms", None)
        row("end-to-end p99", "-", "not run", "<= 50 ms", "e2e_p99_ms", None)
    fo = sec("failover")
    if fo:
        s = fo["time_to_first_ok_s"]
        row("leader failover (kill -9)", fmt(s["median"], 2, " s"),
            "trials: " + ", ".join((fmt(x["time_to_first_ok_s"], 2) if x["time_to_first_ok_s"] is not None
                                    else f">{BOUND_S:.0f}") + ("(C)" if x["was_controller"] else "")
                                   for x in fo["trials"]) + "; (C) = the killed leader was also the active controller",
            "median <= 3 s", "failover_median_s", s["median"] is not None and s["median"] <= TARGETS["failover_median_s"])
    else:
        row("leader failover (kill -9)", "-", "not run", "median <= 3 s", "failover_median_s", None)
    sd = sec("shutdown")
    if sd:
        w = sd["window_s"]
        row("controlled shutdown window", fmt(w["median"], 3, " s"),
            "trials: " + ", ".join(fmt(x["max_gap_s"], 3) if x["max_gap_s"] is not None else f">{BOUND_S:.0f}"
                                   for x in sd["trials"]) + f" (max {fmt(w['max'], 3)}); "
            f"{sum(v['records'] for x in sd['trials'] for v in x['errors'].values())} records failed "
            f"({', '.join(sorted({c for x in sd['trials'] for c in x['errors']})) or 'none'})",
            "< 1 s", "shutdown_window_s", w["median"] is not None and w["median"] < TARGETS["shutdown_window_s"])
    else:
        row("controlled shutdown window", "-", "not run", "< 1 s", "shutdown_window_s", None)
    mem = sec("memory")
    if mem:
        row("data written for memory test", fmt((mem["log_bytes_on_leader"] or 0) / 2**30, 2, " GiB"),
            f"{mem['written_records']:,} records in ~{res['config']['mem_write_s']:.0f} s, "
            f"{fmt(mem['write_mb_per_s'])} MB/s", "")
        v = mem["read_rss_max_mb"]
        row("leader max RSS while reading all", fmt(v, 0, " MB"),
            f"read {mem['read_records']:,} records at {fmt(mem['read_mb_per_s'])} MB/s; "
            f"write max {fmt(mem['rss_max_mb'].get('write'), 0)} MB, idle {fmt(mem['rss_max_mb'].get('idle'), 0)} MB",
            "< 300 MB", "read_rss_mb", v is not None and v < TARGETS["read_rss_mb"])
    else:
        row("leader max RSS while reading all", "-", "not run", "< 300 MB", "read_rss_mb", None)
    out.print(t)
    for name in ("failover", "shutdown"):
        for i, x in enumerate((res.get(name) or {}).get("trials", [])):
            if not x.get("restored", True):
                node = x.get("killed", x.get("stopped"))
                out.print(f"[yellow]{name} trial {i + 1}: after node {node} was restarted, topic 'bench' "
                          "did not get a leader and a full ISR (3) for every partition within 60 s[/yellow]")
    for name, v in res.items():
        if isinstance(v, dict) and v.get("error"):
            out.print(f"[red]section {name} crashed:[/red] {v['error'].splitlines()[-1]}")
    for d in res.get("node_exits", []):
        out.print(f"[red]node {d['node']} exited on its own (rc {d['returncode']}) before/during "
                  f"section {d['found_before']}; restarted. Last log line: {d['last_line']}[/red]")
    return checks


SECTIONS = ("throughput", "consume", "latency", "failover", "shutdown", "memory")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short smoke run (~1.5 min)")
    ap.add_argument("--pairs", type=int, default=None, help="alternating pairs per mode (min 3)")
    ap.add_argument("--pair-seconds", type=float, default=None, help="length of each run of a pair")
    ap.add_argument("--concurrency", type=int, default=None, help="requests in flight (default 8)")
    ap.add_argument("--mem-seconds", type=float, default=None, help="write time of the memory test")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only these sections (repeatable); latency needs throughput")
    args = ap.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.pairs is not None:
        cfg["pairs"] = max(3, args.pairs)
    if args.pair_seconds is not None:
        cfg["pair_s"] = args.pair_seconds
    if args.concurrency is not None:
        cfg["concurrency"] = args.concurrency
    if args.mem_seconds is not None:
        cfg["mem_write_s"] = args.mem_seconds
    sections = args.only or list(SECTIONS)
    res: dict = {"config": {**cfg, "quick": args.quick, "python": platform.python_version(),
                            "cpus": os.cpu_count(), "loadavg_start": os.getloadavg(),
                            "targets": TARGETS}}
    started = time.monotonic()
    cluster = ceiling = None

    def check_nodes(before: str) -> None:
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

    def run_section(name, fn):
        if name not in sections:
            return
        check_nodes(name)
        t0 = time.monotonic()
        try:
            res[name] = fn()
        except Exception:  # noqa: BLE001 - one broken section must not hide the others
            res[name] = {"error": traceback.format_exc()}
            err.print(f"[red]section {name} crashed[/red]")
            err.print(res[name]["error"])
        if isinstance(res.get(name), dict):
            res[name]["section_s"] = r(time.monotonic() - t0, 1)

    try:
        ceiling = CeilingServer().start()
        note(f"ceiling server on {ceiling.url} (pid {ceiling.proc.pid})")
        cluster = LocalCluster(nodes=3)
        cluster.start()
        cluster.wait_ready(timeout_s=60)
        note(f"cluster up: {[cluster.url(n) for n in cluster.hosts]}, pids "
             f"{ {n: cluster.procs[n].pid for n in cluster.hosts} }")
        create_topic(cluster, "bench", 3)
        run_section("throughput", lambda: section_throughput(cluster, ceiling, cfg))
        modes = (res.get("throughput") or {}).get("modes", {})
        acks1 = (modes.get("1") or {}).get("mb_per_s", {}).get("median")
        all_rate = (modes.get("all") or {}).get("records_per_s", {}).get("median")
        run_section("consume", lambda: section_consume(cluster, cfg, acks1))
        run_section("latency", lambda: section_latency(cluster, cfg, all_rate))
        run_section("failover", lambda: section_failover(cluster, cfg))
        run_section("shutdown", lambda: section_shutdown(cluster, cfg))
        run_section("memory", lambda: section_memory(cluster, cfg))
        check_nodes("end")
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
