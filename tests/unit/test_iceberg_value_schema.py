"""kraft.iceberg.value_schema: registered schemas (parsed by the registry's own formats) as
Iceberg types, and records written and decoded by the project's codecs as Arrow batches
that Parquet and a pyiceberg table take, through a schema evolution."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow is an Iceberg topics dependency")
pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")

import pyarrow.parquet as pq  # noqa: E402
from pyiceberg.catalog import MetastoreCatalog  # noqa: E402
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError  # noqa: E402
from pyiceberg.io.pyarrow import schema_to_pyarrow  # noqa: E402
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC  # noqa: E402
from pyiceberg.serializers import FromInputFile  # noqa: E402
from pyiceberg.table import CommitTableResponse, Table  # noqa: E402
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER  # noqa: E402
from pyiceberg.types import ListType, MapType, StructType  # noqa: E402

from kraft.iceberg.layout import KEY_VALUE_SCHEMA, Row  # noqa: E402
from kraft.iceberg.value_schema import (  # noqa: E402
    Untranslatable, schema_mode_table, table_schema, value_struct, value_translation,
)
from kraft.schemas.format_table import FORMATS  # noqa: E402
from kraft.schemas.record_codec_table import codec_for  # noqa: E402

UTC = timezone.utc


def parse(schema_type, text):
    return FORMATS[schema_type].parse(text if isinstance(text, str) else json.dumps(text), {})


def plain(t):
    """A type without its ids: {name: (type, required)}, ("list", item, required), ("map", ...)."""
    if isinstance(t, StructType):
        return {f.name: (plain(f.field_type), f.required) for f in t.fields}
    if isinstance(t, ListType):
        return ("list", plain(t.element_type), t.element_required)
    if isinstance(t, MapType):
        return ("map", plain(t.key_type), plain(t.value_type), t.value_required)
    return str(t)


def ids(t):
    found = []
    for f in t.fields:
        found.append(f.field_id)
        inner = f.field_type
        while isinstance(inner, (ListType, MapType)):
            found += [inner.element_id] if isinstance(inner, ListType) else [inner.key_id, inner.value_id]
            inner = inner.element_type if isinstance(inner, ListType) else inner.value_type
        if isinstance(inner, StructType):
            found += ids(inner)
    return found


def rows(count, first=0):
    return [Row(0, first + i, 1_700_000_000_000 + i, b"k%d" % i, b"raw", (("h", b"v"),)) for i in range(count)]


def round_trip(schema_type, schema, data, tmp_path, message=None):
    """Each datum encoded and decoded by the project's codec, as a batch of the schema's
    table, written to Parquet and read back: the values read."""
    parsed = parse(schema_type, schema)
    codec = codec_for(schema_type, parsed, {})
    translation = value_translation(schema_type, parsed, message)
    iceberg = table_schema(translation.struct)
    batch = schema_mode_table(rows(len(data)), [codec.decode(codec.encode(d)) for d in data], iceberg,
                              translation.read)
    assert batch.schema.equals(schema_to_pyarrow(iceberg), check_metadata=True)
    pq.write_table(batch, tmp_path / "batch.parquet")
    back = pq.read_table(tmp_path / "batch.parquet")
    assert back.column("kafka").to_pylist() == batch.column("kafka").to_pylist()
    assert [k["offset"] for k in back.column("kafka").to_pylist()] == list(range(len(data)))
    return back.column("value").to_pylist()


# --- Avro ------------------------------------------------------------------------------------

ADDRESS = {"type": "record", "name": "Address", "fields": [
    {"name": "street", "type": "string"}, {"name": "zip", "type": ["null", "int"], "default": None}]}
ORDER = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "flag", "type": "boolean"}, {"name": "count", "type": "int"}, {"name": "total", "type": "long"},
    {"name": "ratio", "type": "float"}, {"name": "amount", "type": "double"}, {"name": "name", "type": "string"},
    {"name": "blob", "type": "bytes"}, {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "DONE"]}},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "choice", "type": ["null", "int", "string"], "default": None},
    {"name": "address", "type": ADDRESS},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "others", "type": {"type": "array", "items": "Address"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
]}
ADDRESS_TYPE = {"street": ("string", True), "zip": ("int", False)}
ORDER_TYPE = {
    "flag": ("boolean", True), "count": ("int", True), "total": ("long", True), "ratio": ("float", True),
    "amount": ("double", True), "name": ("string", True), "blob": ("binary", True), "digest": ("fixed[4]", True),
    "status": ("string", True), "note": ("string", False),
    "choice": ({"union_opt_1": ("int", False), "union_opt_2": ("string", False)}, False),
    "address": (ADDRESS_TYPE, True), "tags": (("list", "string", True), True),
    "attrs": (("map", "string", "long", True), True), "others": (("list", ADDRESS_TYPE, True), True),
    "day": ("date", True), "at": ("timestamptz", True), "local": ("timestamp", True),
    "price": ("decimal(9, 2)", True), "id": ("uuid", True)}
UUID_TEXT = "123e4567-e89b-12d3-a456-426614174000"


def order(n, **changes):
    """An Order in Avro's JSON encoding (what the REST door takes)."""
    datum = {
        "flag": n % 2 == 0, "count": n, "total": 2**40 + n, "ratio": 0.5, "amount": 1.25 * n, "name": f"o{n}",
        "blob": "\u0000\u00ff", "digest": "abcd", "status": "DONE", "note": {"string": "fragile"} if n else None,
        "choice": [{"int": 7}, {"string": "seven"}, None][n % 3], "address": {"street": "Main", "zip": {"int": 1000 + n}},
        "tags": ["a", "b"][:n], "attrs": {"x": n}, "others": [{"street": "Side", "zip": None}],
        "day": 19_000 + n, "at": 1_700_000_000_123, "local": 5, "price": "\u0001\u0000", "id": UUID_TEXT}
    return datum | changes


