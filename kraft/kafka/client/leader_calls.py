"""The REST door's requests to a partition's leader on another broker, in Kafka's own
messages, as Confluent's REST Proxy is a Kafka client of the cluster: Produce (v11) for
a batch a REST client sent, Fetch (v12) for a consumer instance's read, ListOffsets (v8)
for a partition's offsets, DeleteRecords (v2). They go over the brokers' connections
(client/broker_pool.py), logged in as the brokers' own user: the REST door authorized the
client already. An error answer comes back as the error class its code stands for.
"""

from __future__ import annotations

import datetime

from kio.schema.delete_records.v2 import request as delete_v2
from kio.schema.fetch.v12 import request as fetch_v12
from kio.schema.list_offsets.v8 import request as offsets_v8
from kio.schema.produce.v11 import request as produce_v11
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import Records, i8, i16, i32, i32Timedelta, i64

from kraft.broker.isolation import Aborted
from kraft.kafka.client.broker_client import BrokerUnreachable, refusal
from kraft.kafka.client.broker_pool import BrokerPool

GRACE_S = 5.0  # on top of a request's own timeout
LEASE_WAIT_MIN_S = 1.0  # a request with a shorter timeout (a read with none) may still wait this for a connection
OFFSETS_TIMEOUT_S = 5.0
READ_UNCOMMITTED, READ_COMMITTED = 0, 1


def _ms(ms: int) -> i32Timedelta:
    return i32Timedelta.parse(datetime.timedelta(milliseconds=ms))


def _only(entries, where: str):
    """The one entry a request about one partition is answered with; an answer without it
    (a whole-request refusal) is no answer: the caller says what that means."""
    if len(entries) != 1:
        raise BrokerUnreachable(f"no answer for {where}")
    return entries[0]


class LeaderCalls:
    def __init__(self, pool: BrokerPool) -> None:
        self._pool = pool

    async def _partition(self, leader: int, request, topic: str, partition: int, timeout_s: float,
                         wait_s: float, topics: str = "topics", partitions: str = "partitions"):
        """The leader's answer for the one partition asked about (its error raised as its
        class), over a connection leased for at most wait_s. topics, partitions: the
        answer's field names for them, which differ between APIs."""
        async with self._pool.lease(leader, wait_s) as connection:
            answer = await connection.request(request, timeout_s)
        part = _only(getattr(_only(getattr(answer, topics), topic), partitions), f"{topic}-{partition}")
        error = refusal(part.error_code, f"{topic}-{partition} at leader {leader}", getattr(part, "error_message", None))
        if error is not None:
            raise error
        return part

    async def _timed(self, leader: int, request, topic: str, partition: int, timeout_ms: int, **fields: str):
        """As _partition, for a request bounded by its own timeout_ms."""
        return await self._partition(leader, request, topic, partition, timeout_ms / 1000 + GRACE_S,
                                     max(timeout_ms / 1000, LEASE_WAIT_MIN_S), **fields)

    async def produce(self, leader: int, topic: str, partition: int, batch: bytes, acks: int,
                      timeout_ms: int) -> int:
        """The batch's base offset at the leader. acks=0 is sent as acks=1 (a Kafka answer
        to acks=0 never comes, and the REST client is answered either way)."""
        request = produce_v11.ProduceRequest(
            transactional_id=None, acks=i16(acks if acks != 0 else 1), timeout=_ms(timeout_ms),
            topic_data=(produce_v11.TopicProduceData(name=TopicName(topic), partition_data=(
                produce_v11.PartitionProduceData(index=i32(partition), records=Records(batch)),)),))
        part = await self._timed(leader, request, topic, partition, timeout_ms,
                                 topics="responses", partitions="partition_responses")
        return int(part.base_offset)

    async def delete_records(self, leader: int, topic: str, partition: int, offset: int, timeout_ms: int) -> int:
        """The partition's low watermark once the leader moved it to `offset` (-1: its HW)."""
        request = delete_v2.DeleteRecordsRequest(timeout=_ms(timeout_ms), topics=(delete_v2.DeleteRecordsTopic(
            name=TopicName(topic), partitions=(delete_v2.DeleteRecordsPartition(
                partition_index=i32(partition), offset=i64(offset)),)),))
        return int((await self._timed(leader, request, topic, partition, timeout_ms)).low_watermark)

    async def read(self, leader: int, topic: str, partition: int, offset: int, max_bytes: int,
                   timeout_ms: int, stable: bool) -> tuple[bytes, list[Aborted] | None]:
        """Committed batches from `offset`, waiting up to timeout_ms for the first; stable
        (read_committed): below the last stable offset, with the aborted transactions."""
        request = fetch_v12.FetchRequest(
            replica_id=BrokerId(-1), max_wait=_ms(timeout_ms), min_bytes=i32(1), max_bytes=i32(max_bytes),
            isolation_level=i8(READ_COMMITTED if stable else READ_UNCOMMITTED), session_id=i32(0),
            session_epoch=i32(-1), rack_id="", forgotten_topics_data=(),
            topics=(fetch_v12.FetchTopic(topic=TopicName(topic), partitions=(fetch_v12.FetchPartition(
                partition=i32(partition), fetch_offset=i64(offset), partition_max_bytes=i32(max_bytes)),)),))
        part = await self._timed(leader, request, topic, partition, timeout_ms, topics="responses")
        records = bytes(part.records or b"")
        if not stable:
            return records, None
        return records, [Aborted(int(a.producer_id), int(a.first_offset)) for a in part.aborted_transactions or ()]

    async def list_offset(self, leader: int, topic: str, partition: int, timestamp: int,
                          stable: bool = False) -> int:
        """Kafka's ListOffsets for one partition: EARLIEST, LATEST (the HW, or with stable
        the last stable offset) or the first offset stamped at or after a time (-1: none)."""
        request = offsets_v8.ListOffsetsRequest(
            replica_id=BrokerId(-1), isolation_level=i8(READ_COMMITTED if stable else READ_UNCOMMITTED),
            topics=(offsets_v8.ListOffsetsTopic(name=TopicName(topic), partitions=(offsets_v8.ListOffsetsPartition(
                partition_index=i32(partition), timestamp=i64(timestamp)),)),))
        part = await self._partition(leader, request, topic, partition, OFFSETS_TIMEOUT_S, OFFSETS_TIMEOUT_S)
        return int(part.offset)
