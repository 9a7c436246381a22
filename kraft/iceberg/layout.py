"""The key_value layout of an Iceberg topic: each Kafka record becomes one row of a `kafka` struct
(partition, offset, timestamp, headers, key) and the raw `value`, as Redpanda's Iceberg Topics
key_value mode has it (there the struct is `redpanda`); and the topic config's partition spec, text
like `(hour(kafka.timestamp), bucket(4, kafka.key))`, parsed into a pyiceberg PartitionSpec. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import pyarrow as pa  # type: ignore[import-untyped]  # ships no types
from pyiceberg.partitioning import PARTITION_FIELD_ID_START, UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (BucketTransform, DayTransform, HourTransform, IdentityTransform, MonthTransform,
                                  Transform, TruncateTransform, YearTransform)
from kraft.config.iceberg_spec_text import DEFAULT_PARTITION_SPEC, SpecError, _show, parse_terms
from pyiceberg.types import (BinaryType, IntegerType, ListType, LongType, NestedField, StringType, StructType,
                             TimestamptzType)

# Field ids are part of the table's identity (data files name columns by id): never renumber.
# They are numbered as Iceberg numbers a new table's columns (breadth first), so creating a
# table keeps them and KEY_VALUE_ARROW's ids are the table's.
KEY_VALUE_SCHEMA = Schema(
    NestedField(1, "kafka", StructType(
        NestedField(3, "partition", IntegerType(), required=True),
        NestedField(4, "offset", LongType(), required=True),
        NestedField(5, "timestamp", TimestamptzType(), required=True),
        NestedField(6, "headers", ListType(8, StructType(
            NestedField(9, "key", StringType(), required=False),
            NestedField(10, "value", BinaryType(), required=False),
        ), element_required=True), required=False),
        NestedField(7, "key", BinaryType(), required=False),
    ), required=True),
    NestedField(2, "value", BinaryType(), required=False),
    schema_id=0,
)


def _field(name: str, type_: pa.DataType, nullable: bool, field_id: int) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={b"PARQUET:field_id": str(field_id).encode()})


# Spelled out rather than derived so pyiceberg's defaults can't change what we write; the
# large types (64-bit offsets) are what pyiceberg reads back, and a batch of values may pass 2 GiB.
_HEADER = pa.struct([_field("key", pa.large_string(), True, 9), _field("value", pa.large_binary(), True, 10)])
_HEADERS = pa.large_list(_field("element", _HEADER, False, 8))
_KAFKA = pa.struct([
    _field("partition", pa.int32(), False, 3),
    _field("offset", pa.int64(), False, 4),
    _field("timestamp", pa.timestamp("us", tz="UTC"), False, 5),
    _field("headers", _HEADERS, True, 6),
    _field("key", pa.large_binary(), True, 7),
])
KEY_VALUE_ARROW = pa.schema([_field("kafka", _KAFKA, False, 1), _field("value", pa.large_binary(), True, 2)])


class Row(NamedTuple):
    """One record as a row. A named tuple: a round makes thousands, and a frozen
    dataclass's constructor cost most of a key_value round."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


def key_value_table(rows: Sequence[Any], partition: int | None = None) -> pa.Table:
    """The rows as an Arrow table of KEY_VALUE_ARROW, built a column at a time (one
    comprehension per column: a round holds thousands of rows). `rows`: Rows, or with
    `partition` given, the log's records themselves (no object made per record)."""
    partitions = [r.partition for r in rows] if partition is None else [partition] * len(rows)
    offsets = [r.offset for r in rows]
    stamps = [r.timestamp_ms * 1000 for r in rows]
    keys = [r.key for r in rows]
    values = [r.value for r in rows]
    header_keys: list[str] = []
    header_values: list[bytes | None] = []
    if any(r.headers for r in rows):  # most records have none
        ends = [0]  # where each row's headers end in the flat header columns
        for r in rows:
            header_keys.extend(k for k, _ in r.headers)
            header_values.extend(v for _, v in r.headers)
            ends.append(len(header_keys))
    else:
        ends = [0] * (len(rows) + 1)
    flat = pa.StructArray.from_arrays(
        [pa.array(header_keys, pa.large_string()), pa.array(header_values, pa.large_binary())], fields=list(_HEADER))
    headers = pa.LargeListArray.from_arrays(pa.array(ends, pa.int64()), flat, type=_HEADERS)
    kafka = pa.StructArray.from_arrays([
        pa.array(partitions, pa.int32()),
        pa.array(offsets, pa.int64()),
        pa.array(stamps, pa.timestamp("us", tz="UTC")),
        headers,
        pa.array(keys, pa.large_binary()),
    ], fields=list(_KAFKA))
    return pa.Table.from_arrays([kafka, pa.array(values, pa.large_binary())], schema=KEY_VALUE_ARROW)


