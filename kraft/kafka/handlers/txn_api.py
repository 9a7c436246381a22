"""The transactional producer's APIs (KIP-98, KIP-447): the door to the transaction
coordinator (kraft/transactions) and, for TxnOffsetCommit, to the group coordinator.

Each request goes to the coordinator of its transactional id (the client found it with
FindCoordinator, key type 1); any other node answers NOT_COORDINATOR. Authorization
is Kafka's: WRITE on the TRANSACTIONAL_ID for every request of the producer, WRITE on
each topic added, READ on the group whose offsets join the transaction, DESCRIBE on the
TRANSACTIONAL_ID for the admin reads. KIP-890's first part: a TxnOffsetCommit whose
group's offsets partition is not in the transaction (no AddOffsetsToTxn) is refused,
TRANSACTION_ABORTABLE from v4. Its second part (transactions version 2): EndTxn v5 moves
the producer to its next epoch at every end and answers it, and TxnOffsetCommit v5 adds
the group's offsets partition to the transaction itself (no AddOffsetsToTxn needed).
"""

from __future__ import annotations

import asyncio

import re
from typing import Any

from kraft.broker.acl_needs import ClientOperation
from kraft.broker.data_plane import VERIFY_BOUND_S
from kraft.broker.services import BrokerServices
from kraft.errors import InvalidTxnState, KraftError, ProducerFenced
from kraft.kafka.wire import error_codes
from kraft.kafka.wire.entities import millis
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import (
    CLUSTER_AUTHORIZATION_FAILED,
    GROUP_AUTHORIZATION_FAILED,
    INVALID_PRODUCER_EPOCH,
    INVALID_REGULAR_EXPRESSION,
    OPERATION_NOT_ATTEMPTED,
    TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
)

TRANSACTION_ABORTABLE_SINCE = 4  # TxnOffsetCommit v4 (KIP-890 part 1)
EPOCH_BUMP_SINCE = 5  # EndTxn v5: transactions version 2, a new epoch at every end (KIP-890 part 2)
ADDS_OFFSETS_PARTITION_SINCE = 5  # TxnOffsetCommit v5: transactions version 2
LOCATE_WAIT_S = 5.0  # a client retries COORDINATOR_LOAD_IN_PROGRESS / NOT_AVAILABLE itself


def _code(exc: KraftError, fenced_is_epoch: bool) -> int:
    """Older request versions know no PRODUCER_FENCED: Kafka answers them INVALID_PRODUCER_EPOCH."""
    if isinstance(exc, ProducerFenced) and fenced_is_epoch:
        return INVALID_PRODUCER_EPOCH
    return error_codes.code_of(exc)


async def _coordinator_code(node: BrokerServices, ctx: RequestContext | None, transactional_id: str,
                            operation: ClientOperation = "transactional_write") -> int | None:
    """None when the principal may (ctx None: a broker's request, authorized as
    CLUSTER_ACTION already) and this node coordinates the id now; else the code."""
    if not transactional_id:
        return error_codes.INVALID_REQUEST
    if ctx is not None and not ctx.allowed(operation, transactional_id):
        return TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    try:
        # a broker's question is answered at once, as Kafka answers it: the leader asking
        # holds a produce, and takes COORDINATOR_LOAD_IN_PROGRESS as "not decided yet"
        target = (await node.transactions.locate(transactional_id, wait_s=LOCATE_WAIT_S) if ctx is not None
                  else await node.transactions.locate(transactional_id, create=False, wait_s=0))
    except KraftError as exc:
        return error_codes.code_of(exc)
    return None if target is None else error_codes.NOT_COORDINATOR


# -- InitProducerId with a transactional id ---------------------------------------------------
async def init_transactional_producer(node: BrokerServices, ctx: RequestContext, request, answer: dict) -> dict:
    tid = request.transactional_id
    if (code := await _coordinator_code(node, ctx, tid)) is not None:
        answer["error_code"] = code
        return answer
    try:
        pid, epoch = await node.transactions.init_producer_id(
            tid, millis(request.transaction_timeout), int(getattr(request, "producer_id", -1)),
            int(getattr(request, "producer_epoch", -1)))
    except KraftError as exc:
        answer["error_code"] = _code(exc, ctx.api_version < 4)
        return answer
    answer.update(producer_id=pid, producer_epoch=epoch)
    return answer


