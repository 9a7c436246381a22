"""Share groups (KIP-932) against a classic group: consume throughput and the
acknowledgement round trip, with confluent-kafka on one 3-node cluster (not asserted
anywhere).

One 2-partition topic (RF 3) holds --records records of --size bytes. Rows, each a fresh
group reading every record from the first (share groups: `share.auto.offset.reset`
earliest), in rotating order per run:

  classic x1     one classic consumer (Consumer, auto commit), both partitions
  share x1/x4/x16  that many ShareConsumers in implicit mode (a poll accepts the last
                 one's records), each polled by its own thread: more consumers than
                 partitions share the two

A row's number is records/s from the first subscribe to the moment every record was
received (by some consumer; a record seen twice before then is counted and reported:
none should be). Once every record is in, the members close; librdkafka 2.16 closes a
share session without acknowledging its last poll's records, so the broker gives those
back and other members may receive them again while they close: not counted.

Then the acknowledgement round trip: one ShareConsumer in explicit mode on its own
topic; per record: poll, acknowledge ACCEPT, commit_sync; the commit_sync time (a
ShareAcknowledge to the leader, which stores the share-partition's state at its share
coordinator with acks=all before answering) as p50/p99 over --acks records.

    .venv/bin/python bench/share_groups.py            # 3 runs, 20,000 records of 100 bytes, 300 acks
    .venv/bin/python bench/share_groups.py --quick    # 1 run, 5,000 records, 100 acks

Nodes use 127.0.0.186+ (--first-address). Progress goes to stderr; a table and a JSON
line go to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "cluster"))

import confluent_kafka  # noqa: E402
from cluster_client import create_topic  # noqa: E402
from confluent_kafka import AcknowledgeType, ShareConsumer  # noqa: E402
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType  # noqa: E402

from kraft.server.local_cluster import LocalCluster  # noqa: E402

TIMEOUT_S = 300.0
ROWS = ("classic x1", "share x1", "share x4", "share x16")


def say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def fill(c: LocalCluster, topic: str, records: int, size: int, partitions: int = 2) -> None:
    failed: list = []
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "linger.ms": 5, "enable.idempotence": True})
    for i in range(records):
        producer.produce(topic, value=str(i).encode().ljust(size, b"."), partition=i % partitions,
                         on_delivery=lambda err, _m: failed.append(err) if err else None)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0 and not failed, failed[:3]


def earliest(c: LocalCluster, group: str) -> None:
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    for done in admin.incremental_alter_configs([resource]).values():
        done.result(15)


class Tally:
    def __init__(self, wanted: int):
        self.wanted = wanted
        self.seen: set[bytes] = set()
        self.repeats = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, values) -> None:
        with self.lock:
            if self.done.is_set():  # members closing: what one gives back goes to another
                return
            for v in values:
                if v in self.seen:
                    self.repeats += 1
                self.seen.add(v)
            if len(self.seen) >= self.wanted:
                self.done.set()


def classic_row(c: LocalCluster, topic: str, records: int) -> tuple[float, int]:
    tally = Tally(records)
    consumer = confluent_kafka.Consumer({"bootstrap.servers": c.bootstrap_servers, "group.id": f"b-{uuid.uuid4()}",
                                         "auto.offset.reset": "earliest"})
    started = time.monotonic()
    consumer.subscribe([topic])
    try:
        while not tally.done.is_set() and time.monotonic() - started < TIMEOUT_S:
            batch = consumer.consume(500, 0.5)
            tally.add([m.value().split(b".")[0] for m in batch if m.error() is None])
    finally:
        consumer.close()
    return records / (time.monotonic() - started), tally.repeats


def share_row(c: LocalCluster, topic: str, records: int, members: int) -> tuple[float, int]:
    group = f"b-{uuid.uuid4()}"
    earliest(c, group)
    tally = Tally(records)

    def member() -> None:
        share = ShareConsumer({"bootstrap.servers": c.bootstrap_servers, "group.id": group})
        share.subscribe([topic])
        try:
            while not tally.done.is_set() and time.monotonic() - started < TIMEOUT_S:
                tally.add([m.value().split(b".")[0] for m in share.poll(0.5) if m.error() is None])
        finally:
            share.close()

    started = time.monotonic()
    threads = [threading.Thread(target=member, name=f"share-{i}") for i in range(members)]
    for t in threads:
        t.start()
    tally.done.wait(TIMEOUT_S)
    elapsed = time.monotonic() - started
    for t in threads:
        t.join(TIMEOUT_S)
    if not tally.done.is_set():
        raise SystemExit(f"share x{members}: {len(tally.seen)} of {records} records within {TIMEOUT_S} s")
    return records / elapsed, tally.repeats


def ack_round_trips(c: LocalCluster, acks: int) -> list[float]:
    topic = f"bench-acks-{uuid.uuid4().hex[:8]}"
    create_topic(c, topic, 1)
    group = f"b-{uuid.uuid4()}"
    earliest(c, group)
    fill(c, topic, acks, 100, partitions=1)
    share = ShareConsumer({"bootstrap.servers": c.bootstrap_servers, "group.id": group,
                           "share.acknowledgement.mode": "explicit", "max.poll.records": 1})
    share.subscribe([topic])
    times: list[float] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(times) < acks and time.monotonic() < deadline:
            for m in share.poll(0.5):
                share.acknowledge(m, AcknowledgeType.ACCEPT)
                started = time.perf_counter()
                share.commit_sync()
                times.append((time.perf_counter() - started) * 1000)
    finally:
        share.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one run, 5,000 records, 100 acks")
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--acks", type=int, default=300)
    ap.add_argument("--first-address", type=int, default=186)
    args = ap.parse_args()
    if args.quick:
        args.runs, args.records, args.acks = 1, 5_000, 100
    results: dict[str, list[float]] = {row: [] for row in ROWS}
    repeats: dict[str, int] = {row: 0 for row in ROWS}
    with LocalCluster(nodes=3, first_address=args.first_address) as c:
        c.start().wait_ready(timeout_s=120)
        topic = f"bench-share-{uuid.uuid4().hex[:8]}"
        create_topic(c, topic, 2)
        say(f"filling {topic} with {args.records} records of {args.size} bytes")
        fill(c, topic, args.records, args.size)
        for run in range(args.runs):
            order = ROWS[run % len(ROWS):] + ROWS[:run % len(ROWS)]
            for row in order:
                if row == "classic x1":
                    rate, again = classic_row(c, topic, args.records)
                else:
                    rate, again = share_row(c, topic, args.records, int(row.split("x")[1]))
                results[row].append(rate)
                repeats[row] += again
                say(f"run {run + 1}: {row}: {rate:,.0f} records/s ({again} seen twice)")
        trips = ack_round_trips(c, args.acks)
    classic = statistics.median(results["classic x1"])
    print(f"{'row':<12} {'records/s (median)':>19} {'min':>9} {'max':>9} {'vs classic':>11} {'seen twice':>11}")
    for row in ROWS:
        r = results[row]
        print(f"{row:<12} {statistics.median(r):>19,.0f} {min(r):>9,.0f} {max(r):>9,.0f} "
              f"{statistics.median(r) / classic:>10.2f}x {repeats[row]:>11}")
    trips.sort()
    p50, p99 = trips[len(trips) // 2], trips[min(len(trips) - 1, int(len(trips) * 0.99))]
    print(f"acknowledgement round trip (commit_sync), {len(trips)} records: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(json.dumps({"records": args.records, "size": args.size, "runs": args.runs,
                      "records_per_s": results, "seen_twice": repeats,
                      "ack_ms": {"p50": round(p50, 2), "p99": round(p99, 2), "count": len(trips)}}))


if __name__ == "__main__":
    main()
