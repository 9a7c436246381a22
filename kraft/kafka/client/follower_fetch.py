"""A follower's fetches from one leader, as Kafka's Fetch (v17) with the follower's replica
id and broker epoch, in a KIP-227 session (replication/fetch_session.py), over one
BrokerConnection. The replica fetcher hands it the replication model
(fetch_protocol.FetchRequest) and takes back PartitionData; this module is the
translation, both ways. kraft/kafka/handlers/replica_fetch_api.py is the leader's side.
"""

from __future__ import annotations

import uuid

from kio.schema.fetch.v17 import request as v17
from kio.static.primitive import i32

from kraft.kafka.client.broker_client import BrokerConnection, BrokerUnreachable
from kraft.errors.kafka_codes import FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH
from kraft.kafka.wire.unchecked import as_broker_id, as_i32, as_i32_millis, as_i64
from kraft.replication import fetch_protocol as fp
from kraft.replication.fetch_session import FollowerFetchSession

ANSWER_GRACE_S = 5.0  # on top of the request's own long-poll wait
FETCH_SESSION_ERRORS = frozenset({FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH})


class FetchRefused(BrokerUnreachable):
    """The leader answered the whole request with an error (not a session's)."""


class FollowerFetchChannel:
    """Owned by one fetcher task (`async with`), closed when the fetcher ends."""

    def __init__(self, connection: BrokerConnection) -> None:
        self._connection = connection
        self._session = FollowerFetchSession()

    async def __aenter__(self) -> "FollowerFetchChannel":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._connection.close()

    @property
    def wants_full(self) -> bool:
        """The next request must name every partition followed (no session yet, or it
        was lost); otherwise it names only the positions that moved."""
        return self._session.wants_full

    async def fetch(self, request: fp.FetchRequest) -> list[fp.PartitionData]:
        """request: every partition followed from the leader when wants_full, else the
        positions that moved and the partitions forgotten. The answer holds those with
        news (in a session) or all of them (a full fetch)."""
        try:
            answer = await self._connection.request(_encoded(request, self._session),
                                                    request.max_wait_ms / 1000 + ANSWER_GRACE_S)
        except BaseException:
            self._session.reset()
            raise
        code = answer.error_code.value
        self._session.answered(code, int(answer.session_id))
        if code in FETCH_SESSION_ERRORS:
            return []  # the next request is a full one
        if code != 0:
            raise FetchRefused(f"fetch refused: {answer.error_code.name}")
        return [_data(topic.topic_id, p) for topic in answer.responses for p in topic.partitions]


def _encoded(wire: fp.FetchRequest, session: FollowerFetchSession) -> v17.FetchRequest:
    topics: dict[str, list[v17.FetchPartition]] = {}
    for p in wire.partitions:
        topics.setdefault(p.topic_id, []).append(v17.FetchPartition(
            partition=as_i32(p.partition), current_leader_epoch=as_i32(p.current_leader_epoch),
            fetch_offset=as_i64(p.fetch_offset), last_fetched_epoch=as_i32(p.last_fetched_epoch),
            log_start_offset=as_i64(p.log_start_offset),
            partition_max_bytes=as_i32(p.max_bytes if p.max_bytes >= 0 else wire.max_bytes)))
    forgotten: dict[str, list[i32]] = {}
    for topic_id, partition in wire.forgotten:
        forgotten.setdefault(topic_id, []).append(as_i32(partition))
    return v17.FetchRequest(
        replica_state=v17.ReplicaState(replica_id=as_broker_id(wire.replica_id), replica_epoch=as_i64(wire.broker_epoch)),
        max_wait=as_i32_millis(wire.max_wait_ms), min_bytes=as_i32(1),
        max_bytes=as_i32(wire.max_bytes), session_id=as_i32(session.session_id), session_epoch=as_i32(session.epoch),
        topics=tuple(v17.FetchTopic(topic_id=uuid.UUID(hex=t), partitions=tuple(parts)) for t, parts in topics.items()),
        forgotten_topics_data=tuple(v17.ForgottenTopic(topic_id=uuid.UUID(hex=t), partitions=tuple(parts))
                                    for t, parts in forgotten.items()))


def _data(topic_id: uuid.UUID | None, p) -> fp.PartitionData:
    diverging = p.diverging_epoch
    return fp.PartitionData((topic_id or uuid.UUID(int=0)).hex, int(p.partition_index), fp.error_of(p.error_code.value),
                            high_watermark=int(p.high_watermark), log_start_offset=int(p.log_start_offset),
                            diverging_epoch=int(diverging.epoch), diverging_end_offset=int(diverging.end_offset),
                            records=bytes(p.records or b""))
