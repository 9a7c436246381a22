"""Kafka wire vs REST throughput on the default 3-node cluster, with a wire ceiling.

Rows, measured side by side in each run (the same machine state, the same load
generator process), 1 KiB records, no compression, RF 3, min.insync.replicas 2:

  wire produce acks=all   confluent-kafka Producer (librdkafka defaults, so idempotence
                          off, and acks=all) into a 3-partition topic through the Kafka
                          listeners
  wire produce idempotent the same with enable.idempotence=true: for information, not a
                          goal row. librdkafka's idempotent producer keeps one request in
                          flight per partition and its broker threads poll without
                          sleeping while they wait for the answer (poll(2) with a zero
                          timeout), which takes CPU from the nodes when the load
                          generator shares their cores (bench/README.md)
  REST produce acks=all   the v2 JSON produce API, 100 records per request, 8 in flight,
                          round-robin over the three nodes (what `kraft bench produce` does)
  wire ceiling            the same producer into bench/kafka_ceiling.py (one process that
                          decodes Produce, checks CRCs and appends to one file)
  wire consume            confluent-kafka Consumer reading the wire topic from offset 0
                          (fetch.queue.backoff.ms 10, see warm_consumer)
  wire consume (kcat)     kcat reading the wire topic from offset 0 to its end (skipped
                          when kcat is not installed): no Python per record, so it shows
                          what the brokers serve without Python per record
  REST consume            `kraft bench consume`'s reader of the REST topic from offset 0

Clients are set up before the clock starts: a producer has delivered a warm-up record
to each partition (so its connections, metadata and producer id are in place, which
take librdkafka about half a second), a consumer has fetched its first record. The
load generator hands records to librdkafka with produce_batch, 1,000 at a time, so
its own Python cost per record stays small next to what is measured.

MB/s counts record values. CPU-ms per MB is the CPU time of the server processes (the
three nodes, or the ceiling) per MB, from /proc; client CPU-ms per MB is the load
generator's own (this process with librdkafka's threads, or kcat), from getrusage. On
two cores the two share the machine, so a client that costs more leaves the servers
less.
RSS is each node's resident memory after the runs.

    .venv/bin/python bench/kafka_throughput.py --records 300000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_ceiling import KafkaCeiling  # noqa: E402

from kraft.perf.consume_load import run_consume  # noqa: E402
from kraft.perf.produce_load import ProduceSpec, run_produce  # noqa: E402
from kraft.perf.stats import cpu_seconds, rss_bytes  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

RECORD = 1024
PARTITIONS = 3
CHUNK = 1000  # records per produce_batch call


def cpu(pids) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


def client_cpu() -> float:
    """CPU of this process (the load generator, librdkafka's threads included) and of
    its waited-for children (kcat)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(pids, run, prepare=None) -> dict:
    """Time run(prepared) (its records per second, the servers' and the client's CPU
    per MB); prepare() sets a client up first, outside the clock (connections, metadata,
    producer id)."""
    prepared = prepare() if prepare is not None else None
    before, client_before, started = cpu(pids), client_cpu(), time.monotonic()
    records = run(prepared) if prepare is not None else run()
    wall = time.monotonic() - started
    mb = records * RECORD / 1e6
    return {"records": records, "seconds": wall, "mb_per_s": mb / wall,
            "cpu_ms_per_mb": 1000 * (cpu(pids) - before) / mb,
            "client_cpu_ms_per_mb": 1000 * (client_cpu() - client_before) / mb}


def warm_producer(bootstrap: str, topic: str, idempotent: bool = False, partitions: int = PARTITIONS):
    """An acks=all producer that has its connections and the topic's leaders (and, when
    idempotent, its producer id): a small record to each partition, delivered; and the
    list its delivery failures go to."""
    import confluent_kafka
    failed: list = []
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                         "enable.idempotence": idempotent, "delivery.report.only.error": True,
                                         "on_delivery": lambda err, _m: failed.append(err)})
    for partition in range(partitions):
        producer.produce(topic, value=b"warm-up", partition=partition)
    if producer.flush(30) or failed:
        raise RuntimeError(f"warm-up records to {topic} not delivered ({failed[:3]})")
    return producer, failed


def wire_produce(client, topic: str, records: int, partitions: int = PARTITIONS) -> int:
    """`records` values of RECORD bytes, round-robin over the partitions in runs of
    CHUNK (produce_batch: the load generator's own Python cost per record stays small
    next to the servers')."""
    producer, failed = client
    value = os.urandom(RECORD)
    sent = 0
    while sent < records:
        count = min(CHUNK, records - sent)
        pending = [{"value": value} for _ in range(count)]
        partition = (sent // CHUNK) % partitions
        while pending:
            producer.produce_batch(topic, pending, partition=partition)
            pending = [{"value": value} for message in pending if "_error" in message]
            if pending:  # the client's queue is full: let it send
                producer.poll(0.01)
        sent += count
        producer.poll(0)
    left = producer.flush(120)
    if left or failed:
        raise RuntimeError(f"wire produce: {left} undelivered, {len(failed)} failed ({failed[:3]})")
    return records


def warm_consumer(bootstrap: str, topic: str):
    """A consumer assigned every partition from offset 0 that has fetched its first
    record (connections, metadata, offsets resolved).

    fetch.queue.backoff.ms is 10 instead of librdkafka's 1000: once its local queue
    holds queued.max.messages.kbytes (64 MB) librdkafka stops fetching for that long,
    and a consumer that drains 64 MB in a third of a second then waits two thirds of a
    second for nothing (measured: 130 MB/s with the default, 330-670 with 10 ms), so
    the row would show the client's pause, not the brokers."""
    import confluent_kafka
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}",
                                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                                         "fetch.queue.backoff.ms": 10})
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            return consumer
    consumer.close()
    raise RuntimeError(f"no record of {topic} arrived within 30 s")