def test_an_avro_record_of_every_type_translates_as_redpanda_types_it():
    struct = value_struct("AVRO", parse("AVRO", ORDER))
    assert plain(struct) == ORDER_TYPE
    assert sorted(ids(struct)) == list(range(1, len(ids(struct)) + 1))  # a new table's numbering


def test_the_table_schema_is_the_kafka_struct_then_the_value():
    schema = table_schema(value_struct("AVRO", parse("AVRO", ORDER)))
    assert schema.find_field("kafka") == KEY_VALUE_SCHEMA.find_field("kafka")
    value = schema.find_field("value")
    assert (value.field_id, value.required, plain(value.field_type)) == (2, False, ORDER_TYPE)
    every = [f.field_id for f in schema.find_field("kafka").field_type.fields] + ids(value.field_type)
    assert len(set(every)) == len(every) and min(ids(value.field_type)) == 11


def test_avro_records_round_trip_through_parquet(tmp_path):
    got = round_trip("AVRO", ORDER, [order(0), order(1), order(2)], tmp_path)
    assert got[1] == {
        "flag": False, "count": 1, "total": 2**40 + 1, "ratio": 0.5, "amount": 1.25, "name": "o1",
        "blob": b"\x00\xff", "digest": b"abcd", "status": "DONE", "note": "fragile",
        "choice": {"union_opt_1": None, "union_opt_2": "seven"}, "address": {"street": "Main", "zip": 1001},
        "tags": ["a"], "attrs": [("x", 1)], "others": [{"street": "Side", "zip": None}],
        "day": date(2022, 1, 9), "at": datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
        "local": datetime(1970, 1, 1, 0, 0, 0, 5), "price": Decimal("2.56"), "id": UUID(UUID_TEXT)}
    assert got[0]["note"] is None and got[0]["tags"] == [] and got[0]["choice"]["union_opt_1"] == 7
    assert got[2]["choice"] is None


def test_a_bare_avro_value_is_the_one_field_of_the_struct(tmp_path):
    assert plain(value_struct("AVRO", parse("AVRO", '"string"'))) == {"root": ("string", False)}
    assert round_trip("AVRO", '"string"', ["x", ""], tmp_path) == [{"root": "x"}, {"root": ""}]
    nullable = ["null", ORDER]  # a value that may be null is the record's struct: the column is optional
    assert plain(value_struct("AVRO", parse("AVRO", nullable))) == ORDER_TYPE


def test_a_null_value_is_a_null_struct_and_a_batch_may_be_empty():
    translation = value_translation("AVRO", parse("AVRO", ORDER))
    schema = table_schema(translation.struct)
    batch = schema_mode_table(rows(1), [None], schema, translation.read)  # a tombstone
    assert batch.column("value").to_pylist() == [None] and batch.column("kafka").to_pylist()[0]["key"] == b"k0"
    assert schema_mode_table([], [], schema).num_rows == 0
    assert translation.read(None) is None


