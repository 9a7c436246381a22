"""KIP-848 consumer groups against classic ones: how long a group of confluent-kafka
consumers takes to own every partition, on one 3-node cluster (not asserted anywhere).

Rows (each a fresh group on the same 100-partition topic, RF 3):

  classic range            group.protocol=classic, partition.assignment.strategy=range
                           (eager: every member gives everything up at each rebalance)
  classic coop-sticky      group.protocol=classic, cooperative-sticky (KIP-429)
  consumer uniform         group.protocol=consumer (KIP-848), the coordinator's uniform
                           assignor, incremental reconciliation

Per row and run, two numbers:

  form      --members consumers subscribe at once (each polled by its own thread); the
            time from the first subscribe() to the moment every partition is owned by
            exactly one member and every member owns its share (at least partitions //
            members; ownership from each consumer's assignment())
  leave     one member closes; the time from close() returning to the moment the
            others own every partition again, each its share

The group's heartbeat interval is what each protocol's clients use by default, except
the KIP-848 coordinator's, which is set to --heartbeat-ms (the classic clients get
heartbeat.interval.ms the same): the time a member needs to hear of a change is a
heartbeat either way. A run's rows go in rotating order.

    .venv/bin/python bench/kip848_rebalance.py            # 3 runs, 10 members, 100 partitions
    .venv/bin/python bench/kip848_rebalance.py --quick    # 1 run

Nodes use 127.0.0.183+ (--first-address). Progress goes to stderr; a table and a JSON
line go to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "cluster"))

import confluent_kafka  # noqa: E402
from cluster_client import create_topic  # noqa: E402

from kraft.server.local_cluster import LocalCluster  # noqa: E402

ROWS = {
    "classic range": {"group.protocol": "classic", "partition.assignment.strategy": "range"},
    "classic coop-sticky": {"group.protocol": "classic", "partition.assignment.strategy": "cooperative-sticky"},
    "consumer uniform": {"group.protocol": "consumer"},
}
TIMEOUT_S = 120.0


class Polled:
    def __init__(self, conf: dict, topic: str):
        self.consumer = confluent_kafka.Consumer(conf)
        self.consumer.subscribe([topic])
        self.owned: frozenset[int] = frozenset()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.consumer.poll(0.05)
            self.owned = frozenset(tp.partition for tp in self.consumer.assignment())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()


def wait_all_owned(members: list[Polled], partitions: int) -> float:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        counts: dict[int, int] = {}
        for m in members:
            for p in m.owned:
                counts[p] = counts.get(p, 0) + 1
        balanced = all(len(m.owned) >= partitions // len(members) for m in members)
        if balanced and len(counts) == partitions and set(counts.values()) == {1}:
            return time.monotonic()
        time.sleep(0.005)
    raise TimeoutError("the group did not own every partition in time")


def one_run(c, row: str, run: int, args) -> dict:
    conf = {"bootstrap.servers": c.bootstrap_servers, "group.id": f"bench-{row.replace(' ', '-')}-{run}",
            "auto.offset.reset": "latest", "enable.auto.commit": False, **ROWS[row]}
    if conf["group.protocol"] == "classic":
        conf.update({"heartbeat.interval.ms": args.heartbeat_ms, "session.timeout.ms": 10_000})
    start = time.monotonic()
    members = [Polled({**conf, "client.id": f"m{i}"}, "bench-kip848") for i in range(args.members)]
    try:
        formed = wait_all_owned(members, args.partitions) - start
        leaver = members.pop()
        leaver.close()
        left_at = time.monotonic()
        moved = wait_all_owned(members, args.partitions) - left_at
    finally:
        for m in members:
            m.close()
    return {"row": row, "run": run, "form_s": formed, "leave_s": moved}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one run")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--heartbeat-ms", type=int, default=1000)
    ap.add_argument("--first-address", type=int, default=183)
    args = ap.parse_args()
    runs = 1 if args.quick else args.runs
    results = []
    groups = {"group.consumer.heartbeat.interval.ms": args.heartbeat_ms, "group.consumer.session.timeout.ms": 10_000}
    with LocalCluster(nodes=3, first_address=args.first_address, groups=groups) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, "bench-kip848", args.partitions)
        names = list(ROWS)
        for run in range(runs):
            order = names[run % len(names):] + names[:run % len(names)]
            for row in order:
                print(f"run {run + 1}/{runs}: {row}", file=sys.stderr)
                results.append(one_run(c, row, run, args))
    print(f"{'row':<22} {'form s (median)':>16} {'leave s (median)':>17}")
    for row in ROWS:
        mine = [r for r in results if r["row"] == row]
        print(f"{row:<22} {statistics.median(r['form_s'] for r in mine):>16.2f} "
              f"{statistics.median(r['leave_s'] for r in mine):>17.2f}")
    print(json.dumps({"members": args.members, "partitions": args.partitions, "heartbeat_ms": args.heartbeat_ms,
                      "runs": results}))


if __name__ == "__main__":
    main()
