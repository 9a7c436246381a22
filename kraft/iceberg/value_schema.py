"""The value_schema_id_prefix / value_schema_latest layouts' pure half: a registered schema's
Iceberg type, the table's schema (layout's `kafka`, then `value`) and a batch as Arrow. No I/O.
A translation's `read` turns a codec's decoded datum into plain values named as the columns
(ints for dates, times and timestamps; bytes; Decimals; dicts for structs and maps), which
`schema_mode_table` builds into columns against the table's own schema: a record of an older
schema version leaves null what its schema lacks. A value struct's ids are those a new table
would give it, but only names count: the caller creates the table from `table_schema(s)`,
evolves it with `update_schema().union_by_name(table_schema(newer))` (Iceberg adds optional
columns only) and builds batches with the table's current `schema()`, whose ids files carry."""

from __future__ import annotations

import base64
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # ships no types
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType, FixedType, FloatType,
                             IcebergType, IntegerType, ListType, LongType, MapType, NestedField, StringType, StructType,
                             TimestampType, TimestamptzType, TimeType, UUIDType)

from kraft.iceberg.layout import KEY_VALUE_SCHEMA, Row, key_value_table
from kraft.schemas.avro import model as avro
from kraft.schemas.formats import ParsedSchema
from kraft.schemas.json_schema import model as js

MAX_DEPTH = 100  # nested messages or schemas: far beyond real ones, short of Python's recursion limit
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EXACT = Context(prec=100)  # so scaleb only moves the exponent: a 38-digit decimal is never rounded

Read = Callable[[Any], Any]
Typed = tuple[IcebergType, Read, bool]  # the type, its datum's reader, whether null is a value


class Untranslatable(ValueError):
    """No Iceberg type, or a datum that does not fit one: `path` names the field ([]: items), `row` the row."""

    def __init__(self, reason: str, path: str = "", row: int | None = None):
        super().__init__(f"{path or 'value'}: {reason}" + (f" (row {row})" if row is not None else ""))
        self.reason, self.path, self.row = reason, path, row


@dataclass(frozen=True)
class ValueTranslation:
    struct: StructType  # the value's Iceberg type
    read: Read  # a codec's decoded datum -> the plain value (None for null); Untranslatable


def value_translation(schema_type: str, parsed: ParsedSchema, message: str | None = None) -> ValueTranslation:
    """`message`: the Protobuf message's full name; by default the file's first (the one the codec writes)."""
    typed: Typed | None
    if schema_type == "AVRO":
        typed = _avro(getattr(parsed, "root"), "", ())
    elif schema_type == "PROTOBUF":
        name = message or next(iter(getattr(parsed, "message_names")()), None)  # None: declares no message
        typed = _message(getattr(parsed, "pool").FindMessageTypeByName(name.lstrip(".")), "", ()) if name else None
    elif schema_type == "JSON":
        typed = _json(getattr(parsed, "root"), "", (), None)
    else:
        raise Untranslatable(f"no Iceberg translation for schema type {schema_type!r}")
    if typed is None:
        raise Untranslatable("the schema describes no data (null, or a record without fields)")
    kind, read, _ = typed
    if not isinstance(kind, StructType):  # a bare value is the struct's one field, as Redpanda's
        kind, bare = StructType(NestedField(0, "root", kind, required=False)), read
        read = lambda d: {"root": bare(d)}  # noqa: E731
    whole = read
    fresh = assign_fresh_schema_ids(Schema(*kind.fields)).as_struct()  # placeholder ids -> 1, 2, ...
    return ValueTranslation(fresh, lambda d: None if d is None else whole(d))


def value_struct(schema_type: str, parsed: ParsedSchema, message: str | None = None) -> StructType:
    return value_translation(schema_type, parsed, message).struct


def table_schema(value: StructType) -> Schema:
    """`kafka` as layout.KEY_VALUE_SCHEMA has it (ids 1 and 3-10), then the optional `value` (2, 11...)."""
    return assign_fresh_schema_ids(Schema(KEY_VALUE_SCHEMA.find_field("kafka"),
                                          NestedField(2, "value", value, required=False)))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _leaf(kinds: type | tuple[type, ...], what: str, path: str, convert: Read | None = None) -> Read:
    def read(d: Any) -> Any:
        if isinstance(d, kinds) and (type(d) is not bool or kinds is bool):
            try:
                return d if convert is None else convert(d)
            except (ValueError, TypeError, KeyError, OverflowError):
                pass
        raise Untranslatable(f"{d!r:.60} is not {what}", path)
    return read


