"""The warehouse on a directory and on an object store (an S3 endpoint in a process of its
own, s3_store.py): the same files, listings and removals either way, and a table's
rounds, commits, orphan removal and deleted topics' leftovers on the object store as on
a directory."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("pyarrow", reason="pyarrow is an Iceberg topics dependency")
pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")

from s3_store import S3Store  # noqa: E402

from kraft.iceberg import housekeeping  # noqa: E402
from kraft.iceberg.catalog import KraftCatalog  # noqa: E402
from kraft.iceberg.housekeeping import remove_orphans, staged_files  # noqa: E402
from kraft.iceberg.layout import Row  # noqa: E402
from kraft.iceberg.leftovers import GRACE_S, leftovers, remove  # noqa: E402
from kraft.iceberg.translator import PartitionTranslation, Start, TableCommitter  # noqa: E402
from kraft.iceberg.warehouse import Warehouse  # noqa: E402

from tests.unit.test_iceberg_translation import Pointers  # noqa: E402

LIVE, GONE = "a" * 32, "b" * 32


@pytest.fixture(scope="module")
def store():
    with S3Store() as s:
        yield s


@pytest.fixture(params=["directory", "object store"])
def warehouse(request, tmp_path, monkeypatch):
    if request.param == "directory":
        return Warehouse((tmp_path / "wh").as_uri())
    s = request.getfixturevalue("store")
    s.use_in_this_process(monkeypatch)
    bucket = s.bucket(f"lake-{time.monotonic_ns()}")
    return Warehouse(f"s3://{bucket}/tables", s.endpoint, "us-east-1")


def test_files_are_put_whole_read_listed_and_removed(warehouse):
    warehouse.prepare()
    root = warehouse.uri
    warehouse.put(f"{root}/t/kraft-staged/0-a.json", b'{"a": 1}')
    warehouse.put(f"{root}/t/kraft-staged/1-b.json", b"x" * 100)
    warehouse.put(f"{root}/t/data/h=1/f.parquet", b"PAR1")
    assert warehouse.read(f"{root}/t/kraft-staged/0-a.json", 1024) == b'{"a": 1}'
    with pytest.raises(ValueError):
        warehouse.read(f"{root}/t/kraft-staged/1-b.json", 99)  # nothing past the limit is taken
    assert sorted(warehouse.names(f"{root}/t/kraft-staged")) == ["0-a.json", "1-b.json"]
    assert warehouse.names(f"{root}/nowhere") == []
    assert [name for name, _ in warehouse.directories(root)] == ["t"]
    under = dict(warehouse.files(warehouse.path(f"{root}/t")))
    assert sorted(under) == sorted(warehouse.path(f"{root}/t/{p}")
                                   for p in ("kraft-staged/0-a.json", "kraft-staged/1-b.json", "data/h=1/f.parquet"))
    assert all(abs(mtime - time.time()) < 600 for mtime in under.values())
    assert time.time() - warehouse.newest(warehouse.path(f"{root}/t")) < 600
    warehouse.delete(f"{root}/t/kraft-staged/0-a.json")
    warehouse.delete(f"{root}/t/kraft-staged/0-a.json")  # gone already: no error (another node was first)
    assert warehouse.names(f"{root}/t/kraft-staged") == ["1-b.json"]
    warehouse.remove_tree(warehouse.path(f"{root}/t"))
    assert list(warehouse.files(warehouse.path(f"{root}/t"))) == []
    assert warehouse.path("s3://other/x" if warehouse.local else "file:///x") == ""  # not this warehouse's


def test_readers_are_told_where_the_store_is_and_never_a_credential():
    on_endpoint = Warehouse("s3://lake/t", "http://127.0.0.1:9000").io_properties()
    assert on_endpoint == {"s3.endpoint": "http://127.0.0.1:9000", "s3.path-style-access": "true",
                           "s3.region": "us-east-1"}  # DuckDB reads nothing without a region
    assert Warehouse("s3://lake/t", "", "eu-west-1").io_properties() == {"s3.region": "eu-west-1"}
    assert Warehouse("file:///var/wh").io_properties() == {}


def rows(partition, first, count):
    return [Row(partition, o, 1_700_000_000_000 + o, b"k%d" % o, b"v%d" % o, ()) for o in range(first, first + count)]


def test_rounds_commit_once_and_orphans_go_on_either_store(warehouse):
    pointers = Pointers()
    catalog = KraftCatalog(warehouse, lambda: pointers, pointers.commit)
    committer = TableCommitter(catalog, "events")
    for partition in (0, 1):  # the first rounds make the table, the next ones are staged for the committer
        for _ in range(2):
            p = PartitionTranslation(catalog, "events", partition)
            start = p.start()
            first = start.offset or 0
            p.stage(start, rows(partition, first, 3), first + 3)
    assert committer.commit() >= 2
    assert PartitionTranslation(catalog, "events", 0).start() == Start(6, 6)
    replaced = PartitionTranslation(catalog, "events", 0)
    replaced.stage(Start(3), rows(0, 3, 3), 6)  # a replaced leader's late round: behind the table, dropped
    assert committer.commit() == 0
    staged_round = PartitionTranslation(catalog, "events", 1)
    staged_round.stage(staged_round.start(), rows(1, 6, 2), 8)  # staged, not committed yet
    table = catalog.load("events")
    assert table.metadata.location.startswith(warehouse.uri)
    stray = f"{table.metadata.location}/data/dropped-round.parquet"
    warehouse.put(stray, b"PAR1")
    keep = staged_files(table, warehouse)
    later = time.time() + housekeeping.ORPHAN_AGE_S + 60
    assert remove_orphans(table, keep, warehouse, now=time.time()) == 0  # nothing is old enough yet
    assert remove_orphans(table, keep, warehouse, now=later) >= 2  # the stray file, the dropped round's
    left = {path for path, _ in warehouse.files(warehouse.path(table.metadata.location))}
    assert warehouse.path(stray) not in left
    assert {warehouse.path(f) for f in keep} <= left
    assert committer.commit() == 1  # the staged round still lands whole
    got = catalog.load("events").scan().to_arrow().column("kafka").to_pylist()
    assert sorted((r["partition"], r["offset"]) for r in got) == \
        [(0, o) for o in range(6)] + [(1, o) for o in range(8)]  # each once


def test_a_deleted_topics_tables_are_removed_once_untouched(warehouse):
    warehouse.prepare()
    for name in (f"orders-{LIVE}", f"gone-{GONE}", f"gone-{GONE}-dlq", "not-a-table"):
        warehouse.put(f"{warehouse.uri}/kraft/{name}/metadata/00000.metadata.json", b"{}")
    assert leftovers(warehouse, [LIVE]) == []  # written just now: a node behind on metadata leaves it
    found = leftovers(warehouse, [LIVE], now=time.time() + GRACE_S + 10)
    assert sorted(found) == sorted(warehouse.path(f"{warehouse.uri}/kraft/gone-{GONE}{s}") for s in ("", "-dlq"))
    remove(warehouse, found)
    assert sorted(name for name, _ in warehouse.directories(f"{warehouse.uri}/kraft")) == \
        sorted([f"orders-{LIVE}", "not-a-table"])
