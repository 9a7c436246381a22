"""Produce: v2 (REST Proxy) and v3 (records, streaming, records:batch).

Query parameters (ext): acks = 0 | 1 | all | -1 (default all), timeout_ms (default
30000). Records of one request that go to one partition are appended as one batch.

Idempotent produce (ext): producer_id, producer_epoch and sequence (the first record's;
the others follow on) together. Such a request is one batch to ONE partition, written
whole or not at all; sent again it is answered with its first offsets, not re-written.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kraft.broker.services import BrokerServices
from kraft.api import record_codec as rc
from kraft.api.context import node_of
from kraft.api.error_map import error_body, rest_error_code
from kraft.api.http_body import (
    JSON_TYPES,
    V2_TYPE,
    check_content_type,
    check_v2_accept,
    json_response,
    query_int,
    read_body,
    read_json_object,
)
from kraft.api.paths import check_cluster
from kraft.api.schema_lookup import RegisteredSchema
from kraft.api.schema_records import V2_MEDIA, encode, names_schema, v2_schemas, v3_report_fields, v3_schema
from kraft.broker.auto_create import topic_for_produce
from kraft.broker.lookup import partition_or_404
from kraft.broker.data_plane import ACKS, Idempotence
from kraft.errors import BadRequest, ERROR_CLASS_HEADER, EmptyBody, InvalidValue, KraftError, TooManyRecords
from kraft.storage.record import Record

V3 = "/v3/clusters/{cluster_id}/topics/{topic}"
MAX_TIMEOUT_MS = 300_000
MAX_ENTRY_ID = 80  # records:batch entry ids, as Confluent's v3 spec bounds them
# Each record costs a few hundred bytes of Python objects on its way to a batch; a body
# of millions of tiny records would cost gigabytes (Kafka bounds a request by bytes; a
# JSON body needs a bound on records too).
MAX_RECORDS_PER_REQUEST = 10_000



def check_record_count(count: int) -> None:
    if count > MAX_RECORDS_PER_REQUEST:
        raise TooManyRecords(f"a produce request holds at most {MAX_RECORDS_PER_REQUEST} records; "
                             "send more in several requests")

def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/topics/{topic}", v2_produce)
    r.add_post("/topics/{topic}/partitions/{partition}", v2_produce)
    r.add_post(V3 + "/records", v3_produce)
    r.add_post(V3 + "/records:batch", v3_produce_batch)


def produce_options(request) -> tuple[int, int]:
    raw = request.query.get("acks", "all")
    if raw not in ACKS:
        raise BadRequest(f"acks must be 0, 1, all or -1, got {raw!r}")
    return ACKS[raw], query_int(request, "timeout_ms", 30_000, 1, MAX_TIMEOUT_MS)


IDEMPOTENCE_PARAMS = ("producer_id", "producer_epoch", "sequence")


def idempotence_of(request) -> Idempotence | None:
    given = [n for n in IDEMPOTENCE_PARAMS if n in request.query]
    if not given:
        return None
    if len(given) != len(IDEMPOTENCE_PARAMS):
        missing = [n for n in IDEMPOTENCE_PARAMS if n not in given]
        raise BadRequest(f"producer_id, producer_epoch and sequence go together; "
                         f"missing {', '.join(missing)}")
    return Idempotence(query_int(request, "producer_id", 0, 0, 2**63 - 1),
                       query_int(request, "producer_epoch", 0, 0, 2**15 - 1),
                       query_int(request, "sequence", 0, 0, 2**31 - 1))


@dataclass(frozen=True)
class Failed:
    """One entry's failure, with the partition it was sent to."""

    partition: int
    error: KraftError


async def deliver(node: BrokerServices, topic: str, entries, acks: int, timeout_ms: int,
                  producer: Idempotence | None = None) -> list:
    """entries: [(partition|None, Record)] -> per entry (partition, offset, timestamp) or Failed."""
    await node.data_plane.check_client_records(topic, [r for _, r in entries])
    return await deliver_checked(node, topic, entries, acks, timeout_ms, producer)


