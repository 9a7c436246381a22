"""What security costs: produce throughput and latency, open cluster against TLS + auth.

Each round starts a fresh 3-node cluster per mode, one after the other (never both at
once: they would share the two cores), so each comparison is side by side in one run:

  open       no [security]: plain HTTP, plain Kafka listener, no ACL checks
  tls+auth   [security] with TLS on every listener and node-to-node, HTTP Basic on
             REST, SASL SCRAM-SHA-256 over TLS on Kafka, ACLs checked (the user holds
             WRITE on the topic; not a super user, so the authorizer runs every time)

Rows: REST produce (v2 JSON, 100 records of 1 KiB per request, 8 in flight, acks=all)
and Kafka produce (confluent-kafka, 1 KiB records, acks=all, idempotence off), into a
3-partition RF 3 topic. Latency is per REST request, and per Kafka message from
produce() to its delivery report.

    .venv/bin/python bench/security_cost.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cluster"))

from certs import Authority  # noqa: E402

from kraft.perf.produce_load import ProduceSpec, produce_load  # noqa: E402
from kraft.perf.stats import latency_summary  # noqa: E402
from kraft.server.local_cluster import LocalCluster, http_json, security_toml  # noqa: E402

TOPIC = "cost"
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
WRITER = {"Authorization": "Basic " + base64.b64encode(b"writer:writer-password").decode()}


def secured_toml(folder: Path) -> tuple[str, Path]:
    ca = Authority(folder)
    cert, key = ca.issue("node", "kraft-node", [f"127.0.0.{i}" for i in range(2, 6)])
    return security_toml({"admin": "admin-password", "writer": "writer-password"}, tls_cert=str(cert),
                         tls_key=str(key), tls_ca=str(ca.ca_path)), ca.ca_path


def start(mode: str, folder: Path) -> tuple[LocalCluster, ssl.SSLContext | None, Path | None]:
    if mode == "open":
        c = LocalCluster(3)
        c.start().wait_ready(timeout_s=60)
        return c, None, None
    toml, ca = secured_toml(folder)
    c = LocalCluster(3, extra_toml=toml, headers=ADMIN)
    c.tls = ssl.create_default_context(cafile=str(ca))
    c.start().wait_ready(timeout_s=60)
    status, body = http_json("POST", c.v3(1) + "/acls", {
        "resource_type": "TOPIC", "resource_name": TOPIC, "pattern_type": "LITERAL", "principal": "User:writer",
        "host": "*", "operation": "WRITE", "permission": "ALLOW"}, ADMIN, context=c.tls)
    assert status == 201, body
    return c, c.tls, ca


def rest_produce(c: LocalCluster, tls, records: int) -> tuple[float, float, float]:
    spec = ProduceSpec(TOPIC, records=records, record_size=1024, batch=100, acks="all", concurrency=8)

    async def run():
        connector = aiohttp.TCPConnector(limit=16, ssl=tls if tls is not None else True)
        headers = WRITER if tls is not None else {}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            return await produce_load([c.url(n) for n in (1, 2, 3)], spec, session=session)
    result = asyncio.run(run())
    lat = latency_summary(result.latencies_s)
    return result.mb_per_s, lat["p50"], lat["p99"]


def kafka_produce(c: LocalCluster, ca: Path | None, records: int) -> tuple[float, float, float]:
    import confluent_kafka
    conf = {"bootstrap.servers": c.bootstrap_servers, "acks": "all", "enable.idempotence": False,
            "linger.ms": 5, "queue.buffering.max.messages": 200_000}
    if ca is not None:
        conf.update({"security.protocol": "SASL_SSL", "ssl.ca.location": str(ca), "sasl.mechanism": "SCRAM-SHA-256",
                     "sasl.username": "writer", "sasl.password": "writer-password"})
    producer = confluent_kafka.Producer(conf)
    value = b"x" * 1024
    latencies: list[float] = []

    def delivered(err, msg, sent=None):
        if err is None:
            latencies.append(time.perf_counter() - sent)
    for p in range(3):  # warm up: connections, metadata
        producer.produce(TOPIC, value, partition=p)
    producer.flush(30)
    t0 = time.perf_counter()
    for i in range(records):
        sent = time.perf_counter()
        while True:
            try:
                producer.produce(TOPIC, value, partition=i % 3,
                                 on_delivery=lambda err, msg, s=sent: delivered(err, msg, s))
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - t0
    lat = latency_summary(latencies)
    return len(latencies) * 1024 / 1e6 / elapsed, lat["p50"], lat["p99"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rest-records", type=int, default=40_000)
    ap.add_argument("--kafka-records", type=int, default=150_000)
    args = ap.parse_args()
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="kraft-security-cost-") as tmp:
        for round_no in range(args.rounds):
            for mode in ("open", "tls+auth"):
                c, tls, ca = start(mode, Path(tmp) / f"{mode}-{round_no}")
                try:
                    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": TOPIC, "partitions_count": 3},
                                             c.headers, context=tls)
                    assert status == 201, body
                    rows.setdefault(("REST produce", mode), []).append(rest_produce(c, tls, args.rest_records))
                    rows.setdefault(("Kafka produce", mode), []).append(kafka_produce(c, ca, args.kafka_records))
                finally:
                    c.close()
                print(f"round {round_no + 1} {mode} done", file=sys.stderr)
    print(f"{'row':<15} {'mode':<9} {'MB/s median (min-max)':<24} {'p50 ms':>8} {'p99 ms median (min-max)':>26}")
    for (row, mode), runs in rows.items():
        mbs = [r[0] for r in runs]
        p50 = statistics.median(r[1] for r in runs)
        p99 = [r[2] for r in runs]
        print(f"{row:<15} {mode:<9} {statistics.median(mbs):6.1f} ({min(mbs):.1f}-{max(mbs):.1f}){'':<8} "
              f"{p50:8.1f} {statistics.median(p99):10.1f} ({min(p99):.1f}-{max(p99):.1f})")


if __name__ == "__main__":
    main()