# --- partition specs ---------------------------------------------------------------------

_TIME = {"hour": HourTransform, "day": DayTransform, "month": MonthTransform, "year": YearTransform}
_NEEDS = {"identity": "a primitive column", "hour": "a timestamp column", "day": "a timestamp or date column",
          "month": "a timestamp or date column", "year": "a timestamp or date column",
          "bucket": "a primitive column other than boolean, float or double",
          "truncate": "a string, binary, int, long or decimal column"}


def _columns(schema: Schema) -> str:
    """The dotted paths a spec may name (primitives reachable through structs alone), for messages."""
    out: list[str] = []

    def walk(struct: StructType, prefix: str) -> None:
        for f in struct.fields:
            if isinstance(f.field_type, StructType):
                walk(f.field_type, prefix + f.name + ".")
            elif f.field_type.is_primitive:
                out.append(prefix + f.name)
    walk(schema.as_struct(), "")
    return ", ".join(out[:12]) + (", ..." if len(out) > 12 else "")


def _resolve(path: str, schema: Schema, k: int) -> NestedField:
    parts = path.split(".")
    if "" in parts:
        raise SpecError(f"term {k}: {_show(path)} is not a column path (dotted names, as in kafka.timestamp)")
    struct, found = schema.as_struct(), None
    for i, part in enumerate(parts):
        found = next((f for f in struct.fields if f.name == part), None)
        if found is None:
            raise SpecError(f"term {k}: unknown column {_show(path)}; columns are {_columns(schema)}")
        if i < len(parts) - 1:
            if not isinstance(found.field_type, StructType):
                raise SpecError(f"term {k}: {'.'.join(parts[:i + 1])} is a {found.field_type}, not a struct; "
                                "a partition source is a primitive column outside lists and maps")
            struct = found.field_type
    assert found is not None
    if not found.field_type.is_primitive:
        raise SpecError(f"term {k}: {path} is a {found.field_type}, not a primitive column; "
                        f"partition by one of {_columns(schema)}")
    return found


def _transform(name: str, arg: int, column: str) -> tuple[Transform[Any, Any], str]:
    """The transform and its partition field's name, named as pyiceberg's UpdateSpec names them:
    the dotted source path, then _hour (_day, ...), _bucket_N or _trunc_N; identity keeps the path."""
    if name == "bucket":
        return BucketTransform(num_buckets=arg), f"{column}_bucket_{arg}"
    if name == "truncate":
        return TruncateTransform(width=arg), f"{column}_trunc_{arg}"
    if name in _TIME:
        return _TIME[name](), f"{column}_{name}"
    return IdentityTransform(), column


def parse_partition_spec(text: str, schema: Schema = KEY_VALUE_SCHEMA) -> PartitionSpec:
    """The PartitionSpec that `text` (the topic config's form) names over `schema`; SpecError if none."""
    fields: list[PartitionField] = []
    names: dict[str, int] = {}
    timed: dict[int, int] = {}  # source id -> term with a time transform on it
    for k, (name, arg, column) in enumerate(parse_terms(text), start=1):
        source = _resolve(column, schema, k)
        transform, field_name = _transform(name, arg, column)
        shown = column if name == "identity" else f"{name}({f'{arg}, ' if arg else ''}{column})"
        if not transform.can_transform(source.field_type):
            raise SpecError(f"term {k}: {shown} needs {_NEEDS[name]}, but {column} is {source.field_type}")
        # Iceberg rejects two time transforms of one column (hour implies day): so do we, early.
        if name in _TIME and timed.setdefault(source.field_id, k) != k:
            raise SpecError(f"term {k}: {shown} is redundant with term {timed[source.field_id]}; "
                            "use one time transform per column")
        if field_name in names:
            raise SpecError(f"term {k}: {shown} repeats term {names[field_name]}")
        names[field_name] = k
        fields.append(PartitionField(source_id=source.field_id, field_id=PARTITION_FIELD_ID_START + k - 1,
                                     transform=transform, name=field_name))
    return PartitionSpec(*fields, spec_id=0) if fields else UNPARTITIONED_PARTITION_SPEC


def validate_partition_spec(text: str, schema: Schema = KEY_VALUE_SCHEMA) -> str | None:
    """None when `text` is a usable partition spec, else the reason (for topic-config checks)."""
    try:
        parse_partition_spec(text, schema)
    except SpecError as e:
        return str(e)
    return None
