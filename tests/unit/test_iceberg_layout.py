"""kraft.iceberg.layout: the key_value rows as Arrow/Parquet, and partition specs from topic-config text."""

from __future__ import annotations

import importlib.util

import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (an Iceberg topics dependency)")
pytest.importorskip("pyiceberg", reason="pyiceberg is not installed (an Iceberg topics dependency)")

import pyarrow.parquet as pq  # noqa: E402
from pyiceberg.io.pyarrow import schema_to_pyarrow  # noqa: E402
from pyiceberg.schema import assign_fresh_schema_ids  # noqa: E402
from pyiceberg.transforms import (  # noqa: E402
    BucketTransform, DayTransform, HourTransform, IdentityTransform, MonthTransform, TruncateTransform, YearTransform,
)
from pyiceberg.types import ListType, StructType  # noqa: E402

from kraft.iceberg.layout import (  # noqa: E402
    DEFAULT_PARTITION_SPEC, KEY_VALUE_ARROW, KEY_VALUE_SCHEMA, Row, SpecError, key_value_table, parse_partition_spec,
    validate_partition_spec,
)

ROWS = [
    Row(0, 0, 1_700_000_000_123, b"k0", b"v0", ()),
    Row(0, 1, 1_700_000_000_124, None, b"v1", (("trace", b"abc"),)),
    Row(1, 7, 1_700_003_600_999, b"k2", None,
        (("\u00e9t\u00e9-\u6f22\u5b57", None), ("dup", b""), ("dup", b"\x00\xff"))),
    Row(2, 2**40, 0, b"", b"", ()),
    Row(2**31 - 1, 2**63 - 1, -1, None, None, (("", b"x"),)),
]


def as_dicts(rows):
    return [{"kafka": {"partition": r.partition, "offset": r.offset, "timestamp_us": r.timestamp_ms * 1000,
                       "headers": [{"key": k, "value": v} for k, v in r.headers], "key": r.key},
             "value": r.value} for r in rows]


def table_dicts(table):
    """The table's rows in as_dicts' shape: timestamps as integer microseconds (exact, no datetime rounding)."""
    kafka = table.column("kafka").combine_chunks()
    stamps = kafka.field("timestamp").cast(pa.int64()).to_pylist()
    out = table.to_pylist()
    for row, us in zip(out, stamps, strict=True):
        row["kafka"]["timestamp_us"] = us
        del row["kafka"]["timestamp"]
    return out


def field_ids(schema_or_type, prefix=""):
    """{dotted path: PARQUET:field_id} over an Arrow schema, struct or list."""
    out = {}
    fields = list(schema_or_type) if not isinstance(schema_or_type, pa.ListType | pa.LargeListType) \
        else [schema_or_type.value_field]
    for f in fields:
        out[prefix + f.name] = int(f.metadata[b"PARQUET:field_id"])
        if isinstance(f.type, pa.StructType | pa.ListType | pa.LargeListType):
            out.update(field_ids(f.type, prefix + f.name + "."))
    return out


def iceberg_ids(schema):
    out = {}

    def walk(t, prefix):
        for f in t.fields:
            out[prefix + f.name] = f.field_id
            ft = f.field_type
            if isinstance(ft, ListType):
                out[prefix + f.name + ".element"] = ft.element_id
                if isinstance(ft.element_type, StructType):
                    walk(ft.element_type, prefix + f.name + ".element.")
            elif isinstance(ft, StructType):
                walk(ft, prefix + f.name + ".")
    walk(schema.as_struct(), "")
    return out


# --- the table ---------------------------------------------------------------------------

def test_table_has_the_schema_and_the_values():
    table = key_value_table(ROWS)
    assert table.schema.equals(KEY_VALUE_ARROW, check_metadata=True)
    assert table_dicts(table) == as_dicts(ROWS)
    table.validate(full=True)


