"""The load processes of the open-loop benchmark (bench/small_requests.py).

Each runs in its own process (multiprocessing, spawn) so that its CPU is its own and not
the nodes': a confluent-kafka sender, an aiohttp REST sender and a confluent-kafka
consumer that times each record's arrival. They talk to the benchmark over a Pipe:

  sender:   -> "ready" once warmed up; then per step <- {"rate", "seconds", "start",
            "step"} and -> the step's result dict; <- None ends it.
  consumer: -> "ready" once assigned at the partitions' ends; <- None -> its result.

A step's records are scheduled by kraft.perf.open_loop.scheduled_times; each value
starts with its scheduled time, so the delivery report (sender) and the consumer both
measure from the schedule, not from when the client got round to sending.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from dataclasses import dataclass, field

from kraft.perf.open_loop import parse_record_value, record_value, scheduled_times

QUEUE_SAMPLE_S = 0.5  # how often a sender notes how many records wait for an answer


def own_cpu_seconds() -> float:
    """This process's CPU (every thread: librdkafka's, aiohttp's resolver)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class StepRecorder:
    """What one sender saw in one step."""

    start: float
    seconds: float
    latencies_s: list = field(default_factory=list)   # answer time - scheduled time
    errors: Counter = field(default_factory=Counter)
    delivered_in_step: int = 0                          # answered before the schedule ended
    queue_samples: list = field(default_factory=list)  # records awaiting an answer, every QUEUE_SAMPLE_S
    max_behind_s: float = 0.0                           # worst lateness of a send against its slot

    def answered(self, scheduled: float, now: float, error: str | None) -> None:
        if error is not None:
            self.errors[error] += 1
            return
        self.latencies_s.append(now - scheduled)
        if now <= self.start + self.seconds:
            self.delivered_in_step += 1


def _wait_until(producer, when: float) -> None:
    """Serve delivery reports until `when`: poll returns as soon as one arrives, so the
    report's time is taken when librdkafka has it, not when a sleep ends."""
    while True:
        left = when - time.monotonic()
        if left <= 0:
            return
        if left < 0.001:  # poll's timeout is whole milliseconds: 0 would spin until `when`
            time.sleep(left)
        else:
            producer.poll(left)


