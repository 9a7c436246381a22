"""DescribeTopicPartitions (key 75, KIP-966): how Kafka 4's tools describe topics.

Like Metadata's topics, plus each partition's eligible leader replicas and last known
ELR, in pages: topics by name, at most `response_partition_limit` partitions (and never
more than the broker's 2000) per answer, and a cursor (topic, partition) where the next
page begins. No topics named: every topic the principal may DESCRIBE. A named topic it
may not describe is answered TOPIC_AUTHORIZATION_FAILED after the others, an unknown one
UNKNOWN_TOPIC_OR_PARTITION in its place.
"""

from __future__ import annotations

from dataclasses import dataclass

from kraft.broker.services import BrokerServices
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers.metadata_api import ZERO_UUID
from kraft.kafka.handlers.metadata_topics import topic_view
from kraft.kafka.connection.request_context import RequestContext
from kraft.errors.kafka_codes import TOPIC_AUTHORIZATION_FAILED

PARTITION_LIMIT = 2000  # Kafka's max.request.partition.size.limit
# AclOperation codes of the operations a topic has (Kafka's topic_authorized_operations)
TOPIC_OPERATIONS = {"READ": 3, "WRITE": 4, "CREATE": 5, "DELETE": 6, "ALTER": 7, "DESCRIBE": 8,
                    "DESCRIBE_CONFIGS": 10, "ALTER_CONFIGS": 11}


@dataclass(frozen=True)
class Slice:
    name: str
    first: int  # the partitions [first, end) of this topic go in this page
    end: int
    known: bool


def page(topics: list[tuple[str, int | None]], cursor: tuple[str, int] | None,
         limit: int) -> tuple[list[Slice], tuple[str, int] | None]:
    """Kafka's paging over `topics` ((name, partition count or None when unknown), sorted,
    none before the cursor's): the slices of this page and the next page's cursor. An
    unknown topic takes no room; once the page is full, the next topic starts the next."""
    out: list[Slice] = []
    remaining = limit
    for name, count in topics:
        if remaining == 0:
            return out, (name, 0)
        if count is None:
            out.append(Slice(name, 0, 0, known=False))
            continue
        first = min(cursor[1], count) if cursor is not None and name == cursor[0] else 0
        end = min(count, first + remaining)
        out.append(Slice(name, first, end, known=True))
        if end < count:
            return out, (name, end)
        remaining -= end - first
    return out, None


async def describe_topic_partitions(node: BrokerServices, ctx: RequestContext, request) -> dict:
    cursor = None if request.cursor is None else (request.cursor.topic_name, int(request.cursor.partition_index))
    answer: dict = {"throttle_time": 0, "topics": [], "next_cursor": None}
    every = not request.topics
    if cursor is not None and (not cursor[0] or cursor[1] < 0):  # Kafka: every topic is told
        answer["topics"] = [_missing(t.name, error_codes.INVALID_REQUEST) for t in request.topics]
        return answer
    image = node.image
    after = cursor[0] if cursor is not None else ""
    names = sorted(image.topic_ids) if every else sorted({t.name for t in request.topics})
    names = [n for n in names if n >= after]
    denied = [n for n in names if not ctx.allowed("describe_topic", n)]
    shown = [n for n in names if n not in set(denied)]
    counts: list[tuple[str, int | None]] = []
    for name in shown:
        topic = image.topic(name)
        counts.append((name, None if topic is None else len(topic.partitions)))
    if every:
        counts = [c for c in counts if c[1] is not None]
    limit = max(min(PARTITION_LIMIT, int(request.response_partition_limit)), 1)
    slices, next_cursor = page(counts, cursor, limit)
    for s in slices:
        topic = image.topic(s.name)
        if topic is None or not s.known:
            answer["topics"].append(_missing(s.name, error_codes.UNKNOWN_TOPIC_OR_PARTITION))
            continue
        view = topic_view(image, topic)
        view["partitions"] = [dict(p, eligible_leader_replicas=list(topic.partitions[p["partition_index"]].elr),
                                   last_known_elr=list(topic.partitions[p["partition_index"]].last_known_elr))
                              for p in view["partitions"][s.first:s.end]]
        view["topic_authorized_operations"] = _authorized_operations(ctx, s.name)
        answer["topics"].append(view)
    answer["topics"] += [_missing(n, TOPIC_AUTHORIZATION_FAILED) for n in denied if not every]
    if next_cursor is not None:
        answer["next_cursor"] = {"topic_name": next_cursor[0], "partition_index": next_cursor[1]}
    return answer


def _authorized_operations(ctx: RequestContext, topic: str) -> int:
    bits = 0
    for operation, code in TOPIC_OPERATIONS.items():
        if ctx.acl_allowed(operation, "TOPIC", topic):
            bits |= 1 << code
    return bits


def _missing(name: str, code: int) -> dict:
    return {"error_code": code, "name": name, "topic_id": ZERO_UUID, "is_internal": False,
            "partitions": [], "topic_authorized_operations": -2147483648}
