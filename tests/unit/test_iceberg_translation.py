"""A partition's translation rounds against a real table (pyiceberg, Parquet files in a
temporary warehouse), its pointer moved by compare-and-set as the controller moves it:
each record is one row whatever races, repeats or lost answers happen in between."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow", reason="pyarrow is an Iceberg topics dependency")
pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")

from kraft.iceberg.catalog import KraftCatalog, TableMoved  # noqa: E402
from kraft.iceberg.layout import Row  # noqa: E402
from kraft.iceberg.translator import PartitionTranslation, Start, translated  # noqa: E402


class Pointers:
    """The image's two mappings, and the controller's compare-and-set over them."""

    def __init__(self):
        self.topic_ids = {"events": "t1"}
        self.iceberg_tables: dict[str, str] = {}
        self.lose_next_answer = False

    def commit(self, topic, topic_id, based_on, location):
        if self.iceberg_tables.get(topic_id) != based_on:
            raise TableMoved("moved on")
        self.iceberg_tables[topic_id] = location
        if self.lose_next_answer:  # landed, but the caller hears it was refused (a retry's answer)
            self.lose_next_answer = False
            raise TableMoved("moved on")


def rows(partition, first, count):
    return [Row(partition, o, 1_700_000_000_000 + o, b"k%d" % o, b"v%d" % o, ()) for o in range(first, first + count)]


def table_offsets(catalog):
    table = catalog.load("events")
    got = table.scan().to_arrow().column("kafka").to_pylist()
    return sorted((r["partition"], r["offset"]) for r in got), translated(table)


@pytest.fixture
def setup(tmp_path):
    pointers = Pointers()
    catalog = KraftCatalog((tmp_path / "warehouse").as_uri(), lambda: pointers, pointers.commit)
    return pointers, catalog


def work(catalog, partition):
    return PartitionTranslation(catalog, "events", "t1", partition, "(hour(kafka.timestamp))")


def test_rounds_of_two_partitions_each_land_once_with_every_offset_carried(setup):
    pointers, catalog = setup
    p0, p1 = work(catalog, 0), work(catalog, 1)
    assert p0.start() == Start(None)
    assert p0.commit(Start(None), rows(0, 0, 5), 5).committed
    assert p1.commit(p1.start(), rows(1, 0, 3), 3).committed
    assert p0.commit(p0.start(), rows(0, 5, 2), 7).committed
    offsets, carried = table_offsets(catalog)
    assert offsets == [(0, o) for o in range(7)] + [(1, o) for o in range(3)]
    assert carried == {0: 7, 1: 3}


def test_a_second_translator_of_the_partition_adds_nothing(setup):
    pointers, catalog = setup
    old_leader, new_leader = work(catalog, 0), work(catalog, 0)
    both_started = old_leader.start()
    assert new_leader.commit(both_started, rows(0, 0, 4), 4).committed
    outcome = old_leader.commit(both_started, rows(0, 0, 4), 4)  # the same records, from the replaced leader
    assert not outcome.committed
    assert table_offsets(catalog) == ([(0, o) for o in range(4)], {0: 4})


def test_a_commit_that_landed_without_an_answer_is_not_made_twice(setup):
    pointers, catalog = setup
    p0 = work(catalog, 0)
    assert p0.commit(p0.start(), rows(0, 0, 2), 2).committed
    pointers.lose_next_answer = True
    start = p0.start()
    assert not p0.commit(start, rows(0, 2, 3), 5).committed  # it did land: the retry sees offset 5
    assert table_offsets(catalog) == ([(0, o) for o in range(5)], {0: 5})


def test_another_partitions_commit_in_between_is_built_on(setup):
    pointers, catalog = setup
    p0, p1 = work(catalog, 0), work(catalog, 1)
    assert p0.commit(p0.start(), rows(0, 0, 1), 1).committed
    s0, s1 = p0.start(), p1.start()
    assert p1.commit(s1, rows(1, 0, 2), 2).committed  # moves the table under p0's round
    assert p0.commit(s0, rows(0, 1, 2), 3).committed
    assert table_offsets(catalog)[1] == {0: 3, 1: 2}


def test_a_round_without_rows_still_moves_the_offset(setup):
    pointers, catalog = setup
    p0 = work(catalog, 0)
    assert p0.commit(p0.start(), rows(0, 0, 2), 2).committed
    assert p0.commit(p0.start(), [], 5).committed  # an aborted transaction and its marker
    assert table_offsets(catalog) == ([(0, 0), (0, 1)], {0: 5})


def test_old_snapshots_are_expired_and_their_rows_stay(setup, monkeypatch):
    import kraft.iceberg.translator as translator
    pointers, catalog = setup
    p0 = work(catalog, 0)
    assert p0.commit(p0.start(), rows(0, 0, 2), 2).committed
    assert len(catalog.load("events").metadata.snapshots) == 1
    monkeypatch.setattr(translator, "SNAPSHOT_AGE_MS", 0)  # every snapshot but the one made is past its age
    assert p0.commit(p0.start(), rows(0, 2, 2), 4).committed
    assert p0.commit(p0.start(), rows(0, 4, 2), 6).committed
    table = catalog.load("events")
    assert len(table.metadata.snapshots) == 1
    assert table_offsets(catalog) == ([(0, o) for o in range(6)], {0: 6})
