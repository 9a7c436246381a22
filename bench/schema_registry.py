"""The schema registry's look-ups and registrations a second, closed loop.

On one fresh 3-node LocalCluster (every node a controller and a broker), after
registering --subjects Avro schemas (one subject each), each series runs for --seconds
with --connections keep-alive HTTP connections spread over the three nodes' registry
ports, each sending its next request when the last is answered:

  by id       GET /schemas/ids/{id}                    (what every deserializer asks)
  by subject  GET /subjects/{s}/versions/latest
  lookup      POST /subjects/{s}                       (is this schema registered here?)
  re-register POST /subjects/{s}/versions, already there (a serializer's first call:
              answered by the writer, forwarded from the other two nodes, nothing written)
  register    POST /subjects/{s}/versions, a new subject each (a record appended to
              _schemas with acks=all and read back by the answering node)

Per series: requests a second, and the latency p50 / p99 / max in ms. Nothing is
asserted; the numbers go to bench/README.md.

    .venv/bin/python bench/schema_registry.py --seconds 5
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraft.server.local_cluster import LocalCluster  # noqa: E402

MEDIA = "application/vnd.schemaregistry.v1+json"


def schema(name: str) -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": "a", "type": "int"}]})


def call(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": MEDIA})
    resp = conn.getresponse()
    answer = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{method} {path}: {resp.status} {answer[:200]!r}")
    return json.loads(answer)


def series(urls: list[str], connections: int, seconds: float, request) -> dict:
    """request(conn, i) -> one request; run closed loop on `connections` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(w: int) -> None:
        split = urlsplit(urls[w % len(urls)])
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
        mine, i = [], w
        while time.monotonic() < deadline:
            started = time.perf_counter()
            request(conn, i)
            mine.append(time.perf_counter() - started)
            i += connections
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)  # noqa: E731
    return {"per_s": round(len(latencies) / seconds), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "max_ms": round(latencies[-1] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=50)
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with LocalCluster(nodes=3) as cluster:
        cluster.start().wait_ready(timeout_s=60)
        urls = cluster.schema_registry_url.split(",")
        first = urlsplit(urls[0])
        setup = http.client.HTTPConnection(first.hostname, first.port, timeout=30)
        subjects = [f"bench-{i}-value" for i in range(args.subjects)]
        ids = [call(setup, "POST", f"/subjects/{s}/versions", {"schema": schema(f"R{i}")})["id"]
               for i, s in enumerate(subjects)]
        n = len(subjects)
        runs = {
            "by id": lambda c, i: call(c, "GET", f"/schemas/ids/{ids[i % n]}"),
            "by subject": lambda c, i: call(c, "GET", f"/subjects/{subjects[i % n]}/versions/latest"),
            "lookup": lambda c, i: call(c, "POST", f"/subjects/{subjects[i % n]}", {"schema": schema(f"R{i % n}")}),
            "re-register": lambda c, i: call(c, "POST", f"/subjects/{subjects[i % n]}/versions",
                                             {"schema": schema(f"R{i % n}")}),
            "register": lambda c, i: call(c, "POST", f"/subjects/new-{uuid.uuid4().hex}/versions",
                                          {"schema": schema("New")}),
        }
        results = {name: series(urls, args.connections, args.seconds, run) for name, run in runs.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
