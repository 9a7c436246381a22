"""Keyed writes to a compacted topic, and its final contents, for the compaction checker.

One idempotent confluent-kafka producer writes values "c-<seq>" under keys chosen with
the run's seed; each delivery report settles (key, value, outcome, offset). The topic
rolls small segments so the cleaner compacts during the run. `read_all` reads what it
holds at the end, keys included, with a plain consumer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from kraft.scenario.history import OK, UNKNOWN, History
from kraft.scenario.kafka_producer import drain, lab_producer, paced, serve_reports

TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.bytes": 16384, "segment.ms": 2000,
                 "min.cleanable.dirty.ratio": 0.01, "min.insync.replicas": 2}


def topic_name(h: History) -> str:
    return f"{h.topic}-compacted"


class CompactedWriter:
    def __init__(self, bootstrap: str, h: History, keys: int, seed: int, timeout_ms: int,
                 now_ms: Callable[[], float]):
        self.h, self.keys, self.rng, self.now_ms = h, keys, random.Random(seed), now_ms
        self._client = lab_producer(bootstrap, "all", timeout_ms)

    def _settle(self, index: int):
        def report(err, msg) -> None:
            try:  # an exception escaping a callback corrupts the client's next call
                key, value, _, _ = self.h.compacted_writes[index]
                if err is None:  # acknowledged, maybe without an offset (see KafkaProducer._settle)
                    self.h.compacted_writes[index] = (key, value, OK, msg.offset())
            except Exception:  # noqa: BLE001 - the write stays unknown
                pass
        return report

    async def run(self, rate_per_s: float, stop: asyncio.Event) -> None:
        topic = topic_name(self.h)
        try:
            async for seq in paced(rate_per_s, stop):
                key, value = f"k{self.rng.randrange(self.keys)}", f"c-{seq}"
                index = len(self.h.compacted_writes)
                self.h.compacted_writes.append((key, value, UNKNOWN, None))  # until its report
                try:
                    self._client.produce(topic, key=key.encode(), value=value.encode(), partition=0,
                                         on_delivery=self._settle(index))
                except BufferError:
                    pass  # never sent: stays UNKNOWN, which the checker never counts as acknowledged
                serve_reports(self._client)
        finally:
            await drain(self._client)


def read_all(bootstrap: str, h: History, bound_s: float = 30.0) -> None:
    """Every record the compacted topic holds now, into h.compacted_final."""
    import confluent_kafka
    topic = topic_name(h)
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "lab-compacted-reader",
                                         "enable.auto.commit": False, "log_level": 2})
    deadline = time.monotonic() + bound_s
    try:
        low, high = consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, 0), timeout=10)
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, low)])
        position = low
        while position < high and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is None:
                    offset, raw_key, raw_value = msg.offset(), msg.key(), msg.value()
                    assert offset is not None  # a consumed message always has one
                    key = raw_key.decode(errors="replace") if raw_key is not None else "null"
                    value = raw_value.decode(errors="replace") if raw_value is not None else "null"
                    h.compacted_final.append((offset, key, value))
                    position = offset + 1
    except confluent_kafka.KafkaException:
        pass  # an incomplete read shows as keys gone: the checker names them
    finally:
        consumer.close()

