"""Fetch with and without incremental fetch sessions (KIP-227), for one consumer of
1,000 partitions: request bytes, answer bytes and broker CPU per fetch, side by side.

One LocalCluster of one node (so one broker leads all 1,000 partitions, as one
connection of a consumer would fetch them), 10 topics x 100 partitions (RF 1), one
record in each. A consumer at the end of every partition then fetches (Fetch v17,
max_wait 0, so every request is answered at once with nothing new):

  full         every request names all 1,000 partitions (session id 0, epoch -1: how a
               client without sessions, such as librdkafka, fetches)
  incremental  one full fetch opens a session; every later request (epoch 1, 2, ...)
               names no partition and is answered with none

Each run sends --fetches requests one after another on one connection; runs of the
two modes alternate (--runs of each). Broker CPU is the node process's utime + stime
from /proc/<pid>/stat over the run, less its idle CPU over the same time (measured
before the runs), divided by the fetches. Printed: median and spread (min-max) over
the runs, per mode.

    .venv/bin/python bench/fetch_sessions.py              # 5 runs x 100 fetches per mode (~1 minute)
    .venv/bin/python bench/fetch_sessions.py --runs 3 --fetches 100
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import socket
import statistics
import struct
import sys
import time
import uuid

from kio.schema.fetch.v17 import request as v17
from kio.schema.fetch.v17.response import FetchResponse
from kio.serial import entity_reader, entity_writer

from kraft.server.local_cluster import LocalCluster, http_json

TOPICS, PARTITIONS = 10, 100
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def frame(request, correlation_id: int) -> bytes:
    header_cls = type(request).__header_schema__
    buf = io.BytesIO()
    entity_writer(header_cls)(buf, header_cls(request_api_key=1, request_api_version=17,
                                              correlation_id=correlation_id, client_id="bench"))
    entity_writer(type(request))(buf, request)
    return struct.pack(">i", buf.tell()) + buf.getvalue()


def recv_exactly(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        out += chunk
    return bytes(out)


def call(s: socket.socket, data: bytes) -> tuple[FetchResponse, int]:
    s.sendall(data)
    size = struct.unpack(">i", recv_exactly(s, 4))[0]
    body = recv_exactly(s, size)
    answer, _ = entity_reader(FetchResponse)(body, 5)  # correlation id, empty tag buffer
    return answer, size + 4


def fetch_request(topics: dict[uuid.UUID, int], session_id: int, epoch: int, offset: int) -> v17.FetchRequest:
    return v17.FetchRequest(
        max_wait=datetime.timedelta(0), min_bytes=0, session_id=session_id, session_epoch=epoch,
        forgotten_topics_data=(),
        topics=tuple(v17.FetchTopic(topic_id=tid, partitions=tuple(
            v17.FetchPartition(partition=p, fetch_offset=offset, partition_max_bytes=1 << 20) for p in range(count)))
            for tid, count in topics.items()))


def run(s: socket.socket, pid: int, topics: dict, mode: str, fetches: int, idle_per_s: float) -> dict:
    if mode == "incremental":
        opened, _ = call(s, frame(fetch_request(topics, 0, 0, 1), 0))
        assert opened.session_id != 0 and int(opened.error_code) == 0, opened.error_code
        frames = [frame(fetch_request({}, opened.session_id, epoch, 1), epoch) for epoch in range(1, fetches + 1)]
    else:
        frames = [frame(fetch_request(topics, 0, -1, 1), 1)] * fetches
    cpu0, wall0 = cpu_s(pid), time.monotonic()
    answer_bytes = 0
    for data in frames:
        answer, size = call(s, data)
        assert int(answer.error_code) == 0, answer.error_code
        answer_bytes += size
    wall = time.monotonic() - wall0
    cpu = cpu_s(pid) - cpu0 - idle_per_s * wall
    return {"request_bytes": len(frames[-1]), "answer_bytes": answer_bytes / fetches,
            "cpu_ms_per_fetch": 1000 * cpu / fetches, "fetches_per_s": fetches / wall}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):9.3f}  ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fetches", type=int, default=100)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    import confluent_kafka

    with LocalCluster(nodes=1, topic_defaults={"min.insync.replicas": 1}) as c:
        c.start().wait_ready(timeout_s=60)
        topics: dict[uuid.UUID, int] = {}
        for t in range(TOPICS):
            status, body = http_json("POST", c.v3(1) + "/topics", {
                "topic_name": f"bench-fs-{t}", "partitions_count": PARTITIONS, "replication_factor": 1})
            assert status == 201, body
            topics[uuid.UUID(body["topic_id"])] = PARTITIONS
        producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all"})
        for t in range(TOPICS):
            for p in range(PARTITIONS):
                producer.produce(f"bench-fs-{t}", value=b"x" * 100, partition=p)
        assert producer.flush(120) == 0, "records not delivered"
        del producer  # it would reconnect to the stopped node
        pid = c.procs[1].pid
        time.sleep(5)  # the logs opened, the node settled
        before, t0 = cpu_s(pid), time.monotonic()
        time.sleep(5)
        idle_per_s = (cpu_s(pid) - before) / (time.monotonic() - t0)
        conf = c.config.node(1)
        results: dict[str, list[dict]] = {"full": [], "incremental": []}
        with socket.create_connection((conf.host, conf.kafka_port), timeout=30) as s:
            call(s, frame(fetch_request(topics, 0, -1, 1), 0))  # warm-up
            for i in range(args.runs):
                for mode in ("full", "incremental") if i % 2 == 0 else ("incremental", "full"):
                    results[mode].append(run(s, pid, topics, mode, args.fetches, idle_per_s))
                    print(f"run {i + 1} {mode}: {results[mode][-1]}", file=sys.stderr)
    print(f"\nFetch v17, one consumer of {TOPICS * PARTITIONS} partitions on one broker, nothing new; "
          f"{args.runs} runs x {args.fetches} fetches per mode; median (min-max)")
    print(f"idle node CPU: {100 * idle_per_s:.1f} % of a core (subtracted)")
    print(f"{'mode':12} {'request B':>10} {'answer B':>10} {'broker CPU ms/fetch':>28} {'fetches/s':>26}")
    for mode, rows in results.items():
        print(f"{mode:12} {rows[0]['request_bytes']:10d} {statistics.median(r['answer_bytes'] for r in rows):10.0f} "
              f"{spread([r['cpu_ms_per_fetch'] for r in rows]):>28} {spread([r['fetches_per_s'] for r in rows]):>26}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"idle_cpu_per_s": idle_per_s, "results": results}, out, indent=1)


if __name__ == "__main__":
    main()