async def deliver_checked(node: BrokerServices, topic: str, entries, acks: int, timeout_ms: int,
                          producer: Idempotence | None = None) -> list:
    """deliver, for entries check_client_records passed already."""
    plane = node.data_plane
    if producer is not None:
        # a retry must land where the first attempt did: keyless records go by producer id,
        # not round-robin
        count = len(plane.topic_or_404(topic).partitions)
        entries = [(producer.producer_id % count if p is None and r.key is None else p, r)
                   for p, r in entries]
    partitions = plane.choose_partitions(topic, entries)
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(partitions):
        groups.setdefault(p, []).append(i)
    if producer is not None and len(groups) > 1:
        raise InvalidValue(
            f"an idempotent produce request goes to one partition (sequence numbers count per "
            f"partition), but these records map to partitions {sorted(groups)}; give a "
            "partition, or send each partition's records in a request of their own")

    async def one(partition, indexes):
        try:
            appended = await plane.append_records(topic, partition, [entries[i][1] for i in indexes],
                                                  acks, timeout_ms, producer)
            return await appended.committed()
        except KraftError as exc:
            return exc

    results = await asyncio.gather(*(one(p, ix) for p, ix in groups.items()))
    out: list = [None] * len(entries)
    for (partition, indexes), result in zip(groups.items(), results):
        for n, i in enumerate(indexes):
            if isinstance(result, KraftError):
                out[i] = Failed(partition, result)
            else:
                offset = -1 if result.offset < 0 else result.offset + n
                out[i] = (partition, offset, entries[i][1].timestamp_ms)
    return out


# -- v2 ------------------------------------------------------------------------------------
async def v2_produce(request):
    node = node_of(request)
    topic = request.match_info["topic"]
    check_v2_accept(request)
    types = (rc.V2_JSON, rc.V2_BINARY, *V2_MEDIA) + JSON_TYPES
    ctype = check_content_type(request, types)
    binary = ctype == rc.V2_BINARY
    acks, timeout_ms = produce_options(request)
    producer = idempotence_of(request)
    body = await read_json_object(request, types)
    if set(body) - {"records", "key_schema", "value_schema", "key_schema_id", "value_schema_id"}:
        raise BadRequest("unknown field(s) in produce request; expected {\"records\": [...]}")
    records = body.get("records")
    if not isinstance(records, list):
        raise BadRequest('"records" must be a list')
    if not records:
        raise EmptyBody("no records to produce")
    check_record_count(len(records))
    schemas: tuple[RegisteredSchema | None, RegisteredSchema | None] = (None, None)
    fields = None
    if ctype in V2_MEDIA:
        schemas = await v2_schemas(request, topic, body, V2_MEDIA[ctype], records)
        fields = tuple((lambda data, what, s=s: encode(s, data, what)) if s is not None else rc.json_bytes
                       for s in schemas)
    elif any(body.get(f) is not None for f in ("key_schema", "value_schema", "key_schema_id", "value_schema_id")):
        raise BadRequest(f"a schema goes with Content-Type {', '.join(V2_MEDIA)}, not {ctype}")
    fixed = request.match_info.get("partition")
    if fixed is None:
        entries = rc.v2_entries(records, binary, None, fields)  # a malformed request creates no topic
        await topic_for_produce(node, topic)
    else:  # a partition of a missing topic is a 404, as in Kafka: nothing to create
        fixed = partition_or_404(node.data_plane.topic_or_404(topic), fixed)
        entries = rc.v2_entries(records, binary, fixed, fields)
    results = await deliver(node, topic, entries, acks, timeout_ms, producer)
    offsets = []
    for r in results:
        if isinstance(r, Failed):
            slot = {"partition": r.partition, "offset": None, "error_code": rest_error_code(r.error),
                    "error": r.error.message}
            if ERROR_CLASS_HEADER in request.headers:
                slot["error_class"] = type(r.error).__name__
            offsets.append(slot)
        else:
            offsets.append({"partition": r[0], "offset": r[1], "error_code": None, "error": None})
    key_id, value_id = (None if s is None else s.schema_id for s in schemas)
    return web.Response(body=orjson.dumps({"offsets": offsets, "key_schema_id": key_id,
                                           "value_schema_id": value_id}),
                        content_type=V2_TYPE)


# -- v3 ------------------------------------------------------------------------------------
async def _v3_entry(request, topic: str, obj, what: str):
    if not isinstance(obj, dict):
        raise BadRequest(f"{what} must be a JSON object")
    unknown = set(obj) - {"partition_id", "key", "value", "headers", "timestamp", "id"}
    if unknown:
        raise BadRequest(f"unknown field(s) in {what}: {', '.join(sorted(unknown))}")
    key, key_type = await _v3_field(request, topic, obj.get("key"), True, f"{what}.key")
    value, value_type = await _v3_field(request, topic, obj.get("value"), False, f"{what}.value")
    record = Record(key, value, rc.headers_of(obj.get("headers"), f"{what}.headers"),
                    rc.timestamp_of(obj.get("timestamp")))
    return (obj.get("partition_id"), record), (key_type, value_type)


async def _v3_field(request, topic: str, spec, is_key: bool, what: str):
    """(bytes, what the report says of it: a type, or a schema's fields)."""
    if not names_schema(spec):
        return rc.v3_data(spec, what)
    unknown = set(spec) - rc.V3_DATA_FIELDS
    if unknown:
        raise BadRequest(f"unknown field(s) in {what}: {', '.join(sorted(unknown))}")
    schema = await v3_schema(request, topic, spec, is_key, what)
    data = spec.get("data")
    return (None if data is None else encode(schema, data, f"{what}.data")), v3_report_fields(schema)