# -- AddPartitionsToTxn -------------------------------------------------------------------------
# v0-v3: one transaction, from its producer. v4+: many, from brokers (KIP-890: a leader
# verifying a batch's partition, or with transactions version 2 adding it), served to
# the cluster's brokers only (RequestContext.is_cluster_member: on an open cluster too)
# instead of WRITE on each id and topic.
BROKERS_FORM_SINCE = 4


async def add_partitions(node: BrokerServices, ctx: RequestContext, request) -> dict:
    if ctx.api_version >= BROKERS_FORM_SINCE:
        return await _add_partitions_batched(node, ctx, request)
    asked = [(t.name, int(p)) for t in request.v3_and_below_topics for p in t.partitions]
    codes = await _one_transaction(node, ctx, request.v3_and_below_transactional_id,
                                   int(request.v3_and_below_producer_id), int(request.v3_and_below_producer_epoch),
                                   asked, verify_only=False)
    return {"throttle_time": 0, "results_by_topic_v3_and_below": _by_topic(codes)}


async def _add_partitions_batched(node: BrokerServices, ctx: RequestContext, request) -> dict:
    if not ctx.is_cluster_member():
        return {"throttle_time": 0, "error_code": CLUSTER_AUTHORIZATION_FAILED, "results_by_transaction": []}
    async def one(txn) -> dict:  # the transactions of one request are independent: answered together
        asked = [(t.name, int(p)) for t in txn.topics for p in t.partitions]
        codes = await _one_transaction(node, None, txn.transactional_id, int(txn.producer_id),
                                       int(txn.producer_epoch), asked, verify_only=bool(txn.verify_only))
        return {"transactional_id": txn.transactional_id, "topic_results": _by_topic(codes)}
    results = await asyncio.gather(*(one(txn) for txn in request.transactions))
    return {"throttle_time": 0, "error_code": error_codes.NONE, "results_by_transaction": results}


async def _one_transaction(node: BrokerServices, ctx: RequestContext | None, tid: str, producer_id: int,
                           producer_epoch: int, asked: list[tuple[str, int]],
                           verify_only: bool) -> dict[tuple[str, int], int]:
    """Each partition's code for one transaction's partitions: added (or, verify_only,
    checked: TRANSACTION_ABORTABLE for one not in it). ctx None: a broker's request."""
    codes = {tp: error_codes.NONE for tp in asked}
    failed = {}
    for topic, partition in asked:
        if ctx is not None and not ctx.allowed("produce", topic):
            failed[(topic, partition)] = TOPIC_AUTHORIZATION_FAILED
        else:
            image_topic = node.image.topic(topic)
            if image_topic is None or not 0 <= partition < len(image_topic.partitions):
                failed[(topic, partition)] = error_codes.UNKNOWN_TOPIC_OR_PARTITION
    if failed:  # Kafka adds none when any is refused: the others are "not attempted"
        return {tp: failed.get(tp, OPERATION_NOT_ATTEMPTED) for tp in asked}
    if (code := await _coordinator_code(node, ctx, tid)) is not None:
        return dict.fromkeys(asked, code)
    try:
        if verify_only:
            found = await node.transactions.verify_partitions(tid, producer_id, producer_epoch, asked)
            return {tp: error_codes.NONE if found.get(tp) else error_codes.TRANSACTION_ABORTABLE for tp in asked}
        await node.transactions.add_partitions(tid, producer_id, producer_epoch, asked)
    except KraftError as exc:
        codes = dict.fromkeys(asked, _code(exc, ctx is not None and ctx.api_version < 2))
    return codes


def _by_topic(codes: dict[tuple[str, int], int]) -> list[dict]:
    by_topic: dict[str, list[dict]] = {}
    for (topic, partition), code in codes.items():
        by_topic.setdefault(topic, []).append({"partition_index": partition, "partition_error_code": code})
    return [{"name": topic, "results_by_partition": parts} for topic, parts in by_topic.items()]


