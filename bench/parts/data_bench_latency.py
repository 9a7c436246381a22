"""bench/data_bench.py's latency section: acks=all produce at 20 % of the measured rate,
per-request produce latency, and end-to-end latency per record, from its request being
sent to a long-polling reader receiving it."""

from __future__ import annotations

import asyncio
import time

import orjson
from parts.data_bench_common import BATCH, RECORD_SIZE, create_topic, measure, note, r, running

from kraft.perf import meta
from kraft.perf.produce_load import ProduceSpec, build_body, new_session, produce_load
from kraft.perf.stats import LoadResult, latency_summary, percentile
from kraft.server.local_cluster import LocalCluster


class LatencyProbe:
    """One latency run's bookkeeping: when each counted request went out (its records carry
    the request's number), what the produce answered, and what the readers received."""

    def __init__(self, session, topic: str, brokers: dict, leaders: dict) -> None:
        self.session, self.topic, self.brokers, self.leaders = session, topic, brokers, leaders
        self.urls = list(brokers.values())
        self.sent_at: dict[int, float] = {}
        self.e2e: list[float] = []
        self.reader_errors: list[str] = []
        self.produced_done = asyncio.Event()
        self.acked = 0
        self.seen = 0
        self.id_base = 10**11  # warm-up requests carry ids >= 10**11, never looked up
        self.timeline: list[tuple[float, float, int]] = []  # (sent, latency, target index)

    def body_factory(self, k: int, n: int) -> bytes:
        body = build_body(RECORD_SIZE, n, prefix=f"{self.id_base + k:012d}|")
        if not self.id_base:
            self.sent_at[k] = time.perf_counter()  # just before the request goes out
        return body

    def on_request(self, k, count, sent, done, ok) -> None:
        self.acked += ok
        self.timeline.append((sent, done - sent, k % len(self.urls)))

    async def reader(self, p: int) -> None:
        offset = 0
        url = self.brokers[self.leaders[p]]
        finish_by = None
        while True:
            if self.produced_done.is_set():
                finish_by = finish_by or time.perf_counter() + 3.0
                if self.seen >= self.acked or time.perf_counter() > finish_by:
                    return
            q = (f"{url}/topics/{self.topic}/partitions/{p}/records?offset={offset}"
                 f"&timeout=1000&max_bytes=4194304")
            try:
                async with self.session.get(q, headers={"Accept": "application/vnd.kafka.json.v2+json"}) as resp:
                    raw = await resp.read()
                    status = resp.status
            except Exception as exc:  # noqa: BLE001 - recorded, bounded by finish_by
                self.reader_errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)
                continue
            now = time.perf_counter()
            if status != 200:
                self.reader_errors.append(f"{status} {raw[:200]!r}")
                await asyncio.sleep(0.05)
                continue
            records = orjson.loads(raw)
            self.received(records, now)
            if records:
                offset = records[-1]["offset"] + 1

    def received(self, records: list[dict], now: float) -> None:
        for rec in records:
            k = int(rec["value"][:12])
            if k in self.sent_at:
                self.e2e.append(now - self.sent_at[k])
                self.seen += 1

    def summary(self, rate: float, res: LoadResult) -> dict:
        d = res.to_json()
        t_first = min((t[0] for t in self.timeline), default=0.0)
        slowest = sorted(self.timeline, key=lambda t: -t[1])[:10]
        return {"target_rate_records_per_s": r(rate, 1), "produce": d,
                "slowest_requests": [{"at_s": r(s - t_first), "ms": r(l * 1000, 1), "node_url": self.urls[u]}
                                     for s, l, u in slowest],
                "produce_p99_ms": d["latency_ms"]["p99"],
                "e2e_ms": {k: r(v) for k, v in latency_summary(self.e2e).items()},
                "e2e_p99_ms": r(percentile([x * 1000 for x in self.e2e], 99)),
                "records_acked": self.acked, "records_seen_by_reader": self.seen,
                "reader_errors": self.reader_errors[:10]}


async def latency_run(cluster: LocalCluster, rate: float, seconds: float, concurrency: int,
                      warmup_s: float = 1.0) -> dict:
    topic = "lat"
    async with new_session(concurrency + 8) as session:
        cid = cluster.cluster_id
        bootstrap = cluster.url(running(cluster)[0])
        brokers = await meta.brokers(session, bootstrap, cid)
        leaders = await meta.partition_leaders(session, bootstrap, topic, cid)
        probe = LatencyProbe(session, topic, brokers, leaders)
        readers = [asyncio.create_task(probe.reader(p)) for p in sorted(leaders)]
        await asyncio.sleep(0.3)  # readers are waiting before the first record is sent
        spec = ProduceSpec(topic=topic, records=None, duration_s=seconds, record_size=RECORD_SIZE,
                           batch=BATCH, acks="all", concurrency=concurrency, throughput=rate)
        # warm-up at the same rate (connections, follower fetch sessions of the new
        # topic); not counted
        warm = ProduceSpec(topic=topic, records=None, duration_s=warmup_s, record_size=RECORD_SIZE,
                           batch=BATCH, acks="all", concurrency=concurrency, throughput=rate)
        await produce_load(probe.urls, warm, session=session, body_factory=probe.body_factory)
        probe.id_base = 0
        res: LoadResult = await produce_load(probe.urls, spec, session=session, body_factory=probe.body_factory,
                                             on_request=probe.on_request)
        res.bytes = res.records * RECORD_SIZE
        probe.produced_done.set()
        try:
            await asyncio.wait_for(asyncio.gather(*readers), 10)
        except TimeoutError:
            for t in readers:
                t.cancel()
        return probe.summary(rate, res)


def section_latency(cluster: LocalCluster, cfg: dict, max_all_rate: float | None) -> dict:
    if not max_all_rate:  # run without the throughput section: measure the max rate here
        m = measure([cluster.url(n) for n in running(cluster)], "all", cfg["pair_s"], cfg["concurrency"],
                    "bench", {})
        max_all_rate = m["records_per_s"]
    create_topic(cluster, "lat", 3)
    rate = 0.2 * max_all_rate
    note(f"latency: acks=all at {rate:,.0f} records/s (20 % of {max_all_rate:,.0f}) for {cfg['lat_s']} s")
    d = asyncio.run(latency_run(cluster, rate, cfg["lat_s"], cfg["concurrency"]))
    note(f"latency: produce p99 {d['produce_p99_ms']} ms, end-to-end p99 {d['e2e_p99_ms']} ms, "
         f"achieved {d['produce']['records_per_s']:,.0f} records/s")
    return d