def _struct(fields: list[tuple[str, str, Typed, bool]], path: str) -> Typed:
    """One (column, datum key, typed, required) per field; a required one missing is left to the table's check."""
    plan = [(name, key, typed[1]) for name, key, typed, _ in fields]

    def read(d: Any) -> Any:
        if type(d) is not dict:
            raise Untranslatable(f"{d!r:.60} is not an object", path)
        return {name: inner(v) for name, key, inner in plan if (v := d.get(key)) is not None}
    return StructType(*[NestedField(0, n, t[0], required=r) for n, _, t, r in fields]), read, False


def _collection(key: Typed | None, value: Typed, path: str) -> Typed:
    """A list (no key) or a map of `value`s; null items are left to the table's check."""
    (kind, inner, nullable), key_read = value, key[1] if key else None
    shape: Any = list if key is None else dict

    def read(d: Any) -> Any:
        if type(d) is not shape:
            raise Untranslatable(f"{d!r:.60} is not a {shape.__name__}", path)
        if key_read is None:
            return [None if x is None else inner(x) for x in d]
        return {key_read(k): None if v is None else inner(v) for k, v in d.items()}
    if key is None:
        return ListType(0, kind, element_required=not nullable), read, False
    return MapType(0, key[0], 0, kind, value_required=not nullable), read, False


def _timestamp(text: str) -> int:
    stamp = datetime.fromisoformat(text)  # 3.11: Z, offsets, 9 fraction digits (cut to 6); no offset: UTC
    return ((stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)) - _EPOCH) // timedelta(microseconds=1)


def _long(n: int | float) -> int:
    if not (n == int(n) and -2**63 <= n < 2**63):  # JSON's 1.0 is an integer too
        raise ValueError(n)
    return int(n)


# --- Avro: its JSON encoding (a union's value as {"branch": v}; bytes as code points 0-255) ---

# (type, logical type) -> Iceberg type, to microseconds (days for a date); the spec's
# timestamp-* is an instant (UTC), local-timestamp-* has no zone
_AVRO_TIMES: dict[tuple[str, object], tuple[IcebergType, int]] = {
    ("int", "date"): (DateType(), 1), ("int", "time-millis"): (TimeType(), 1000),
    ("long", "time-micros"): (TimeType(), 1),
    **{("long", f"{local}timestamp-{unit}"): (TimestampType() if local else TimestamptzType(), scale)
       for local in ("", "local-") for unit, scale in (("millis", 1000), ("micros", 1))}}
_AVRO_SIMPLE: dict[str, tuple[IcebergType, type | tuple[type, ...]]] = {
    "boolean": (BooleanType(), bool), "int": (IntegerType(), int), "long": (LongType(), int),
    "float": (FloatType(), (int, float)), "double": (DoubleType(), (int, float)), "string": (StringType(), str)}


def _avro(t: avro.AvroType, path: str, stack: tuple[int, ...]) -> Typed | None:
    if isinstance(t, avro.UnionOf):
        return _avro_union(t, path, stack)
    if isinstance(t, avro.Record):
        if id(t) in stack:
            raise Untranslatable(f"the recursive type {t.fullname} has no Iceberg type", path)
        fields = [(f.name, f.name, r, not r[2]) for f in t.fields
                  if (r := _avro(f.type, _join(path, f.name), stack + (id(t),))) is not None]
        return _struct(fields, path) if fields else None  # Parquet has no empty groups
    if isinstance(t, avro.Enum):
        return StringType(), _leaf(str, "a symbol", path), False
    if isinstance(t, (avro.ArrayOf, avro.MapOf)):
        if (inner := _avro(t.items if isinstance(t, avro.ArrayOf) else t.values, path + "[]", stack)) is None:
            raise Untranslatable("a collection of nulls has no Iceberg type", path)
        keys = (StringType(), _leaf(str, "a string", path), False) if isinstance(t, avro.MapOf) else None
        return _collection(keys, inner, path)
    assert isinstance(t, (avro.Primitive, avro.Fixed))
    logical, size = t.props.get("logicalType"), t.size if isinstance(t, avro.Fixed) else None
    if t.kind in ("bytes", "fixed") and logical == "decimal" and (decimal := _avro_decimal(t.props, path)):
        return decimal
    if t.kind in ("bytes", "fixed"):
        return (BinaryType() if size is None else FixedType(size)), _latin1(path, size), False
    if (t.kind, logical) in _AVRO_TIMES:
        kind, scale = _AVRO_TIMES[t.kind, logical]
        return kind, _leaf(int, "an integer in range", path, lambda n: _long(n * scale)), False
    if t.kind == "string" and logical == "uuid":
        return UUIDType(), _leaf(str, "a UUID", path, lambda s: uuid.UUID(s).bytes), False
    if t.kind == "null":
        return None
    kind, kinds = _AVRO_SIMPLE[t.kind]  # other logical types are their underlying type, as the spec says
    return kind, _leaf(kinds, f"a {t.kind}", path), False