# -- AddOffsetsToTxn --------------------------------------------------------------------------
async def add_offsets(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer = {"throttle_time": 0, "error_code": error_codes.NONE}
    if not ctx.allowed("use_group", request.group_id):
        answer["error_code"] = GROUP_AUTHORIZATION_FAILED
        return answer
    if (code := await _coordinator_code(node, ctx, request.transactional_id)) is not None:
        answer["error_code"] = code
        return answer
    try:
        await node.transactions.add_offsets(request.transactional_id, int(request.producer_id),
                                            int(request.producer_epoch), request.group_id)
    except KraftError as exc:
        answer["error_code"] = _code(exc, ctx.api_version < 2)
    return answer


# -- EndTxn -----------------------------------------------------------------------------------
async def end_txn(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer = {"throttle_time": 0, "error_code": error_codes.NONE}
    if (code := await _coordinator_code(node, ctx, request.transactional_id)) is not None:
        answer["error_code"] = code
        return answer
    try:
        goes_on = await node.transactions.end_txn(request.transactional_id, int(request.producer_id),
                                                  int(request.producer_epoch), bool(request.committed),
                                                  bump_epoch=ctx.api_version >= EPOCH_BUMP_SINCE)
    except KraftError as exc:
        answer["error_code"] = _code(exc, ctx.api_version < 2)
        return answer  # v5+: producer id and epoch -1
    if ctx.api_version >= EPOCH_BUMP_SINCE:
        answer.update(producer_id=goes_on.producer_id, producer_epoch=goes_on.epoch)
    return answer


# -- TxnOffsetCommit (to the group's coordinator) ----------------------------------------------
async def txn_offset_commit(node: BrokerServices, ctx: RequestContext, request) -> dict:
    asked = {(t.name, int(p.partition_index)): (int(p.committed_offset), p.committed_metadata or "")
             for t in request.topics for p in t.partitions}
    codes: dict[tuple[str, int], int] = {}
    if not ctx.allowed("transactional_write", request.transactional_id):
        codes = dict.fromkeys(asked, TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    elif not ctx.allowed("use_group", request.group_id):
        codes = dict.fromkeys(asked, GROUP_AUTHORIZATION_FAILED)
    else:
        allowed = {tp: v for tp, v in asked.items() if ctx.allowed("consume", tp[0])}
        codes = {tp: TOPIC_AUTHORIZATION_FAILED for tp in asked if tp not in allowed}
        codes.update(await _commit_offsets(node, request, allowed, ctx.api_version))
    by_topic: dict[str, list[dict]] = {}
    for (topic, partition), code in codes.items():
        by_topic.setdefault(topic, []).append({"partition_index": partition, "error_code": code})
    return {"throttle_time": 0, "topics": [{"name": t, "partitions": parts} for t, parts in by_topic.items()]}


async def _offsets_partition_problem(node: BrokerServices, request, version: int) -> int | None:
    """KIP-890's check, as Kafka's group coordinator makes it: the group's offsets
    partition must be in the producer's open transaction (AddOffsetsToTxn put it there;
    from v5 the coordinator adds it now). None when it is; else TRANSACTION_ABORTABLE
    from v4, INVALID_TXN_STATE before."""
    topic, partition = node.transactions.offsets_partition(request.group_id)
    try:
        if await node.txn_link.verify(request.transactional_id, int(request.producer_id),
                                      int(request.producer_epoch), topic, partition, VERIFY_BOUND_S,
                                      add=version >= ADDS_OFFSETS_PARTITION_SINCE):
            return None
    except ProducerFenced:
        return INVALID_PRODUCER_EPOCH  # as a partition leader answers a fenced producer's batch
    return error_codes.TRANSACTION_ABORTABLE if version >= TRANSACTION_ABORTABLE_SINCE else InvalidTxnState.kafka_code


async def _commit_offsets(node: BrokerServices, request, offsets: dict, version: int) -> dict[tuple[str, int], int]:
    if not offsets:
        return {}
    try:
        target = await node.groups.locate(request.group_id, wait_s=LOCATE_WAIT_S)
        if target is not None:
            return dict.fromkeys(offsets, error_codes.NOT_COORDINATOR)
        if (code := await _offsets_partition_problem(node, request, version)) is not None:
            return dict.fromkeys(offsets, code)
        epochs = {(t.name, int(p.partition_index)): int(getattr(p, "committed_leader_epoch", -1))
                  for t in request.topics for p in t.partitions}  # v2+ (KIP-320)
        refused = await node.groups.txn_offset_commit(
            request.group_id, int(request.producer_id), int(request.producer_epoch),
            int(getattr(request, "generation_id", -1)), getattr(request, "member_id", "") or "",
            getattr(request, "group_instance_id", None), offsets, epochs)
    except KraftError as exc:
        return dict.fromkeys(offsets, error_codes.code_of(exc))
    return {tp: error_codes.code_of(refused[tp]) if tp in refused else error_codes.NONE for tp in offsets}


# -- admin: DescribeTransactions, ListTransactions, DescribeProducers ---------------------------
async def describe_transactions(node: BrokerServices, ctx: RequestContext, request) -> dict:
    states: list[dict[str, Any]] = []
    for tid in request.transactional_ids:
        state: dict[str, Any] = {"error_code": error_codes.NONE, "transactional_id": tid, "transaction_state": "",
                                 "transaction_timeout": 0, "transaction_start_time": -1, "producer_id": -1,
                                 "producer_epoch": -1, "topics": []}
        states.append(state)
        if (code := await _coordinator_code(node, ctx, tid, "describe_transaction")) is not None:
            state["error_code"] = code
            continue
        try:
            found = await node.transactions.describe(tid)
        except KraftError as exc:
            state["error_code"] = error_codes.code_of(exc)
            continue
        topics: dict[str, list[int]] = {}
        for topic, partition in found.partitions:
            if ctx.allowed("describe_topic", topic):  # Kafka leaves out what the caller may not see
                topics.setdefault(topic, []).append(partition)
        state.update(transaction_state=found.state, transaction_timeout=found.timeout_ms,
                     transaction_start_time=found.start_ms, producer_id=found.producer_id,
                     producer_epoch=found.producer_epoch,
                     topics=[{"topic": t, "partitions": ps} for t, ps in topics.items()])
    return {"throttle_time": 0, "transaction_states": states}


async def list_transactions(node: BrokerServices, ctx: RequestContext, request) -> dict:
    """This broker's transactions (an admin client asks every broker and merges). v1
    keeps those running longer than duration_filter ms, v2 those whose whole id matches
    transactional_id_pattern (KIP-1152; empty or null: every id)."""
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "unknown_state_filters": [],
                              "transaction_states": []}
    pattern = None
    if source := getattr(request, "transactional_id_pattern", None):
        try:
            pattern = re.compile(source)
        except re.error:
            answer["error_code"] = INVALID_REGULAR_EXPRESSION
            return answer
    listed, unknown = await node.transactions.list_transactions(
        [int(p) for p in request.producer_id_filters], list(request.state_filters),
        int(getattr(request, "duration_filter", -1)))
    answer["unknown_state_filters"] = list(unknown)
    answer["transaction_states"] = [
        {"transactional_id": t.transactional_id, "producer_id": t.producer_id, "transaction_state": t.state}
        for t in listed if (pattern is None or pattern.fullmatch(t.transactional_id))
        and ctx.allowed("describe_transaction", t.transactional_id)]
    return answer


async def describe_producers(node: BrokerServices, ctx: RequestContext, request) -> dict:
    topics = []
    for topic in request.topics:
        parts = []
        for index in topic.partition_indexes:
            part: dict[str, Any] = {"partition_index": index, "error_code": error_codes.NONE,
                                    "error_message": None, "active_producers": []}
            parts.append(part)
            try:
                ctx.check("consume", topic.name)
                replica = await node.data_plane.leader_replica(topic.name, int(index))
            except KraftError as exc:
                part["error_code"], part["error_message"] = error_codes.code_of(exc), error_codes.message_of(exc)
                continue
            part["active_producers"] = [
                {"producer_id": p.producer_id, "producer_epoch": p.producer_epoch, "last_sequence": p.last_sequence,
                 "last_timestamp": p.last_timestamp, "coordinator_epoch": p.coordinator_epoch,
                 "current_txn_start_offset": p.current_txn_start_offset}
                for p in replica.producer_states()]
        topics.append({"name": topic.name, "partitions": parts})
    return {"throttle_time": 0, "topics": topics}
