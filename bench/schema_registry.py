"""The schema registry: registered-schema look-ups per second, and schema-framed produce
through REST against plain JSON produce.

A fresh LocalCluster (3 nodes unless --nodes) with SUBJECTS Avro subjects registered,
then, against node 1's ports, over keep-alive connections with CONCURRENCY requests in
flight:

  by id        GET /schemas/ids/{id}, cycling over the registered ids
  by subject   POST /subjects/{s} with the schema's text (is it registered, and as what)

each for --seconds, --runs times (the figure: median and min-max of the runs); then the
produce rows side by side, alternating, --rounds times, 100 records per request
(an order of 5 fields, ~110 bytes as JSON) into a 3-partition topic per row:

  json            v2 produce, application/vnd.kafka.json.v2+json
  avro (client)   v2 produce, binary: each value framed by confluent-kafka's AvroSerializer
                  in this process (what exists without the REST door's schema formats)
  avro (REST)     v2 produce, application/vnd.kafka.avro.v2+json with value_schema_id: the
                  node encodes and frames each record (a row only when the node serves it)

The client runs on the same machine as the cluster: its CPU counts against the figure.

    .venv/bin/python bench/schema_registry.py                 # ~60 s
    .venv/bin/python bench/schema_registry.py --runs 3 --seconds 1 --rounds 2   # a smoke run
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

SUBJECTS = 50
CONCURRENCY = 8
BATCH = 100
MEDIA = "application/vnd.schemaregistry.v1+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"
BINARY_V2 = "application/vnd.kafka.binary.v2+json"
AVRO_V2 = "application/vnd.kafka.avro.v2+json"
ORDER = {"type": "record", "name": "Order", "namespace": "bench", "fields": [
    {"name": "id", "type": "long"}, {"name": "customer", "type": "string"}, {"name": "amount", "type": "double"},
    {"name": "currency", "type": "string"}, {"name": "note", "type": ["null", "string"], "default": None}]}


def order(i: int) -> dict:
    return {"id": i, "customer": f"customer-{i % 997}", "amount": 12.5 + i % 100, "currency": "EUR",
            "note": None if i % 2 else "gift"}


def subject_schema(n: int) -> str:
    return json.dumps({**ORDER, "name": f"Order{n}"})


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


async def lookups(registry: str, ids: list[int], runs: int, seconds: float) -> dict[str, list[tuple[float, int]]]:
    out: dict[str, list[tuple[float, int]]] = {"by id": [], "by subject": []}
    bodies = [json.dumps({"schema": subject_schema(n)}).encode() for n in range(SUBJECTS)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def by_id(i: int) -> bool:
            async with session.get(f"{registry}/schemas/ids/{ids[i % len(ids)]}") as r:
                await r.read()
                return r.status == 200

        async def by_subject(i: int) -> bool:
            n = i % SUBJECTS
            async with session.post(f"{registry}/subjects/bench-{n}-value", data=bodies[n],
                                    headers={"Content-Type": MEDIA}) as r:
                await r.read()
                return r.status == 200
        for _ in range(runs):  # alternating, so drift in the machine's speed hits both alike
            out["by id"].append(await rate(seconds, by_id))
            out["by subject"].append(await rate(seconds, by_subject))
    return out


def produce_bodies(mode: str, topic: str, schema_id: int, serializer: AvroSerializer) -> tuple[str, list[bytes]]:
    """Content type and a few request bodies to cycle over (built before the clock starts)."""
    bodies = []
    for b in range(4):
        records = [order(b * BATCH + i) for i in range(BATCH)]
        if mode == "json":
            body = {"records": [{"value": r} for r in records]}
        elif mode == "avro (client)":
            ctx = SerializationContext(topic, MessageField.VALUE)
            body = {"records": [{"value": base64.b64encode(serializer(r, ctx)).decode()} for r in records]}
        else:
            body = {"value_schema_id": schema_id, "records": [{"value": {**r, "note": _union(r["note"])}} for r in records]}
        bodies.append(json.dumps(body).encode())
    return {"json": JSON_V2, "avro (client)": BINARY_V2, "avro (REST)": AVRO_V2}[mode], bodies


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


def rest_avro_served(c: LocalCluster, topic: str, schema_id: int) -> bool:
    status, _ = http_json("POST", f"{c.url(1)}/topics/{topic}",
                          {"value_schema_id": schema_id, "records": [{"value": {**order(0), "note": None}}]},
                          headers={"Content-Type": AVRO_V2})
    return status == 200


def topic_of(mode: str) -> str:
    return {"json": "bench-json", "avro (client)": "bench-avro-client", "avro (REST)": "bench-avro-rest"}[mode]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5, help="look-up runs per kind")
    ap.add_argument("--seconds", type=float, default=2.0, help="each run's length")
    ap.add_argument("--rounds", type=int, default=3, help="produce rounds (each mode once per round)")
    args = ap.parse_args()
    started = time.monotonic()
    with LocalCluster(nodes=args.nodes) as c:
        c.start().wait_ready(timeout_s=60)
        registry = c.config.node(1).schema_registry_url
        client = SchemaRegistryClient({"url": registry})
        ids = [client.register_schema(f"bench-{n}-value", Schema(subject_schema(n), "AVRO")) for n in range(SUBJECTS)]
        print(f"cluster up and {SUBJECTS} subjects registered in {time.monotonic() - started:.1f} s", file=sys.stderr)
        found = asyncio.run(lookups(registry, ids, args.runs, args.seconds))
        modes = ["json", "avro (client)"]
        schema_id = client.register_schema("bench-orders-value", Schema(json.dumps(ORDER), "AVRO"))
        serializer = AvroSerializer(client, json.dumps(ORDER), conf={"auto.register.schemas": False,
                                                                       "use.latest.version": True})
        for mode in modes + ["avro (REST)"]:
            status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic_of(mode), "partitions_count": 3})
            assert status == 201, body
        if rest_avro_served(c, topic_of("avro (REST)"), schema_id):
            modes.append("avro (REST)")
        produced: dict[str, list[tuple[float, int]]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                content_type, bodies = produce_bodies(mode, "bench-orders", schema_id, serializer)
                produced[mode].append(asyncio.run(produce(c.url(1), topic_of(mode), content_type, bodies, args.seconds)))
    load = os.getloadavg()[0]
    print(f"\nschema registry, {args.nodes} nodes, {CONCURRENCY} in flight, {args.seconds:g} s per run; "
          f"load average {load:.1f}; {time.monotonic() - started:.0f} s in all")
    print(f"{'look-up':<22} {'per second: median (min-max)':<30} {'runs':>4} {'failed':>6}")
    for kind, runs in found.items():
        print(f"{kind:<22} {spread([r[0] for r in runs]):<30} {len(runs):>4} {sum(r[1] for r in runs):>6}")
    print(f"{'produce (v2)':<22} {'records/s: median (min-max)':<30} {'runs':>4} {'failed':>6}")
    for mode, runs in produced.items():
        print(f"{mode:<22} {spread([r[0] for r in runs]):<30} {len(runs):>4} {sum(r[1] for r in runs):>6}")
    if "avro (REST)" not in modes:
        print("avro (REST): not served by this node (no v2 avro produce): row left out")
    print(json.dumps({"lookups_per_s": {k: [round(r[0]) for r in v] for k, v in found.items()},
                      "produce_records_per_s": {k: [round(r[0]) for r in v] for k, v in produced.items()},
                      "load_average": load}))


if __name__ == "__main__":
    main()
