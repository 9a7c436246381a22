"""Scenario producers that are real Kafka clients: confluent-kafka (librdkafka) with
idempotence, through the Kafka listeners.

Each producer sends its unique values at its share of the rate without waiting for
answers (as Kafka applications do; librdkafka keeps up to five requests in flight per
broker and retries on its own). A delivery report settles a write: no error is OK at
the reported offset (or none: a record acked implicitly, because a later request of its
producer succeeded, has none); an error after librdkafka's own retries is UNKNOWN, because a
timed-out batch may have been written. What is not reported when the run ends is
UNKNOWN too. The checkers then judge these histories exactly as the REST ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from kraft.scenario.history import OK, UNKNOWN, Write

FLUSH_S = 40.0  # librdkafka's own message timeout is at most this, so reports come within it


def serve_reports(client) -> None:
    """client.poll(0), which runs the delivery callbacks. confluent-kafka can raise
    SystemError here when its C layer mis-propagates an error state (its issues #865,
    #1708); the report being delivered is then lost, and its write stays UNKNOWN, which
    the checkers never count as acknowledged or lost. The producer carries on."""
    try:
        client.poll(0)
    except SystemError:
        pass


async def drain(client, bound_s: float = FLUSH_S) -> None:
    """Serve delivery reports until none is outstanding or bound_s passed. A loop on the
    event loop, not flush() in the shared executor: eleven producers ending together
    would queue there behind each other."""
    deadline = time.monotonic() + bound_s
    while len(client) > 0 and time.monotonic() < deadline:
        serve_reports(client)
        await asyncio.sleep(0.02)
    serve_reports(client)


def lab_producer(bootstrap: str, acks: str, timeout_ms: int):
    """A confluent-kafka producer as the lab's workloads use it: idempotent with acks=all,
    quick to notice a moved leader, quiet but for critical lines."""
    import confluent_kafka  # a test extra: the runner checks for it before using Kafka clients
    return confluent_kafka.Producer({
        "bootstrap.servers": bootstrap, "acks": acks, "enable.idempotence": acks == "all", "linger.ms": 5,
        "request.timeout.ms": timeout_ms, "message.timeout.ms": max(20_000, 5 * timeout_ms),
        "topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.max.ms": 1000, "log_level": 2,
    })


async def paced(rate_per_s: float, stop: asyncio.Event):
    """Yield 1, 2, 3, ... at rate_per_s until stop is set; no catch-up burst after a stall."""
    interval, seq = 1.0 / rate_per_s, 0
    next_at = time.monotonic()
    while not stop.is_set():
        seq += 1
        yield seq
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at = max(next_at, time.monotonic() - 1.0)


class KafkaProducer:
    def __init__(self, name: str, bootstrap: str, topic: str, partitions: int, acks: str, timeout_ms: int,
                 now_ms: Callable[[], float]):
        self.name, self.topic, self.partitions, self.now_ms = name, topic, partitions, now_ms
        self._client = lab_producer(bootstrap, acks, timeout_ms)

    def _settle(self, write: Write):
        def report(err, msg) -> None:
            try:  # an exception escaping a callback corrupts the client's next call
                write.complete_ms = self.now_ms()
                if err is None:  # acknowledged; librdkafka gives no offset to a record acked
                    write.outcome, write.offset = OK, msg.offset()  # implicitly (a later one was)
                else:
                    write.outcome, write.error = UNKNOWN, f"kafka: {err.name()}: {err.str()}"
            except Exception as exc:  # noqa: BLE001 - recorded; the write stays unknown
                write.outcome, write.error = UNKNOWN, f"kafka: report failed: {exc!r}"
        return report

    async def run(self, writes: list[Write], rate_per_s: float, stop: asyncio.Event, acks: str) -> None:
        """Produce until `stop`, then wait for the reports (bounded) and close."""
        mine = []
        try:
            async for seq in paced(rate_per_s, stop):
                write = Write(self.name, seq, f"{self.name}-{seq}", seq % self.partitions, acks, self.now_ms())
                writes.append(write)
                mine.append(write)
                try:
                    self._client.produce(self.topic, value=write.value.encode(), partition=write.partition,
                                         on_delivery=self._settle(write))
                except BufferError:  # the client's queue is full: this write never left
                    write.complete_ms, write.outcome, write.error = self.now_ms(), UNKNOWN, "kafka: queue full"
                serve_reports(self._client)
        finally:
            await drain(self._client)
            for write in mine:
                if write.outcome is None:
                    write.complete_ms, write.outcome, write.error = self.now_ms(), UNKNOWN, "kafka: no report"
