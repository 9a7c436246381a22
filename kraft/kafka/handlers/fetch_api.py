"""Fetch (key 1, v4–18): committed batches of a partition's replica on this broker, long-polled.

The answer waits up to max_wait for min_bytes across the partitions (Kafka's
delayed fetch) and stops adding data at max_bytes, though a partition's first batch
is always whole so no consumer stalls. v7+ requests may use incremental fetch
sessions (kafka/handlers/fetch_sessions.py holds the rules); v12+ are flexible and may report
a diverging epoch; v13+ name topics by id; v16+ carry the current leader of a
partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, with its endpoint
(KIP-951). Record bytes are not read into Python: they go from the segment files to
the socket with sendfile (kafka/wire/splice.py), as Kafka's zero-copy transfer does.

KIP-392 (v11+, a consumer's rack_id): a follower serves consumers from its own log up
to its high watermark (its last stable offset for read_committed), and with
`replica.selector.class` = RackAwareReplicaSelector the leader answers a consumer in a
follower's rack with that follower as preferred_read_replica and no records
(replication/read_replica.py holds the rule). Older requests read from the leader only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.config.cluster import RACK_AWARE_REPLICA_SELECTOR
from kraft.errors import KraftError, TopicAuthorizationFailed
from kraft.kafka.wire import error_codes
from kraft.kafka.handlers import replica_fetch_api
from kraft.kafka.wire.entities import millis
from kraft.kafka.handlers.fetch_sessions import TOPIC_IDS_SINCE, Key, Outcome, Wanted
from kraft.kafka.handlers.leaders import current_leader, epoch_problem, node_endpoint
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.wire.splice import Spliced, new_marker
from kraft.replication.change_signal import ChangeSignal, wait_any
from kraft.replication.long_poll import long_poll
from kraft.replication.partition_read import ReadRequest
from kraft.replication.read_bounds import Isolation
from kraft.replication.read_replica import NO_PREFERENCE, rack_aware_choice
from kraft.errors.kafka_codes import FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, TOPIC_AUTHORIZATION_FAILED

READ_COMMITTED = 1  # the request's isolation_level
ZERO_UUID = uuid.UUID(int=0)
LEADER_HINTS_SINCE = 16  # KIP-951: current leader and its endpoint in the answer
CLIENT_RACK_SINCE = 11  # KIP-392: rack_id in the request, followers serve consumers
# found before any log is read: as in Kafka, they do not cut the long poll short
_BEFORE_READING = frozenset({TOPIC_AUTHORIZATION_FAILED, error_codes.UNKNOWN_TOPIC_OR_PARTITION,
                             error_codes.UNKNOWN_TOPIC_ID})


def _topic_name(node: BrokerServices, key: Key, by_id: bool) -> str | None:
    topic = key[0]  # type: ignore[index]  # keys are (topic, partition)
    if not by_id:
        return topic
    image_topic = node.image.topics.get(topic)
    return None if image_topic is None else image_topic.name


@dataclass(frozen=True)
class Asker:
    """Who fetches, as KIP-392 tells them apart: a consumer of v11+ naming its rack
    (None: none), and whether this broker's replica.selector.class is the rack-aware
    selector (only then may such a consumer read from a follower)."""
    client_rack: str | None
    rack_aware: bool
    # a fetch naming a replica id from someone who may not send one (RequestContext.
    # is_cluster_member): Kafka answers TOPIC_AUTHORIZATION_FAILED for every partition
    replica_refused: bool = False
    replica_id: int = -1  # a follower's broker id (-1: a consumer)


def _asker(node: BrokerServices, ctx: RequestContext, version: int, request) -> Asker:
    state = getattr(request, "replica_state", None)  # v15+ carries the replica id there
    replica_id = int(state.replica_id if state is not None else getattr(request, "replica_id", -1))
    if replica_id >= 0:  # a follower's fetch, only brokers may send
        return Asker(None, False, replica_refused=not ctx.is_cluster_member(), replica_id=replica_id)
    if version < CLIENT_RACK_SINCE:
        return Asker(None, False)
    # a consumer's (a follower's went above). Kafka's followers serve any v11+ consumer;
    # kraft's only where a selector sends consumers to them. Without one, a consumer at a
    # follower is one whose metadata is stale: NOT_LEADER_OR_FOLLOWER sends it to the
    # leader, where an out-of-range answer from a follower it takes for the leader would
    # reset its position (seen under kills)
    rack_aware = node.config.cluster.replica_selector_class == RACK_AWARE_REPLICA_SELECTOR
    return Asker(request.rack_id or None, rack_aware)


def _preferred_read_replica(node: BrokerServices, replica, fetch_offset: int, asker: Asker) -> int:
    """The replica a consumer of the leader `replica` should read from instead (-1: stay)."""
    if not asker.rack_aware or asker.client_rack is None:
        return NO_PREFERENCE
    image = node.image

    def rack_of(broker_id: int) -> str | None:  # a broker clients can reach, or none
        reg = image.brokers.get(broker_id)
        return reg.rack if reg is not None and not reg.fenced and reg.kafka_port is not None else None
    now = int(time.monotonic_ns() // 1_000_000)
    return rack_aware_choice(asker.client_rack, replica.broker_id, replica.in_sync_follower_views(now),
                             fetch_offset, rack_of)


def _empty_answer(index: int) -> dict[str, Any]:
    return {"partition_index": index, "error_code": error_codes.NONE, "high_watermark": -1,
            "last_stable_offset": -1, "log_start_offset": -1, "aborted_transactions": [],
            "preferred_read_replica": -1, "records": b""}


async def _read_partition(node: BrokerServices, ctx: RequestContext, topic: str | None, index: int,
                          want: Wanted, budget: int, spliced: Spliced, stable: bool,
                          asker: Asker) -> tuple[dict[str, Any], int, ChangeSignal | None]:
    """(partition answer, bytes in it, the replica's change signal or None). The
    records stay in the segment files: a marker in the answer, the slices in
    ``spliced``. stable (read_committed): only below the last stable offset, with the
    aborted transactions there, whose records the client drops."""
    answer = _empty_answer(index)
    if topic is None:
        answer["error_code"] = error_codes.UNKNOWN_TOPIC_ID
        return answer, 0, None
    try:
        if asker.replica_refused:
            raise TopicAuthorizationFailed(f"TOPIC_AUTHORIZATION_FAILED: a fetch as replica of {topic} is "
                                           "another broker's (CLUSTER_ACTION on a secured cluster)")
        ctx.check("consume", topic)
        replica = await node.data_plane.consumer_replica(topic, index, asker.rack_aware)
        if (problem := epoch_problem(replica, want.current_leader_epoch)) is not None:
            answer["error_code"] = problem
            return answer, 0, None
        offset = want.fetch_offset
        preferred = _preferred_read_replica(node, replica, offset, asker) if replica.is_leader else NO_PREFERENCE
        isolation = Isolation.COMMITTED if stable else Isolation.UNCOMMITTED
        bounds = replica.bounds_for(isolation)
        answer.update(high_watermark=bounds.high_watermark, last_stable_offset=bounds.last_stable,
                      log_start_offset=bounds.log_start)
        if preferred != NO_PREFERENCE:  # no records, nor their checks: the consumer reads them there
            answer["preferred_read_replica"] = preferred
            return answer, 0, None
        # the one read (replication/partition_read.py): on a follower (KIP-392) the log is
        # its own, so an offset past its log end sends the consumer back to the leader
        plan = replica.plan_read(ReadRequest(offset, want.max_bytes, isolation, want.last_fetched_epoch), bounds)
        if plan.diverging is not None:
            answer["diverging_epoch"] = {"epoch": plan.diverging.epoch, "end_offset": plan.diverging.end_offset}
            return answer, 0, None
        size = 0
        if budget > 0:
            taken = replica.take(plan, min(want.max_bytes, budget), as_slices=True)
            if taken.slices:
                marker = new_marker()
                spliced.slices[marker] = taken.slices
                answer["records"] = marker
                size = taken.size
                node.data_plane.traffic.bytes_out += size
                answer["aborted_transactions"] = [{"producer_id": a.producer_id, "first_offset": a.first_offset}
                                                  for a in taken.aborted]
        return answer, size, replica.consumer_news
    except KraftError as exc:
        answer["error_code"] = error_codes.code_of(exc)
        return answer, 0, None


def _topic_key(topic, by_id: bool) -> str:
    """A request topic as a session names it: its id's hex (v13+; the zero id, which the
    codec reads as None, names no topic), else its name."""
    if not by_id:
        return topic.topic
    return (topic.topic_id or ZERO_UUID).hex


def _wanted(request, by_id: bool) -> tuple[dict[Key, Wanted], list[Key]]:
    """The request's partitions and forgotten partitions, keyed by (topic name or id, index)."""
    wanted: dict[Key, Wanted] = {}
    for topic in request.topics:
        for p in topic.partitions:
            wanted[(_topic_key(topic, by_id), int(p.partition))] = Wanted(
                int(p.fetch_offset), int(p.partition_max_bytes), int(getattr(p, "current_leader_epoch", -1)),
                int(getattr(p, "last_fetched_epoch", -1)), int(getattr(p, "log_start_offset", -1)))
    forgotten: list[Key] = [(_topic_key(t, by_id), int(index))
                            for t in getattr(request, "forgotten_topics_data", ()) for index in t.partitions]
    return wanted, forgotten


