"""Produce and read for the HTTP API: choose partitions, find leaders, forward.

A node that leads the partition appends locally; otherwise it sends the batch, as
RecordBatch v2 bytes, to the leader's internal produce endpoint. The replication
layer's errors become API errors here, so routes only speak KraftError.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import orjson

from kraft.api.internal_routes import FORWARDED_HEADER, SECRET_HEADER
from kraft.broker.lookup import topic_or_404
from kraft.api.record_codec import record_size
from kraft.controller.config_control import effective_topic_configs
from kraft.errors import (
    InvalidValue,
    KraftError,
    PartitionNotFound,
    PayloadTooLarge,
    Retriable,
    error_from_json,
)
from kraft.broker.unacked_writes import UnackedWrites
from kraft.storage.log_errors import ProducerSequenceError
from kraft.broker.partitioner import RoundRobin, partition_for_key
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch
from kraft.replication.replication_errors import (
    LeaderNotAvailable,
    NotEnoughReplicas,
    NotLeader,
    OffsetOutOfRangeError,
    OutcomeUnknown,
)

ACKS = {"0": 0, "1": 1, "all": -1, "-1": -1}


class OffsetOutOfRange(KraftError):
    error_code = 40402


def api_error(exc: Exception) -> KraftError:
    if isinstance(exc, KraftError):
        return exc
    if isinstance(exc, OffsetOutOfRangeError):
        return OffsetOutOfRange(str(exc))
    if isinstance(exc, (NotLeader, NotEnoughReplicas, OutcomeUnknown, LeaderNotAvailable)):
        return Retriable(str(exc))
    raise exc


@dataclass(frozen=True)
class Idempotence:
    """(ext) An idempotent producer's request: its id and epoch, and the sequence number
    of the request's first record (the rest follow consecutively, per partition)."""

    producer_id: int
    producer_epoch: int
    sequence: int


@dataclass
class Delivery:
    partition: int
    offset: int
    timestamp: int