def test_a_recursive_avro_record_is_untranslatable():
    node = {"type": "record", "name": "Node", "fields": [
        {"name": "label", "type": "string"}, {"name": "next", "type": ["null", "Node"], "default": None}]}
    with pytest.raises(Untranslatable, match="recursive type Node") as raised:
        value_struct("AVRO", parse("AVRO", node))
    assert raised.value.path == "next"


def test_a_decimal_wider_than_iceberg_holds_is_untranslatable():
    wide = {"type": "record", "name": "W", "fields": [
        {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 40, "scale": 2}}]}
    with pytest.raises(Untranslatable, match="38 digits"):
        value_struct("AVRO", parse("AVRO", wide))


def test_a_datum_without_a_required_field_names_the_field_and_the_row():
    translation = value_translation("AVRO", parse("AVRO", ORDER))
    schema = table_schema(translation.struct)
    codec = codec_for("AVRO", parse("AVRO", ORDER), {})
    good = codec.decode(codec.encode(order(1)))
    broken = json.loads(json.dumps(good))
    del broken["address"]["street"]
    with pytest.raises(Untranslatable, match=r"address\.street: a required field") as raised:
        schema_mode_table(rows(2), [good, broken], schema, translation.read)
    assert (raised.value.path, raised.value.row) == ("address.street", 1)
    with pytest.raises(Untranslatable) as raised:
        schema_mode_table(rows(1), [good | {"count": "many"}], schema, translation.read)
    assert (raised.value.path, raised.value.row) == ("count", 0)
    with pytest.raises(Untranslatable, match="union"):
        translation.read(good | {"note": "unwrapped"})


# --- an evolution through a real table ----------------------------------------------------------

class DictCatalog(MetastoreCatalog):
    """Tables by name in a dict; metadata and data under the warehouse."""

    def __init__(self, warehouse):
        super().__init__("test", warehouse=warehouse)
        self.pointers = {}

    def create_table(self, identifier, schema, location=None, partition_spec=UNPARTITIONED_PARTITION_SPEC,
                     sort_order=UNSORTED_SORT_ORDER, properties={}):  # noqa: B006 - pyiceberg's signature
        staged = self._create_staged_table(identifier, schema, location, partition_spec, sort_order, properties)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        self.pointers[staged.name()] = staged.metadata_location
        return self.load_table(identifier)

    def load_table(self, identifier):
        name = self.identifier_to_tuple(identifier)
        if name not in self.pointers:
            raise NoSuchTableError(str(name))
        io = self._load_file_io(location=self.pointers[name])
        metadata = FromInputFile.table_metadata(io.new_input(self.pointers[name]))
        return Table(identifier=name, metadata=metadata, metadata_location=self.pointers[name], io=io, catalog=self)

    def commit_table(self, table, requirements, updates):
        current = self.load_table(table.name())
        staged = self._update_and_stage_table(current, table.name(), requirements, updates)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        if self.pointers[table.name()] != current.metadata_location:
            raise CommitFailedException("moved on")
        self.pointers[table.name()] = staged.metadata_location
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

    def load_namespace_properties(self, namespace):
        return {}

    def _refused(self, *args, **kwargs):
        raise NotImplementedError

    (drop_table, rename_table, register_table, list_tables, create_namespace, drop_namespace, list_namespaces,
     update_namespace_properties, list_views, load_view, drop_view, view_exists, register_view) = (_refused,) * 13


ORDER_V2 = ORDER | {"fields": ORDER["fields"] + [{"name": "coupon", "type": ["null", "string"], "default": None}]}


def test_an_avro_evolution_adds_an_optional_column_old_rows_read_as_null(tmp_path):
    v1, v2 = parse("AVRO", ORDER), parse("AVRO", ORDER_V2)
    codec1, codec2 = codec_for("AVRO", v1, {}), codec_for("AVRO", v2, {})
    read1, read2 = value_translation("AVRO", v1), value_translation("AVRO", v2)
    assert plain(read2.struct) == ORDER_TYPE | {"coupon": ("string", False)}
    catalog = DictCatalog((tmp_path / "warehouse").as_uri())
    table = catalog.create_table("kraft.orders", table_schema(read1.struct))
    assert table.schema() == table_schema(read1.struct)  # the ids the table keeps are ours
    table.append(schema_mode_table(rows(2), [codec1.decode(codec1.encode(order(n))) for n in range(2)],
                                   table.schema(), read1.read))

    with table.update_schema() as update:
        update.union_by_name(table_schema(read2.struct))
    table = catalog.load_table("kraft.orders")
    coupon = table.schema().find_field("value.coupon")
    assert not coupon.required and coupon.field_id > 30  # a fresh id: none reused
    # records of both versions in one batch, each read with its own writer's schema
    values = [read2.read(codec2.decode(codec2.encode(order(2) | {"coupon": {"string": "SAVE"}}))),
              read1.read(codec1.decode(codec1.encode(order(3))))]
    table.append(schema_mode_table(rows(2, first=2), values, table.schema()))

    got = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["kafka"]["offset"])
    assert [(r["kafka"]["offset"], r["value"]["name"], r["value"]["coupon"]) for r in got] == [
        (0, "o0", None), (1, "o1", None), (2, "o2", "SAVE"), (3, "o3", None)]
    assert got[1]["value"]["price"] == Decimal("2.56") and got[1]["value"]["id"] == UUID(UUID_TEXT)


