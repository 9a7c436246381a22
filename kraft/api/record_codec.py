"""REST record formats <-> log records (Confluent REST Proxy v2 and v3 conventions).

v2 embedded formats: "json" (key/value are any JSON, stored as their JSON text) and
"binary" (base64 strings). v3 typed data: {"type": "JSON"|"BINARY"|"STRING", "data"}.
The schema formats (avro, jsonschema, protobuf; v3 AVRO, JSONSCHEMA, PROTOBUF) are
kraft/api/schema_records.py's. Every malformed piece is the caller's 400/42206, said precisely; sizes are checked
after base64 decoding.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Iterable
from datetime import datetime, timezone

import orjson

from kraft.errors import BadRequest, InvalidValue, KraftError
from kraft.storage.record import Record

V2_JSON = "application/vnd.kafka.json.v2+json"
V2_BINARY = "application/vnd.kafka.binary.v2+json"
# records in one REST read's answer (Kafka's consumer bounds a poll by max.poll.records):
# max_bytes counts stored bytes, and a tiny record stored in ~10 bytes is ~100 of JSON, so
# 1 MiB of them would be 13 MB of answer and seconds of rendering. 10,000 is about the
# default max_bytes' worth of JSON; a reader goes on from the last offset + 1.
MAX_RECORDS_PER_ANSWER = 10_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def b64decode(value, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidValue(f"{what} must be a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(f"{what} is not valid base64") from None


MAX_TIMESTAMP_MS = 2**53  # far beyond any real clock, well inside int64 arithmetic


def json_bytes(value, what: str) -> bytes:
    """A JSON value as stored bytes; refuses what cannot be written back as JSON."""
    try:
        return orjson.dumps(value)
    except (TypeError, ValueError) as exc:  # nesting over ~254 levels, lone surrogates
        raise InvalidValue(f"{what} cannot be stored as JSON: {exc}") from None


def utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise InvalidValue(f"{what} is not valid Unicode (lone surrogate)") from None


V2_RECORD_FIELDS = frozenset({"key", "value", "partition", "headers", "timestamp"})


def v2_entries(records: list, binary: bool, fixed: int | None, fields=None) -> list[tuple[int | None, Record]]:
    """A v2 produce body's records as (partition or None, Record), checked one by one;
    `fields`: the (key, value) encoders of a schema format, each (data, what) -> bytes.

    The hot loop of produce: error messages are built only on the error path, and
    records without a timestamp share the request's arrival time."""
    now = now_ms()
    field = b64decode if binary else json_bytes
    key_field, value_field = fields or (field, field)
    entries = []
    for i, rec in enumerate(records):
        if type(rec) is not dict or not rec.keys() <= V2_RECORD_FIELDS:
            raise BadRequest(f"records[{i}] must be an object with key, value, partition")
        partition = rec.get("partition")
        if fixed is not None:
            if partition not in (None, fixed):
                raise BadRequest(f"records[{i}].partition conflicts with the partition in the path")
            partition = fixed
        key, value = rec.get("key"), rec.get("value")
        headers, ts = rec.get("headers"), rec.get("timestamp")
        try:
            record = Record(None if key is None else key_field(key, "key"),
                            None if value is None else value_field(value, "value"),
                            () if headers is None else headers_of(headers),
                            now if ts is None else timestamp_of(ts))
        except KraftError as exc:  # name the record: "records[3].value is not valid base64"
            raise type(exc)(f"records[{i}].{exc.message}") from None
        entries.append((partition, record))
    return entries


# a v3 key or value (Confluent's ProduceRequestData)
V3_DATA_FIELDS = frozenset({"type", "data", "subject", "schema_id", "schema_version", "schema",
                            "subject_name_strategy"})


def v3_data(spec, what: str) -> tuple[bytes | None, str | None]:
    """Returns (bytes, type) for a v3 key/value object."""
    if spec is None:
        return None, None
    if not isinstance(spec, dict):
        raise BadRequest(f"{what} must be an object like {{\"type\": \"JSON\", \"data\": ...}}")
    unknown = set(spec) - V3_DATA_FIELDS
    if unknown:
        raise BadRequest(f"unknown field(s) in {what}: {', '.join(sorted(unknown))}")
    kind = spec.get("type", "JSON" if "data" in spec else None)
    if kind not in ("JSON", "BINARY", "STRING"):
        raise InvalidValue(f"{what}.type must be JSON, BINARY, STRING, AVRO, JSONSCHEMA or PROTOBUF, "
                           f"got {kind!r}")
    data = spec.get("data")
    if data is None:
        return None, kind
    if kind == "BINARY":
        return b64decode(data, f"{what}.data"), kind
    if kind == "STRING":
        if not isinstance(data, str):
            raise InvalidValue(f"{what}.data must be a string for type STRING")
        return utf8(data, f"{what}.data"), kind
    return json_bytes(data, f"{what}.data"), kind


def headers_of(raw, what: str = "headers") -> tuple:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadRequest(f"{what} must be a list of {{\"name\", \"value\"}}")
    out = []
    for h in raw:
        if not isinstance(h, dict) or not isinstance(h.get("name"), str) or set(h) - {"name", "value"}:
            raise BadRequest(f"{what} entries must be {{\"name\": <string>, \"value\": <base64>}}")
        value = h.get("value")
        utf8(h["name"], f"{what} name")
        out.append((h["name"], None if value is None else b64decode(value, f"{what} value of {h['name']!r}")))
    return tuple(out)


def timestamp_of(raw) -> int:
    if raw is None:
        return now_ms()
    if isinstance(raw, bool):
        raise InvalidValue("timestamp must be epoch milliseconds or an ISO-8601 string")
    if isinstance(raw, int):
        return _in_range(raw)
    if isinstance(raw, str):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(f"timestamp {raw!r} is not ISO-8601") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return _in_range(int(dt.timestamp() * 1000))
    raise InvalidValue("timestamp must be epoch milliseconds or an ISO-8601 string")


def _in_range(ts: int) -> int:
    if not 0 <= ts <= MAX_TIMESTAMP_MS:
        raise InvalidValue(f"timestamp must be between 0 (1970) and {MAX_TIMESTAMP_MS} ms, got {ts}")
    return ts


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def v2_answer(got: Iterable[tuple[tuple[str, int], Record]], binary: bool) -> bytes:
    """A v2 read's answer body, rendered on a worker thread: the loop keeps serving
    (heartbeats, other requests) while a large answer is built."""
    return await asyncio.to_thread(_v2_answer, list(got), binary)


def _v2_answer(got: list[tuple[tuple[str, int], Record]], binary: bool) -> bytes:
    return orjson.dumps([render_v2(record, binary, topic, partition) for (topic, partition), record in got])


def render_v2(record: Record, binary: bool, topic: str, partition: int) -> dict:
    def field(data):
        if data is None:
            return None
        if binary:
            return base64.b64encode(data).decode()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data.decode(errors="replace")  # not JSON: shown as text, not an error
    return {"topic": topic, "key": field(record.key), "value": field(record.value),
            "partition": partition, "offset": record.offset, "timestamp": record.timestamp_ms,
            "headers": [{"name": k, "value": None if v is None else base64.b64encode(v).decode()}
                        for k, v in record.headers] or None}
