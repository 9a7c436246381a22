"""Fuzz target: a schema registry request body, as POST /subjects/{subject}/versions and
POST /compatibility/subjects/{subject}/versions read it, with no server: the body's JSON,
its fields (kraft/schemas/registry_requests.py), the schema parsed by its type (AVRO,
JSON Schema, PROTOBUF: kraft/schemas/registry_parsing.py), its compatibility with the
subject's one earlier schema under every level (compatibility.py, registry_writes.py),
the registration decision and the compatibility answer (registry_writes.decide,
registry_reads.compatibility); a JSON Schema then validates a few fixed documents
(json_schema/records.py), so `pattern` and `patternProperties` reach the bounded regex
engine (patterns.py).

The first byte picks the subject, by the type of its earlier schema (EARLIER: its low two
bits, modulo 3) and, with bit 2, `normalize=true`; the rest is the body. The registry's
state is its own in-memory one (registry_state.RegistryState) holding those earlier
schemas, written as the registry writes them; it has nothing a reference may name, so
references are refused.

Oracle: a refusal with the registry's own error (RegistryError, answered 400, 404, 409 or
422), a document refused as not fitting the schema (DataMismatch) and a schema whose codec
cannot be built (the REST door answers SchemaRefused for any failure there) are correct
returns; a RegistryError answered 5xx, any other exception, or a validation running far
past the pattern budget is a bug."""

from __future__ import annotations

import pathlib
import time

import orjson

from kraft.schemas import registry_reads
from kraft.schemas.compatibility import LEVELS
from kraft.schemas.format_table import FORMATS
from kraft.schemas.formats import ParsedSchema
from kraft.schemas.patterns import BUDGET_S, pattern_budget
from kraft.schemas.record_codec_table import codec_for
from kraft.schemas.record_codecs import DataMismatch
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import LATEST, Register, register_request
from kraft.schemas.registry_state import RegistryState
from kraft.schemas.registry_writes import check_compatibility, concrete_references, decide

CORPUS = pathlib.Path(__file__).parent / "corpus" / "registry_bodies"
BAD_REQUEST = 400  # what the routes answer a body that is not JSON (kraft/registry/http.py)
VALIDATION_BOUND_S = BUDGET_S + 2.0  # the patterns' budget, and room for the rest of a few small documents

EARLIER = {
    "AVRO": '{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},'
            '{"name":"item","type":"string"},{"name":"status","type":{"type":"enum","name":"Status",'
            '"symbols":["NEW","PAID"]},"default":"NEW"},{"name":"tags","type":{"type":"array","items":"string"},'
            '"default":[]}]}',
    "JSON": '{"type":"object","properties":{"id":{"type":"integer"},"item":{"type":"string","pattern":"^[a-z]+$"},'
            '"tags":{"type":"array","items":{"type":"string"}}},"required":["id"],"additionalProperties":true}',
    "PROTOBUF": 'syntax = "proto3";\npackage shop;\n\nmessage Order {\n  int64 id = 1;\n  string item = 2;\n'
                '  repeated string tags = 3;\n  enum Status {\n    NEW = 0;\n    PAID = 1;\n  }\n'
                '  Status status = 4;\n}\n',
}
TYPES = tuple(EARLIER)
# JSON documents each JSON Schema validates: one that fits the seeds' order schema, and a
# run of a's that backtracking patterns (`^(a|a)+$`) take exponential time on, as the whole
# document, a property's value and a property's name
RUN = "a" * 26 + "!"
DOCUMENTS: tuple[object, ...] = (
    {"id": 7, "item": "widget", "tags": ["red"], "address": {"zip": "12345"}, "payment": {"last4": "4242"}},
    {"id": 8, "item": RUN, "aaaa": RUN, RUN: 1},
    RUN,
    [1, "two", {"three": 3.0}, None, True],
)


def subject_of(schema_type: str) -> str:
    return f"orders-{schema_type.lower()}-value"


def _state() -> RegistryState:
    """A subject per type holding EARLIER's schema, written by the registry's own decisions."""
    state, parser, offset = RegistryState(), Parser(FORMATS), 0
    for schema_type, text in EARLIER.items():
        for key, value in decide(state, parser, Register(subject_of(schema_type), schema_type, text)).records:
            state.apply(key, value, offset)
            offset += 1
    return state


STATE = _state()


def fuzz_one(data: bytes) -> None:
    if not data:
        return
    subject = subject_of(TYPES[(data[0] & 3) % len(TYPES)])
    normalize = "true" if data[0] & 4 else None
    parser = Parser(FORMATS)  # its cache empty: each input is judged alone, as when it is replayed
    try:
        _requests(parser, subject, data[1:], normalize)
    except RegistryError as refusal:
        if refusal.status >= 500:
            raise AssertionError(f"a body is refused as a server error: {refusal.body()}") from refusal


def _requests(parser: Parser, subject: str, raw: bytes, normalize: str | None) -> None:
    try:  # what kraft/registry/http.json_body does
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise RegistryError(BAD_REQUEST, "the request body is not JSON") from None
    request = register_request(subject, body, normalize)
    parsed = parser.parse(STATE, request.schema_type, request.schema, concrete_references(STATE, request.references),
                          deleted=False)
    for level in LEVELS:
        check_compatibility(STATE, parser, parsed, STATE.versions(subject), level)
    if parsed.schema_type == "JSON":
        _validate(parsed)
    registry_reads.compatibility(STATE, parser, subject, None, body, normalize is not None, True)
    registry_reads.compatibility(STATE, parser, subject, LATEST, body, normalize is not None, True)
    decide(STATE, parser, request)  # 409 when incompatible at the subject's level


def _validate(parsed: ParsedSchema) -> None:
    """The documents as one request's records: they share one pattern budget (api/schema_records.encode)."""
    codec = codec_for("JSON", parsed, {})  # a schema the registry took always makes a codec
    started = time.monotonic()
    with pattern_budget():
        for document in DOCUMENTS:
            try:
                codec.encode(document)
            except DataMismatch:
                pass
    if (took := time.monotonic() - started) > VALIDATION_BOUND_S:
        raise AssertionError(f"validating {len(DOCUMENTS)} documents took {took:.1f} s, past the pattern budget")