# --- Protobuf ------------------------------------------------------------------------------------

PROTO = """
syntax = "proto3";
package demo;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

message Order {
  int32 id = 1;
  int64 big = 2;
  uint32 small = 3;
  uint64 huge = 4;
  sint32 delta = 5;
  float ratio = 6;
  double amount = 7;
  bool ok = 8;
  string name = 9;
  bytes blob = 10;
  repeated string tags = 11;
  map<string, int64> counts = 12;
  Item item = 13;
  Status status = 14;
  oneof choice { string text = 15; int32 number = 16; }
  google.protobuf.Timestamp created_at = 17;
  optional string maybe = 18;
  repeated Item items = 19;
  map<int32, Item> by_id = 20;
  google.protobuf.Int32Value boxed = 21;

  message Item { string sku = 1; int32 qty = 2; }
  enum Status { UNKNOWN = 0; NEW = 1; DONE = 2; }
}
"""
ITEM = ({"sku": ("string", False), "qty": ("int", False)}, False)


def test_a_protobuf_message_translates_as_redpanda_types_it():
    assert plain(value_struct("PROTOBUF", parse("PROTOBUF", PROTO))) == {
        "id": ("int", False), "big": ("long", False), "small": ("long", False), "huge": ("decimal(20, 0)", False),
        "delta": ("int", False), "ratio": ("float", False), "amount": ("double", False), "ok": ("boolean", False),
        "name": ("string", False), "blob": ("binary", False), "tags": (("list", "string", True), False),
        "counts": (("map", "string", "long", True), False), "item": ITEM, "status": ("string", False),
        "text": ("string", False), "number": ("int", False), "created_at": ("timestamptz", False),
        "maybe": ("string", False), "items": (("list", ITEM[0], True), False),
        "by_id": (("map", "int", ITEM[0], True), False), "boxed": ("int", False)}
    assert plain(value_struct("PROTOBUF", parse("PROTOBUF", PROTO), "demo.Order.Item")) == ITEM[0]


def test_protobuf_messages_round_trip_through_parquet(tmp_path):
    full = {"id": 1, "big": str(2**53 + 1), "small": 4_000_000_000, "huge": str(2**64 - 1), "delta": -3,
            "ratio": 0.5, "amount": 1.25, "ok": True, "name": "n", "blob": "AAE=", "tags": ["a", "b"],
            "counts": {"x": "1"}, "item": {"sku": "s", "qty": 2}, "status": "DONE", "number": 7,
            "createdAt": "2024-01-02T03:04:05.123456789Z", "maybe": "", "items": [{"sku": "t"}],
            "byId": {"3": {"qty": 1}}, "boxed": 5}
    got = round_trip("PROTOBUF", PROTO, [full, {}], tmp_path)
    assert got[0] == {
        "id": 1, "big": 2**53 + 1, "small": 4_000_000_000, "huge": Decimal(2**64 - 1), "delta": -3, "ratio": 0.5,
        "amount": 1.25, "ok": True, "name": "n", "blob": b"\x00\x01", "tags": ["a", "b"], "counts": [("x", 1)],
        "item": {"sku": "s", "qty": 2}, "status": "DONE", "text": None, "number": 7,
        "created_at": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "maybe": "",
        "items": [{"sku": "t", "qty": 0}], "by_id": [(3, {"sku": "", "qty": 1})], "boxed": 5}
    # proto3's defaults where the message leaves a field unset; null where it has presence
    assert got[1] == {
        "id": 0, "big": 0, "small": 0, "huge": Decimal(0), "delta": 0, "ratio": 0.0, "amount": 0.0, "ok": False,
        "name": "", "blob": b"", "tags": [], "counts": [], "item": None, "status": "UNKNOWN", "text": None,
        "number": None, "created_at": None, "maybe": None, "items": [], "by_id": [], "boxed": None}


