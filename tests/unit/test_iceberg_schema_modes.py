"""Iceberg topics' schema modes through a real table (pyiceberg, Parquet in a temporary
warehouse) and a real registry state: values become columns of their registry schema, a
compatible new version adds a column older rows read as null, and every record that
cannot be a row lands in the dead-letter table `<topic>~dlq` with the reason, once."""

from __future__ import annotations

import io
import json

import pytest

pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")
fastavro = pytest.importorskip("fastavro", reason="fastavro writes the Avro test data")

from registry_fixtures import Registry  # noqa: E402

from kraft.iceberg.warehouse import Warehouse  # noqa: E402
from kraft.iceberg.catalog import KraftCatalog, TableMoved  # noqa: E402
from kraft.iceberg.layout import Row  # noqa: E402
from kraft.iceberg.round_files import ModeChanged  # noqa: E402
from kraft.iceberg.translator import PartitionTranslation, TableCommitter, translated  # noqa: E402
from kraft.schemas.format_table import FORMATS  # noqa: E402
from kraft.schemas.wire_format import frame  # noqa: E402

V1 = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"},
                                                     {"name": "sku", "type": "string"}]}
V2 = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}, {"name": "sku", "type": "string"},
                                                     {"name": "qty", "type": ["null", "int"], "default": None}]}


class Pointers:
    def __init__(self):
        self.topic_ids = {"orders": "t1"}
        self.iceberg_tables: dict[str, str] = {}

    def commit(self, topic, topic_id, based_on, location):
        if self.iceberg_tables.get(topic_id) != based_on:
            raise TableMoved("moved on")
        self.iceberg_tables[topic_id] = location


def avro(schema, datum) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), datum)
    return out.getvalue()


def row(offset, value) -> Row:
    return Row(0, offset, 1_700_000_000_000 + offset, None, value, ())


@pytest.fixture
def world(tmp_path):
    pointers, registry = Pointers(), Registry(FORMATS)
    catalog = KraftCatalog(Warehouse((tmp_path / "w").as_uri()), lambda: pointers, pointers.commit)
    return pointers, registry, catalog


def translate(catalog, registry, mode, rows):
    p = PartitionTranslation(catalog, "orders", 0, mode, "(hour(kafka.timestamp))")
    start = p.start()
    first = rows[0].offset
    assert (start.offset or 0) == first
    p.stage(start, rows, rows[-1].offset + 1, (registry.state, registry.parser))
    assert TableCommitter(catalog, "orders").commit() >= 1


def table_rows(catalog, name="orders"):
    return sorted(catalog.load(name).scan().to_arrow().to_pylist(), key=lambda r: r["kafka"]["offset"])


def test_id_prefix_values_become_columns_and_a_new_version_adds_one(world):
    pointers, registry, catalog = world
    v1 = registry.register("orders-value", json.dumps(V1))["id"]
    translate(catalog, registry, "value_schema_id_prefix", [row(0, frame(v1, avro(V1, {"id": 1, "sku": "a"}))),
                                                            row(1, None)])  # a tombstone: a null value
    v2 = registry.register("orders-value", json.dumps(V2))["id"]
    translate(catalog, registry, "value_schema_id_prefix", [row(2, frame(v2, avro(V2, {"id": 2, "sku": "b", "qty": 3}))),
                                                            row(3, frame(v1, avro(V1, {"id": 3, "sku": "c"})))])
    got = [(r["kafka"]["offset"], r["value"]) for r in table_rows(catalog)]
    assert got == [(0, {"id": 1, "sku": "a", "qty": None}), (1, None), (2, {"id": 2, "sku": "b", "qty": 3}),
                   (3, {"id": 3, "sku": "c", "qty": None})]
    assert catalog.load("orders~dlq") is None  # nothing refused: no dead-letter table


