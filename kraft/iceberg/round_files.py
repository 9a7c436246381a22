"""What a partition's round writes: the Parquet data files of its rows in the topic's
table, and of the records that cannot be rows in the topic's dead-letter table
`<topic>~dlq` (the key_value layout and the reason), never dropped and never holding the
partition up. In a schema mode each record's value is decoded with its registry schema
(value_rows.py); a schema the table does not have yet evolves it first (new columns,
optional, so rows written before read them as null), a change the table cannot take
sends that schema's records to the dead-letter table. Runs on a worker thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # ships no types
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import ListType, MapType, NestedField, StringType, StructType

from kraft.iceberg.catalog import KraftCatalog, TableMoved
from kraft.iceberg.layout import KEY_VALUE_SCHEMA, Row, key_value_table, parse_partition_spec
from kraft.iceberg.names import DLQ
from kraft.config.iceberg_mode_text import parse_mode
from kraft.iceberg.value_rows import decode_values
from kraft.iceberg.value_schema import Untranslatable, schema_mode_table, table_schema

MODE = "kraft.iceberg.mode"  # table property: the mode the table was made in
KEY_VALUE = "key_value"
DLQ_SPEC = "(hour(kafka.timestamp))"
MAX_RETRIES = 8  # evolutions or batch rebuilds of one round (others' commits, records refused)


class ModeChanged(ValueError):
    """The table was made in another mode than the topic's iceberg.mode says now."""


@dataclass
class RoundFiles:
    table: Table
    files: list[DataFile]
    dlq: Table | None = None
    dlq_files: list[DataFile] | None = None
    refused: int = 0  # records sent to the dead-letter table


def round_files(catalog: KraftCatalog, topic: str, mode: str, spec_text: str, rows: Sequence[Any],
                registry: Any = None, partition: int | None = None) -> RoundFiles:
    """`mode`: the topic's iceberg.mode text. `rows`: Rows, or in mode key_value with
    `partition` given, the log's records. `registry`: (state, parser) of the node's
    registry, for the schema modes."""
    chosen = parse_mode(mode)
    mode = chosen.name  # what the table keeps; the options only say where values' schemas come from
    if mode == KEY_VALUE:
        table = ensure_table(catalog, topic, mode, KEY_VALUE_SCHEMA, spec_text)
        return RoundFiles(table, _files(table, key_value_table(rows, partition)) if rows else [])
    state, parser = registry
    decoded = decode_values(list(rows), chosen, topic, state, parser)
    failed = list(decoded.failed)
    first = next(iter(decoded.structs.values()), None)
    table = ensure_table(catalog, topic, mode, table_schema(optional(first)) if first is not None else _no_value(),
                         spec_text)
    for key, struct in decoded.structs.items():
        table, why = _evolved(catalog, topic, table, struct)
        if why is not None:  # this schema's records go to the dead-letter table
            keep = [i for i, k in enumerate(decoded.keys) if k != key]
            failed += [(decoded.rows[i], why) for i, k in enumerate(decoded.keys) if k == key]
            decoded.rows = [decoded.rows[i] for i in keep]
            decoded.values = [decoded.values[i] for i in keep]
            decoded.keys = [decoded.keys[i] for i in keep]
    batch = None
    for _ in range(MAX_RETRIES * 8):
        try:
            batch = schema_mode_table(decoded.rows, decoded.values, table.schema())
            break
        except Untranslatable as exc:  # one record's value does not fit: it goes, the rest are rows
            at = exc.row if exc.row is not None and 0 <= exc.row < len(decoded.rows) else None
            if at is None:
                failed += [(r, str(exc)) for r in decoded.rows]
                decoded.rows, decoded.values = [], []
                continue
            failed.append((decoded.rows.pop(at), f"{exc.reason} (at {exc.path or 'value'})"))
            decoded.values.pop(at)
    out = RoundFiles(table, _files(table, batch) if batch is not None and batch.num_rows else [])
    if batch is None:
        failed += [(r, "the round's values could not be made a table") for r in decoded.rows]
    if failed:
        out.dlq = _dead_letters(catalog, topic + DLQ, mode)
        dead = key_value_table([r for r, _ in failed]).append_column(
            pa.field("reason", pa.large_string(), nullable=True, metadata={b"PARQUET:field_id": b"11"}),
            pa.array([why for _, why in failed], pa.large_string()))
        out.dlq_files, out.refused = _files(out.dlq, dead), len(failed)
    return out


