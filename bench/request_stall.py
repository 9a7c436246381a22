"""How long one large request holds a broker's event loop: a probe connection sends
ApiVersions back to back while another sends ShareAcknowledge frames of 100,000
acknowledgement batches (about 1.9 MB each) to the same broker. The probe's round trips
while the floods are served say how long others waited (not asserted anywhere).

    .venv/bin/python bench/request_stall.py [--floods 8] [--runs 3]

One node on 127.0.0.196 (--first-address). A JSON line per run goes to stdout: the probe's
round trips (median and worst, ms) while floods were in flight, and each flood's answer time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from kraft.scenario.hostile import frames
from kraft.scenario.hostile.requests import SHARE_GROUP, _share_requests
from kraft.scenario.hostile.wire import Conn
from kraft.server.local_cluster import LocalCluster, http_json

PROBE = frames.request(18, 3, 1, client_software_name="probe", client_software_version="1")


async def _run(host: str, port: int, topic_id: uuid.UUID, floods: int) -> dict:
    done = asyncio.Event()
    trips: list[float] = []

    async def probe() -> None:
        async with Conn(host, port, host) as conn:
            while not done.is_set():
                started = time.perf_counter()
                await conn.send(PROBE)
                trips.append(time.perf_counter() - started)
                await asyncio.sleep(0.002)

    answers = []
    prober = asyncio.create_task(probe())
    try:
        await asyncio.sleep(0.5)
        async with Conn(host, port, host) as conn:
            for _ in range(floods):
                opening, flood = await asyncio.to_thread(_share_requests, topic_id, uuid.uuid4().hex)
                await conn.send(opening)
                started = time.perf_counter()
                await conn.send(flood, 60)
                answers.append(round((time.perf_counter() - started) * 1000))
    finally:
        done.set()
        await prober
    return {"probe_median_ms": round(statistics.median(trips) * 1000, 1), "probe_worst_ms": round(max(trips) * 1000),
            "probes": len(trips), "flood_answer_ms": answers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floods", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--first-address", type=int, default=196)
    args = parser.parse_args()
    with LocalCluster(nodes=1, first_address=args.first_address, topic_defaults={"replication.factor": 1}) as c:
        c.start().wait_ready(timeout_s=60)
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "stall", "partitions_count": 1})
        assert status == 201, body
        topic_id = uuid.UUID(http_json("GET", c.v3(1) + "/topics/stall")[1]["topic_id"])
        conf = c.config.node(1)
        for run in range(args.runs):
            print(json.dumps({"run": run + 1, "group": SHARE_GROUP,
                              **asyncio.run(_run(conf.host, conf.kafka_port, topic_id, args.floods))}), flush=True)


if __name__ == "__main__":
    main()