def _avro_union(t: avro.UnionOf, path: str, stack: tuple[int, ...]) -> Typed | None:
    """[null, T] is an optional T; else, as Redpanda's, a struct of one optional field per
    branch, named by its place in the union."""
    nullable = any(isinstance(b, avro.Primitive) and b.kind == "null" for b in t.branches)
    typed = [(i, avro.type_key(b), r) for i, b in enumerate(t.branches) if (r := _avro(b, path, stack)) is not None]
    if not typed:
        return None
    one = len(typed) == 1
    branches = {name: (None if one else f"union_opt_{i}", r[1]) for i, name, r in typed}

    def read(d: Any) -> Any:
        if type(d) is dict and len(d) == 1 and (name := next(iter(d))) in branches:
            column, inner = branches[name]
            return inner(d[name]) if column is None else {column: inner(d[name])}
        raise Untranslatable(f'{d!r:.60} is not a union\'s value ({{"<branch>": value}})', path)
    kind = typed[0][2][0] if one else _struct([(f"union_opt_{i}", "", r, False) for i, _, r in typed], path)[0]
    return kind, read, nullable


def _avro_decimal(props: dict[str, object], path: str) -> Typed | None:
    precision, scale, raw = props.get("precision"), props.get("scale", 0), _latin1(path, None)
    if not (type(precision) is int and type(scale) is int and 0 <= scale <= precision and precision > 0):
        return None  # as Java Avro: an invalid decimal is its underlying type
    if precision > 38:
        raise Untranslatable(f"decimal({precision}, {scale}): Iceberg's decimals hold at most 38 digits", path)
    return DecimalType(precision, scale), lambda d: Decimal(int.from_bytes(raw(d), "big", signed=True)).scaleb(
        -scale, _EXACT), False


def _latin1(path: str, size: int | None) -> Read:
    def read(d: Any) -> bytes:
        if isinstance(d, str) and max(d, default="\0") <= "\xff" and (size is None or len(d) == size):
            return d.encode("latin-1")
        raise Untranslatable(f"{d!r:.60} is not {size or ''} bytes (code points 0-255)", path)
    return read


# --- Protobuf: its JSON mapping (json names; 64-bit integers and bytes as text) -------------

_T = FieldDescriptor
_PROTO: dict[int, tuple[IcebergType, type | tuple[type, ...], Read | None]] = {
    _T.TYPE_DOUBLE: (DoubleType(), (int, float, str), float), _T.TYPE_FLOAT: (FloatType(), (int, float, str), float),
    _T.TYPE_BOOL: (BooleanType(), bool, None), _T.TYPE_STRING: (StringType(), str, None),
    _T.TYPE_BYTES: (BinaryType(), str, base64.b64decode), _T.TYPE_ENUM: (StringType(), (str, int), str),
    _T.TYPE_INT32: (IntegerType(), int, None), _T.TYPE_SINT32: (IntegerType(), int, None),
    _T.TYPE_SFIXED32: (IntegerType(), int, None), _T.TYPE_UINT32: (LongType(), int, None),
    _T.TYPE_FIXED32: (LongType(), int, None), **{t: (LongType(), (str, int), lambda n: _long(int(n)))
                                                 for t in (_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64)},
    # lossless where Redpanda refuses them: Iceberg has no unsigned 64-bit type
    **{t: (DecimalType(20, 0), (str, int), lambda n: Decimal(int(n))) for t in (_T.TYPE_UINT64, _T.TYPE_FIXED64)}}
_WRAPPERS = {f"google.protobuf.{n}Value" for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32",
                                                  "Bool", "String", "Bytes")}
_SCHEMALESS = {f"google.protobuf.{n}" for n in ("Struct", "Value", "ListValue", "Any")}
_KEY_TEXT: dict[int, Read] = {_T.TYPE_STRING: str, _T.TYPE_BOOL: {"true": True, "false": False}.__getitem__}


