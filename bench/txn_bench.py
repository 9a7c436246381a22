"""Kafka transactions (KIP-98) against the idempotent producer, on one 3-node cluster.

Measured side by side in each run (the same cluster, the same load generator process),
1 KiB records, no compression, a fresh 3-partition RF 3 topic per row and run
(min.insync.replicas 2, the bundled shape):

  idempotent        confluent-kafka Producer with enable.idempotence=true (so acks=all),
                    the records handed over in units of 1,000 (334/333/333 over the three
                    partitions, produce_batch), for --seconds, then flush()
  txn N             a transactional producer (transactional.id, so idempotent too):
                    begin_transaction(), N records spread over the three partitions the
                    same way (every transaction touches all three), flush(),
                    commit_transaction(); transactions back to back for --seconds
                    (N = 10, 100, 1,000 by default)
  consume           per topic written above, after one untimed read (the brokers drop
                    written data from the page cache, so a first reader reads the disk):
                    a confluent-kafka Consumer from offset 0 to the end with
                    isolation.level read_uncommitted and read_committed (same data),
                    --reads times each, the two levels taking turns (which goes first
                    alternates); a run's number is its read of median duration. With kcat
                    too, when it is installed, for topics of --kcat-min-mb or more (its
                    time includes its start-up, which is measured on its own)

Throughput counts record values (10^6 bytes per MB) of records acknowledged (idempotent)
or committed (transactional), over the time from the first record handed over to the
last flush / commit returning. The ratio txn N / idempotent is taken per run (the two
measured minutes apart on the same cluster); the issue's goal is >= 0.8 at N = 1,000.

Commit latency is the time of commit_transaction() called right after flush() has
delivered the transaction's records, so it is the EndTxn round trip (the coordinator
answers once PrepareCommit is replicated in __transaction_state; the markers follow in
the background) and not the records' own delivery; the flush time (the records produced
and acknowledged, AddPartitionsToTxn included) is reported beside it. Per run: p50 and
p99 over that run's transactions.

Clients are set up outside the clock: a producer has delivered one warm-up record per
partition (a transactional one in a committed warm-up transaction, so its producer id,
coordinator and connections are in place); a consumer has received a record of another
topic and its clock starts when it is assigned the topic it reads (see consume()).
The run order of the rows rotates from run to run, so a drift in the machine's speed
does not always hit the same row.

    .venv/bin/python bench/txn_bench.py            # 3 runs of 8 s per row, 3 reads per consume: about 4 minutes
    .venv/bin/python bench/txn_bench.py --quick    # 2 runs of 2 s per row, 1 read: about 1 minute

Nodes use 127.0.0.180+ (--first-address), away from the test suites' ranges. Progress
goes to stderr; the tables and a JSON line with every run go to stdout.
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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kraft.perf.stats import MB, cpu_seconds, percentile, rss_bytes  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

RECORD = 1024
PARTITIONS = 3
IDEMPOTENT_UNIT = 1000  # records per produce round of the idempotent row (spread like a txn of 1,000)
ISOLATIONS = ("read_uncommitted", "read_committed")
WARM_TOPIC = "warm-up"  # the first transactional producer's topic; consumers connect through it


def node_cpu(pids) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


def client_cpu() -> float:
    """CPU of this process (librdkafka's threads included) and of its waited-for children (kcat)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def create_topic(cluster: LocalCluster, topic: str) -> None:
    body = json.dumps({"topic_name": topic, "partitions_count": PARTITIONS, "replication_factor": 3}).encode()
    req = urllib.request.Request(cluster.v3(1) + "/topics", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()


def split(n: int) -> list[int]:
    """n records over the partitions as evenly as possible (10 -> 4, 3, 3)."""
    return [n // PARTITIONS + (1 if p < n % PARTITIONS else 0) for p in range(PARTITIONS)]


def hand_over(producer, topic: str, value: bytes, n: int) -> None:
    """n records into the producer's queue, split over every partition (produce_batch)."""
    for partition, count in enumerate(split(n)):
        pending = [{"value": value} for _ in range(count)]
        while pending:
            producer.produce_batch(topic, pending, partition=partition)
            pending = [{"value": value} for m in pending if "_error" in m]
            if pending:  # the client's queue is full: let it send
                producer.poll(0.01)
    producer.poll(0)


class Producer:
    """A warmed-up producer: transactional (a transactional.id) or only idempotent."""

    def __init__(self, bootstrap: str, topic: str, transactional_id: str | None):
        import confluent_kafka
        self.failed: list = []
        conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                "delivery.report.only.error": True, "on_delivery": lambda err, _m: self.failed.append(err)}
        if transactional_id:
            conf["transactional.id"] = transactional_id
        self.p = confluent_kafka.Producer(conf)
        self.topic = topic
        self.transactional = transactional_id is not None
        if self.transactional:
            self.p.init_transactions(60)
            self.p.begin_transaction()
        for partition in range(PARTITIONS):
            self.p.produce(topic, value=b"warm-up", partition=partition)
        if self.p.flush(60) or self.failed:
            raise RuntimeError(f"warm-up records to {topic} not delivered ({self.failed[:3]})")
        if self.transactional:
            self.p.commit_transaction(60)
        self.warmup_records = PARTITIONS

    def close(self) -> None:
        """Destroy the client now (its threads and connections), not whenever it is collected."""
        self.p.flush(10)
        del self.p


def run_idempotent(producer: Producer, seconds: float) -> dict:
    value = os.urandom(RECORD)
    records, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        hand_over(producer.p, producer.topic, value, IDEMPOTENT_UNIT)
        records += IDEMPOTENT_UNIT
    left = producer.p.flush(120)
    wall = time.monotonic() - started
    if left or producer.failed:
        raise RuntimeError(f"idempotent produce: {left} undelivered, {len(producer.failed)} failed "
                           f"({producer.failed[:3]})")
    return {"records": records, "seconds": wall}


def run_transactions(producer: Producer, per_txn: int, seconds: float) -> dict:
    value = os.urandom(RECORD)
    p = producer.p
    commits, flushes = [], []
    records, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        began = time.monotonic()
        p.begin_transaction()
        hand_over(p, producer.topic, value, per_txn)
        left = p.flush(120)
        flushed = time.monotonic()
        if left or producer.failed:
            raise RuntimeError(f"txn {per_txn}: {left} undelivered, {len(producer.failed)} failed "
                               f"({producer.failed[:3]})")
        p.commit_transaction(120)
        done = time.monotonic()
        flushes.append(flushed - began)
        commits.append(done - flushed)
        records += per_txn
    wall = time.monotonic() - started
    return {"records": records, "seconds": wall, "transactions": len(commits),
            "commit_ms": {"p50": 1000 * percentile(commits, 50), "p99": 1000 * percentile(commits, 99),
                          "max": 1000 * max(commits)},
            "flush_ms": {"p50": 1000 * percentile(flushes, 50), "p99": 1000 * percentile(flushes, 99)}}


def measured(pids, fn) -> dict:
    """fn()'s result with records/s, MB/s and the nodes' and this process's CPU per MB."""
    before, client_before = node_cpu(pids), client_cpu()
    result = fn()
    mb = result["records"] * RECORD / MB
    result.update(records_per_s=result["records"] / result["seconds"], mb_per_s=mb / result["seconds"],
                  node_cpu_ms_per_mb=1000 * (node_cpu(pids) - before) / mb,
                  client_cpu_ms_per_mb=1000 * (client_cpu() - client_before) / mb)
    return result


# -- consume -------------------------------------------------------------------------------------
def consume(bootstrap: str, topic: str, isolation: str, expected: int, warm_topic: str = WARM_TOPIC) -> dict:
    """`expected` records of `topic` from offset 0 by a confluent-kafka Consumer.

    The consumer first reads a record of `warm_topic` (its connections are then in place)
    and fetches the metadata of `topic` (a topic it was assigned without knowing it waited
    for librdkafka's 1 s metadata timer: reads of 0.1 s took 1.1 s now and then); the
    clock starts when it is assigned `topic`: had it waited for
    the first record of `topic` itself, librdkafka would have fetched ahead into its local
    queue (up to 64 MB) before the clock started, and a topic of a few tens of MB would
    time Python emptying that queue. fetch.wait.max.ms 10 (librdkafka: 500): the fetch
    of the warm-up topic, at its end, waits that long for data and the first fetch of
    `topic` waits for its answer. fetch.queue.backoff.ms 10: see
    bench/kafka_throughput.py's warm_consumer."""
    import confluent_kafka
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}-{isolation}",
                                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                                         "isolation.level": isolation, "fetch.queue.backoff.ms": 10,
                                         "fetch.wait.max.ms": 10})
    try:
        consumer.assign([confluent_kafka.TopicPartition(warm_topic, p, 0) for p in range(PARTITIONS)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                break
        else:
            raise RuntimeError(f"no record of {warm_topic} arrived within 30 s ({isolation})")
        consumer.list_topics(topic, timeout=10)  # else librdkafka asks for it on its 1 s timer
        consumer.unassign()
        got, started = 0, time.monotonic()
        consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        deadline = started + 120
        while got < expected and time.monotonic() < deadline:
            # at most what is still to come: consume() waits its whole timeout for a count it cannot reach
            for msg in consumer.consume(min(10000, expected - got), 1.0):
                if msg.error() is None and msg.topic() == topic:
                    got += 1
        wall = time.monotonic() - started
    finally:
        consumer.close()
    if got != expected:
        raise RuntimeError(f"{isolation} consumer of {topic} got {got} of {expected} records")
    return {"records": got, "seconds": wall}


def kcat_consume(bootstrap: str, topic: str, isolation: str, expected: int) -> dict:
    """kcat (librdkafka in C) from the start to the end (the LSO for read_committed),
    printing offsets only; the time includes its start-up (metadata, connections)."""
    started = time.monotonic()
    done = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                           "-X", f"isolation.level={isolation}", "-f", "%o\\n"],
                          capture_output=True, timeout=120, check=True)
    wall = time.monotonic() - started
    got = done.stdout.count(b"\n")
    if got != expected:
        raise RuntimeError(f"kcat {isolation} read {got} of {expected} records of {topic}")
    return {"records": got, "seconds": wall}


