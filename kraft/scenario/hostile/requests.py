"""The `hostile-requests` scenario's abuses (hostile_abuse owns them): requests that are
each valid enough to be worked on, built so that the work is large, against the brokers'
liveness (a node that stalls its event loop long enough misses its heartbeats and is
fenced, which the `unfenced` checker sees), and requests that reach past a client's own
(a broker's APIs, another connection's share session).

Each is `async (ctx, kind, nodes, params, stop) -> detail`, bounded in count and time,
judging every answer through `ctx.answer`: an error, a refusal or a bounded answer passes;
a 5xx, no answer or an answer showing internal detail fails.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import time
import uuid
from collections import Counter
from typing import Any

import orjson

from kraft.scenario.hostile import frames
from kraft.scenario.hostile import rest as hostile_rest
from kraft.scenario.hostile.kafka import abuse_leader, limit_at, one_frame
from kraft.scenario.hostile.wire import ANSWERED, CLOSED, UNREACHABLE, Conn, Sent, answer_codes
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED, SHARE_SESSION_NOT_FOUND, TOPIC_AUTHORIZATION_FAILED

COORDINATOR_NOT_YET = (14, 15, 16)  # loading, not available, not the coordinator: asked again
JOIN_BOUND_S = 15.0  # to find the share group's coordinator and join at it
SHARE_ACK_BATCHES = 100_000  # about 1.9 MB of acknowledgement batches in one frame
SHARE_GROUP, HIJACKED_GROUP = "hostile-share", "hostile-share-hijack"
REDOS_PATTERN = "^(a+)+$"  # backtracks 2^n steps on a run of n a's that does not match
REDOS_VALUE_LENGTH = 30  # 2^30 steps for a backtracking engine: far past any heartbeat
REGISTRY_V1 = "application/vnd.schemaregistry.v1+json"
JSONSCHEMA_V2 = "application/vnd.kafka.jsonschema.v2+json"
WIDE_READ_BOUND = 8 << 20  # a read with no max_bytes of one-byte records: bounded well below this
WIDE_BATCHES, WIDE_BATCH_RECORDS = 4, 100_000  # 1 MiB (the default max_bytes) holds about 116,000 of them


def _kio(api: str) -> Any:
    """A kio request module (its entity classes take plain ints and strs at run time)."""
    return importlib.import_module(f"kio.schema.{api}.request")


def _registry(ctx, node: int) -> str:
    conf = ctx.cluster.config.node(node)
    return f"http://{conf.host}:{conf.schema_registry_port}"


async def _topic_id(ctx, topic: str) -> uuid.UUID:
    c = ctx.cluster
    async with hostile_rest.session(ctx) as s:
        for node in hostile_rest.running(ctx, list(c.hosts)):
            status, body = await hostile_rest.call(s, "GET", f"{c.v3(node)}/topics/{topic}")
            if status == 200:
                return uuid.UUID(orjson.loads(body)["topic_id"])
    raise RuntimeError(f"no node described {topic}")


def _share_fetch(topic_id: uuid.UUID, group: str, member: str, epoch: int, correlation_id: int = 1) -> bytes:
    """A ShareFetch v1 of the abuse topic's partition (epoch 0 opens a share session)."""
    sf = _kio("share_fetch.v1")
    return frames.request(78, 1, correlation_id, group_id=group, member_id=member, share_session_epoch=epoch,
                          max_wait=datetime.timedelta(milliseconds=100), min_bytes=1, max_bytes=1 << 16,
                          max_records=1, batch_size=1, forgotten_topics_data=(),
                          topics=(sf.FetchTopic(topic_id=topic_id, partitions=(
                              sf.FetchPartition(partition_index=0, acknowledgement_batches=()),)),))


def _share_acknowledge(topic_id: uuid.UUID, group: str, member: str, epoch: int, offsets: range,
                       correlation_id: int = 1) -> bytes:
    """A ShareAcknowledge v1 accepting each offset of `offsets` in a batch of its own."""
    sa = _kio("share_acknowledge.v1")
    batches = tuple(sa.AcknowledgementBatch(first_offset=o, last_offset=o, acknowledge_types=(1,)) for o in offsets)
    return frames.request(79, 1, correlation_id, group_id=group, member_id=member, share_session_epoch=epoch,
                          topics=(sa.AcknowledgeTopic(topic_id=topic_id, partitions=(
                              sa.AcknowledgePartition(partition_index=0, acknowledgement_batches=batches),)),))


