"""Iceberg topics' tables in an external REST catalog (kraft/iceberg/external_catalog.py):
a partition's rounds and the table's commits go through the catalog's REST API (a server
in a process of its own, tests/unit/rest_catalog.py), each record one row whatever races
or lost answers happen, the catalog's metadata file copied into kraft's pointers, a kept
table of another topic never written, and a deleted topic's tables dropped."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow", reason="pyarrow is an Iceberg topics dependency")
pytest.importorskip("pyiceberg", reason="pyiceberg is an Iceberg topics dependency")

from rest_catalog import RestCatalogServer  # noqa: E402

from kraft.iceberg.external_catalog import TOPIC_ID, CommitOutcomeUnknown, ExternalCatalog, TableTaken  # noqa: E402
from kraft.iceberg.translator import PartitionTranslation, Start, TableCommitter, translated  # noqa: E402
from kraft.iceberg.warehouse import Warehouse  # noqa: E402
from tests.unit.test_iceberg_translation import Pointers, round_of, rows, work  # noqa: E402

TOKEN = "catalog-token"


@pytest.fixture
def server(tmp_path, monkeypatch):
    warehouse = (tmp_path / "warehouse").as_uri()
    (tmp_path / "warehouse").mkdir()
    # the node's credentials for the catalog, where pyiceberg's configuration keeps them
    monkeypatch.setenv("PYICEBERG_CATALOG__KRAFT__TOKEN", TOKEN)
    with RestCatalogServer(warehouse, token=TOKEN) as s:
        yield s, warehouse


def external(warehouse: str, uri: str, pointers: Pointers) -> ExternalCatalog:
    return ExternalCatalog(Warehouse(warehouse), lambda: pointers, pointers.commit, uri, "lake")


def rows_in(server, name="events"):
    """What any reader of the external catalog reads."""
    table = server.client().load_table(("lake", name))
    got = table.scan().to_arrow().column("kafka").to_pylist()
    return sorted((r["partition"], r["offset"]) for r in got), translated(table)


def test_rounds_and_commits_go_through_the_external_catalog_and_are_copied_to_kraft(server):
    s, warehouse = server
    pointers = Pointers()
    catalog = external(warehouse, s.uri, pointers)
    committer = TableCommitter(catalog, "events")
    assert committer.commit() == 0 and not pointers.iceberg_tables  # no table yet
    round_of(catalog, 0, 0, 3)  # the first round makes the table, in the catalog
    assert round_of(catalog, 1, 0, 2) == 2
    assert committer.commit() == 2
    assert rows_in(s) == ([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)], {0: 3, 1: 2})
    table = s.client().load_table(("lake", "events"))
    assert table.properties[TOPIC_ID] == "t1"
    assert table.metadata.location.startswith(warehouse + "/kraft/events-t1")  # kraft's warehouse holds its files
    assert pointers.iceberg_tables["t1"] == table.metadata_location  # kraft's copy: what its own catalog serves
    round_of(catalog, 0, 3, 2)
    assert committer.commit() == 1
    assert rows_in(s)[1] == {0: 5, 1: 2}
    assert pointers.iceberg_tables["t1"] == s.client().load_table(("lake", "events")).metadata_location


def test_a_commit_that_landed_without_an_answer_is_not_made_twice(server):
    s, warehouse = server
    pointers = Pointers()
    catalog = external(warehouse, s.uri, pointers)
    committer = TableCommitter(catalog, "events")
    round_of(catalog, 0, 0, 2)
    assert committer.commit() == 1
    round_of(catalog, 0, 2, 3)
    s.lose_next_answer()
    with pytest.raises(CommitOutcomeUnknown):
        committer.commit()
    assert committer.commit() == 0  # it did land: the round no longer fits the table
    assert rows_in(s) == ([(0, o) for o in range(5)], {0: 5})
    assert work(catalog, 0).start() == Start(5, 5)
    # the copy, behind since the lost answer, is brought up at the next load
    assert pointers.iceberg_tables["t1"] == s.client().load_table(("lake", "events")).metadata_location


def test_a_replaced_committer_racing_the_new_one_adds_nothing_twice(server):
    s, warehouse = server
    pointers = Pointers()
    new, old = external(warehouse, s.uri, pointers), external(warehouse, s.uri, pointers)
    round_of(new, 0, 0, 1)
    assert TableCommitter(new, "events").commit() == 1
    round_of(new, 0, 1, 4)
    stale = old.load("events")  # the replaced committer loaded the table before the new one's commit
    assert TableCommitter(new, "events").commit() == 1
    from kraft.iceberg.catalog import TableMoved
    from kraft.iceberg.translator import _append
    with pytest.raises(TableMoved):  # the catalog refuses a commit from the snapshot before
        _append(stale, {0: 5}, [])
    assert rows_in(s) == ([(0, o) for o in range(5)], {0: 5})


def test_a_table_of_the_name_left_by_another_topic_is_never_written(server):
    s, warehouse = server
    before = Pointers()
    before.topic_ids = {"events": "old-id"}
    round_of(external(warehouse, s.uri, before), 0, 0, 2)  # a deleted topic's table, kept
    pointers = Pointers()  # "events" again, a new topic
    catalog = external(warehouse, s.uri, pointers)
    with pytest.raises(TableTaken, match="belongs to another topic"):
        work(catalog, 0).start()
    with pytest.raises(TableTaken):
        TableCommitter(catalog, "events").commit()
    assert s.client().load_table(("lake", "events")).properties[TOPIC_ID] == "old-id"
    assert catalog.drop_table_of("events", "t1") == []  # not this topic's: left alone
    assert catalog.drop_table_of("events", "old-id") == ["events"]
    assert s.client().list_tables("lake") == []


def test_the_catalog_refuses_a_node_without_its_credentials(server, monkeypatch):
    s, warehouse = server
    monkeypatch.delenv("PYICEBERG_CATALOG__KRAFT__TOKEN")
    with pytest.raises(Exception, match="(?i)bearer token|unauthori"):
        external(warehouse, s.uri, Pointers())


def test_a_table_kraft_held_in_its_own_catalog_is_registered_in_the_external_one(server, tmp_path):
    """A cluster that kept its tables in its own catalog, then names an external one: each
    table is registered there from kraft's metadata file, its rows and offsets kept."""
    from kraft.iceberg.catalog import KraftCatalog
    s, warehouse = server
    pointers = Pointers()
    own = KraftCatalog(Warehouse(warehouse), lambda: pointers, pointers.commit)
    round_of(own, 0, 0, 3)
    assert TableCommitter(own, "events").commit() == 1
    catalog = external(warehouse, s.uri, pointers)
    assert work(catalog, 0).start() == Start(3, 3)  # carries on where kraft's own table was
    table = s.client().load_table(("lake", "events"))
    assert table.properties[TOPIC_ID] == "t1" and translated(table) == {0: 3}
    round_of(catalog, 0, 3, 2)
    assert TableCommitter(catalog, "events").commit() == 1
    assert rows_in(s) == ([(0, o) for o in range(5)], {0: 5})
    assert pointers.iceberg_tables["t1"] == s.client().load_table(("lake", "events")).metadata_location


def test_the_sweep_drops_tables_of_topics_gone_once_untouched_and_keeps_the_others(server):
    s, warehouse = server
    for topic_id in ("t1", "kept-id", "gone-id"):  # a table made by each topic's first round
        pointers = Pointers()
        pointers.topic_ids = {f"events-{topic_id}": topic_id}
        translation = PartitionTranslation(external(warehouse, s.uri, pointers), f"events-{topic_id}", 0)
        translation.stage(translation.start(), rows(0, 0, 1), 1)
    catalog = external(warehouse, s.uri, Pointers())
    assert catalog.drop_gone({"t1", "kept-id"}, grace_s=3600) == []  # all touched just now
    assert catalog.drop_gone({"t1", "kept-id"}, grace_s=0) == ["events-gone-id"]
    assert sorted(n for _, n in s.client().list_tables("lake")) == ["events-kept-id", "events-t1"]
