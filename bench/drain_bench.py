"""Draining a broker: how long a decommission takes to move a broker's data off, with
and without the replication throttle, and how long a rebalance takes to bring data back
onto it. Reported, never asserted.

One 4-broker cluster (3 controllers + broker 4), a topic of --partitions partitions,
replication factor 3, filled with --mb MB of 10 kB records (acks=all), so broker 4 holds
about three quarters of them. Then, in order:

  drain              PUT /v1/brokers/4/decommission, timed until its status says finished
  rebalance          recommission broker 4 (it registers again within 5 s), then
                     POST /v1/partitions/rebalance, timed until finished
  drain throttled    both throttle rates set cluster-wide to --throttle-mb MB/s, then the
                     same decommission, timed

Each row reports the bytes broker 4 held (its partition files on disk) when it began and
that size over the time taken. Moves run at most 8 (decommission) / --max-moves (rebalance)
partitions at a time.

    .venv/bin/python bench/drain_bench.py                     # 32 MB over 32 partitions: about a minute
    .venv/bin/python bench/drain_bench.py --mb 1024 --partitions 100 --throttle-mb 50

Nodes use 127.0.0.190+ (--first-address), away from the test suites' ranges. Progress
goes to stderr; the table and a JSON line go to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import confluent_kafka

from kraft.server.local_cluster import LocalCluster, http_json

RECORD = b"x" * 10_000


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def held_bytes(c: LocalCluster, node: int) -> int:
    root = Path(c.config.node(node).data_path) / "partitions"
    return sum(f.stat().st_size for f in root.glob("*/*.log"))


def decommission_status(c: LocalCluster) -> dict:
    return http_json("GET", c.url(1) + "/v1/brokers/4/decommission")[1]


def drain(c: LocalCluster, timeout_s: float) -> tuple[int, float]:
    size = held_bytes(c, 4)
    began = time.monotonic()
    status, body = http_json("PUT", c.url(1) + "/v1/brokers/4/decommission")
    assert status == 200, body
    c.wait_until(lambda: decommission_status(c)["finished"], timeout_s, "broker 4 drained")
    return size, time.monotonic() - began


def rebalance(c: LocalCluster, max_moves: int, timeout_s: float) -> tuple[int, float]:
    status, body = http_json("PUT", c.url(1) + "/v1/brokers/4/recommission")
    assert status == 200, body
    c.wait_until(lambda: any(b["broker_id"] == 4 and not b["fenced"]
                             for b in http_json("GET", c.v3(1) + "/brokers")[1]["data"]), 30, "broker 4 unfenced")
    began = time.monotonic()
    status, body = http_json("POST", c.url(1) + "/v1/partitions/rebalance", {"max_moves_in_flight": max_moves})
    assert status == 202, body
    c.wait_until(lambda: http_json("GET", c.url(1) + "/v1/partitions/rebalance")[1]["state"] == "finished",
                 timeout_s, "the rebalance finished")
    return held_bytes(c, 4), time.monotonic() - began


def set_throttle(c: LocalCluster, rate: int) -> None:
    for name in ("leader.replication.throttled.rate", "follower.replication.throttled.rate"):
        status, body = http_json("PUT", c.v3(1) + f"/broker-configs/{name}", {"value": str(rate)})
        assert status == 204, body


def fill(c: LocalCluster, topic: str, partitions: int, mb: int) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "linger.ms": 5, "message.timeout.ms": 120000})
    for n in range(mb * 1_000_000 // len(RECORD)):
        while True:
            try:
                producer.produce(topic, RECORD, partition=n % partitions)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(300) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=32, help="data written, MB")
    parser.add_argument("--partitions", type=int, default=32)
    parser.add_argument("--throttle-mb", type=float, default=8.0, help="throttle rate, MB/s")
    parser.add_argument("--max-moves", type=int, default=8, help="rebalance moves in flight")
    parser.add_argument("--first-address", type=int, default=190)
    parser.add_argument("--timeout", type=float, default=1800.0, help="per phase, seconds")
    args = parser.parse_args()
    rows = []
    with LocalCluster(nodes=4, controllers=3, first_address=args.first_address) as c:
        c.start().wait_ready(timeout_s=60)
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "drain", "replication_factor": 3,
                                                               "partitions_count": args.partitions})
        assert status == 201, body
        note(f"writing {args.mb} MB over {args.partitions} partitions")
        fill(c, "drain", args.partitions, args.mb)
        time.sleep(2)  # followers catch up with the last writes
        for name, run in (("drain", lambda: drain(c, args.timeout)),
                          ("rebalance", lambda: rebalance(c, args.max_moves, args.timeout)),
                          ("drain throttled", lambda: (set_throttle(c, int(args.throttle_mb * 1e6)),
                                                       drain(c, args.timeout))[1])):
            note(f"{name} ...")
            size, took = run()
            rows.append({"phase": name, "bytes": size, "seconds": round(took, 2),
                         "mb_per_s": round(size / took / 1e6, 2)})
            note(f"{name}: {size / 1e6:.1f} MB in {took:.1f} s")
    print(f"{'phase':<18}{'MB':>10}{'seconds':>10}{'MB/s':>10}")
    for r in rows:
        print(f"{r['phase']:<18}{r['bytes'] / 1e6:>10.1f}{r['seconds']:>10.1f}{r['mb_per_s']:>10.2f}")
    print(json.dumps({"mb": args.mb, "partitions": args.partitions, "throttle_mb_s": args.throttle_mb,
                      "rows": rows}))


if __name__ == "__main__":
    main()