def _share_requests(topic_id: uuid.UUID, member: str) -> tuple[bytes, bytes]:
    """A ShareFetch opening a share session, then a ShareAcknowledge of SHARE_ACK_BATCHES
    batches in it (offsets never acquired)."""
    return (_share_fetch(topic_id, SHARE_GROUP, member, 0),
            _share_acknowledge(topic_id, SHARE_GROUP, member, 1, range(0, 2 * SHARE_ACK_BATCHES, 2)))


async def share_acks(ctx, kind, nodes, params, stop) -> str:
    """`count` ShareAcknowledge requests of SHARE_ACK_BATCHES batches each to the abuse
    topic's leader, each on a share session of its own: answered (with an error), never
    a stall."""
    topic = await ctx.abuse_topic()
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    topic_id = await _topic_id(ctx, topic)
    deadline = limit_at(params)
    parts = []
    for i in range(int(params.get("count", 4))):
        if stop.is_set() or time.monotonic() > deadline:
            break
        opening, flood = await asyncio.to_thread(_share_requests, topic_id, uuid.uuid4().hex)
        await one_frame(ctx, leader, opening, ctx.secured)  # the session the flood names
        started = time.monotonic()
        sent = await one_frame(ctx, leader, flood, ctx.secured)
        took = time.monotonic() - started
        codes = sorted(set(answer_codes(79, 1, sent))) if sent.outcome == ANSWERED else []
        ctx.answer(kind, leader, f"ShareAcknowledge of {SHARE_ACK_BATCHES:,} batches ({len(flood):,} bytes)",
                   f"{sent.outcome} {codes} in {took:.1f} s",
                   sent.outcome == CLOSED or (sent.outcome == ANSWERED and any(codes)))
        parts.append(f"{sent.outcome} {codes} in {took:.1f} s")
    return f"{len(parts)} share floods to node {leader}: " + "; ".join(parts)


async def redos(ctx, kind, nodes, params, stop) -> str:
    """A JSON Schema whose pattern backtracks exponentially, registered, then REST
    produces in the jsonschema format of a value that does not match it: a 4xx (the
    schema refused, or the data not fitting it), never a stall."""
    c = ctx.cluster
    topic = await ctx.abuse_topic()
    schema = orjson.dumps({"type": "string", "pattern": REDOS_PATTERN}).decode()
    value = "a" * REDOS_VALUE_LENGTH + "!"
    parts = []
    async with hostile_rest.session(ctx) as s:
        for node in hostile_rest.running(ctx, nodes):
            if stop.is_set():
                break
            status, body = await hostile_rest.call(
                s, "POST", f"{_registry(ctx, node)}/subjects/hostile-redos-value/versions",
                data=orjson.dumps({"schemaType": "JSON", "schema": schema}), headers={"Content-Type": REGISTRY_V1})
            outcome, fine = hostile_rest.judge(status, body, status == 200 or 400 <= status < 500)
            ctx.answer(kind, node, f"register a JSON Schema with pattern {REDOS_PATTERN}", outcome, fine)
            started = time.monotonic()
            record: dict[str, Any] = {"records": [{"value": value}]}
            record.update({"value_schema_id": orjson.loads(body)["id"]} if status == 200 else {"value_schema": schema})
            status, body = await hostile_rest.call(s, "POST", f"{c.url(node)}/topics/{topic}",
                                                    data=orjson.dumps(record), headers={"Content-Type": JSONSCHEMA_V2})
            took = time.monotonic() - started
            outcome, fine = hostile_rest.judge(status, body, 400 <= status < 500 or _partly_refused(status, body))
            ctx.answer(kind, node, f"produce a {len(value)}-character value against {REDOS_PATTERN}",
                       f"{outcome} in {took:.1f} s", fine)
            parts.append(f"node {node}: {outcome} in {took:.1f} s")
    return "; ".join(parts) or "nothing sent"


def _partly_refused(status: int, body: bytes) -> bool:
    """REST v2 produce answers 200 with a per-record error_code for a record refused."""
    if status != 200:
        return False
    try:
        offsets = orjson.loads(body).get("offsets") or []
    except orjson.JSONDecodeError:
        return False
    return bool(offsets) and all(o.get("error_code") for o in offsets)