def _v3_report(node: BrokerServices, topic, result, record, types) -> dict:
    if isinstance(result, Failed):
        return {"error_code": rest_error_code(result.error), "message": result.error.message}
    partition, offset, ts = result
    report = {"error_code": 200, "cluster_id": node.cluster_id, "topic_name": topic,
              "partition_id": partition, "offset": offset, "timestamp": rc.iso(ts)}
    for name, kind, data in (("key", types[0], record.key), ("value", types[1], record.value)):
        if isinstance(kind, dict):  # a schema format: its type, subject, schema id and version
            report[name] = {**kind, "size": len(data or b"")}
        elif kind is not None:
            report[name] = {"type": kind, "size": len(data or b"")}
    return report


def _split_stream(raw: bytes) -> list[Any]:
    """A body of one or more concatenated JSON objects (Confluent's streaming mode)."""
    text = raw.decode("utf-8", errors="strict")
    decoder = json.JSONDecoder()
    out: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return out
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"malformed JSON in record {len(out)}: {exc.msg} at char {exc.pos}") from None
        except RecursionError:
            raise BadRequest(f"record {len(out)} is nested too deeply") from None
        out.append(obj)
        check_record_count(len(out))


async def v3_produce(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    topic = request.match_info["topic"]
    check_content_type(request, JSON_TYPES)
    acks, timeout_ms = produce_options(request)
    producer = idempotence_of(request)
    raw = await read_body(request)
    if not raw.strip():
        raise EmptyBody("request body is empty")
    try:
        objs = _split_stream(raw)
    except UnicodeDecodeError:
        raise BadRequest("request body is not UTF-8") from None
    parsed = [await _v3_entry(request, topic, o, f"record {i}") for i, o in enumerate(objs)]
    await topic_for_produce(node, topic)
    results = await deliver(node, topic, [p[0] for p in parsed], acks, timeout_ms, producer)
    reports = [_v3_report(node, topic, r, p[0][1], p[1]) for r, p in zip(results, parsed)]
    if len(reports) == 1:
        if isinstance(results[0], Failed):
            return json_response(*error_body(results[0].error))
        return json_response(reports[0])
    body = b"\n".join(orjson.dumps(r) for r in reports)
    return web.Response(body=body, content_type="application/json")


async def v3_produce_batch(request):
    node = node_of(request)
    check_cluster(request, node.cluster_id)
    topic = request.match_info["topic"]
    acks, timeout_ms = produce_options(request)
    producer = idempotence_of(request)
    body = await read_json_object(request)
    entries = body.get("entries")
    if set(body) != {"entries"} or not isinstance(entries, list):
        raise BadRequest('body must be {"entries": [{"id": ..., ...record}, ...]}')
    if not entries:
        raise EmptyBody("no entries to produce")
    check_record_count(len(entries))
    ids = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "id" not in e or not isinstance(e["id"], str):
            raise BadRequest(f"entries[{i}] needs a string \"id\"")
        if not 1 <= len(e["id"]) <= MAX_ENTRY_ID:  # the spec's bounds; answers echo ids
            raise BadRequest(f"entries[{i}].id must be 1 to {MAX_ENTRY_ID} characters, got {len(e['id'])}")
        ids.append(e["id"])
    if len(set(ids)) != len(ids):
        raise BadRequest("entry ids must be unique within a batch")
    await topic_for_produce(node, topic)
    # Each entry stands alone: a bad one is a failure of its own, the rest go ahead.
    parsed, failures = {}, []
    for i, e in enumerate(entries):
        try:
            entry = await _v3_entry(request, topic, e, f"entries[{i}]")
            await node.data_plane.check_client_records(topic, [entry[0][1]])
            node.data_plane.choose_partitions(topic, [entry[0]])
            parsed[i] = entry
        except KraftError as exc:
            if producer is not None:  # its sequence numbers cover every entry: all or none
                raise type(exc)(f"entries[{i}] (id {ids[i]!r}): {exc.message}; an idempotent "
                                "batch is written whole or not at all") from None
            body = error_body(exc)[0]
            body.pop("record_errors", None)  # the entry is the one record: its id says which
            failures.append({"id": ids[i], **body})
    order = sorted(parsed)
    results = await deliver_checked(node, topic, [parsed[i][0] for i in order], acks, timeout_ms,
                                    producer) if order else []
    successes: list[dict[str, Any]] = []
    for i, r in zip(order, results):
        report = _v3_report(node, topic, r, parsed[i][0][1], parsed[i][1])
        (failures if isinstance(r, Failed) else successes).append({"id": ids[i], **report})
    return json_response({"successes": successes, "failures": failures}, status=207)