def _outcome(answer: dict[str, Any], size: int) -> Outcome:
    return Outcome(size, answer["high_watermark"], answer["log_start_offset"], answer["error_code"],
                   answer["preferred_read_replica"], "diverging_epoch" in answer)


def _with_leader_hints(node: BrokerServices, topic: str | None, answer: dict[str, Any],
                       leaders: set[int]) -> None:
    """KIP-951: the partition's current leader, so the client need not ask Metadata."""
    if topic is None or answer["error_code"] not in (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH):
        return
    leader, epoch = current_leader(node, topic, answer["partition_index"])
    if (leader, epoch) == (-1, -1):
        return
    answer["current_leader"] = {"leader_id": leader, "leader_epoch": epoch}
    if leader >= 0:
        leaders.add(leader)


def _node_endpoints(node: BrokerServices, leaders: set[int]) -> list[dict[str, Any]]:
    return [endpoint for broker_id in sorted(leaders) if (endpoint := node_endpoint(node, broker_id)) is not None]


async def handle(node: BrokerServices, ctx: RequestContext, request) -> Spliced | dict[str, Any]:
    deadline = time.monotonic() + max(0, millis(request.max_wait)) / 1000
    max_bytes = int(getattr(request, "max_bytes", 2**31 - 1))
    stable = int(getattr(request, "isolation_level", 0)) == READ_COMMITTED
    by_id = ctx.api_version >= TOPIC_IDS_SINCE
    wanted, forgotten = _wanted(request, by_id)
    asker = _asker(node, ctx, ctx.api_version, request)
    if asker.replica_id >= 0 and not asker.replica_refused:  # a follower's: the leader's replica path
        return await replica_fetch_api.handle(node, ctx, request, asker.replica_id, wanted, forgotten)
    context = ctx.fetch_sessions().new_context(
        ctx.api_version, int(getattr(request, "session_id", 0)), int(getattr(request, "session_epoch", -1)),
        wanted, forgotten, privileged=False, now_ms=int(time.monotonic() * 1000))
    to_read = context.to_read()
    names = {key: _topic_name(node, key, by_id) for key in dict(to_read)}
    waiting: list[ChangeSignal] = []  # the last attempt's partitions: a change in any may fill the answer

    async def attempt() -> tuple[tuple[Spliced, dict[Key, tuple[dict[str, Any], int]]], bool]:
        spliced = Spliced({})
        answers: dict[Key, tuple[dict[str, Any], int]] = {}
        total, failed = 0, False
        waiting.clear()
        try:
            for key, want in to_read:
                answer, size, signal = await _read_partition(node, ctx, names[key], key[1], want,  # type: ignore[index]
                                                             max_bytes - total, spliced, stable, asker)
                total += size
                # answered at once, as Kafka: an error, a diverging epoch, a preferred replica
                failed |= answer["error_code"] not in _BEFORE_READING and (
                    answer["error_code"] != error_codes.NONE or "diverging_epoch" in answer
                    or answer["preferred_read_replica"] != NO_PREFERENCE)
                if signal is not None:
                    waiting.append(signal)
                answers[key] = answer, size
        except BaseException:
            spliced.close()
            raise
        return (spliced, answers), failed or total >= int(request.min_bytes) or not waiting

    spliced, answers = await long_poll(attempt, lambda left: wait_any(waiting, left), deadline,
                                       release=lambda read: read[0].close())
    try:
        result = context.answer({key: _outcome(*answers[key]) for key, _ in to_read}, int(time.monotonic() * 1000))
        kept = set(result.partitions)
        for key in [key for key in answers if key not in kept]:  # read but left out: its slices are not sent
            _drop_records(spliced, answers[key][0])
        leaders: set[int] = set()
        if ctx.api_version >= LEADER_HINTS_SINCE:
            for key in result.partitions:
                _with_leader_hints(node, names[key], answers[key][0], leaders)
        spliced.body.update(throttle_time=0, error_code=result.error_code, session_id=result.session_id,
                            responses=_by_topic([(key, answers[key][0]) for key in result.partitions], by_id),
                            node_endpoints=_node_endpoints(node, leaders))
    except BaseException:
        spliced.close()
        raise
    return spliced


def _by_topic(answered: list[tuple[Key, dict[str, Any]]], by_id: bool) -> list[dict[str, Any]]:
    """Partition answers grouped into topic entries: consecutive partitions of a topic
    share one, as Kafka groups them."""
    responses: list[dict[str, Any]] = []
    last = None
    for key, answer in answered:
        topic = key[0]  # type: ignore[index]
        if not responses or topic != last:
            responses.append({"topic": topic, "topic_id": uuid.UUID(hex=topic) if by_id else None, "partitions": []})
            last = topic
        responses[-1]["partitions"].append(answer)
    return responses


def _drop_records(spliced: Spliced, answer: dict[str, Any]) -> None:
    marker = answer["records"]
    if marker and marker in spliced.slices:
        for part in spliced.slices.pop(marker):
            part.close()