def test_a_recursive_protobuf_message_is_untranslatable():
    tree = 'syntax = "proto3"; message Tree { string label = 1; repeated Tree children = 2; }'
    with pytest.raises(Untranslatable, match="recursive") as raised:
        value_struct("PROTOBUF", parse("PROTOBUF", tree))
    assert raised.value.path == "children[]"


def test_a_protobuf_struct_holds_any_json_and_is_untranslatable():
    loose = 'syntax = "proto3"; import "google/protobuf/struct.proto"; message M { google.protobuf.Struct s = 1; }'
    with pytest.raises(Untranslatable, match="holds any JSON"):
        value_struct("PROTOBUF", parse("PROTOBUF", loose))


# --- JSON Schema ---------------------------------------------------------------------------------

PERSON = {
    "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["id", "name", "address"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "number"},
        "active": {"type": "boolean"}, "nickname": {"type": ["string", "null"]},
        "level": {"type": "string", "enum": ["low", "high"]},
        "address": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"}, "zip": {"type": "string"}}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "seen": {"type": "string", "format": "date-time"}, "born": {"type": "string", "format": "date"},
        "friend": {"$ref": "#/definitions/friend"}},
    "definitions": {"friend": {"type": "object", "properties": {"name": {"type": "string"}}}}}


def test_a_json_schema_object_translates_to_a_struct():
    assert plain(value_struct("JSON", parse("JSON", PERSON))) == {
        "id": ("long", True), "name": ("string", True), "score": ("double", False), "active": ("boolean", False),
        "nickname": ("string", False), "level": ("string", False),
        "address": ({"city": ("string", True), "zip": ("string", False)}, True),
        "tags": (("list", "string", True), False), "seen": ("timestamptz", False), "born": ("date", False),
        "friend": ({"name": ("string", False)}, False)}


def test_json_records_round_trip_through_parquet(tmp_path):
    full = {"id": 7, "name": "Ann", "score": 2, "active": True, "nickname": None, "level": "high",
            "address": {"city": "Oslo", "zip": "0150"}, "tags": ["x"], "seen": "2024-05-06T07:08:09.5+02:00",
            "born": "1990-02-03", "friend": {"name": "Bo"}, "extra": "not a column"}
    got = round_trip("JSON", PERSON, [full, {"id": 8, "name": "Bo", "address": {"city": "Rome"}}], tmp_path)
    assert got[0] == {
        "id": 7, "name": "Ann", "score": 2.0, "active": True, "nickname": None, "level": "high",
        "address": {"city": "Oslo", "zip": "0150"}, "tags": ["x"],
        "seen": datetime(2024, 5, 6, 5, 8, 9, 500000, tzinfo=UTC), "born": date(1990, 2, 3), "friend": {"name": "Bo"}}
    assert got[1]["address"] == {"city": "Rome", "zip": None} and got[1]["tags"] is None


@pytest.mark.parametrize("schema, path", [
    ({"type": "object", "properties": {"anything": {}}}, "anything"),
    ({"type": "object", "properties": {"either": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}, "either"),
    ({"type": "object", "properties": {"bag": {"type": "object", "additionalProperties": {"type": "string"}}}}, "bag"),
    ({"type": "object", "properties": {"list": {"type": "array"}}}, "list"),
    ({"type": "object", "properties": {"self": {"$ref": "#"}}}, "self"),
])
def test_json_schemas_without_one_type_are_untranslatable(schema, path):
    with pytest.raises(Untranslatable) as raised:
        value_struct("JSON", parse("JSON", schema))
    assert raised.value.path == path


def test_a_json_datum_of_the_wrong_type_names_its_field():
    translation = value_translation("JSON", parse("JSON", PERSON))
    with pytest.raises(Untranslatable, match="address.city") as raised:
        schema_mode_table(rows(1), [{"id": 1, "name": "x", "address": {"city": 5}}], table_schema(translation.struct),
                          translation.read)
    assert raised.value.row == 0
    for bad, path in [({"id": 1.5}, "id"), ({"id": 2**63}, "id"), ({"seen": "yesterday"}, "seen")]:
        with pytest.raises(Untranslatable) as raised:
            translation.read({"name": "x", "address": {"city": "c"}, "id": 1} | bad)
        assert raised.value.path == path