def test_records_that_cannot_be_rows_go_to_the_dead_letter_table_with_the_reason(world):
    pointers, registry, catalog = world
    v1 = registry.register("orders-value", json.dumps(V1))["id"]
    translate(catalog, registry, "value_schema_id_prefix", [
        row(0, frame(v1, avro(V1, {"id": 1, "sku": "a"}))),
        row(1, b"not framed at all"),
        row(2, frame(9999, b"\x02")),
        row(3, frame(v1, b"\xff")),  # not a record of its schema
        row(4, frame(v1, avro(V1, {"id": 5, "sku": "e"})))])
    assert [r["kafka"]["offset"] for r in table_rows(catalog)] == [0, 4]
    dead = table_rows(catalog, "orders~dlq")
    assert [(r["kafka"]["offset"], r["value"]) for r in dead] == [(1, b"not framed at all"), (2, frame(9999, b"\x02")),
                                                                 (3, frame(v1, b"\xff"))]
    reasons = [r["reason"] for r in dead]
    assert "no schema framing" in reasons[0] and "9999" in reasons[1] and "does not decode" in reasons[2], reasons
    assert translated(catalog.load("orders")) == {0: 5} == translated(catalog.load("orders~dlq"))
    assert sorted(pointers.iceberg_tables) == ["t1", "t1~dlq"]


def test_latest_mode_reads_unframed_values_with_the_subjects_latest_schema(world):
    pointers, registry, catalog = world
    registry.register("orders-value", json.dumps(V1))
    registry.register("orders-value", json.dumps(V2))
    translate(catalog, registry, "value_schema_latest", [row(0, avro(V2, {"id": 7, "sku": "x", "qty": None}))])
    assert [r["value"] for r in table_rows(catalog)] == [{"id": 7, "sku": "x", "qty": None}]


TWO_MESSAGES = """
syntax = "proto3";
package shop;
message Order { int64 id = 1; string sku = 2; }
message Refund { int64 order_id = 1; double amount = 2; }
"""


def unframed_proto(registry, subject, message, data) -> bytes:
    """A Protobuf message as a plain protobuf serializer writes it: no framing, no indexes."""
    from google.protobuf import json_format
    parsed = registry.parser.parse_record(registry.state, registry.state.latest(subject))
    out = parsed.message_class(message)()
    json_format.ParseDict(data, out)
    return out.SerializeToString()


def test_latest_mode_takes_its_subject_and_protobuf_message_from_the_mode(world):
    pointers, registry, catalog = world
    registry.register("refunds", TWO_MESSAGES, "PROTOBUF")
    registry.register("orders-value", json.dumps(V1))  # the default subject: not the one named
    value = unframed_proto(registry, "refunds", "shop.Refund", {"orderId": "9", "amount": 2.5})
    translate(catalog, registry, "value_schema_latest:subject=refunds,protobuf_name=shop.Refund", [row(0, value)])
    assert [r["value"] for r in table_rows(catalog)] == [{"order_id": 9, "amount": 2.5}]


def test_latest_mode_reads_a_protobuf_value_as_the_schemas_first_message_unless_named(world):
    pointers, registry, catalog = world
    registry.register("orders-value", TWO_MESSAGES, "PROTOBUF")
    value = unframed_proto(registry, "orders-value", "shop.Order", {"id": "3", "sku": "s3"})
    translate(catalog, registry, "value_schema_latest", [row(0, value)])
    assert [r["value"] for r in table_rows(catalog)] == [{"id": 3, "sku": "s3"}]
    translate(catalog, registry, "value_schema_latest:protobuf_name=shop.Nope", [row(1, value)])
    (dead,) = catalog.load("orders~dlq").scan().to_arrow().to_pylist()
    assert "no message 'shop.Nope'" in dead["reason"], dead


def test_a_table_keeps_the_mode_it_was_made_in(world):
    pointers, registry, catalog = world
    translate(catalog, registry, "key_value", [row(0, b"raw")])
    p = PartitionTranslation(catalog, "orders", 0, "value_schema_latest", "(hour(kafka.timestamp))")
    with pytest.raises(ModeChanged, match="made in mode key_value"):
        p.stage(p.start(), [row(1, b"x")], 2, (registry.state, registry.parser))
