"""A partition's translation rounds against a real table (pyiceberg, Parquet files in a
temporary warehouse), its pointer moved by compare-and-set as the controller moves it:
each record is one row whatever races, repeats or lost answers happen in between."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow", reason="pyarrow is an Iceberg topics dependency")
pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")

from kraft.iceberg.warehouse import Warehouse  # noqa: E402
from kraft.iceberg.catalog import KraftCatalog, TableMoved  # noqa: E402
from kraft.iceberg.layout import Row  # noqa: E402
from kraft.iceberg.translator import PartitionTranslation, Start, TableCommitter, translated  # noqa: E402


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
    catalog = KraftCatalog(Warehouse((tmp_path / "warehouse").as_uri()), lambda: pointers, pointers.commit)
    return pointers, catalog, TableCommitter(catalog, "events")


def work(catalog, partition):
    return PartitionTranslation(catalog, "events", partition)


def round_of(catalog, partition, first, count, end=None):
    """A partition leader's round: from where the table (or its last staged round) says,
    staged for the committer."""
    p = work(catalog, partition)
    start = p.start()
    assert start is not None and (start.offset or 0) == first
    return p.stage(start, rows(partition, first, count), first + count if end is None else end)


def test_the_first_round_makes_the_table(setup):
    pointers, catalog, committer = setup
    assert work(catalog, 0).start() == Start(None, None)  # no table yet: from the log start
    assert committer.commit() == 0 and not pointers.iceberg_tables
    round_of(catalog, 0, 0, 2)
    assert list(pointers.iceberg_tables) == ["t1"]
    assert committer.commit() == 1
    assert table_offsets(catalog) == ([(0, 0), (0, 1)], {0: 2})


def test_staged_rounds_of_every_partition_land_in_one_snapshot(setup):
    pointers, catalog, committer = setup
    committer.commit()
    assert round_of(catalog, 0, 0, 5) == 5 and round_of(catalog, 1, 0, 3) == 3
    assert work(catalog, 0).start() == Start(5, None)  # its next round follows on from the staged one
    assert committer.commit() == 2
    assert len(catalog.load("events").metadata.snapshots) == 1
    round_of(catalog, 0, 5, 2)
    assert committer.commit() == 1
    offsets, carried = table_offsets(catalog)
    assert offsets == [(0, o) for o in range(7)] + [(1, o) for o in range(3)]
    assert carried == {0: 7, 1: 3}
    assert committer.commit() == 0  # nothing staged: nothing committed


def test_a_replaced_leaders_round_adds_nothing(setup):
    pointers, catalog, committer = setup
    committer.commit()
    old_leader, new_leader = work(catalog, 0), work(catalog, 0)
    old_start, new_start = old_leader.start(), new_leader.start()
    new_leader.stage(new_start, rows(0, 0, 4), 4)
    old_leader.stage(old_start, rows(0, 0, 3), 3)  # the same records, from the replaced leader
    assert committer.commit() == 1
    offsets, carried = table_offsets(catalog)  # one of the two rounds, whichever: never both
    assert carried[0] in (3, 4) and offsets == [(0, o) for o in range(carried[0])]
    assert committer.commit() == 0


def test_a_commit_that_landed_without_an_answer_is_not_made_twice(setup):
    pointers, catalog, committer = setup
    committer.commit()
    round_of(catalog, 0, 0, 2)
    assert committer.commit() == 1
    round_of(catalog, 0, 2, 3)
    pointers.lose_next_answer = True
    assert committer.commit() == 0  # it did land: on the retry the round no longer fits the table
    assert table_offsets(catalog) == ([(0, o) for o in range(5)], {0: 5})
    assert work(catalog, 0).start() == Start(5, 5)


def test_a_round_staged_before_another_commit_is_built_on(setup):
    pointers, catalog, committer = setup
    committer.commit()
    round_of(catalog, 0, 0, 1)
    other = TableCommitter(catalog, "events")  # a leader being replaced
    assert other.commit() == 1
    round_of(catalog, 1, 0, 2)
    assert committer.commit() == 1
    assert table_offsets(catalog)[1] == {0: 1, 1: 2}


def test_a_round_without_rows_still_moves_the_offset(setup):
    pointers, catalog, committer = setup
    committer.commit()
    round_of(catalog, 0, 0, 2)
    committer.commit()
    assert round_of(catalog, 0, 2, 0, end=5) == 0  # an aborted transaction and its marker
    assert committer.commit() == 1
    assert table_offsets(catalog) == ([(0, 0), (0, 1)], {0: 5})


def test_old_snapshots_are_expired_and_their_rows_stay(setup, monkeypatch):
    import kraft.iceberg.translator as translator
    pointers, catalog, committer = setup
    committer.commit()
    round_of(catalog, 0, 0, 2)
    committer.commit()
    assert len(catalog.load("events").metadata.snapshots) == 1
    monkeypatch.setattr(translator, "SNAPSHOT_AGE_MS", 0)  # every snapshot but the one made is past its age
    for first in (2, 4):
        round_of(catalog, 0, first, 2)
        committer.commit()
    table = catalog.load("events")
    assert len(table.metadata.snapshots) == 1
    assert table_offsets(catalog) == ([(0, o) for o in range(6)], {0: 6})


def test_rounds_staged_back_to_back_are_taken_as_a_chain(setup):
    pointers, catalog, committer = setup
    committer.commit()
    for first in (0, 3, 6):  # a partition far behind stages round after round
        round_of(catalog, 0, first, 3)
    assert committer.commit() == 3
    assert table_offsets(catalog) == ([(0, o) for o in range(9)], {0: 9})
    assert len(catalog.load("events").metadata.snapshots) == 1


def test_a_chain_broken_by_a_replaced_leader_is_taken_up_to_the_break(setup):
    pointers, catalog, committer = setup
    committer.commit()
    old_leader = work(catalog, 0)
    round_of(catalog, 0, 0, 3)  # 0..3, then two leaders each follow on from 3
    round_of(catalog, 0, 3, 2)  # 3..5 (the first by name wins: either way the rows are 0..n once)
    old_leader.stage(Start(3), rows(0, 3, 4), 7)  # 3..7, a branch
    assert committer.commit() >= 2
    offsets, carried = table_offsets(catalog)
    assert carried[0] in (5, 7) and offsets == [(0, o) for o in range(carried[0])]
    follow = work(catalog, 0).start()
    assert follow == Start(carried[0], carried[0])  # the branch not taken is dropped
    assert committer.commit() == 0


def test_rounds_of_a_table_partitioned_by_bytes_and_buckets_round_trip_the_staging(setup):
    pointers, catalog, committer = setup
    p = PartitionTranslation(catalog, "events", 0, "key_value", "(kafka.key, bucket(4, kafka.offset), day(kafka.timestamp))")
    start = p.start()
    p.stage(start, rows(0, 0, 6), 6)  # six keys: six identity partitions of bytes, across buckets
    assert committer.commit() == 1
    table = catalog.load("events")
    assert len(table.inspect.files()) == 6
    from pyiceberg.expressions import EqualTo
    got = table.scan(row_filter=EqualTo("kafka.key", b"k3")).to_arrow().column("kafka").to_pylist()
    assert [(r["offset"], r["key"]) for r in got] == [(3, b"k3")]  # pruned by the staged partition values