async def transitive(ctx, kind, nodes, params, stop) -> str:
    """Versions registered under FULL_TRANSITIVE, each a record with one more optional
    field, so each registration is checked against every version before it: each answered
    (200, or a 4xx), never a 5xx or a stall."""
    node = hostile_rest.running(ctx, nodes)[0]
    base = f"{_registry(ctx, node)}"
    subject = f"hostile-transitive-{ctx.seed}-value"
    versions = int(params.get("versions", 150))
    deadline = limit_at(params)
    registered, worst, seen = 0, 0.0, Counter[str]()
    async with hostile_rest.session(ctx) as s:
        status, body = await hostile_rest.call(s, "PUT", f"{base}/config/{subject}",
                                                data=orjson.dumps({"compatibility": "FULL_TRANSITIVE"}),
                                                headers={"Content-Type": REGISTRY_V1})
        ctx.answer(kind, node, "set FULL_TRANSITIVE", *hostile_rest.judge(status, body, status == 200))
        for i in range(versions):
            if stop.is_set() or time.monotonic() > deadline:
                break
            fields = [{"name": f"f{j}", "type": ["null", "string"], "default": None} for j in range(i)]
            schema = orjson.dumps({"type": "record", "name": "Wide", "fields": fields}).decode()
            started = time.monotonic()
            status, body = await hostile_rest.call(s, "POST", f"{base}/subjects/{subject}/versions",
                                                    data=orjson.dumps({"schema": schema}),
                                                    headers={"Content-Type": REGISTRY_V1})
            worst = max(worst, time.monotonic() - started)
            outcome, fine = hostile_rest.judge(status, body, status == 200 or 400 <= status < 500)
            seen[outcome] += 1
            registered += status == 200
            if not fine or i % 25 == 0:  # the answers are alike: every 25th, and each failure
                ctx.answer(kind, node, f"register version {i + 1} under FULL_TRANSITIVE", outcome, fine)
    return f"{registered} versions registered on node {node}, slowest {worst:.2f} s; answers {dict(seen)}"


async def wide_read(ctx, kind, nodes, params, stop) -> str:
    """400,000 one-byte records, then `readers` REST reads at once with no max_bytes from the
    first of them (1 MiB of them once rendered in JSON was 13 MB and seconds on the loop):
    bounded answers, never a stall."""
    c = ctx.cluster
    topic = await ctx.abuse_topic()
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    batch = await asyncio.to_thread(frames.huge_batch, WIDE_BATCH_RECORDS)
    bases = []
    for i in range(WIDE_BATCHES):
        sent = await one_frame(ctx, leader, frames.produce(topic, 0, batch, correlation_id=i + 1), ctx.secured)
        codes = answer_codes(0, 9, sent) if sent.outcome == ANSWERED else []
        ctx.answer(kind, leader, f"Produce of {WIDE_BATCH_RECORDS:,} one-byte records in one batch",
                   f"{sent.outcome} {codes}", sent.outcome == ANSWERED and codes == [0])
        if codes == [0]:
            bases.append(_base_offset(sent.payload))
    if not bases:
        return "no batch written: nothing to read"
    before = min(bases)  # the reads start at the first record written here

    async def read(node: int) -> str:
        async with hostile_rest.session(ctx) as s:
            started = time.monotonic()
            status, body = await hostile_rest.call(
                s, "GET", f"{c.url(node)}/topics/{topic}/partitions/0/records?offset={before}",
                headers={"Accept": hostile_rest.BINARY_V2})
            took = time.monotonic() - started
            outcome, fine = hostile_rest.judge(status, body, status == 200 and len(body) <= WIDE_READ_BOUND)
            said = "" if status == 200 else f" ({body[:200].decode(errors='replace')})"
            ctx.answer(kind, node, f"REST read with no max_bytes of one-byte records from offset {before}",
                       f"{outcome}, {len(body):,} bytes in {took:.1f} s{said}", fine)
            return f"node {node}: {outcome}, {len(body):,} bytes in {took:.1f} s"

    readers = int(params.get("readers", 3))
    running = hostile_rest.running(ctx, nodes)
    if stop.is_set():
        return "stopped before the reads"
    got = await asyncio.gather(*(read(running[i % len(running)]) for i in range(readers)))
    return "; ".join(got)


