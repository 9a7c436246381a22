"""bench/host_processes.py's measurements: the nodes' CPU while idle, one-record open-loop
steps (small_requests.py's senders and steps), and a large-batch produce, each against
a cluster (or the replicated ceiling) whose topic has `partitions` partitions."""

from __future__ import annotations

import json
import statistics
import time
import urllib.request

from kafka_throughput import warm_producer, wire_produce
from small_requests import RECORD, Workers, node_cpu, run_steps

from kraft.perf import open_loop_clients
from kraft.perf.open_loop import passed
from kraft.server.local_cluster import LocalCluster


def create_topic(cluster: LocalCluster, topic: str, partitions: int) -> None:
    """An RF-3 topic, led on every node (each node's metadata has every leader)."""
    body = json.dumps({"topic_name": topic, "partitions_count": partitions, "replication_factor": 3}).encode()
    first = min(cluster.procs)
    req = urllib.request.Request(cluster.v3(first) + "/topics", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()

    def led_everywhere() -> bool:
        for node in cluster.procs:
            status, answer = cluster.get(node, f"/v3/clusters/{cluster.cluster_id}/topics/{topic}/partitions")
            if status != 200 or len(answer["data"]) != partitions \
                    or any(p.get("leader_id") is None for p in answer["data"]):
                return False
        return True
    cluster.wait_until(led_everywhere, 60, f"leaders of {topic} on every node")


def leaders(cluster: LocalCluster, topic: str) -> dict[int, int]:
    """partition -> its leader's node id."""
    _status, answer = cluster.get(min(cluster.procs), f"/v3/clusters/{cluster.cluster_id}/topics/{topic}/partitions")
    return {int(p["partition_id"]): int(p["leader_id"]) for p in answer["data"]}


def idle_cpu(pids: list[int], seconds: float) -> dict:
    """The nodes' CPU over `seconds` with no client: their heartbeats, followers' long
    polls, Raft ticks, timers."""
    before = {pid: node_cpu([pid]) for pid in pids}
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    per = {pid: node_cpu([pid]) - before[pid] for pid in pids}
    total = sum(per.values())
    return {"seconds": wall, "cpu_s": total, "cpu_pct": 100 * total / wall,  # of one core, nodes summed
            "per_process_pct": 100 * total / wall / len(pids),
            "max_process_pct": 100 * max(per.values()) / wall}


def steps(pids: list[int], bootstrap: str, topic: str, partitions: int, rates: list[float], seconds: float,
          drain_s: float, label: dict, step_base: int = 0, senders: int = 1, stop_after_misses: int = 0,
          p99_limit_ms: float = 50.0) -> list[dict]:
    """`senders` wire senders (linger 0, acks=all, 1 KiB records, idempotence off; each
    rate split between them) stepped through `rates`, each step's node CPU per request
    counted over `pids`. With stop_after_misses K, the steps end after K missed in a row
    (a knee's search: the rates above cost a drain each and add nothing)."""
    specs = [{"bootstrap": bootstrap, "topic": topic, "partitions": partitions, "size": RECORD, "linger_ms": 0,
              "acks": "all", "idempotence": False, "sender": i, "senders": senders, "drain_s": drain_s}
             for i in range(senders)]
    workers = Workers(open_loop_clients.wire_sender, specs)
    out: list[dict] = []
    try:
        workers.receive(90)
        label = {"door": "wire", "linger_ms": 0, "acks": "all", "producers": senders, **label}
        misses = 0
        for rate in rates:
            out += run_steps(workers, pids, [rate], seconds, label, step_base + len(out), drain_s)
            misses = 0 if passed(out[-1], p99_limit_ms) else misses + 1
            if stop_after_misses and misses >= stop_after_misses:
                break
        workers.send(None)
    finally:
        workers.close()
    return out


def large_batch(pids: list[int], bootstrap: str, topic: str, partitions: int, records: int) -> dict:
    """librdkafka's defaults (linger 5, 1 MB requests pipelined), acks=all, `records`
    1 KiB values round-robin (kafka_throughput.wire_produce) over the partitions: MB/s of values and the
    nodes' CPU-ms per MB. The producer has its connections and leaders before the clock."""
    client = warm_producer(bootstrap, topic, partitions=partitions)
    cpu_before, started = node_cpu(pids), time.monotonic()
    wire_produce(client, topic, records, partitions=partitions)  # raises unless all were delivered
    wall, cpu_s = time.monotonic() - started, node_cpu(pids) - cpu_before
    mb = records * RECORD / 1e6
    return {"records": records, "seconds": wall, "mb_per_s": mb / wall, "cpu_ms_per_mb": 1000 * cpu_s / mb}


def median_range(values: list[float]) -> str:
    """'median (min-max)', or the one value; '-' for none."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