class DataPlane:
    def __init__(self, node, session: aiohttp.ClientSession):
        self._node = node
        self._session = session
        self._round_robin = RoundRobin()
        self.unacked = UnackedWrites()  # acks=0 writes after the answer; run() by the node

    def topic_or_404(self, topic: str):
        return topic_or_404(self._node.image, topic, self._node)

    def configs(self, topic: str) -> dict[str, str]:
        eff = effective_topic_configs(self._node.image, self._node.topic_defaults, topic)
        return {k: v for k, (v, _) in eff.items()}

    def check_sizes(self, topic: str, records: list[Record]) -> None:
        limit = int(self.configs(topic)["max.message.bytes"])
        for r in records:
            if record_size(r) > limit:
                raise PayloadTooLarge(f"record of {record_size(r)} bytes is larger than "
                                      f"max.message.bytes ({limit}) of topic {topic!r}")

    def choose_partitions(self, topic: str, entries) -> list[int]:
        """entries: (partition or None, Record). Keyless records of one request stick
        to one partition (like Kafka's sticky partitioner), chosen round-robin."""
        count = len(self.topic_or_404(topic).partitions)
        sticky = None
        out = []
        for partition, record in entries:
            if partition is None:
                if record.key is not None:
                    partition = partition_for_key(record.key, count)
                else:
                    sticky = self._round_robin.next(count) if sticky is None else sticky
                    partition = sticky
            elif isinstance(partition, bool) or not isinstance(partition, int) \
                    or not 0 <= partition < count:
                raise PartitionNotFound(f"partition {partition!r} not found: topic {topic!r} "
                                        f"has partitions 0..{count - 1}")
            out.append(partition)
        return out

    async def produce(self, topic: str, partition: int, records: list[Record], acks: int,
                      timeout_ms: int, producer: Idempotence | None = None) -> Delivery:
        """One batch to one partition; the Delivery holds the first record's offset (for a
        retried idempotent batch, the offset it was first written at)."""
        if producer is None:
            batch = encode_batch(records, 0, -1)
            if acks == 0 and self.unacked.running:
                self.leader_of(topic, partition)  # no such partition / no leader: say so now
                timestamp = records[0].timestamp_ms
                await self.unacked.hand_over(topic, partition, lambda: self.produce_batch(
                    topic, partition, batch, 0, timeout_ms, timestamp))
                return Delivery(partition, -1, timestamp)
        else:  # the producer fields travel inside the batch, also when forwarded
            batch = encode_batch(records, 0, -1, producer.producer_id, producer.producer_epoch,
                                 producer.sequence)
        return await self.produce_batch(topic, partition, batch, acks, timeout_ms,
                                        records[0].timestamp_ms)

    async def produce_batch(self, topic: str, partition: int, batch: bytes, acks: int,
                            timeout_ms: int, timestamp: int, forwarded: bool = False) -> Delivery:
        part = self.topic_or_404(topic).partitions
        if not 0 <= partition < len(part):
            raise PartitionNotFound(f"partition {partition} not found")
        leader = part[partition].leader
        if leader < 0:
            raise Retriable(f"LEADER_NOT_AVAILABLE: {topic}-{partition} has no leader (offline)")
        rm = self._node.replica_manager
        if leader != self._node.node_id or rm is None:
            if forwarded:
                raise Retriable(f"NOT_LEADER: node {self._node.node_id} does not lead {topic}-{partition}")
            return await self._forward_produce(leader, topic, partition, batch, acks, timeout_ms,
                                               timestamp)
        try:
            replica = rm.leader_replica(topic, partition)
            min_isr = int(self.configs(topic)["min.insync.replicas"])
            base, last, epoch = replica.append(batch, acks == -1, min_isr)
            if acks == -1:
                await replica.wait_committed(last, epoch, min_isr,
                                             time.monotonic() + timeout_ms / 1000)
        except ProducerSequenceError as exc:  # the producer's fault: 42206, named as in Kafka
            raise InvalidValue(f"{exc.name}: {topic}-{partition}: {exc.detail}") from None
        except Exception as exc:
            raise api_error(exc) from None
        return Delivery(partition, -1 if acks == 0 else base, timestamp)

    async def _forward_produce(self, leader, topic, partition, batch, acks, timeout_ms, timestamp):
        url = self._node.node_url(leader) + "/internal/v1/produce"
        params = {"topic": topic, "partition": str(partition), "acks": str(acks),
                  "timeout_ms": str(timeout_ms), "timestamp": str(timestamp)}
        headers = {SECRET_HEADER: self._node.internal_secret, FORWARDED_HEADER: "1",
                   "Content-Type": "application/octet-stream"}
        try:
            async with self._session.post(url, params=params, data=batch, headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=timeout_ms / 1000 + 5)) as resp:
                body = orjson.loads(await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError) as exc:
            raise Retriable(f"NOT_LEADER or unreachable leader {leader} for {topic}-{partition} "
                            f"({type(exc).__name__}); outcome unknown, retry") from None
        if resp.status != 200:
            raise error_from_json(resp.status, body)
        return Delivery(partition, body["offset"], timestamp)

    async def read(self, topic: str, partition: int, offset: int, max_bytes: int,
                   timeout_ms: int) -> bytes:
        rm = self._node.replica_manager
        try:
            if rm is None:
                raise NotLeader("this node hosts no replicas")
            replica = rm.leader_replica(topic, partition)
            return await replica.read_committed(offset, max_bytes,
                                                time.monotonic() + timeout_ms / 1000)
        except Exception as exc:
            raise api_error(exc) from None

    def offsets(self, topic: str, partition: int) -> tuple[int, int]:
        rm = self._node.replica_manager
        try:
            if rm is None:
                raise NotLeader("this node hosts no replicas")
            return rm.leader_replica(topic, partition).readable_range()
        except Exception as exc:
            raise api_error(exc) from None

    def leader_of(self, topic: str, partition: int) -> int:
        part = self.topic_or_404(topic).partitions
        if not 0 <= partition < len(part):
            raise PartitionNotFound(f"partition {partition} not found: topic {topic!r} has "
                                    f"partitions 0..{len(part) - 1}")
        leader = part[partition].leader
        if leader < 0:
            raise Retriable(f"LEADER_NOT_AVAILABLE: {topic}-{partition} has no leader (offline)")
        return leader
