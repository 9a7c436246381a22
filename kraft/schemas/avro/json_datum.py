"""Avro's JSON encoding of a datum (what Confluent REST Proxy takes for Avro) to the datum
fastavro writes, for schemas without logical types: checked as Avro's JSON decoder checks
it, each union's value tagged with the branch its JSON names (fastavro's tuple notation),
so the branch written is the one the data chose, as Java Avro writes it. A record field
left out takes its default. Schemas with logical types (or a named type used by name,
which a recursive type needs) go through fastavro's own JSON decoder instead
(`supported`). Pure."""

from __future__ import annotations

from typing import Any

from kraft.schemas.record_codecs import DataMismatch

_INT_RANGE = {"int": (-2**31, 2**31 - 1), "long": (-2**63, 2**63 - 1)}
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "string", "bytes"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})


def supported(schema: Any) -> bool:
    """Whether `datum` handles this parsed schema (fastavro.parse_schema's output)."""
    if isinstance(schema, str):
        return schema in _PRIMITIVES
    if isinstance(schema, list):
        return all(supported(branch) for branch in schema)
    if not isinstance(schema, dict) or "logicalType" in schema:
        return False
    kind = schema.get("type")
    if kind in ("record", "error"):
        return all(supported(field["type"]) for field in schema["fields"])
    if kind == "array":
        return supported(schema["items"])
    if kind == "map":
        return supported(schema["values"])
    return kind in ("enum", "fixed") or (isinstance(kind, str) and kind in _PRIMITIVES)


def datum(schema: Any, value: Any, where: str = "") -> Any:
    if isinstance(schema, list):
        return _union(schema, value, where)
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind in ("record", "error"):
        if not isinstance(value, dict):
            raise _mismatch(where, f"a record ({schema['name']}) is a JSON object")
        out = {}
        for field in schema["fields"]:
            name = field["name"]
            if name in value:
                out[name] = datum(field["type"], value[name], f"{where}/{name}")
            elif "default" in field:
                out[name] = field["default"]
            else:
                raise _mismatch(f"{where}/{name}", "a field without a default is missing")
        return out
    if kind == "array":
        if not isinstance(value, list):
            raise _mismatch(where, "an array is a JSON array")
        return [datum(schema["items"], item, f"{where}/{i}") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _mismatch(where, "a map is a JSON object")
        return {key: datum(schema["values"], item, f"{where}/{key}") for key, item in value.items()}
    return _scalar(kind, schema, value, where)


def _scalar(kind: str, schema: Any, value: Any, where: str) -> Any:
    if kind == "null":
        ok = value is None
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "enum":
        ok = isinstance(value, str) and value in schema["symbols"]
    elif kind in ("bytes", "fixed"):  # Avro's JSON: one character (U+0000..U+00FF) per byte
        ok = isinstance(value, str) and all(ord(c) < 256 for c in value) and (
            kind == "bytes" or len(value) == schema["size"])
        value = value.encode("latin-1") if ok else value
    else:
        ok = False
    if not ok:
        raise _mismatch(where, f"{_short(value)} is not a valid {kind}")
    return value


def _union(branches: list[Any], value: Any, where: str) -> Any:
    if value is None:
        if "null" not in branches:
            raise _mismatch(where, "null is not a branch of the union")
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise _mismatch(where, 'a union\'s value is null or {"<branch>": value}')
    ((name, inner),) = value.items()
    for branch in branches:
        if _branch_name(branch) == name:
            return name, datum(branch, inner, f"{where}/{name}")
    raise _mismatch(where, f"{name!r} is not a branch of the union")


def _branch_name(branch: Any) -> str:
    if isinstance(branch, str):
        return branch
    return str(branch["name"] if branch["type"] in _NAMED else branch["type"])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _mismatch(where: str, reason: str) -> DataMismatch:
    return DataMismatch(f"at {where or '/'}: {reason}")
