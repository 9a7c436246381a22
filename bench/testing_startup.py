"""Start-up of kraft.testing.Cluster: from asking for a cluster to one record produced
and consumed, for 1 and 3 nodes, and the memory of an idle cluster. Not asserted.

    .venv/bin/python bench/testing_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from kraft.testing import Cluster

CLIENT_BOUND_S = 60


def first_record(c: Cluster) -> None:
    """One record through a fresh topic: produced (acks=all) and consumed back."""
    topic = c.new_topic()
    p = Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
    p.produce(topic, b"first")
    if p.flush(CLIENT_BOUND_S):
        raise RuntimeError("the first record was not delivered")
    consumer = Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": "bench",
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        deadline = time.monotonic() + CLIENT_BOUND_S
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                return
        raise RuntimeError("the first record was not consumed")
    finally:
        consumer.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_run(nodes: int, idle_s: float) -> tuple[float, float, float]:
    """(seconds to ready, seconds to the first record consumed, idle RSS in MB)."""
    t0 = time.monotonic()
    with Cluster(nodes=nodes) as c:
        ready = time.monotonic() - t0
        first_record(c)
        total = time.monotonic() - t0
        time.sleep(idle_s)
        memory = sum(rss_mb(p.pid) for p in c.local.procs.values())
    return ready, total, memory


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):6.2f}  min {min(values):6.2f}  max {max(values):6.2f}"
            f"  stdev {statistics.pstdev(values):5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nodes", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--idle-s", type=float, default=5.0, help="settle time before the memory is read")
    args = ap.parse_args()
    for nodes in args.nodes:
        runs = [one_run(nodes, args.idle_s) for _ in range(args.runs)]
        print(f"{nodes} node(s), {args.runs} runs")
        print(f"  to ready (s):               {summary([r[0] for r in runs])}")
        print(f"  to first record (s):        {summary([r[1] for r in runs])}")
        print(f"  idle memory, all nodes (MB): {summary([r[2] for r in runs])}")


if __name__ == "__main__":
    main()
