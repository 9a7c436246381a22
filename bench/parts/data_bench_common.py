"""bench/data_bench.py's shared parts: its consoles, targets and record shape, the
cluster helpers its sections use (topics, leaders, health) and one measured produce run."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from kraft.perf.produce_load import ProduceSpec, produce_load  # noqa: E402
from kraft.perf.stats import cpu_seconds  # noqa: E402
from kraft.server.local_cluster import LocalCluster, http_json  # noqa: E402

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