def test_parquet_round_trip_keeps_every_value(tmp_path):
    path = tmp_path / "rows.parquet"
    pq.write_table(key_value_table(ROWS), path)
    back = pq.read_table(path)
    assert back.schema.equals(KEY_VALUE_ARROW, check_metadata=False)
    assert field_ids(back.schema) == field_ids(KEY_VALUE_ARROW)
    assert table_dicts(back) == as_dicts(ROWS)


def test_empty_batch():
    table = key_value_table([])
    assert table.num_rows == 0 and table.schema.equals(KEY_VALUE_ARROW)


def test_millisecond_timestamps_become_microseconds():
    stamps = key_value_table(ROWS).column("kafka").combine_chunks().field("timestamp")
    assert stamps.type == pa.timestamp("us", tz="UTC")
    assert stamps.cast(pa.int64()).to_pylist() == [r.timestamp_ms * 1000 for r in ROWS]


def test_arrow_field_ids_are_the_iceberg_ones():
    assert field_ids(KEY_VALUE_ARROW) == iceberg_ids(KEY_VALUE_SCHEMA)
    assert KEY_VALUE_ARROW.equals(schema_to_pyarrow(KEY_VALUE_SCHEMA), check_metadata=True)
    assert sorted(iceberg_ids(KEY_VALUE_SCHEMA).values()) == list(range(1, 11))


def test_creating_a_table_keeps_the_field_ids():
    # a catalog renumbers a new table's columns (breadth first): ours are already in that order
    assert assign_fresh_schema_ids(KEY_VALUE_SCHEMA) == KEY_VALUE_SCHEMA


def test_schema_nullability():
    kafka = KEY_VALUE_SCHEMA.find_field("kafka")
    assert kafka.required
    assert {n: KEY_VALUE_SCHEMA.find_field(n).required for n in
            ("kafka.partition", "kafka.offset", "kafka.timestamp", "kafka.headers", "kafka.key", "value")} == {
        "kafka.partition": True, "kafka.offset": True, "kafka.timestamp": True,
        "kafka.headers": False, "kafka.key": False, "value": False}
    assert str(KEY_VALUE_SCHEMA.find_type("kafka.timestamp")) == "timestamptz"


# --- partition specs ---------------------------------------------------------------------

def only_field(text):
    spec = parse_partition_spec(text, KEY_VALUE_SCHEMA)
    (field,) = spec.fields
    return field, KEY_VALUE_SCHEMA.find_column_name(field.source_id)


def test_default_spec_is_hour_of_the_timestamp():
    field, column = only_field(DEFAULT_PARTITION_SPEC)
    assert column == "kafka.timestamp" and isinstance(field.transform, HourTransform)
    assert field.name == "kafka.timestamp_hour" and field.field_id == 1000


@pytest.mark.parametrize("text, transform, column, name", [
    ("(kafka.partition)", IdentityTransform(), "kafka.partition", "kafka.partition"),
    ("(value)", IdentityTransform(), "value", "value"),
    ("(hour(kafka.timestamp))", HourTransform(), "kafka.timestamp", "kafka.timestamp_hour"),
    ("(day(kafka.timestamp))", DayTransform(), "kafka.timestamp", "kafka.timestamp_day"),
    ("(month(kafka.timestamp))", MonthTransform(), "kafka.timestamp", "kafka.timestamp_month"),
    ("(year(kafka.timestamp))", YearTransform(), "kafka.timestamp", "kafka.timestamp_year"),
    ("(bucket(4, kafka.key))", BucketTransform(4), "kafka.key", "kafka.key_bucket_4"),
    ("(truncate(8, value))", TruncateTransform(8), "value", "value_trunc_8"),
    ("(truncate(100, kafka.offset))", TruncateTransform(100), "kafka.offset", "kafka.offset_trunc_100"),
    ("  (  bucket ( 16 ,kafka.partition )\t)\n", BucketTransform(16), "kafka.partition", "kafka.partition_bucket_16"),
])
def test_each_transform_form_parses(text, transform, column, name):
    field, found = only_field(text)
    assert (field.transform, found, field.name) == (transform, column, name)
    assert validate_partition_spec(text) is None