def median_read(results: list[dict]) -> dict:
    """One run's number from its repeated reads of a topic: the read of median duration
    (a read of a small topic now and then takes 0.1-0.3 s longer), with every read kept."""
    ordered = sorted(results, key=lambda r: r["seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "reads": results}


# -- output --------------------------------------------------------------------------------------
def spread(values, digits: int = 1) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}..{max(values):,.{digits}f})"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="produce time per row and run")
    parser.add_argument("--sizes", type=csv_ints, default=[10, 100, 1000], help="records per transaction")
    parser.add_argument("--first-address", type=int, default=180,
                        help="nodes on 127.0.0.N from here (away from the test suites' ranges)")
    parser.add_argument("--no-consume", action="store_true")
    parser.add_argument("--kcat-min-mb", type=float, default=50.0,
                        help="kcat reads only topics at least this large (its start-up is in its time)")
    parser.add_argument("--reads", type=int, default=3,
                        help="reads of each topic per isolation level and run (the median one counts)")
    parser.add_argument("--quick", action="store_true", help="2 runs of 2 s per row, 1 read per level")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seconds, args.reads = 2, 2.0, 1
    return args


def produce_run(args, cluster: LocalCluster, run: int, order: list[str], topics: dict[str, str],
                produce: dict[str, list[dict]]) -> None:
    """Each row's producer for --seconds, in the run's order; its result appended to produce[row]."""
    pids = [cluster.procs[n].pid for n in sorted(cluster.procs)]
    bootstrap = cluster.bootstrap_servers
    for row in order:
        size = None if row == "idempotent" else int(row.split()[1])
        producer = Producer(bootstrap, topics[row], None if size is None else f"bench-{row}-{run}")
        if size is None:
            result = measured(pids, lambda: run_idempotent(producer, args.seconds))
        else:
            result = measured(pids, lambda: run_transactions(producer, size, args.seconds))
        result["topic_records"] = result["records"] + producer.warmup_records
        producer.close()
        produce[row].append(result)
        extra = (f", commit p50 {result['commit_ms']['p50']:.1f} ms p99 {result['commit_ms']['p99']:.1f} ms, "
                 f"{result['transactions']} transactions" if size else "")
        print(f"run {run + 1}/{args.runs} {row:<10} {result['records_per_s']:>9,.0f} records/s "
              f"{result['mb_per_s']:6.1f} MB/s{extra}; nodes {result['node_cpu_ms_per_mb']:.1f} CPU-ms/MB, "
              f"client {result['client_cpu_ms_per_mb']:.1f}", file=sys.stderr)


