"""The `hostile-requests` scenario's abuses (hostile_abuse owns them): requests that are
each valid enough to be worked on, built so that the work is large, against the brokers'
liveness (a node that stalls its event loop long enough misses its heartbeats and is
fenced, which the `unfenced` checker sees).

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

from kraft.scenario import hostile_frames as frames
from kraft.scenario import hostile_rest
from kraft.scenario.hostile_kafka import abuse_leader, limit_at, one_frame
from kraft.scenario.hostile_wire import ANSWERED, CLOSED, answer_codes

CLUSTER_AUTHORIZATION_FAILED = 31
SHARE_ACK_BATCHES = 100_000  # about 1.9 MB of acknowledgement batches in one frame
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


def _share_requests(topic_id: uuid.UUID, member: str) -> tuple[bytes, bytes]:
    """A ShareFetch opening a share session, then a ShareAcknowledge of SHARE_ACK_BATCHES
    batches in it (offsets never acquired)."""
    sa, sf = _kio("share_acknowledge.v1"), _kio("share_fetch.v1")
    group = "hostile-share"
    opening = frames.request(78, 1, group_id=group, member_id=member, share_session_epoch=0,
                             max_wait=datetime.timedelta(milliseconds=100), min_bytes=1, max_bytes=1 << 16,
                             max_records=1, batch_size=1, forgotten_topics_data=(),
                             topics=(sf.FetchTopic(topic_id=topic_id, partitions=(
                                 sf.FetchPartition(partition_index=0, acknowledgement_batches=()),)),))
    batches = tuple(sa.AcknowledgementBatch(first_offset=2 * i, last_offset=2 * i, acknowledge_types=(1,))
                    for i in range(SHARE_ACK_BATCHES))
    flood = frames.request(79, 1, group_id=group, member_id=member, share_session_epoch=1,
                           topics=(sa.AcknowledgeTopic(topic_id=topic_id, partitions=(
                               sa.AcknowledgePartition(partition_index=0, acknowledgement_batches=batches),)),))
    return opening, flood


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


def _broker_only_requests(topic: str, topic_id: uuid.UUID) -> dict[str, tuple[int, int, bytes]]:
    ws, wt = _kio("write_share_group_state.v0"), _kio("write_txn_markers.v1")
    marker = wt.WritableTxnMarker(producer_id=4242, producer_epoch=0, transaction_result=True, coordinator_epoch=0,
                                  topics=(wt.WritableTxnMarkerTopic(name=topic, partition_indexes=(0,)),))
    state = ws.WriteStateData(topic_id=topic_id, partitions=(ws.PartitionData(
        partition=0, state_epoch=0, leader_epoch=0, start_offset=0, state_batches=()),))
    return {"WriteTxnMarkers COMMIT": (27, 1, frames.request(27, 1, markers=(marker,))),
            "WriteShareGroupState": (85, 0, frames.request(85, 0, group_id="hostile-share", topics=(state,)))}


async def broker_apis(ctx, kind, nodes, params, stop) -> str:
    """Broker-only requests (transaction markers, share-group state) from a client that is
    no broker: CLUSTER_AUTHORIZATION_FAILED, security on or off."""
    topic = await ctx.abuse_topic()
    topic_id = await _topic_id(ctx, topic)
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    requests = await asyncio.to_thread(_broker_only_requests, topic, topic_id)
    parts = []
    for name, (api_key, version, frame) in requests.items():
        if stop.is_set():
            break
        sent = await one_frame(ctx, leader, frame, ctx.secured)
        codes = sorted(set(answer_codes(api_key, version, sent))) if sent.outcome == ANSWERED else []
        ctx.answer(kind, leader, f"{name} from a client", f"{sent.outcome} {codes}",
                   sent.outcome == ANSWERED and codes == [CLUSTER_AUTHORIZATION_FAILED])
        parts.append(f"{name}: {sent.outcome} {codes}")
    return "; ".join(parts)