def _message(desc: Descriptor, path: str, stack: tuple[str, ...]) -> Typed | None:
    """Every field optional, as Redpanda's: proto3 keeps no presence for most."""
    if desc.full_name in stack or len(stack) > MAX_DEPTH:
        raise Untranslatable(f"the recursive (or too deep) message {desc.full_name} has no Iceberg type", path)
    fields = [(fd.name, fd.json_name, r, False) for fd in desc.fields
              if (r := _proto_field(fd, _join(path, fd.name), stack + (desc.full_name,))) is not None]
    return _struct(fields, path) if fields else None


def _proto_field(fd: FieldDescriptor, path: str, stack: tuple[str, ...]) -> Typed | None:
    entry = fd.message_type if fd.type == _T.TYPE_MESSAGE else None
    if entry is not None and entry.GetOptions().map_entry:
        key_fd = entry.fields_by_name["key"]
        kind, _, convert = _PROTO[key_fd.type]
        as_text = _KEY_TEXT.get(key_fd.type, int)  # JSON's keys are text
        key = (kind, _leaf(str, "a map key", path, lambda k: convert(as_text(k)) if convert else as_text(k)), False)
        value = _proto_value(entry.fields_by_name["value"], path + "[]", stack)
        return None if value is None else _collection(key, (value[0], value[1], False), path)
    single = _proto_value(fd, path + "[]" if fd.is_repeated else path, stack)
    return single if single is None or not fd.is_repeated else _collection(None, (single[0], single[1], False), path)


def _proto_value(fd: FieldDescriptor, path: str, stack: tuple[str, ...]) -> Typed | None:
    message = fd.message_type
    if fd.type == _T.TYPE_GROUP:
        raise Untranslatable("a group has no Iceberg type", path)
    if message is None:
        kind, kinds, convert = _PROTO[fd.type]
        return kind, _leaf(kinds, f"a {kind}", path, convert), False
    name = message.full_name
    if name in _WRAPPERS:  # the JSON mapping writes the wrapped value bare
        return _proto_value(message.fields_by_name["value"], path, stack)
    if name == "google.protobuf.Timestamp":
        return TimestamptzType(), _leaf(str, "an RFC 3339 timestamp", path, _timestamp), True
    if name in ("google.protobuf.Duration", "google.protobuf.FieldMask"):  # as the JSON mapping writes them
        return StringType(), _leaf(str, "a string", path), True
    if name in _SCHEMALESS:
        raise Untranslatable(f"{name} holds any JSON: it has no Iceberg type", path)
    typed = _message(message, path, stack)
    return None if typed is None else (typed[0], typed[1], True)


# --- JSON Schema: the JSON data itself ------------------------------------------------------

def _json(node: js.Node, path: str, stack: tuple[int, ...], inherited: Any) -> Typed | None:
    if id(node) in stack or len(stack) > MAX_DEPTH:
        raise Untranslatable("a recursive (or too deep) schema has no Iceberg type", path)
    source = node.source if isinstance(node.source, dict) else inherited  # "type": [..]'s parts have none
    stack += (id(node),)
    if isinstance(node, js.RefNode) and node.target is not None:
        return _json(node.target, path, stack, None)
    if isinstance(node, js.CombinedNode) and node.criterion == "allOf":  # one object's ways ("type" and "enum")
        typed = [s for s in node.subschemas if not isinstance(s, (js.EnumNode, js.ConstNode, js.NotNode, js.EmptyNode,
                 js.ConditionalNode))] or [s for s in node.subschemas if isinstance(s, js.EnumNode)]
        if len(typed) != 1:
            raise Untranslatable("allOf of several schemas has no Iceberg type", path)
        return _json(typed[0], path, stack, source)
    if isinstance(node, js.CombinedNode):  # anyOf / oneOf: of one type, or null
        if len(others := [s for s in node.subschemas if not isinstance(s, js.NullNode)]) != 1:
            raise Untranslatable(f"{node.criterion} of several types has no Iceberg type", path)
        one = _json(others[0], path, stack, source)
        return None if one is None else (one[0], one[1], one[2] or len(others) < len(node.subschemas))
    if isinstance(node, js.ObjectNode) and node.properties:
        fields = [(name, name, r, name in node.required and not r[2]) for name, sub in node.properties.items()
                  if (r := _json(sub, _join(path, name), stack, None)) is not None]
        return _struct(fields, path) if fields else None
    if isinstance(node, js.ArrayNode) and node.all_items is not None:
        if (items := _json(node.all_items, path + "[]", stack, None)) is None:
            raise Untranslatable("an array of nulls has no Iceberg type", path)
        return _collection(None, items, path)
    fmt = source.get("format") if isinstance(source, dict) and isinstance(node, js.StringNode) else None
    if fmt in ("date-time", "date"):
        days: Read = lambda s: (date.fromisoformat(s) - _EPOCH.date()).days  # noqa: E731
        return (TimestamptzType(), _leaf(str, "an ISO 8601 date-time", path, _timestamp), False) \
            if fmt == "date-time" else (DateType(), _leaf(str, "an ISO 8601 date", path, days), False)
    if isinstance(node, js.NumberNode):
        return (LongType(), _leaf((int, float), "a long", path, _long), False) if node.requires_integer else \
            (DoubleType(), _leaf((int, float), "a number", path, float), False)
    if isinstance(node, js.StringNode) or isinstance(node, js.EnumNode) and all(type(v) is str for v in node.values) \
            or isinstance(node, js.ConstNode) and type(node.value) is str:
        return StringType(), _leaf(str, "a string", path), False
    if isinstance(node, (js.BooleanNode, js.NullNode)):
        return (BooleanType(), _leaf(bool, "a boolean", path), False) if isinstance(node, js.BooleanNode) else None
    raise Untranslatable(f"{type(node).__name__}: a schema without one type (an object without properties, "
                         "an array without one items schema, an enum of other than text...) has no Iceberg type", path)


