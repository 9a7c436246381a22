"""The schema modes' half of a round: each record's value decoded with its registry schema
(`value_schema_id_prefix`: the schema its Confluent framing names; `value_schema_latest`:
the latest version of the topic's value subject, the value unframed), grouped by schema,
and every record that cannot be decoded, with the reason, for the dead-letter table.
Pure: the caller gives the registry's state and parser (the node follows `_schemas`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyiceberg.types import StructType

from kraft.config.iceberg_mode_text import LATEST, IcebergMode
from kraft.iceberg.layout import Row
from kraft.iceberg.value_schema import Untranslatable, ValueTranslation, value_translation
from kraft.schemas.formats import InvalidSchema
from kraft.schemas.framed_lookup import message_name
from kraft.schemas.record_codec_table import codec_for
from kraft.schemas.record_codecs import Undecodable
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser, resolved_texts
from kraft.schemas.registry_state import RegistryState
from kraft.schemas.wire_format import MAX_SCHEMA_ID, NotFramed, unframe


@dataclass
class Decoded:
    rows: list[Row] = field(default_factory=list)  # the records decoded, each with its value read
    values: list[Any] = field(default_factory=list)  # (None: a tombstone, a null value)
    keys: list[Any] = field(default_factory=list)  # each row's key in `structs` (None: a tombstone)
    structs: dict[Any, StructType] = field(default_factory=dict)  # the value types met, by (schema id, message)
    failed: list[tuple[Row, str]] = field(default_factory=list)  # for the dead-letter table


def decode_values(rows: list[Row], mode: IcebergMode, topic: str, state: RegistryState, parser: Parser) -> Decoded:
    """value_schema_latest reads with the latest schema of the mode's subject (default the
    topic's value subject, TopicNameStrategy's); a Protobuf value is the mode's message
    (default the schema's first), since an unframed value names none."""
    out = Decoded()
    known: dict[Any, tuple[Any, ValueTranslation] | str] = {}  # key -> (codec, translation), or why not
    latest_mode = mode.name == LATEST
    subject = mode.subject_for(topic)
    latest = state.latest(subject) if latest_mode else None
    for row in rows:
        if row.value is None:  # a tombstone: a row whose value is null
            out.rows.append(row)
            out.values.append(None)
            out.keys.append(None)
            continue
        try:
            if latest_mode:
                if latest is None:
                    raise _Refused(f"no schema is registered under subject {subject!r}")
                record, payload = latest, row.value
            else:
                schema_id, payload = _framed(row.value)
                named = state.schema_by_id(schema_id)
                if named is None:
                    raise _Refused(f"schema id {schema_id} is not in the registry")
                record = named
            parsed = parser.parse_record(state, record)
            # each message of a .proto file is a table form of its own
            message, unframed = None, False
            if record.schema_type == "PROTOBUF":
                unframed = latest_mode  # no message indexes: the message the mode names
                message = _latest_message(parsed, mode.protobuf_name) if unframed else message_name(parsed, payload)
            key = (record.id, message)
            if key not in known:
                known[key] = _translation(state, record, parsed, message)
            found = known[key]
            if isinstance(found, str):
                raise _Refused(found)
            codec, translation = found
            value = translation.read(codec.decode_message(message, payload) if unframed else codec.decode(payload))
        except (_Refused, Undecodable, Untranslatable, NotFramed, RegistryError, InvalidSchema) as exc:
            out.failed.append((row, _reason(exc)))
            continue
        out.structs.setdefault(key, translation.struct)
        out.rows.append(row)
        out.values.append(value)
        out.keys.append(key)
    return out


class _Refused(ValueError):
    pass


def _latest_message(parsed: Any, name: str | None) -> str:
    """The message an unframed Protobuf value is: `name`, or the schema's first."""
    names = parsed.message_names()
    message = name or (names[0] if names else None)
    if message is None or message not in names:
        raise _Refused(f"the Protobuf schema has no message {message!r}" if message else
                       "the Protobuf schema declares no message")
    return message


def _framed(value: bytes) -> tuple[int, bytes]:
    schema_id, payload = unframe(value)
    if not 0 < schema_id <= MAX_SCHEMA_ID:
        raise _Refused(f"schema id {schema_id} is out of range")
    return schema_id, payload


def _translation(state: RegistryState, record: Any, parsed: Any, message: str | None) -> tuple[Any, ValueTranslation] | str:
    try:
        codec = codec_for(record.schema_type, parsed, resolved_texts(state, record.references))
        return codec, value_translation(record.schema_type, parsed, message)
    except Untranslatable as exc:
        return f"the schema has no table form: {_reason(exc)}"
    except (RegistryError, InvalidSchema) as exc:
        return f"the schema cannot be read: {getattr(exc, 'message', str(exc))}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, NotFramed):
        return "the value has no schema framing (magic byte 0 and a schema id)"
    if isinstance(exc, Untranslatable) and exc.path:
        return f"{exc.reason} (at {exc.path})"
    if isinstance(exc, Undecodable):
        return f"the value does not decode with its schema: {exc}"
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