def _base_offset(payload: bytes) -> int:
    """The base offset a Produce v9 answer gives its one partition."""
    answer: Any = frames.decode_answer(0, 9, payload)
    return int(answer.responses[0].partition_responses[0].base_offset)


def _broker_only_requests(topic: str, topic_id: uuid.UUID,
                          replica_id: int) -> dict[str, tuple[int, int, bytes, int]]:
    """name -> (API key, version, frame, the one error code it must get). Fetch v4-v6 have
    no session id (v7 added it) and no top-level error code: a replica fetch from a client
    is refused per partition, TOPIC_AUTHORIZATION_FAILED as Kafka answers it."""
    ws, wt = _kio("write_share_group_state.v0"), _kio("write_txn_markers.v1")
    marker = wt.WritableTxnMarker(producer_id=4242, producer_epoch=0, transaction_result=True, coordinator_epoch=0,
                                  topics=(wt.WritableTxnMarkerTopic(name=topic, partition_indexes=(0,)),))
    state = ws.WriteStateData(topic_id=topic_id, partitions=(ws.PartitionData(
        partition=0, state_epoch=0, leader_epoch=0, start_offset=0, state_batches=()),))
    out = {"WriteTxnMarkers COMMIT": (27, 1, frames.request(27, 1, 1, markers=(marker,)),
                                      CLUSTER_AUTHORIZATION_FAILED),
           "WriteShareGroupState": (85, 0, frames.request(85, 0, 2, group_id=SHARE_GROUP, topics=(state,)),
                                    CLUSTER_AUTHORIZATION_FAILED)}
    for version in (4, 5, 6):
        f = _kio(f"fetch.v{version}")
        since_v5 = {"log_start_offset": -1} if version >= 5 else {}
        fetch = frames.request(1, version, version, replica_id=replica_id, max_wait=datetime.timedelta(0),
                               min_bytes=0, max_bytes=1 << 20, isolation_level=0, topics=(f.FetchTopic(
                                   topic=topic, partitions=(f.FetchPartition(
                                       partition=0, fetch_offset=0, partition_max_bytes=1 << 20, **since_v5),)),))
        out[f"Fetch v{version} as replica {replica_id}"] = (1, version, fetch, TOPIC_AUTHORIZATION_FAILED)
    return out


async def broker_apis(ctx, kind, nodes, params, stop) -> str:
    """Broker-only requests (transaction markers, share-group state, Fetch v4-v6 naming a
    follower's id as its replica id) from a client that is no broker, on one connection:
    each refused (CLUSTER_AUTHORIZATION_FAILED, or per partition TOPIC_AUTHORIZATION_FAILED),
    none served, and the connection still answers an ApiVersions after them."""
    topic = await ctx.abuse_topic()
    topic_id = await _topic_id(ctx, topic)
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    follower = next(n for n in sorted(ctx.cluster.hosts) if n != leader)
    requests = await asyncio.to_thread(_broker_only_requests, topic, topic_id, follower)
    host, port = ctx.kafka_address(leader)
    parts = []
    try:
        async with Conn(host, port, ctx.source) as conn:
            refused = await conn.plain_login(*ctx.lab_login) if ctx.secured else None
            if refused:
                ctx.answer(kind, leader, "the lab's login", refused, False)
                return refused
            for name, (api_key, version, frame, expected) in requests.items():
                if stop.is_set():
                    break
                sent = await conn.send(frame)
                codes = sorted(set(answer_codes(api_key, version, sent))) if sent.outcome == ANSWERED else []
                ctx.answer(kind, leader, f"{name} from a client", f"{sent.outcome} {codes}",
                           sent.outcome == ANSWERED and codes == [expected])
                parts.append(f"{name}: {sent.outcome} {codes}")
            sent = await conn.send(frames.api_versions(correlation_id=9))
    except (OSError, TimeoutError):
        sent = Sent(UNREACHABLE)
    codes = answer_codes(18, 3, sent) if sent.outcome == ANSWERED else []
    ctx.answer(kind, leader, "ApiVersions on the same connection, after the refusals", f"{sent.outcome} {codes}",
               sent.outcome == ANSWERED and codes == [0])
    parts.append(f"then ApiVersions: {sent.outcome} {codes}")
    return "; ".join(parts)