def consume_run(args, cluster: LocalCluster, run: int, order: list[str], topics: dict[str, str],
                produce: dict[str, list[dict]], consumed: dict[str, dict[str, list[dict]]], use_kcat: bool) -> None:
    """Each topic of the run read back at both isolation levels; the median read appended
    to consumed[row][client and level]."""
    pids = [cluster.procs[n].pid for n in sorted(cluster.procs)]
    bootstrap = cluster.bootstrap_servers
    for row in order:
        expected = produce[row][-1]["topic_records"]
        # an untimed read first: the brokers drop what they wrote behind each segment's
        # newest 8 MiB from the page cache, so the first reader of a topic reads the disk
        # and every timed reader after it finds the same (cached) pages
        (kcat_consume if use_kcat else consume)(bootstrap, topics[row], "read_uncommitted", expected)
        big = expected * RECORD / MB >= args.kcat_min_mb  # below, kcat's start-up is the number
        clients = [("python", consume)] + ([("kcat", kcat_consume)] if use_kcat and big else [])
        reads: dict[str, list[dict]] = {}
        for k in range(args.reads):
            # the two levels take turns, the first one alternating from read to read
            for isolation in (ISOLATIONS if (run + k) % 2 == 0 else ISOLATIONS[::-1]):
                for client, fn in clients:
                    reads.setdefault(f"{client} {isolation}", []).append(
                        measured(pids, lambda: fn(bootstrap, topics[row], isolation, expected)))
        for name, results in reads.items():
            result = median_read(results)
            consumed[row].setdefault(name, []).append(result)
            print(f"run {run + 1}/{args.runs} consume {row:<10} {name:<23} "
                  f"{result['records_per_s']:>9,.0f} records/s {result['mb_per_s']:6.1f} MB/s "
                  f"(median of {len(results)}: {', '.join('%.3f' % r['seconds'] for r in results)} s)",
                  file=sys.stderr)


