"""Produce (key 0): one RecordBatch v2 per partition, appended where this broker leads.

The door decodes the request and encodes the answer; the rules a client's batch meets
(internal topics, the whole-batch checks, max.message.bytes, LogAppendTime, the
topic's compression.type) are the broker's (kraft/broker/client_writes.py), the same
for REST. A partition led elsewhere answers NOT_LEADER_OR_FOLLOWER, so the client
refreshes its metadata and goes to the leader, as with Kafka; from v10 (KIP-951) that
answer also names the leader and epoch this broker knows and the leader's endpoint, so
the client can go there without a metadata round trip. From v11 a transactional batch
for a partition not in its transaction is TRANSACTION_ABORTABLE (KIP-890), which the
client answers by aborting; older versions get INVALID_TXN_STATE. From v12
(transactions version 2, KIP-890 part 2) a transactional batch for a partition not yet in
its transaction is not refused: this leader has the coordinator add the partition (and
start the transaction) before appending, under the same bound as the check. From v13
topics are named by id (KIP-516); an id this broker does not know is UNKNOWN_TOPIC_ID.
acks=0 gets no answer.
"""

from __future__ import annotations

import asyncio
import time

from kraft.broker.data_plane import PendingDelivery
from kraft.broker.services import BrokerServices
from kraft.errors import KraftError, PartitionNotInTransaction
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers import topic_ids
from kraft.kafka.handlers.leaders import current_leader, node_endpoint
from kraft.kafka.connection.request_context import RequestContext

LEADER_HINTS_SINCE = 10  # KIP-951
TRANSACTION_ABORTABLE_SINCE = 11  # KIP-890 part 1
ADDS_TO_TRANSACTION_SINCE = 12  # KIP-890 part 2 (transactions version 2)
TOPICS_BY_ID_SINCE = 13  # KIP-516


async def handle(node: BrokerServices, ctx: RequestContext, request) -> dict | None:
    acks = int(request.acks)
    timeout_ms = max(0, int(request.timeout.total_seconds() * 1000))
    if acks not in (0, 1, -1):
        refusal = error_codes.Answer(error_codes.INVALID_REQUIRED_ACKS, f"acks must be 0, 1 or -1 (all), got {acks}")
        return _answer(node, ctx, request, {}, (refusal.kafka_code, -1, -1, -1, refusal))
    appended = {}
    for topic in request.topic_data:  # appends in request order, one after another
        name = _topic_name(node, ctx, topic)
        if name is None:
            continue  # an unknown topic id: answered as such
        for part in topic.partition_data:
            key = (name, int(part.index))
            appended[key] = await _append_one(node, ctx, name, int(part.index), part.records or b"",
                                              acks, timeout_ms, request.transactional_id,
                                              ctx.api_version >= ADDS_TO_TRANSACTION_SINCE)
    ctx.let_next_request_start()  # the connection's next produce may append now
    if len(appended) == 1:  # the common case: no task per partition to wait with
        (key, outcome), = appended.items()
        results = {key: await _committed(node, key, outcome)}
    else:
        results = dict(zip(appended, await asyncio.gather(*(_committed(node, key, outcome)
                                                             for key, outcome in appended.items()))))
    if acks == 0:
        return None  # Kafka answers acks=0 with silence
    return _answer(node, ctx, request, results)


Refusal = KraftError | error_codes.Answer
# error code, base offset, log start, log append time (-1: the producer's time), the refusal
Outcome = tuple[int, int, int, int, Refusal | None]
UNKNOWN_ID: Outcome = (error_codes.UNKNOWN_TOPIC_ID, -1, -1, -1,
                       error_codes.Answer(error_codes.UNKNOWN_TOPIC_ID, "no topic has this topic id"))
NOT_APPENDED: Outcome = (error_codes.INVALID_REQUEST, -1, -1, -1,
                         error_codes.Answer(error_codes.INVALID_REQUEST, "this partition's batch was not appended"))


