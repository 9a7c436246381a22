"""A table's housekeeping against a real table (pyiceberg, Parquet files in a temporary
warehouse): compaction keeps every row once and the translation where it was; orphan
removal deletes only what no snapshot and no staged round names."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("pyarrow", reason="pyarrow is an Iceberg topics dependency")
pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")

from kraft.iceberg import housekeeping  # noqa: E402
from kraft.iceberg.warehouse import Warehouse  # noqa: E402
from kraft.iceberg.catalog import KraftCatalog  # noqa: E402
from kraft.iceberg.housekeeping import Housekeeping, compact, remove_orphans, staged_files  # noqa: E402
from kraft.iceberg.layout import Row  # noqa: E402
from kraft.iceberg.translator import PartitionTranslation, Start, TableCommitter, translated  # noqa: E402

from tests.unit.test_iceberg_translation import Pointers  # noqa: E402

LATER = ORPHAN_PAST = housekeeping.ORPHAN_AGE_S + 60


def rows(partition, first, count):
    return [Row(partition, o, 1_700_000_000_000 + o, b"k%d" % o, b"v%d" % o, ()) for o in range(first, first + count)]


@pytest.fixture
def setup(tmp_path):
    pointers = Pointers()
    catalog = KraftCatalog(Warehouse((tmp_path / "warehouse").as_uri()), lambda: pointers, pointers.commit)
    return pointers, catalog, TableCommitter(catalog, "events")


def rounds(catalog, committer, partition, count, size=2):
    """`count` committed rounds of `size` records each (one small file each: one hour)."""
    for _ in range(count):
        p = PartitionTranslation(catalog, "events", partition)
        start = p.start()
        first = start.offset or 0
        p.stage(start, rows(partition, first, size), first + size)
        assert committer.commit() == 1


def table_rows(catalog):
    table = catalog.load("events")
    got = table.scan().to_arrow().column("kafka").to_pylist()
    return sorted((r["partition"], r["offset"]) for r in got)


def files_on_disk(root, sub="data"):
    return {os.path.join(d, n) for d, _, names in os.walk(os.path.join(root, sub)) for n in names}


def local(table):
    return table.metadata.location[len("file://"):]


def test_small_files_of_one_partition_of_the_spec_become_one_and_translation_goes_on(setup):
    pointers, catalog, committer = setup
    rounds(catalog, committer, 0, 12)
    rounds(catalog, committer, 1, 6)
    assert len(catalog.load("events").inspect.files()) == 18
    before = table_rows(catalog)
    assert compact(catalog, "events", min_files=16) == 18  # both partitions' rows share the hour
    table = catalog.load("events")
    assert len(table.inspect.files()) == 1
    assert table_rows(catalog) == before  # every row once
    assert translated(table) == {0: 24, 1: 12}  # carried: the next round follows on
    assert PartitionTranslation(catalog, "events", 0).start() == Start(24, 24)
    rounds(catalog, committer, 0, 1)
    assert table_rows(catalog) == sorted(before + [(0, 24), (0, 25)])


def test_fewer_small_files_than_the_threshold_are_left_as_they_are(setup):
    pointers, catalog, committer = setup
    rounds(catalog, committer, 0, 5)
    snapshot = catalog.load("events").current_snapshot().snapshot_id
    assert compact(catalog, "events", min_files=16) == 0
    assert catalog.load("events").current_snapshot().snapshot_id == snapshot


def test_a_compaction_that_landed_without_an_answer_is_not_made_twice(setup):
    pointers, catalog, committer = setup
    rounds(catalog, committer, 0, 4)
    before = table_rows(catalog)
    pointers.lose_next_answer = True
    compact(catalog, "events", min_files=4)  # it landed; its retry finds nothing left to do
    assert len(catalog.load("events").inspect.files()) == 1
    assert table_rows(catalog) == before


def test_orphans_go_and_what_a_snapshot_or_a_staged_round_names_stays(setup, monkeypatch):
    import kraft.iceberg.translator as translator
    pointers, catalog, committer = setup
    rounds(catalog, committer, 0, 4)
    compact(catalog, "events", min_files=4)
    replaced = files_on_disk(local(catalog.load("events")))
    monkeypatch.setattr(translator, "SNAPSHOT_AGE_MS", 0)  # the next commit expires the snapshots before it
    rounds(catalog, committer, 0, 1)
    staged_round = PartitionTranslation(catalog, "events", 0)
    staged_round.stage(staged_round.start(), rows(0, 10, 2), 12)  # staged, not yet committed
    table = catalog.load("events")
    root = local(table)
    stray = os.path.join(root, "data", "dropped-round.parquet")  # a round dropped after it was written
    with open(stray, "wb") as f:
        f.write(b"PAR1")
    in_snapshots = {f[len("file://"):] for f in table.inspect.files().column("file_path").to_pylist()}
    assert remove_orphans(table, staged_files(table, catalog.files), catalog.files, now=time.time()) == 0  # nothing is old enough yet
    removed = remove_orphans(table, staged_files(table, catalog.files), catalog.files, now=time.time() + LATER)
    left = files_on_disk(root)
    assert not os.path.exists(stray)
    assert in_snapshots <= left and {f[len("file://"):] for f in staged_files(table, catalog.files)} <= left
    assert not (replaced - {p for p in replaced if p in in_snapshots}) & left  # the compacted-away files went
    assert removed >= 5 and left == in_snapshots | {f[len("file://"):] for f in staged_files(table, catalog.files)}
    assert committer.commit() == 1  # the staged round still lands whole
    assert table_rows(catalog) == [(0, o) for o in range(12)]
    for name in files_on_disk(root, "metadata"):  # what the current metadata names is all still there
        assert os.path.getsize(name) > 0
    assert catalog.load("events").scan().to_arrow().num_rows == 12


def test_housekeeping_runs_when_due(setup):
    pointers, catalog, committer = setup
    now = [1000.0]
    keeper = Housekeeping(catalog, "events", clock=lambda: now[0])
    rounds(catalog, committer, 0, housekeeping.MIN_FILES)
    keeper.run()
    assert len(catalog.load("events").inspect.files()) == housekeeping.MIN_FILES  # not due yet
    now[0] += housekeeping.FIRST_COMPACT_S
    keeper.run()
    assert len(catalog.load("events").inspect.files()) == 1
    assert table_rows(catalog) == [(0, o) for o in range(2 * housekeeping.MIN_FILES)]


def test_orphans_of_a_table_partitioned_by_key_go_too(setup, monkeypatch):
    """A key's partition value is base64 in the path, its "=" written %3D as is: the files
    must still be matched to the manifests' paths (else nothing would ever be removed)."""
    import kraft.iceberg.translator as translator
    pointers, catalog, committer = setup
    spec = "(kafka.key)"
    for first in (0, 3):
        p = PartitionTranslation(catalog, "events", 0, "key_value", spec)
        p.stage(p.start(), [Row(0, o, 1_700_000_000_000 + o, b"k", b"v%d" % o, ()) for o in range(first, first + 3)],
                first + 3)
        assert committer.commit() == 1
    root = local(catalog.load("events"))
    assert any("%3D" in path for path in files_on_disk(root)), files_on_disk(root)
    assert compact(catalog, "events", min_files=2) == 2
    monkeypatch.setattr(translator, "SNAPSHOT_AGE_MS", 0)
    p = PartitionTranslation(catalog, "events", 0, "key_value", spec)
    p.stage(p.start(), [Row(0, 6, 1_700_000_000_006, b"k", b"v6", ()), ], 7)
    assert committer.commit() == 1  # expires the snapshots that held the two small files
    table = catalog.load("events")
    assert remove_orphans(table, staged_files(table, catalog.files), catalog.files, now=time.time() + LATER) >= 2
    assert table_rows(catalog) == [(0, o) for o in range(7)]