def wire_consume(consumer, records: int) -> int:
    """The next `records` records (the warm-up fetched the first)."""
    got, deadline = 0, time.monotonic() + 120
    try:
        while got < records and time.monotonic() < deadline:
            for msg in consumer.consume(10000, 1.0):
                if msg.error() is None:
                    got += 1
    finally:
        consumer.close()
    return got


def kcat_consume(bootstrap: str, topic: str, records: int) -> int:
    """kcat (librdkafka in C, no Python per record) reading the topic from the start
    to its end, printing only offsets: the consume rate the brokers allow."""
    done = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                           "-f", "%o\\n"], capture_output=True, timeout=120, check=True)
    got = done.stdout.count(b"\n")
    if got < records:
        raise RuntimeError(f"kcat read {got} of {records} records of {topic}")
    return records


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
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {k: [] for k in
                                   ("wire produce acks=all", "wire produce idempotent", "REST produce acks=all",
                                    "wire ceiling",
                                    "wire consume", "wire consume (kcat)", "REST consume")}
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
                timed(pids, lambda producer: wire_produce(producer, wire_topic, args.records),
                      lambda: warm_producer(cluster.bootstrap_servers, wire_topic)))
            create(cluster, f"idem-{run}")
            rows["wire produce idempotent"].append(
                timed(pids, lambda producer: wire_produce(producer, f"idem-{run}", args.records),
                      lambda: warm_producer(cluster.bootstrap_servers, f"idem-{run}", idempotent=True)))
            spec = ProduceSpec(topic=rest_topic, records=args.records, record_size=RECORD, batch=100, acks="all",
                               concurrency=8, request_timeout_s=60)
            rows["REST produce acks=all"].append(timed(pids, lambda: run_produce(None, spec, urls=urls).records))
            ceiling = KafkaCeiling(partitions=PARTITIONS).start()
            try:
                rows["wire ceiling"].append(
                    timed([ceiling.proc.pid], lambda producer: wire_produce(producer, "ceiling", args.records),
                          lambda: warm_producer(ceiling.bootstrap, "ceiling")))
            finally:
                ceiling.stop()
            rows["wire consume"].append(
                timed(pids, lambda consumer: wire_consume(consumer, args.records),
                      lambda: warm_consumer(cluster.bootstrap_servers, wire_topic)))
            if shutil.which("kcat"):
                rows["wire consume (kcat)"].append(
                    timed(pids, lambda: kcat_consume(cluster.bootstrap_servers, wire_topic, args.records)))
            rows["REST consume"].append(
                timed(pids, lambda: run_consume(cluster.url(1), rest_topic, args.records).records))
        rss = {n: rss_bytes(cluster.procs[n].pid) / 2**20 for n in sorted(cluster.procs)}

    print(f"\n{args.records} records of {RECORD} B per row, {args.runs} runs: median (min..max)\n")
    print(f"| {'row':<23} | {'MB/s':<20} | {'CPU-ms per MB':<20} | {'client CPU-ms per MB':<20} |")
    print(f"|{'-' * 25}|{'-' * 22}|{'-' * 22}|{'-' * 22}|")
    for name, results in rows.items():
        if not results:
            continue  # kcat is not installed
        print(f"| {name:<23} | {spread([r['mb_per_s'] for r in results]):<20} | "
              f"{spread([r['cpu_ms_per_mb'] for r in results]):<20} | "
              f"{spread([r['client_cpu_ms_per_mb'] for r in results]):<20} |")
    def ratio(a, b):
        return [x["mb_per_s"] / y["mb_per_s"] for x, y in zip(rows[a], rows[b])]
    print()
    print(f"wire / REST produce (goal >= 3):       {spread(ratio('wire produce acks=all', 'REST produce acks=all'))}")
    print(f"idempotent wire / REST (information):  "
          f"{spread(ratio('wire produce idempotent', 'REST produce acks=all'))}")
    print(f"wire / ceiling (goal >= 0.25):         "
          f"{statistics.median(ratio('wire produce acks=all', 'wire ceiling')):.2f} "
          f"({min(ratio('wire produce acks=all', 'wire ceiling')):.2f}.."
          f"{max(ratio('wire produce acks=all', 'wire ceiling')):.2f})")
    print(f"wire consume / wire produce (goal >= 1): {spread(ratio('wire consume', 'wire produce acks=all'))}")
    if rows["wire consume (kcat)"]:
        print(f"kcat consume / wire produce (goal >= 1): "
              f"{spread(ratio('wire consume (kcat)', 'wire produce acks=all'))}")
    print(f"RSS per node after the runs (goal < 300 MB): {', '.join(f'node {n}: {v:.0f} MB' for n, v in rss.items())}")
    print(json.dumps({"rows": rows, "rss_mb": rss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