def print_produce_table(rows: list[str], produce: dict[str, list[dict]]) -> None:
    idem = produce["idempotent"]
    table = []
    for row in rows:
        results = produce[row]
        ratio = "1" if row == "idempotent" else spread(
            [r["mb_per_s"] / i["mb_per_s"] for r, i in zip(results, idem)], 3)
        is_txn = row != "idempotent"
        table.append([row, spread([r["records_per_s"] for r in results], 0), spread([r["mb_per_s"] for r in results]),
                      ratio,
                      spread([r["commit_ms"]["p50"] for r in results]) if is_txn else "-",
                      spread([r["commit_ms"]["p99"] for r in results]) if is_txn else "-",
                      spread([r["flush_ms"]["p50"] for r in results]) if is_txn else "-",
                      spread([r["node_cpu_ms_per_mb"] for r in results]),
                      spread([r["client_cpu_ms_per_mb"] for r in results])])
    print(markdown(["producer", "records/s", "MB/s", "txn / idempotent", "commit p50 ms", "commit p99 ms",
                    "flush p50 ms", "node CPU-ms/MB", "client CPU-ms/MB"], table))


def print_consume_tables(args, rows: list[str], consumed: dict[str, dict[str, list[dict]]], use_kcat: bool,
                         kcat_startup: list[float]) -> None:
    for client in ["python"] + (["kcat"] if use_kcat else []):
        table = []
        for row in rows:
            unc = consumed[row].get(f"{client} read_uncommitted", [])
            com = consumed[row].get(f"{client} read_committed", [])
            if not unc:
                table.append([row, "-", "-", "-", "-", "-"])
                continue
            table.append([row, spread([r["mb_per_s"] for r in unc]), spread([r["mb_per_s"] for r in com]),
                          spread([c["mb_per_s"] / u["mb_per_s"] for c, u in zip(com, unc)], 2),
                          spread([r["node_cpu_ms_per_mb"] for r in unc]),
                          spread([r["node_cpu_ms_per_mb"] for r in com])])
        what = ("confluent-kafka Consumer" if client == "python"
                else f"kcat (time includes its start-up; topics of {args.kcat_min_mb:g} MB or more)")
        print(f"\nconsume from offset 0, {what}, MB/s:\n")
        if client == "kcat":
            print(f"(kcat reading a 3-record topic takes {spread(kcat_startup, 2)} s)\n")
        print(markdown(["topic written by", "read_uncommitted", "read_committed", "committed / uncommitted",
                        "node CPU-ms/MB unc.", "node CPU-ms/MB com."], table))


