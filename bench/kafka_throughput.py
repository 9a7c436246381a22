"""Kafka wire vs REST throughput on the default 3-node cluster, with a wire ceiling.

Rows, measured side by side in each run (the same machine state, the same load
generator process), 1 KiB records, no compression, RF 3, min.insync.replicas 2:

  wire produce acks=all   confluent-kafka Producer (librdkafka defaults, idempotence on)
                          into a 3-partition topic through the Kafka listeners
  REST produce acks=all   the v2 JSON produce API, 100 records per request, 8 in flight,
                          round-robin over the three nodes (what `kraft bench produce` does)
  wire ceiling            the same producer into bench/kafka_ceiling.py (one process that
                          decodes Produce, checks CRCs and appends to one file)
  wire consume            confluent-kafka Consumer reading the wire topic from offset 0
  REST consume            `kraft bench consume`'s reader of the REST topic from offset 0

MB/s counts record values. CPU-ms per MB is the CPU time of the server processes (the
three nodes, or the ceiling) per MB, from /proc, not counting the load generator.
RSS is each node's resident memory after the runs.

    .venv/bin/python bench/kafka_throughput.py --records 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_ceiling import KafkaCeiling  # noqa: E402

from kraft.perf.consume_load import run_consume  # noqa: E402
from kraft.perf.produce_load import ProduceSpec, run_produce  # noqa: E402
from kraft.perf.stats import cpu_seconds  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

RECORD = 1024
PARTITIONS = 3


def cpu(pids) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


def timed(pids, run) -> dict:
    before, started = cpu(pids), time.monotonic()
    records = run()
    wall = time.monotonic() - started
    mb = records * RECORD / 1e6
    return {"records": records, "seconds": wall, "mb_per_s": mb / wall, "cpu_ms_per_mb": 1000 * (cpu(pids) - before) / mb}


def wire_produce(bootstrap: str, topic: str, records: int) -> int:
    import confluent_kafka
    failed: list = []
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                         "enable.idempotence": True, "delivery.report.only.error": True,
                                         "on_delivery": lambda err, _m: failed.append(err)})
    value = os.urandom(RECORD)
    for i in range(records):
        while True:
            try:
                producer.produce(topic, value=value, partition=i % PARTITIONS)
                break
            except BufferError:  # the client's queue is full: let it send
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    if left or failed:
        raise RuntimeError(f"wire produce: {left} undelivered, {len(failed)} failed ({failed[:3]})")
    return records


def wire_consume(bootstrap: str, topic: str, records: int) -> int:
    import confluent_kafka
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}",
                                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    got, deadline = 0, time.monotonic() + 120
    try:
        while got < records and time.monotonic() < deadline:
            for msg in consumer.consume(10000, 1.0):
                if msg.error() is None:
                    got += 1
    finally:
        consumer.close()
    return got


def create(cluster: LocalCluster, topic: str) -> None:
    import urllib.request
    body = json.dumps({"topic_name": topic, "partitions_count": PARTITIONS, "replication_factor": 3}).encode()
    req = urllib.request.Request(cluster.v3(1) + "/topics", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()
    time.sleep(1.0)  # every node has the topic and its leaders


def spread(values) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}..{max(values):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description="Kafka wire vs REST throughput")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {k: [] for k in
                                   ("wire produce acks=all", "REST produce acks=all", "wire ceiling",
                                    "wire consume", "REST consume")}
    with LocalCluster(nodes=3) as cluster:
        cluster.start().wait_ready(timeout_s=60)
        pids = [cluster.procs[n].pid for n in sorted(cluster.procs)]
        urls = [cluster.url(n) for n in sorted(cluster.procs)]
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr)
            wire_topic, rest_topic = f"wire-{run}", f"rest-{run}"
            create(cluster, wire_topic)
            create(cluster, rest_topic)
            rows["wire produce acks=all"].append(
                timed(pids, lambda: wire_produce(cluster.bootstrap_servers, wire_topic, args.records)))
            spec = ProduceSpec(topic=rest_topic, records=args.records, record_size=RECORD, batch=100, acks="all",
                               concurrency=8, request_timeout_s=60)
            rows["REST produce acks=all"].append(timed(pids, lambda: run_produce(None, spec, urls=urls).records))
            ceiling = KafkaCeiling(partitions=PARTITIONS).start()
            try:
                rows["wire ceiling"].append(
                    timed([ceiling.proc.pid], lambda: wire_produce(ceiling.bootstrap, "ceiling", args.records)))
            finally:
                ceiling.stop()
            rows["wire consume"].append(
                timed(pids, lambda: wire_consume(cluster.bootstrap_servers, wire_topic, args.records)))
            rows["REST consume"].append(
                timed(pids, lambda: run_consume(cluster.url(1), rest_topic, args.records).records))
        rss = {n: rss_mb(cluster.procs[n].pid) for n in sorted(cluster.procs)}

    print(f"\n{args.records} records of {RECORD} B per row, {args.runs} runs: median (min..max)\n")
    print(f"| {'row':<22} | {'MB/s':<20} | {'CPU-ms per MB':<20} |")
    print(f"|{'-' * 24}|{'-' * 22}|{'-' * 22}|")
    for name, results in rows.items():
        print(f"| {name:<22} | {spread([r['mb_per_s'] for r in results]):<20} | "
              f"{spread([r['cpu_ms_per_mb'] for r in results]):<20} |")
    def ratio(a, b):
        return [x["mb_per_s"] / y["mb_per_s"] for x, y in zip(rows[a], rows[b])]
    print()
    print(f"wire / REST produce (goal >= 3):       {spread(ratio('wire produce acks=all', 'REST produce acks=all'))}")
    print(f"wire / ceiling (goal >= 0.25):         "
          f"{statistics.median(ratio('wire produce acks=all', 'wire ceiling')):.2f} "
          f"({min(ratio('wire produce acks=all', 'wire ceiling')):.2f}.."
          f"{max(ratio('wire produce acks=all', 'wire ceiling')):.2f})")
    print(f"wire consume / wire produce (goal >= 1): {spread(ratio('wire consume', 'wire produce acks=all'))}")
    print(f"RSS per node after the runs (goal < 300 MB): {', '.join(f'node {n}: {v:.0f} MB' for n, v in rss.items())}")
    print(json.dumps({"rows": rows, "rss_mb": rss}))
    return 0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


if __name__ == "__main__":
    sys.exit(main())
