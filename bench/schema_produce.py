"""Schema-framed produce through REST against plain JSON produce, in one run.

A fresh LocalCluster (3 nodes unless --nodes), an Avro schema registered, then v2 produce
to node 1 over keep-alive connections with CONCURRENCY requests in flight, 100 records
(an order of 5 fields, ~110 bytes as JSON) per request into a 3-partition topic per row,
the rows side by side, alternating, --rounds times of --seconds each:

  json            application/vnd.kafka.json.v2+json
  avro (client)   binary: each value framed by confluent-kafka's AvroSerializer in this
                  process (Avro that needs nothing of the REST door but bytes)
  avro (REST)     application/vnd.kafka.avro.v2+json with value_schema_id: the node encodes
                  and frames each record
  jsonschema (REST)  application/vnd.kafka.jsonschema.v2+json with value_schema_id: the node
                  validates and frames each record
(the two REST rows only when the node serves those formats)

The figure: records a second, median and min-max of the rounds. The client runs on the
same machine as the cluster: its CPU counts against the figure. The registry's own
look-ups are bench/schema_registry.py's.

    .venv/bin/python bench/schema_produce.py                        # ~30 s
    .venv/bin/python bench/schema_produce.py --rounds 1 --seconds 1   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import statistics
import sys
import time

import aiohttp
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kraft.server.local_cluster import LocalCluster, http_json

CONCURRENCY = 8
BATCH = 100
JSON_V2 = "application/vnd.kafka.json.v2+json"
BINARY_V2 = "application/vnd.kafka.binary.v2+json"
AVRO_V2 = "application/vnd.kafka.avro.v2+json"
JSONSCHEMA_V2 = "application/vnd.kafka.jsonschema.v2+json"
ORDER = {"type": "record", "name": "Order", "namespace": "bench", "fields": [
    {"name": "id", "type": "long"}, {"name": "customer", "type": "string"}, {"name": "amount", "type": "double"},
    {"name": "currency", "type": "string"}, {"name": "note", "type": ["null", "string"], "default": None}]}
ORDER_JSON = {"type": "object", "required": ["id", "customer", "amount", "currency"], "properties": {
    "id": {"type": "integer"}, "customer": {"type": "string"}, "amount": {"type": "number"},
    "currency": {"type": "string"}, "note": {"type": ["null", "string"]}}}
MODES = {"json": JSON_V2, "avro (client)": BINARY_V2, "avro (REST)": AVRO_V2, "jsonschema (REST)": JSONSCHEMA_V2}
SERVED_IF_ANSWERED = ("avro (REST)", "jsonschema (REST)")


def order(i: int) -> dict:
    return {"id": i, "customer": f"customer-{i % 997}", "amount": 12.5 + i % 100, "currency": "EUR",
            "note": None if i % 2 else "gift"}


async def rate(seconds: float, make_request) -> tuple[float, int]:
    """Requests per second over `seconds` with CONCURRENCY in flight; and the failures."""
    done = failed = 0
    counter = itertools.count()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            if await make_request(next(counter)):
                done += 1
            else:
                failed += 1
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started), failed


def produce_body(mode: str, records: list[dict], ids: dict[str, int], serializer: AvroSerializer) -> bytes:
    if mode == "json":
        body: dict = {"records": [{"value": r} for r in records]}
    elif mode == "avro (client)":
        ctx = SerializationContext("bench-orders", MessageField.VALUE)
        body = {"records": [{"value": base64.b64encode(serializer(r, ctx)).decode()} for r in records]}
    elif mode == "avro (REST)":
        body = {"value_schema_id": ids[mode], "records": [{"value": {**r, "note": _union(r["note"])}} for r in records]}
    else:
        body = {"value_schema_id": ids[mode], "records": [{"value": r} for r in records]}
    return json.dumps(body).encode()


def produce_bodies(mode: str, ids: dict[str, int], serializer: AvroSerializer) -> list[bytes]:
    """A few request bodies to cycle over (built before the clock starts)."""
    return [produce_body(mode, [order(b * BATCH + i) for i in range(BATCH)], ids, serializer) for b in range(4)]


def _union(value: str | None) -> dict | None:
    return None if value is None else {"string": value}  # Avro's JSON encoding of ["null","string"]


async def produce(base: str, topic: str, content_type: str, bodies: list[bytes], seconds: float) -> tuple[float, int]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def one(i: int) -> bool:
            async with session.post(f"{base}/topics/{topic}", data=bodies[i % len(bodies)],
                                    headers={"Content-Type": content_type, "Accept": "application/vnd.kafka.v2+json"}) as r:
                answer = await r.read()
                return r.status == 200 and b'"error_code":4' not in answer and b'"error_code":5' not in answer
        await one(0)  # warm: connections, the topic's leaders, the schema's codec
        per_s, failed = await rate(seconds, one)
        return per_s * BATCH, failed


def served(c: LocalCluster, mode: str, ids: dict[str, int], serializer: AvroSerializer) -> bool:
    """Whether the node takes this format (one record written, outside the clock)."""
    status, _ = http_json("POST", f"{c.url(1)}/topics/{topic_of(mode)}",
                          json.loads(produce_body(mode, [order(0)], ids, serializer)),
                          headers={"Content-Type": MODES[mode]})
    return status == 200


def topic_of(mode: str) -> str:
    return "bench-" + mode.replace(" (", "-").rstrip(")")


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0, help="each round's length per row")
    ap.add_argument("--rounds", type=int, default=3, help="produce rounds (each mode once per round)")
    args = ap.parse_args()
    started = time.monotonic()
    with LocalCluster(nodes=args.nodes) as c:
        c.start().wait_ready(timeout_s=60)
        client = SchemaRegistryClient({"url": c.config.node(1).schema_registry_url})
        print(f"cluster up in {time.monotonic() - started:.1f} s", file=sys.stderr)
        avro_id = client.register_schema("bench-orders-value", Schema(json.dumps(ORDER), "AVRO"))
        ids = {"avro (REST)": avro_id,
               "jsonschema (REST)": client.register_schema("bench-orders-json-value", Schema(json.dumps(ORDER_JSON), "JSON"))}
        serializer = AvroSerializer(client, json.dumps(ORDER), conf={"auto.register.schemas": False,
                                                                       "use.latest.version": True})
        for mode in MODES:
            status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic_of(mode), "partitions_count": 3})
            assert status == 201, body
        modes = [m for m in MODES if m not in SERVED_IF_ANSWERED or served(c, m, ids, serializer)]
        produced: dict[str, list[tuple[float, int]]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                bodies = produce_bodies(mode, ids, serializer)
                produced[mode].append(asyncio.run(produce(c.url(1), topic_of(mode), MODES[mode], bodies, args.seconds)))
    load = os.getloadavg()[0]
    print(f"\nREST produce, {args.nodes} nodes, {CONCURRENCY} requests of {BATCH} records in flight, "
          f"{args.seconds:g} s per round; load average {load:.1f}; {time.monotonic() - started:.0f} s in all")
    print(f"{'produce (v2)':<22} {'records/s: median (min-max)':<30} {'runs':>4} {'failed':>6}")
    for mode, runs in produced.items():
        print(f"{mode:<22} {spread([r[0] for r in runs]):<30} {len(runs):>4} {sum(r[1] for r in runs):>6}")
    for mode in (m for m in MODES if m not in modes):
        print(f"{mode}: not served by this node ({MODES[mode]} produce): row left out")
    print(json.dumps({"produce_records_per_s": {k: [round(r[0]) for r in v] for k, v in produced.items()},
                      "load_average": load}))


if __name__ == "__main__":
    main()