# --- a batch as Arrow ----------------------------------------------------------------------

def schema_mode_table(rows: Sequence[Row], datums: Sequence[Any], schema: Schema, read: Read | None = None) -> pa.Table:
    """The rows as a table of `schema` (the table's current one): `kafka` as key_value_table
    builds it, `value` from each row's datum (None: null), the codec's with `read` (a
    translation's), else values a `read` made (for rows of several schema versions)."""
    if len(rows) != len(datums):
        raise ValueError(f"{len(rows)} rows but {len(datums)} values")
    values = []
    for i, d in enumerate(datums):
        try:
            values.append(d if read is None or d is None else read(d))
        except Untranslatable as e:
            raise Untranslatable(e.reason, e.path, i) from None
    arrow = schema_to_pyarrow(schema)
    value = _column(values, schema.find_field("value").field_type, arrow.field("value").type, "", int)
    return pa.Table.from_arrays([key_value_table(rows).column("kafka").combine_chunks(), value], schema=arrow)


def _column(values: list[Any], t: IcebergType, at: Any, path: str, row: Callable[[int], int]) -> Any:
    """One column (with its children) from plain values; `row` maps a place in it to its batch row."""
    mask = pa.array([v is None for v in values], pa.bool_()) if None in values else None
    if isinstance(t, StructType):
        children = []
        for f, af in zip(t.fields, at):
            column = [None if v is None else v.get(f.name) for v in values]
            _required(values if f.required else None, column, _join(path, f.name), row)
            children.append(_column(column, f.field_type, af.type, _join(path, f.name), row))
        return pa.StructArray.from_arrays(children, fields=list(at), mask=mask)
    if isinstance(t, (ListType, MapType)):
        items: list[Any] = []
        offsets = [0]
        for v in values:
            items.extend(() if v is None else v.items() if isinstance(t, MapType) else v)
            offsets.append(len(items))
        inner = (lambda j: row(bisect_right(offsets, j) - 1))
        if isinstance(t, ListType):
            _required(items if t.element_required else None, items, path + "[]", inner)
            element = _column(items, t.element_type, at.value_type, path + "[]", inner)
            return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), element, type=at, mask=mask)
        entries = [v for _, v in items]
        _required(entries if t.value_required else None, entries, path + "[]", inner)
        keys = _column([k for k, _ in items], t.key_type, at.key_type, path, inner)
        return pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), keys,
                                       _column(entries, t.value_type, at.item_type, path + "[]", inner),
                                       type=at, mask=mask)
    storage = at.storage_type if isinstance(at, pa.BaseExtensionType) else at  # a uuid: its 16 bytes
    try:
        array = pa.array(values, type=storage)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        for i, v in enumerate(values):  # which one, once, on the way to failing
            try:
                pa.array([v], type=storage)
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                raise Untranslatable(f"{v!r:.60} does not fit {t}", path, row(i)) from None
        raise
    return pa.ExtensionArray.from_storage(at, array) if storage is not at else array


def _required(parents: list[Any] | None, column: list[Any], path: str, row: Callable[[int], int]) -> None:
    """A null in a required field (or item) whose parent is not null does not fit; no parents: no check."""
    if parents is not None and None in column:
        for i, v in enumerate(column):
            if v is None and (parents is column or parents[i] is not None):
                raise Untranslatable("a required field (or item) is missing or null", path, row(i))

