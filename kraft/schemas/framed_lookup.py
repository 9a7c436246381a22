"""A record's key or value described with the registry's schemas: for a framed value, its
schema id, the subjects and versions that hold the id, and the value decoded to JSON
(framed_records.py); a reason in place of the data when it cannot be decoded. Pure: the
caller gives the registry's state and parser."""

from __future__ import annotations

from typing import Any

from kraft.schemas.framed_records import NotDecodable, decode, unframe
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_state import RegistryState


def describe(state: RegistryState, parser: Parser, data: bytes | None) -> dict[str, Any] | None:
    """None for a value that is not framed; else {"schema_id", and when the registry holds
    the id: "schema_type", "subjects": [{"subject", "version", "deleted"}], then "data"
    (and "message" for Protobuf) or "error"}."""
    found = unframe(data)
    if found is None:
        return None
    out: dict[str, Any] = {"schema_id": found.schema_id}
    record = state.schema_by_id(found.schema_id)
    if record is None:
        out["error"] = f"schema id {found.schema_id} is not in the registry"
        return out
    out["schema_type"] = record.schema_type
    out["subjects"] = [{"subject": r.subject, "version": r.version, "deleted": r.deleted}
                       for r in state.records_with_id(found.schema_id)]
    try:
        decoded = decode(parser.parse_record(state, record), found.payload)
    except RegistryError as exc:  # a reference it needs is gone
        out["error"] = f"the schema cannot be read: {exc.message}"
    except NotDecodable as exc:
        out["error"] = str(exc)
    else:
        out["data"] = decoded.data
        if decoded.message is not None:
            out["message"] = decoded.message
    return out