def main() -> int:
    args = parse_args()
    use_kcat = shutil.which("kcat") is not None and not args.no_consume

    started_at = time.time()
    load_start = os.getloadavg()
    rows = ["idempotent"] + [f"txn {n}" for n in args.sizes]
    produce: dict[str, list[dict]] = {r: [] for r in rows}
    consumed: dict[str, dict[str, list[dict]]] = {r: {} for r in rows}
    kcat_startup: list[float] = []
    with LocalCluster(nodes=3, first_address=args.first_address) as cluster:
        cluster.start().wait_ready(timeout_s=60)
        bootstrap = cluster.bootstrap_servers
        # the first transactional producer creates __transaction_state (50 partitions, RF 3):
        # not in any run, and its leaders settled before the first one
        create_topic(cluster, WARM_TOPIC)
        time.sleep(1.0)
        Producer(bootstrap, WARM_TOPIC, "bench-warm-up").close()
        time.sleep(2.0)
        for run in range(args.runs):
            order = rows[run % len(rows):] + rows[:run % len(rows)]
            topics = {r: f"{r.replace(' ', '')}-{run}" for r in rows}
            for topic in topics.values():
                create_topic(cluster, topic)
            time.sleep(1.0)  # every node has the topics and their leaders
            produce_run(args, cluster, run, order, topics, produce)
            if args.no_consume:
                continue
            if use_kcat:  # what kcat's start-up alone takes: a 3-record topic
                kcat_startup.append(kcat_consume(bootstrap, WARM_TOPIC, "read_uncommitted", PARTITIONS)["seconds"])
            consume_run(args, cluster, run, order, topics, produce, consumed, use_kcat)
        rss = {n: rss_bytes(cluster.procs[n].pid) / 2**20 for n in sorted(cluster.procs)}

    config = {"started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_at)),
              "seconds": round(time.time() - started_at), "loadavg_start": load_start,
              "loadavg_end": os.getloadavg(), "cpus": os.cpu_count(), "argv": sys.argv[1:], "runs": args.runs,
              "seconds_per_row": args.seconds, "record_bytes": RECORD, "partitions": PARTITIONS}
    print(f"\n{RECORD} B records, {PARTITIONS} partitions RF 3, {args.seconds:g} s per row, {args.runs} runs: "
          f"median (min..max) over the runs; load average {load_start[0]:.1f} at the start, "
          f"{config['loadavg_end'][0]:.1f} at the end; {config['seconds']} s in all\n")

    print_produce_table(rows, produce)
    if not args.no_consume:
        print_consume_tables(args, rows, consumed, use_kcat, kcat_startup)
    print(f"\nRSS per node after the runs: {', '.join(f'node {n}: {v:.0f} MB' for n, v in rss.items())}")
    print(json.dumps({"config": config, "produce": produce, "consume": consumed, "kcat_startup_s": kcat_startup,
                      "rss_mb": rss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
