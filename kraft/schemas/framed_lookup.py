"""A record's key or value described with the registry's schemas, for the web console's
message browser: for a framed value (kraft/schemas/wire_format.py), its schema id, the
subjects and versions that hold the id, and the value decoded to JSON by the same record
codecs the REST door's consumers use (record_codec_table.py); a reason in place of the
data when it cannot be decoded. Pure: the caller gives the registry's state and parser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from kraft.schemas.protobuf import indexes as protobuf_indexes
from kraft.schemas.formats import InvalidSchema, ParsedSchema
from kraft.schemas.record_codec_table import codec_for
from kraft.schemas.record_codecs import Undecodable
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser, resolved_texts
from kraft.schemas.registry_state import RegistryState
from kraft.schemas.wire_format import MAX_SCHEMA_ID, NotFramed, unframe

if TYPE_CHECKING:  # a format's module loads at its first use (format_table.py)
    from kraft.schemas.protobuf.schema import ProtobufSchema


def describe(state: RegistryState, parser: Parser, data: bytes | None) -> dict[str, Any] | None:
    """None for a value that is not framed; else {"schema_id", and when the registry holds
    the id: "schema_type", "subjects": [{"subject", "version", "deleted"}], then "data"
    (and "message" for Protobuf) or "error"}."""
    if data is None:
        return None
    try:
        schema_id, payload = unframe(data)
    except NotFramed:
        return None
    if not 0 < schema_id <= MAX_SCHEMA_ID:  # no registry gives such an id: other bytes
        return None
    out: dict[str, Any] = {"schema_id": schema_id}
    record = state.schema_by_id(schema_id)
    if record is None:
        out["error"] = f"schema id {schema_id} is not in the registry"
        return out
    out["schema_type"] = record.schema_type
    out["subjects"] = [{"subject": r.subject, "version": r.version, "deleted": r.deleted}
                       for r in state.records_with_id(schema_id)]
    try:
        parsed = parser.parse_record(state, record)
        codec = codec_for(record.schema_type, parsed, resolved_texts(state, record.references))
        out["data"] = codec.decode(payload)
    except RegistryError as exc:  # a reference it needs is gone
        out["error"] = f"the schema cannot be read: {exc.message}"
    except Undecodable as exc:
        out["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - a schema the registry took and the codec's library does not
        out["error"] = f"the schema cannot read records here: {type(exc).__name__}"
    else:
        if record.schema_type == "PROTOBUF":
            out["message"] = message_name(parsed, payload)
    return out


def message_name(parsed: ParsedSchema, payload: bytes) -> str | None:
    """The full name of the Protobuf message the payload's indexes name."""
    try:
        return cast("ProtobufSchema", parsed).message_name(protobuf_indexes.decode(payload)[0])
    except (ValueError, InvalidSchema):
        return None
