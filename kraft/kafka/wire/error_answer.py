"""The answer to a request whose handler failed unexpectedly: UNKNOWN_SERVER_ERROR for
the whole request, where the API's answer has a top-level error code.

Every other field is its zero (empty lists, 0, ""), as a client reads them beside an
error. An API whose answer has no top-level error code (Produce, Metadata, CreateTopics,
...) only reports errors per item; for those there is no honest whole-request answer
here, so the listener closes the connection, which Kafka clients treat as a network
error and retry.
"""

from __future__ import annotations

import uuid
from typing import Any

from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField

from kraft.kafka.wire.entities import build, field_kinds


def whole_request_error(cls, code: int, message: str):
    """An instance of response class `cls` carrying `code` (and `message`, where the
    version has an error message) for the whole request, or None when it has no
    top-level error code."""
    if not any(name == "error_code" for name, *_ in field_kinds(cls)):
        return None
    return build(cls, _zero(cls, code, message))


def _zero(cls, code: int, message: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, kind, kafka_type, has_default in field_kinds(cls):
        if name == "error_code":
            data[name] = code
        elif name == "error_message":
            data[name] = message
        elif has_default:
            continue
        elif isinstance(kind, (EntityTupleField, PrimitiveTupleField)):
            data[name] = []
        elif isinstance(kind, EntityField):
            data[name] = _zero(kind.type_, code, message)
        else:
            data[name] = {"bool": False, "bytes": b"", "string": "", "uuid": uuid.UUID(int=0)}.get(kafka_type, 0)
    return data