async def share_hijack(ctx, kind, nodes, params, stop) -> str:
    """A share member joins a group on the abuse topic (ShareGroupHeartbeat at the group's
    coordinator) and opens its share session with a ShareFetch on connection A; connection
    B then names A's member id and session epoch in a ShareFetch and a ShareAcknowledge:
    SHARE_SESSION_NOT_FOUND, as a session belongs to the connection that opened it; A's
    next ShareFetch is then served, its session as it was."""
    topic = await ctx.abuse_topic()
    topic_id = await _topic_id(ctx, topic)
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    member, joined = await _join_share_group(ctx, kind, leader, topic)
    g = HIJACKED_GROUP
    steps = (("A", "ShareFetch opening the member's share session on connection A",
              _share_fetch(topic_id, g, member, 0, 1), 78, True),
             ("B", "ShareFetch on connection B with A's member id and session epoch 1",
              _share_fetch(topic_id, g, member, 1, 2), 78, False),
             ("B", "ShareAcknowledge on connection B with A's member id and session epoch 1",
              _share_acknowledge(topic_id, g, member, 1, range(1), 3), 79, False),
             ("A", "A's next ShareFetch on connection A (session epoch 1)",
              _share_fetch(topic_id, g, member, 1, 4), 78, True))
    host, port = ctx.kafka_address(leader)
    parts = [joined]
    try:
        async with Conn(host, port, ctx.source) as a, Conn(host, port, ctx.source) as b:
            for conn in (a, b):
                if ctx.secured and (refused := await conn.plain_login(*ctx.lab_login)):
                    ctx.answer(kind, leader, "the lab's login", refused, False)
                    return refused
            for which, what, frame, api_key, served in steps:
                sent = await (a if which == "A" else b).send(frame)
                codes = answer_codes(api_key, 1, sent) if sent.outcome == ANSWERED else []
                ok = sent.outcome == ANSWERED and (codes[:1] == [0] if served else
                                                   sorted(set(codes)) == [SHARE_SESSION_NOT_FOUND])
                ctx.answer(kind, leader, what, f"{sent.outcome} {sorted(set(codes))}", ok)
                parts.append(f"{which}: {sent.outcome} {sorted(set(codes))}")
    except (OSError, TimeoutError):
        ctx.answer(kind, leader, "connections A and B", UNREACHABLE, False)
        parts.append(UNREACHABLE)
    return f"member {member[:8]} on node {leader}: " + "; ".join(parts)


async def _join_share_group(ctx, kind: str, node: int, topic: str) -> tuple[str, str]:
    """(member id, what its join got): a new member of HIJACKED_GROUP subscribed to `topic`,
    its heartbeat sent to the group's coordinator (found through `node`), again while the
    coordinator is loading or moving, for JOIN_BOUND_S at most."""
    member, deadline = str(uuid.uuid4()), time.monotonic() + JOIN_BOUND_S
    outcome, coordinator = "not sent", node
    heartbeat = frames.request(76, 1, group_id=HIJACKED_GROUP, member_id=member, member_epoch=0, rack_id=None,
                               subscribed_topic_names=(topic,))
    while True:
        found = await one_frame(ctx, node, frames.request(10, 4, key_type=0, coordinator_keys=(HIJACKED_GROUP,)),
                                ctx.secured)
        codes = answer_codes(10, 4, found) if found.outcome == ANSWERED else []
        if codes == [0]:
            coordinator = int(frames.decode_answer(10, 4, found.payload).coordinators[0].node_id)
            sent = await one_frame(ctx, coordinator, heartbeat, ctx.secured)
            codes = answer_codes(76, 1, sent) if sent.outcome == ANSWERED else []
            outcome = f"{sent.outcome} {codes}"
        else:
            outcome = f"FindCoordinator {found.outcome} {codes}"
        if not (codes and codes[0] in COORDINATOR_NOT_YET) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    ctx.answer(kind, coordinator, f"ShareGroupHeartbeat joining {HIJACKED_GROUP} on {topic}", outcome,
               outcome.startswith(ANSWERED) and codes[:1] == [0])
    return member, f"joined at node {coordinator}: {outcome}"