def test_several_terms_and_unpartitioned():
    spec = parse_partition_spec("(day(kafka.timestamp), kafka.partition, bucket(8, kafka.key))", KEY_VALUE_SCHEMA)
    assert [f.name for f in spec.fields] == ["kafka.timestamp_day", "kafka.partition", "kafka.key_bucket_8"]
    assert [f.field_id for f in spec.fields] == [1000, 1001, 1002]
    assert parse_partition_spec("()", KEY_VALUE_SCHEMA).is_unpartitioned()
    assert parse_partition_spec(" ( ) ", KEY_VALUE_SCHEMA).is_unpartitioned()


@pytest.mark.parametrize("text, words", [
    ("(kafka.nope)", ["unknown column", "kafka.nope", "kafka.timestamp"]),
    ("(nope)", ["unknown column", "nope"]),
    ("(hours(kafka.timestamp))", ["unknown transform", "hours", "hour(col)"]),
    ("(hour(kafka.key))", ["term 1", "hour", "timestamp", "kafka.key is binary"]),
    ("(kafka.partition, day(value))", ["term 2", "day", "value is binary"]),
    ("(truncate(4, kafka.timestamp))", ["truncate", "timestamptz"]),
    ("(bucket(kafka.key))", ["bucket", "bucket(N, col)"]),
    ("(bucket(0, kafka.key))", ["between 1 and"]),
    ("(bucket(99999999999999999999, kafka.key))", ["between 1 and"]),
    ("(truncate(x, value))", ["truncate(N, col)"]),
    ("(" + "kafka.partition," * 600 + "value)", ["too long", "1000"]),
    ("(" + ",".join(["kafka.partition"] * 17) + ")", ["more than 16 terms"]),
    ("(hour(kafka.timestamp)", ["unbalanced parentheses"]),
    ("(hour(kafka.timestamp)))", ["unbalanced parentheses", "extra ')'"]),
    ("((hour(kafka.timestamp))", ["unexpected '('"]),
    ("(hour(kafka.timestamp", ["unbalanced parentheses"]),
    ("(hour(kafka.timestamp)) garbage", ["unexpected 'garbage'", "after"]),
    ("(hour(kafka.timestamp)) ,", ["unexpected ','"]),
    ("(kafka.partition value)", ["expected ',' or ')'", "'value'"]),
    ("(kafka.partition,)", ["term 2 is empty"]),
    ("(,kafka.partition)", ["term 1 is empty"]),
    ("(kafka)", ["kafka is a struct", "not a primitive"]),
    ("(kafka.headers)", ["kafka.headers", "not a primitive"]),
    ("(kafka.headers.element.key)", ["kafka.headers", "not a struct"]),
    ("(kafka..key)", ["not a column path"]),
    ("(hour(kafka.timestamp, value))", ["expected ')'", "one column"]),
    ("(hour(kafka.timestamp), day(kafka.timestamp))", ["term 2", "redundant with term 1"]),
    ("(kafka.key, kafka.key)", ["term 2", "repeats term 1"]),
    ("(kafka.partition; value)", ["unexpected character ';'"]),
    ("(bucket(-1, kafka.key))", ["unexpected character '-'"]),
    ("hour(kafka.timestamp)", ["parenthesised list"]),
    ("", ["parenthesised list"]),
    ("(\u00e9)", ["unexpected character"]),
])
def test_bad_specs_say_what_is_wrong(text, words):
    with pytest.raises(SpecError) as info:
        parse_partition_spec(text, KEY_VALUE_SCHEMA)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    for word in words:
        assert word in message, (word, message)
    assert validate_partition_spec(text) == message


def test_spec_error_is_a_value_error():
    assert issubclass(SpecError, ValueError)
    with pytest.raises(SpecError):
        parse_partition_spec(None, KEY_VALUE_SCHEMA)  # type: ignore[arg-type]


