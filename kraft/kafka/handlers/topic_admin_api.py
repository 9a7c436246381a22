"""Topic administration for Kafka admin clients: CreateTopics (19), DeleteTopics (20),
CreatePartitions (37), with kraft's placement or the client's own replica assignment.

Any broker answers: the change goes to the active controller (forwarded when it is
elsewhere), the same calls the REST API makes, and the answer waits until this broker's
image has it, so the client's next Metadata request here sees the topic.
"""

from __future__ import annotations

import asyncio
import uuid

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.config.topic_names import refuse_client_change_of_internal, validate_topic_name
from kraft.errors import InvalidValue, KraftError
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext

ZERO_UUID = uuid.UUID(int=0)
TOPICS_IN_FLIGHT = 32  # of one request, to the controller at once (_together)


def _failure(exc: KraftError | error_codes.Answer) -> tuple[int, str]:
    """(code, message) of a refusal, the handler's own (Answer) or from below."""
    return error_codes.code_of(exc), str(exc)


def _checked_name(name, change: str) -> str:
    """A legal name that is not an internal topic (INVALID_REQUEST: the controller
    refuses it too; checked here first to answer without a controller round trip)."""
    try:
        name = validate_topic_name(name)
    except InvalidValue as exc:
        raise error_codes.Answer(error_codes.INVALID_TOPIC_EXCEPTION, str(exc)) from None
    refuse_client_change_of_internal(name, change)
    return name


# -- CreateTopics -----------------------------------------------------------------------------
async def create_topics(node: BrokerServices, ctx: RequestContext, request) -> dict:
    seen: set[str] = set()
    work = []
    for topic in request.topics:
        if topic.name in seen:  # Kafka: every entry of a repeated name fails
            work.append(_answer(_created_error(topic.name, error_codes.INVALID_REQUEST,
                                               "topic named twice in one request")))
            continue
        seen.add(topic.name)
        work.append(_create_one(node, ctx, topic, bool(request.validate_only)))
    return {"throttle_time": 0, "topics": await _together(work)}


async def _answer(answer: dict) -> dict:
    return answer


async def _together(work: list) -> list:
    """The topics of one request, answered in their order: their controller calls are in
    flight together, so the controller writes those that arrive together as one entry (as
    Kafka's writes a request's topics at once) instead of one commit after another."""
    gate = asyncio.Semaphore(TOPICS_IN_FLIGHT)

    async def gated(one):
        async with gate:
            return await one
    return list(await asyncio.gather(*(gated(one) for one in work)))


def _created_error(name: str, code: int, message: str) -> dict:
    return {"name": name, "topic_id": ZERO_UUID, "error_code": code, "error_message": message,
            "num_partitions": -1, "replication_factor": -1, "configs": None}


async def _create_one(node: BrokerServices, ctx: RequestContext, topic, validate_only: bool) -> dict:
    try:
        name = _checked_name(topic.name, "create")
        if not ctx.may_create_topic(name):  # Kafka: CREATE on the cluster or the topic
            ctx.check("create_topic", name)
        assignments = [(int(a.partition_index), [int(b) for b in a.broker_ids]) for a in topic.assignments]
        if assignments and (topic.num_partitions != -1 or topic.replication_factor != -1):
            raise error_codes.Answer(error_codes.INVALID_REQUEST,  # Kafka's rule: one way or the other
                                     "give either replica assignments or a partition count and replication "
                                     "factor (-1), not both")
        result = await node.controller_call(controller_requests.CreateTopic(
            name=name,
            partitions=None if topic.num_partitions == -1 else int(topic.num_partitions),
            replication_factor=None if topic.replication_factor == -1 else int(topic.replication_factor),
            configs={c.name: c.value for c in topic.configs},
            validate_only=validate_only,
            assignments=assignments or None,
        ))
        if not validate_only:
            await node.wait_metadata(result.get("metadata_offset", 0))
    except error_codes.REFUSALS as exc:
        return _created_error(topic.name, *_failure(exc))
    topic_id = uuid.UUID(result["topic_id"]) if result.get("topic_id") else ZERO_UUID
    return {"name": name, "topic_id": topic_id, "error_code": error_codes.NONE, "error_message": None,
            "num_partitions": result["partitions_count"], "replication_factor": result["replication_factor"],
            "configs": None}


# -- DeleteTopics -----------------------------------------------------------------------------
async def delete_topics(node: BrokerServices, ctx: RequestContext, request) -> dict:
    if hasattr(request, "topic_names"):  # v0-v5 name the topics; v6 may name them by id
        names = list(request.topic_names)
    else:
        names = [t.name for t in request.topics]
    return {"throttle_time": 0, "responses": await _together([_delete_one(node, ctx, name) for name in names])}


async def _delete_one(node: BrokerServices, ctx: RequestContext, name: str | None) -> dict:
    answer = {"name": name, "topic_id": ZERO_UUID, "error_code": error_codes.NONE, "error_message": None}
    try:
        if name is None:
            raise error_codes.Answer(error_codes.UNKNOWN_TOPIC_ID, "deleting by topic id is not supported")
        _checked_name(name, "delete")
        ctx.check("delete_topic", name)
        result = await node.controller_call(controller_requests.DeleteTopic(name=name))
        await node.wait_metadata(result.get("metadata_offset", 0))
    except error_codes.REFUSALS as exc:
        answer["error_code"], answer["error_message"] = _failure(exc)
    return answer


# -- CreatePartitions -------------------------------------------------------------------------
async def create_partitions(node: BrokerServices, ctx: RequestContext, request) -> dict:
    results = []
    for topic in request.topics:
        answer = {"name": topic.name, "error_code": error_codes.NONE, "error_message": None}
        try:
            name = _checked_name(topic.name, "add partitions to")
            ctx.check("alter_topic", name)
            assignments = None if topic.assignments is None else [[int(b) for b in a.broker_ids]
                                                                  for a in topic.assignments]
            result = await node.controller_call(controller_requests.CreatePartitions(
                name=name, partitions_count=int(topic.count), validate_only=bool(request.validate_only),
                assignments=assignments))
            if not request.validate_only:
                await node.wait_metadata(result.get("metadata_offset", 0))
        except error_codes.REFUSALS as exc:
            answer["error_code"], answer["error_message"] = _failure(exc)
        results.append(answer)
    return {"throttle_time": 0, "results": results}