def _topic_name(node: BrokerServices, ctx: RequestContext, topic) -> str | None:
    """The topic a request's entry names: by name, or from v13 by id (None: unknown id)."""
    if ctx.api_version < TOPICS_BY_ID_SINCE:
        return topic.name
    return topic_ids.name_of(node, topic.topic_id)


def _answer(node: BrokerServices, ctx: RequestContext, request, results: dict,
            missing: Outcome = NOT_APPENDED) -> dict:
    responses = []
    endpoints: dict[int, dict] = {}
    for topic in request.topic_data:
        parts = []
        name = _topic_name(node, ctx, topic)
        for part in topic.partition_data:
            code, base, log_start, append_time, error = (UNKNOWN_ID if name is None
                                            else results.get((name, int(part.index)), missing))
            if isinstance(error, PartitionNotInTransaction) and ctx.api_version >= TRANSACTION_ABORTABLE_SINCE:
                code = error_codes.TRANSACTION_ABORTABLE
            answer = {"index": part.index, "error_code": code, "base_offset": base,
                      "log_append_time": append_time, "log_start_offset": log_start,
                      # v8+: the refusal in the same words REST answers it with
                      "error_message": None if error is None else error_codes.message_of(error),
                      # KIP-467 (v8+): which records of the batch were refused, and why
                      "record_errors": [{"batch_index": i, "batch_index_error_message": m}
                                        for i, m in getattr(error, "record_errors", ())]}
            if code == error_codes.NOT_LEADER_OR_FOLLOWER and ctx.api_version >= LEADER_HINTS_SINCE and name:
                leader, epoch = current_leader(node, name, int(part.index))
                answer["current_leader"] = {"leader_id": leader, "leader_epoch": epoch}
                if leader not in endpoints and (endpoint := node_endpoint(node, leader)) is not None:
                    endpoints[leader] = endpoint
            parts.append(answer)
        responses.append({"name": name, "topic_id": getattr(topic, "topic_id", None), "partition_responses": parts})
    return {"responses": responses, "throttle_time": 0, "node_endpoints": list(endpoints.values())}


async def _append_one(node: BrokerServices, ctx: RequestContext, topic: str, partition: int, data: bytes,
                      acks: int, timeout_ms: int, transactional_id: str | None,
                      add_to_txn: bool) -> PendingDelivery | KraftError:
    """The batch appended on this leader (its commit still to wait for), or the refusal.
    The ACL checks are the request's: the context decides each once."""
    try:
        if transactional_id is not None:  # Kafka: the transactional id first, then the topic
            ctx.check("transactional_write", transactional_id)
        ctx.check("produce", topic)
        if ctx.from_broker and transactional_id is None:
            # the REST door of another broker forwards a batch it checked against the client
            # rules (one request's records for a partition: one batch, which may pass
            # max.message.bytes, each record held to it); stored as the cluster's own append
            return await node.data_plane.append_batch(topic, partition, bytes(data), acks, timeout_ms,
                                                      int(time.time() * 1000), local_only=True)
        return await node.data_plane.append_client_batch(topic, partition, bytes(data), acks, timeout_ms,
                                                         transactional_id, add_to_txn)
    except KraftError as exc:
        return exc


async def _committed(node: BrokerServices, key: tuple[str, int], outcome: PendingDelivery | KraftError) -> Outcome:
    """(error code, base offset, log start offset, log append time, the refusal) for one
    partition; the log append time is the batch's when the topic stamps it (Kafka's
    LogAppendTime answer, which clients report as the records' timestamps), else -1."""
    if isinstance(outcome, KraftError):
        return error_codes.code_of(outcome), -1, -1, -1, outcome
    try:
        delivery = await outcome.committed()
    except KraftError as exc:
        return error_codes.code_of(exc), -1, -1, -1, exc
    return (error_codes.NONE, delivery.offset, node.data_plane.log_start_offset(*key),
            delivery.log_append_time, None)
