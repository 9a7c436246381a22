"""REST produce in a schema format against the same records as plain JSON, side by side.

On one fresh 3-node LocalCluster, into a 3-partition RF-3 topic per format, the same
records (an order of five fields) are produced through the HTTP door as:

  v2 json      POST /topics/{t}, application/vnd.kafka.json.v2+json, --batch records a request
  v2 avro      the same with application/vnd.kafka.avro.v2+json and value_schema_id: each value
               checked against the schema, written as Avro binary and framed (magic byte, id)
  v3 JSON      POST .../records, one record a request, {"type": "JSON", "data": ...}
  v3 AVRO      the same with {"schema_id": ..., "data": ...}

Closed loop, one keep-alive connection to node 1 per series, acks=all; the series run
alternately, --rounds times, --seconds each, so the machine's drift hits both sides of a
pair alike. Per series: records/s and request latency p50 / p99; per round the ratio
avro / json. Numbers are reported, never asserted. The last stdout line is a JSON object
with every figure.

    .venv/bin/python bench/rest_schema_produce.py --quick       # ~40 s
    .venv/bin/python bench/rest_schema_produce.py --rounds 5 --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse

from kraft.server.local_cluster import LocalCluster, http_json

ORDER = json.dumps({"type": "record", "name": "Order", "namespace": "bench", "fields": [
    {"name": "id", "type": "long"}, {"name": "customer", "type": "string"},
    {"name": "item", "type": "string"}, {"name": "quantity", "type": "int"},
    {"name": "price", "type": "double"}]})


def order(i: int) -> dict:
    return {"id": i, "customer": f"customer-{i % 997}", "item": f"item-{i % 131}", "quantity": i % 9 + 1,
            "price": round(i * 0.37 % 100, 2)}


def series(c: LocalCluster, topic: str, schema_id: int, batch: int) -> dict:
    """name -> (path, content type, body maker, records a request)."""
    cid = c.cluster_id
    v2_json = lambda i: {"records": [{"value": order(i + n)} for n in range(batch)]}  # noqa: E731
    v2_avro = lambda i: {"value_schema_id": schema_id, **v2_json(i)}  # noqa: E731
    v3_json = lambda i: {"value": {"type": "JSON", "data": order(i)}}  # noqa: E731
    v3_avro = lambda i: {"value": {"schema_id": schema_id, "data": order(i)}}  # noqa: E731
    return {
        "v2 json": (f"/topics/{topic}-json", "application/vnd.kafka.json.v2+json", v2_json, batch),
        "v2 avro": (f"/topics/{topic}-avro", "application/vnd.kafka.avro.v2+json", v2_avro, batch),
        "v3 JSON": (f"/v3/clusters/{cid}/topics/{topic}-json/records", "application/json", v3_json, 1),
        "v3 AVRO": (f"/v3/clusters/{cid}/topics/{topic}-avro/records", "application/json", v3_avro, 1),
    }


def run(url: str, path: str, ctype: str, body_of, per_request: int, seconds: float) -> dict:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies, errors, i = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        body = json.dumps(body_of(i)).encode()
        started = time.monotonic()
        conn.request("POST", path, body, {"Content-Type": ctype})
        answer = conn.getresponse()
        payload = answer.read()
        latencies.append(time.monotonic() - started)
        if answer.status != 200 or b'"error_code":4' in payload or b'"error_code":5' in payload:
            errors += 1
        i += per_request
    conn.close()
    took = sum(latencies)
    latencies.sort()
    return {"records_per_s": round(i / took), "requests": len(latencies), "errors": errors,
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--batch", type=int, default=100, help="records in each v2 request")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 2 s")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 2.0
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        topic = "bench-orders"
        for suffix in ("json", "avro"):
            status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": f"{topic}-{suffix}",
                                                                   "partitions_count": 3, "replication_factor": 3})
            assert status == 201, body
        registry = c.schema_registry_url.split(",")[0]
        status, body = http_json("POST", f"{registry}/subjects/{topic}-avro-value/versions", {"schema": ORDER},
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"}, timeout=40)
        assert status == 200, body
        plan = series(c, topic, body["id"], args.batch)
        for name, (path, ctype, body_of, n) in plan.items():  # warm up: topics led, codecs cached
            run(c.url(1), path, ctype, body_of, n, 0.5)
        results: dict[str, list[dict]] = {name: [] for name in plan}
        for round_no in range(args.rounds):
            for name, (path, ctype, body_of, n) in plan.items():
                results[name].append(run(c.url(1), path, ctype, body_of, n, args.seconds))
                print(f"round {round_no + 1} {name}: {results[name][-1]}", file=sys.stderr)
    ratios = {api: [round(a["records_per_s"] / j["records_per_s"], 3) for a, j in
                    zip(results[f"{api} {'avro' if api == 'v2' else 'AVRO'}"],
                        results[f"{api} {'json' if api == 'v2' else 'JSON'}"])] for api in ("v2", "v3")}
    print(f"{'series':<10} {'records/s (median)':>18} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, runs in results.items():
        print(f"{name:<10} {statistics.median(r['records_per_s'] for r in runs):>18.0f} "
              f"{statistics.median(r['p50_ms'] for r in runs):>8.2f} "
              f"{statistics.median(r['p99_ms'] for r in runs):>8.2f} {sum(r['errors'] for r in runs):>7}")
    print(f"avro / json records/s per round: v2 {ratios['v2']}, v3 {ratios['v3']}")
    print(json.dumps({"results": results, "ratios": ratios, "batch": args.batch, "seconds": args.seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