def test_long_hostile_input_is_rejected_quickly():
    import time
    for text in ("(" * 1000, "(" + "a" * 998 + ")", "(" + "(" * 500 + ")" * 499, "(" + "a(" * 499):
        start = time.perf_counter()
        assert validate_partition_spec(text) is not None
        assert time.perf_counter() - start < 0.5


# --- end to end: a pyiceberg table ---------------------------------------------------------

def _catalog(warehouse):
    from pyiceberg.catalog import MetastoreCatalog
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
    from pyiceberg.serializers import FromInputFile
    from pyiceberg.table import CommitTableResponse, Table
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER

    class DictCatalog(MetastoreCatalog):
        """Table pointers in a dict: just enough catalog for create, load and commit."""

        def __init__(self, name, **props):
            super().__init__(name, **props)
            self.pointers = {}

        def create_table(self, identifier, schema, location=None, partition_spec=None, sort_order=None,
                         properties=None):
            staged = self._create_staged_table(identifier, schema, location,
                                               partition_spec or UNPARTITIONED_PARTITION_SPEC,
                                               sort_order or UNSORTED_SORT_ORDER, properties or {})
            self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
            self.pointers[staged.name()] = staged.metadata_location
            return self.load_table(identifier)

        def load_table(self, identifier):
            ident = self.identifier_to_tuple(identifier)
            if ident not in self.pointers:
                raise NoSuchTableError(str(ident))
            location = self.pointers[ident]
            io = self._load_file_io(location=location)
            metadata = FromInputFile.table_metadata(io.new_input(location))
            return Table(identifier=ident, metadata=metadata, metadata_location=location, io=io, catalog=self)

        def commit_table(self, table, requirements, updates):
            ident = table.name()
            current = self.load_table(ident)
            staged = self._update_and_stage_table(current, ident, requirements, updates)
            self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
            if self.pointers.get(ident) != current.metadata_location:
                raise CommitFailedException("the table moved")
            self.pointers[ident] = staged.metadata_location
            return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

        def load_namespace_properties(self, namespace):
            return {}

        def list_tables(self, namespace):
            return list(self.pointers)

        def list_namespaces(self, namespace=()):
            return [("kraft",)]

        def _unsupported(self, *args, **kwargs):
            raise NotImplementedError

        drop_table = rename_table = create_namespace = drop_namespace = update_namespace_properties = _unsupported
        list_views = load_view = drop_view = register_table = view_exists = register_view = _unsupported

    return DictCatalog("test", warehouse=warehouse.as_uri())


def test_pyiceberg_table_takes_the_rows(tmp_path):
    if importlib.util.find_spec("pyiceberg_core") is None:  # a missing dependency, not a reason to skip
        pytest.fail("pyiceberg writes hour-partitioned tables through pyiceberg-core: "
                    "install pyiceberg[pyiceberg-core]")
    catalog = _catalog(tmp_path)
    spec = parse_partition_spec(DEFAULT_PARTITION_SPEC, KEY_VALUE_SCHEMA)
    table = catalog.create_table("kraft.orders", schema=KEY_VALUE_SCHEMA, partition_spec=spec)
    table.append(key_value_table(ROWS[:3]))
    table.append(key_value_table(ROWS[3:]))
    assert table.spec().fields[0].name == "kafka.timestamp_hour"
    back = table.scan().to_arrow()
    got = sorted(table_dicts(back), key=lambda r: (r["kafka"]["partition"], r["kafka"]["offset"]))
    assert got == as_dicts(sorted(ROWS, key=lambda r: (r.partition, r.offset)))
    assert back.schema.equals(KEY_VALUE_ARROW, check_metadata=False)
    assert table.schema().as_struct() == KEY_VALUE_SCHEMA.as_struct()  # creating the table kept our ids
    # one data file per hour (the rows span four), each naming its columns by our ids
    files = [task.file.file_path for task in table.scan().plan_files()]
    assert len(files) == 4
    for path in files:
        assert field_ids(pq.read_schema(path.removeprefix("file://"))) == field_ids(KEY_VALUE_ARROW)