def ensure_table(catalog: KraftCatalog, name: str, mode: str, schema: Schema, spec_text: str) -> Table:
    """The table, made when it is not there yet (by whichever translator gets there first)."""
    table = catalog.load(name)
    if table is None:
        try:
            catalog.create(name, schema, parse_partition_spec(spec_text, schema), {MODE: mode})
        except TableMoved:
            pass  # made by another partition's translator
        table = catalog.load(name)
        if table is None:
            raise TableMoved(f"{name}: the table is not in this node's metadata yet")
    made_in = table.metadata.properties.get(MODE, KEY_VALUE)
    if made_in != mode and not name.endswith(DLQ):
        raise ModeChanged(f"table {name} was made in mode {made_in}, the topic's iceberg.mode is now {mode}: "
                          "a table keeps its mode (set it back, or make the topic again)")
    return table


def _dead_letters(catalog: KraftCatalog, name: str, mode: str) -> Table:
    """The dead-letter table: the key_value layout and a `reason` column. Made as key_value
    and then given the column, so it takes id 11 after the layout's (a new table numbers
    its columns afresh, breadth first, and the layout's ids would move)."""
    table = ensure_table(catalog, name, mode, KEY_VALUE_SCHEMA, DLQ_SPEC)
    for _ in range(MAX_RETRIES):
        if _has(table, "reason"):
            return table
        try:
            with table.update_schema() as update:
                update.add_column("reason", StringType(), doc="why the record is not a row of the topic's table")
        except TableMoved:
            pass
        table = catalog.load(name) or table
    if not _has(table, "reason"):
        raise TableMoved(f"{name}: the table kept moving; the next round retries")
    return table


def _has(table: Table, column: str) -> bool:
    return any(f.name == column for f in table.schema().fields)


def optional(struct: StructType) -> StructType:
    """Every field optional, nested ones too: a table takes new columns only as optional
    ones, and a record of an older schema has no value for them."""
    return StructType(*(NestedField(f.field_id, f.name, _optional_type(f.field_type), required=False, doc=f.doc)
                        for f in struct.fields))


def _optional_type(t: Any) -> Any:
    if isinstance(t, StructType):
        return optional(t)
    if isinstance(t, ListType):
        return ListType(t.element_id, _optional_type(t.element_type), element_required=t.element_required)
    if isinstance(t, MapType):
        return MapType(t.key_id, t.key_type, t.value_id, _optional_type(t.value_type), value_required=t.value_required)
    return t


def _no_value() -> Schema:
    """A schema mode's table before any record decoded: the metadata columns alone."""
    return Schema(KEY_VALUE_SCHEMA.find_field("kafka"))


def _evolved(catalog: KraftCatalog, topic: str, table: Table, struct: StructType) -> tuple[Table, str | None]:
    """The table with `struct`'s columns (added when missing), or why it cannot take them."""
    wanted = table_schema(optional(struct))
    for _ in range(MAX_RETRIES):
        try:
            with table.update_schema() as update:
                update.union_by_name(wanted)
        except TableMoved:
            table = catalog.load(topic) or table  # another translator's change came first
            continue
        except (ValueError, TypeError) as exc:  # a change Iceberg refuses (int to string, say)
            return table, f"the table cannot take this schema's change: {exc}"
        return catalog.load(topic) or table, None
    raise TableMoved(f"{topic}: the table kept moving while its schema evolved; the next round retries")


def _files(table: Table, batch: pa.Table) -> list[DataFile]:
    return list(_dataframe_to_data_files(table.metadata, batch, table.io, uuid.uuid4()))