class _ProduceCounter:
    """Produce requests sent so far, from librdkafka's statistics (brokers[*].req)."""

    def __init__(self):
        self.reports = 0
        self.produce_requests = 0

    def __call__(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        self.reports += 1
        self.produce_requests = sum(b.get("req", {}).get("Produce", 0) for b in stats.get("brokers", {}).values())

    def settled(self, producer, reports: int = 2, timeout_s: float = 3.0) -> int:
        """The count once `reports` more statistics have come in: the first may have been
        taken before the last answers were counted."""
        target, deadline = self.reports + reports, time.monotonic() + timeout_s
        while self.reports < target and time.monotonic() < deadline:
            producer.poll(0.05)
        return self.produce_requests


def wire_sender(conn, spec: dict) -> None:
    """One confluent-kafka producer. spec: bootstrap, topic, partitions, size, linger_ms,
    acks, idempotence, sender, senders, drain_s."""
    import confluent_kafka
    counter = _ProduceCounter()
    recorder: list[StepRecorder] = []  # the step being run (deliveries of an older one are dropped)
    spec_step = [-1]

    def on_delivery(err, msg) -> None:
        now = time.monotonic()
        parsed = parse_record_value(msg.value() or b"")
        if parsed is None or not recorder or parsed[1] != spec_step[0]:
            return  # warm-up record
        recorder[0].answered(parsed[0], now, None if err is None else err.name())

    producer = confluent_kafka.Producer({
        "bootstrap.servers": spec["bootstrap"], "acks": spec["acks"], "linger.ms": spec["linger_ms"],
        "enable.idempotence": spec["idempotence"], "message.timeout.ms": int(spec["drain_s"] * 1000),
        "statistics.interval.ms": 200, "stats_cb": counter})
    for partition in range(spec["partitions"]):  # connections, metadata, leaders: outside the clock
        producer.produce(spec["topic"], b"warm-up", partition=partition)
    if producer.flush(30):
        raise RuntimeError(f"warm-up records to {spec['topic']} not delivered")
    requests_before = counter.settled(producer)
    conn.send("ready")
    while (step := conn.recv()) is not None:
        spec_step[0] = step["step"]
        rec = StepRecorder(start=step["start"], seconds=step["seconds"])
        recorder[:] = [rec]
        _wait_until(producer, step["start"])
        cpu_before = own_cpu_seconds()
        next_sample = step["start"] + QUEUE_SAMPLE_S
        scheduled = step["start"]
        for scheduled in scheduled_times(step["rate"], step["seconds"], step["start"], spec["sender"],
                                         spec["senders"]):
            _wait_until(producer, scheduled)
            value = record_value(scheduled, step["step"], spec["size"])
            while True:
                try:
                    producer.produce(spec["topic"], value, on_delivery=on_delivery)
                    break
                except BufferError:  # librdkafka's queue is full: the lateness is measured
                    producer.poll(0.001)
            producer.poll(0)
            now = time.monotonic()
            rec.max_behind_s = max(rec.max_behind_s, now - scheduled)
            if now >= next_sample:
                rec.queue_samples.append(len(producer))
                next_sample += QUEUE_SAMPLE_S
        end = step["start"] + step["seconds"]
        behind_at_end = max(0.0, time.monotonic() - max(end, scheduled))
        _wait_until(producer, end)
        pending_at_end = len(producer)
        cpu_in_step = own_cpu_seconds() - cpu_before
        producer.flush(spec["drain_s"])
        undelivered = len(producer)
        requests_after = counter.settled(producer)
        conn.send({"latencies_s": rec.latencies_s, "errors": dict(rec.errors),
                   "delivered_in_step": rec.delivered_in_step, "queue_samples": rec.queue_samples,
                   "max_behind_s": rec.max_behind_s, "behind_at_end_s": behind_at_end,
                   "pending_at_end": pending_at_end, "undelivered": undelivered,
                   "produce_requests": requests_after - requests_before,
                   "client_cpu_s": cpu_in_step, "client_cpu_with_drain_s": own_cpu_seconds() - cpu_before})
        requests_before = requests_after
        if undelivered:  # what the drain gave up on must not count in the next step
            producer.purge()
            producer.poll(0.5)
    producer.flush(5)


def consumer(conn, spec: dict) -> None:
    """A confluent-kafka consumer (read_uncommitted) assigned at each partition's end as
    it starts; notes, per step, the arrival time minus the scheduled time of each record.
    spec: bootstrap, topic, partitions."""
    import confluent_kafka
    c = confluent_kafka.Consumer({"bootstrap.servers": spec["bootstrap"], "group.id": f"e2e-{spec['topic']}",
                                  "enable.auto.commit": False, "isolation.level": "read_uncommitted"})
    cpu_before = own_cpu_seconds()
    ends = []
    for p in range(spec["partitions"]):
        _low, high = c.get_watermark_offsets(confluent_kafka.TopicPartition(spec["topic"], p), timeout=30)
        ends.append(confluent_kafka.TopicPartition(spec["topic"], p, high))
    c.assign(ends)
    conn.send("ready")
    per_step: dict[int, list[float]] = {}
    while not conn.poll():
        # poll returns with the first record; consume(n, timeout) would wait out its
        # timeout for n records and add that wait to every latency
        first = c.poll(0.05)
        for msg in ([first] + c.consume(1000, 0)) if first is not None else []:
            now = time.monotonic()
            if msg.error() is not None:
                continue
            parsed = parse_record_value(msg.value() or b"")
            if parsed is not None:
                per_step.setdefault(parsed[1], []).append(now - parsed[0])
    conn.recv()
    c.close()
    conn.send({"per_step": per_step, "cpu_s": own_cpu_seconds() - cpu_before})


def rest_sender(conn, spec: dict) -> None:
    """One asyncio process of single-record v3 produces (POST .../topics/{t}/records),
    `concurrency` keep-alive connections shared round-robin over the nodes' URLs. Every
    scheduled record gets its own task at its time; one that finds every connection busy
    waits for one, and that wait is part of its latency (the schedule does not slow
    down). spec: urls, cluster_id, topic, size, acks, concurrency, sender, senders, drain_s."""
    asyncio.run(_rest_sender(conn, spec))


async def _rest_sender(conn, spec: dict) -> None:
    import aiohttp
    import orjson
    paths = [f"{u}/v3/clusters/{spec['cluster_id']}/topics/{spec['topic']}/records" for u in spec["urls"]]
    headers = {"Content-Type": "application/json"}
    params = {"acks": spec["acks"]}
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=spec["concurrency"], limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=spec["drain_s"])) as s:

        async def post(url: str, value: bytes) -> str | None:
            """None when the record was written, else what went wrong."""
            body = orjson.dumps({"value": {"type": "STRING", "data": value.decode()}})
            try:
                async with s.post(url, data=body, headers=headers, params=params) as answer:
                    payload = await answer.read()
                if answer.status != 200:
                    return f"http {answer.status}"
                code = orjson.loads(payload).get("error_code", 200)
                return None if code == 200 else f"error_code {code}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                return f"client {type(exc).__name__}"

        # every connection opened before the clock: `concurrency` at once, twice over
        for _ in range(2):
            await asyncio.gather(*(post(paths[i % len(paths)], b"warm-up") for i in range(spec["concurrency"])))
        conn.send("ready")
        while (step := await loop.run_in_executor(None, conn.recv)) is not None:
            rec = StepRecorder(start=step["start"], seconds=step["seconds"])
            outstanding: set[asyncio.Task] = set()

            async def one(url: str, scheduled: float) -> None:
                error = await post(url, record_value(scheduled, step["step"], spec["size"]))
                rec.answered(scheduled, time.monotonic(), error)

            await asyncio.sleep(max(0.0, step["start"] - time.monotonic()))
            cpu_before = own_cpu_seconds()
            next_sample = step["start"] + QUEUE_SAMPLE_S
            scheduled, sent = step["start"], 0
            for slot, scheduled in enumerate(scheduled_times(step["rate"], step["seconds"], step["start"],
                                                             spec["sender"], spec["senders"])):
                wait = scheduled - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                task = asyncio.create_task(one(paths[slot % len(paths)], scheduled))
                outstanding.add(task)
                sent += 1
                task.add_done_callback(outstanding.discard)
                now = time.monotonic()
                rec.max_behind_s = max(rec.max_behind_s, now - scheduled)
                if now >= next_sample:
                    rec.queue_samples.append(len(outstanding))
                    next_sample += QUEUE_SAMPLE_S
            end = step["start"] + step["seconds"]
            behind_at_end = max(0.0, time.monotonic() - max(end, scheduled))
            await asyncio.sleep(max(0.0, end - time.monotonic()))
            pending_at_end = len(outstanding)
            cpu_in_step = own_cpu_seconds() - cpu_before
            if outstanding:
                await asyncio.wait(set(outstanding), timeout=spec["drain_s"])
            undelivered = len(outstanding)
            for task in list(outstanding):
                task.cancel()
            conn.send({"latencies_s": rec.latencies_s, "errors": dict(rec.errors),
                       "delivered_in_step": rec.delivered_in_step, "queue_samples": rec.queue_samples,
                       "max_behind_s": rec.max_behind_s, "behind_at_end_s": behind_at_end,
                       "pending_at_end": pending_at_end, "undelivered": undelivered,
                       "produce_requests": sent,  # one record per request
                       "client_cpu_s": cpu_in_step, "client_cpu_with_drain_s": own_cpu_seconds() - cpu_before})
