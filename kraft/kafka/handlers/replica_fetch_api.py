"""Fetch from a follower: a request naming its replica id, from another broker.

Kafka's followers replicate with the same Fetch consumers send, naming their broker id
(and epoch) in ReplicaState. The positions go to the one function that serves every
follower (ReplicaManager.handle_fetch: no high-watermark bound, the ISR bookkeeping,
the leader's throttle, a diverging epoch), and its answer goes back as Kafka's. The
listener's KIP-227 cache keeps the session's id and epoch (a follower's session is
privileged there); the session also holds the follower's LeaderFetchSession, so the
leader examines only the partitions that may have news. handlers/fetch_api.py decides a
request is a follower's (a replica id, and RequestContext.is_cluster_member) and reads
its partitions.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

from kraft.broker.services import BrokerServices
from kraft.kafka.wire import error_codes
from kraft.kafka.wire.entities import millis
from kraft.kafka.handlers.fetch_sessions import (FULL, INCREMENTAL, SESSION_ERROR, TOPIC_IDS_SINCE, CachedPartition,
                                        FetchContext, Key, Wanted)
from kraft.errors.kafka_codes import INVALID_FETCH_SESSION_EPOCH
from kraft.kafka.connection.request_context import RequestContext
from kraft.replication import fetch_protocol as fp
from kraft.replication.fetch_session import LeaderFetchSession

MAX_WAIT_MS = 30_000  # a follower long-polls 500 ms; no request holds the connection longer
MAX_BYTES = 16 * 1024 * 1024  # a follower asks 8 MiB; a replica's answer is read into memory


def _answer(error_code: int, session_id: int, partitions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"throttle_time": 0, "error_code": error_code, "session_id": session_id,
            "responses": partitions or [], "node_endpoints": []}


async def handle(node: BrokerServices, ctx: RequestContext, request, replica_id: int,
                 wanted: dict[Key, Wanted], forgotten: list[Key]) -> dict[str, Any]:
    by_id = ctx.api_version >= TOPIC_IDS_SINCE
    if not by_id:  # before v13 topics go by name: the replication code names them by id
        wanted, forgotten = _by_id(node, wanted), list(_by_id(node, dict.fromkeys(forgotten)))
    replicas = node.replica_manager
    now = int(time.monotonic() * 1000)
    cache = ctx.fetch_sessions()
    # before v7 a fetch has no session (fetch_sessions.SESSIONS_SINCE): a sessionless one
    context = cache.new_context(ctx.api_version, int(getattr(request, "session_id", 0)),
                                int(getattr(request, "session_epoch", -1)), wanted, forgotten, privileged=True,
                                now_ms=now)
    if context.kind == SESSION_ERROR or replicas is None:
        return _answer(context.error_code if replicas is not None else error_codes.UNKNOWN_SERVER_ERROR, 0)
    session = context.session if context.kind == INCREMENTAL else None
    follower = session.follower if session is not None and session.follower is not None else LeaderFetchSession()
    state = getattr(request, "replica_state", None)  # v15+; before, no broker epoch
    fetch = fp.FetchRequest(replica_id, int(state.replica_epoch) if state is not None else -1,
                            max_wait_ms=min(max(millis(request.max_wait), 0), MAX_WAIT_MS),
                            max_bytes=min(max(int(request.max_bytes), 1), MAX_BYTES),
                            partitions=tuple(_position(key, want) for key, want in wanted.items()),
                            forgotten=tuple((str(key[0]), int(key[1])) for key in forgotten),  # type: ignore[index]
                            incremental=session is not None)
    answers = await replicas.handle_fetch(fetch, follower)
    session_id = _keep_session(cache, context, follower, wanted, now)
    if session_id is None:  # another request of this session came in between
        return _answer(INVALID_FETCH_SESSION_EPOCH, 0)
    return _answer(error_codes.NONE, session_id, _by_topic(answers, None if by_id else node))


def _position(key: Key, want: Wanted) -> fp.FetchPartition:
    topic, partition = cast(tuple[str, int], key)  # keys are (topic id, partition)
    return fp.FetchPartition(topic, int(partition), want.fetch_offset, want.last_fetched_epoch,
                             want.current_leader_epoch, want.log_start_offset, want.max_bytes)


def _keep_session(cache, context: FetchContext, follower: LeaderFetchSession, wanted: dict[Key, Wanted],
                  now: int) -> int | None:
    """The session id to answer: a new one after a full fetch (0 when the cache has no
    slot), the same one after an incremental fetch; None when its epoch moved meanwhile."""
    if context.kind == FULL:
        session_id = cache.maybe_create(now, context.privileged, {k: CachedPartition(w) for k, w in wanted.items()},
                                        context.uses_topic_ids)
        if session_id:
            cache.get(session_id).follower = follower
        return session_id
    if context.kind == INCREMENTAL and (session := context.session) is not None:
        if session.epoch != context.expected_epoch:
            return None
        session.follower = follower
        return session.session_id
    return 0  # sessionless


def _by_id(node: BrokerServices, keyed: dict[Key, Any]) -> dict[Key, Any]:
    """A request's (topic name, partition) keys as (topic id, partition); an unknown
    name keeps its name, which no replica has (answered UNKNOWN_TOPIC_OR_PARTITION)."""
    out: dict[Key, Any] = {}
    for key, value in keyed.items():
        name, partition = cast(tuple[str, int], key)
        topic = node.image.topic(name)
        out[(topic.topic_id if topic is not None else name, partition)] = value
    return out


def _by_topic(answers: list[fp.PartitionData], names_from: BrokerServices | None = None) -> list[dict[str, Any]]:
    """Partition answers grouped by topic; named (before v13) when names_from is given."""
    topics: dict[str, list[dict[str, Any]]] = {}
    for a in answers:
        topics.setdefault(a.topic_id, []).append(_partition(a))
    if names_from is None:
        return [{"topic_id": uuid.UUID(hex=t), "topic": None, "partitions": parts} for t, parts in topics.items()]
    image = names_from.image
    return [{"topic": image.topics[t].name if t in image.topics else t, "topic_id": None, "partitions": parts}
            for t, parts in topics.items()]


def _partition(a: fp.PartitionData) -> dict[str, Any]:
    out: dict[str, Any] = {"partition_index": a.partition,
                           "error_code": fp.KAFKA_CODES[a.error] if a.error is not None else error_codes.NONE,
                           "high_watermark": a.high_watermark, "last_stable_offset": -1,
                           "log_start_offset": a.log_start_offset, "aborted_transactions": None,
                           "preferred_read_replica": -1, "records": a.records}
    if a.diverging_epoch >= 0 or a.diverging_end_offset >= 0:
        out["diverging_epoch"] = {"epoch": a.diverging_epoch, "end_offset": a.diverging_end_offset}
    return out
