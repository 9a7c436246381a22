"""Iceberg topics committed to an external REST catalog: cluster.toml's `[iceberg]
"catalog.uri"` (docs/ICEBERG.md, "An external catalog"). The catalog is a REST server in a
process of its own (tests/unit/rest_catalog.py) that wants a bearer token, which the nodes
take from their environment as pyiceberg does.

A reader of the external catalog must find each committed record once, through a kill of
the table's coordinator with another node committing meanwhile and the mode turned off
and on again (the table kept as it was); kraft's own catalog must serve the same table;
the table must leave the external catalog with its topic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cluster_client import create_topic

from kraft.server.local_cluster import LocalCluster, http_json

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from rest_catalog import RestCatalogServer  # noqa: E402
from test_iceberg import Acked, paced_writer, producer, table_rows  # noqa: E402

pytestmark = pytest.mark.cluster
pytest.importorskip("duckdb", reason="needs duckdb (the test extras)")
pytest.importorskip("pyiceberg.catalog.rest", reason="needs pyiceberg")
from pyiceberg.exceptions import NoSuchTableError  # noqa: E402

TABLE_WAIT_S = 90  # the table trails the log by iceberg.target.lag.ms; a loaded 2-core machine more
TOKEN = "kraft-catalog-token"


def external_rows(catalog: RestCatalogServer, topic: str) -> list[tuple]:
    """(partition, offset, value) of every row, as a reader of the external catalog reads them."""
    try:
        table = catalog.client().load_table(("lake", topic))
    except NoSuchTableError:
        return []
    kafka, value = (table.scan().to_arrow().column(c).to_pylist() for c in ("kafka", "value"))
    return sorted((k["partition"], k["offset"], v) for k, v in zip(kafka, value))


def set_mode(c, mode: str) -> None:
    """iceberg.mode set, and every node's image showing it."""
    status, body = http_json("POST", f"{c.v3(1)}/topics/events/configs:alter",
                             {"data": [{"name": "iceberg.mode", "value": mode}]})
    assert status == 204, body
    c.wait_until(lambda: all(http_json("GET", f"{c.url(n)}/v1/topics/events/iceberg")[1].get("mode") == mode
                             for n in (1, 2, 3)), 30, f"iceberg.mode {mode} on every node")


def test_a_table_in_an_external_catalog_holds_each_committed_record_once_through_a_coordinator_kill(tmp_path):
    (tmp_path / "catalog-default").mkdir()
    with RestCatalogServer((tmp_path / "catalog-default").as_uri(), token=TOKEN) as catalog:
        toml = f'[iceberg]\n"catalog.uri" = "{catalog.uri}"\n"catalog.namespace" = "lake"\n'
        with LocalCluster(3, extra_toml=toml, env={"PYICEBERG_CATALOG__KRAFT__TOKEN": TOKEN}) as c:
            c.start().wait_ready(timeout_s=60)
            create_topic(c, "events", partitions=3, configs={"iceberg.mode": "key_value",
                                                             "iceberg.target.lag.ms": 1000})
            acked = Acked()
            p = producer(c, **{"message.timeout.ms": 60000})
            write = paced_writer(p, "events", 3, acked)
            write(0, 60)
            assert p.flush(30) == 0
            c.wait_until(lambda: len(external_rows(catalog, "events")) >= 60, TABLE_WAIT_S,
                         "the first records in the external catalog's table")

            status, body = http_json("GET", f"{c.url(1)}/v1/topics/events/iceberg")
            assert status == 200 and body["coordinator"] in (1, 2, 3), body
            committer = body["coordinator"]
            c.kill(committer)
            write(60, 60)
            assert p.flush(30) == 0
            alive = next(n for n in (1, 2, 3) if n != committer)
            c.wait_until(lambda: len(external_rows(catalog, "events")) >= 120, TABLE_WAIT_S,
                         "the records written after the coordinator's kill in the external table")
            c.start_node(committer)
            c.wait_ready(timeout_s=60)
            # the mode turned off and on again: the table stays as it was, and goes on from there
            uuid = catalog.client().load_table(("lake", "events")).metadata.table_uuid
            set_mode(c, "disabled")
            write(120, 15)
            assert p.flush(60) == 0
            assert len(external_rows(catalog, "events")) >= 120  # still there for its readers while off
            set_mode(c, "key_value")
            write(135, 15)
            assert p.flush(60) == 0
            assert len(acked.records) == 150
            expected = sorted((part, off, value) for (part, off), (_, value) in acked.records.items())
            c.wait_until(lambda: len(external_rows(catalog, "events")) >= len(expected), TABLE_WAIT_S,
                         "every acknowledged record in the external table")
            assert external_rows(catalog, "events") == expected  # each once
            table = catalog.client().load_table(("lake", "events"))
            assert table.metadata.table_uuid == uuid  # never dropped and made again
            # kraft's own catalog serves the same table (its copy of the pointer), to DuckDB
            c.wait_until(lambda: http_json("GET", f"{c.url(alive)}/v1/topics/events/iceberg")[1]
                         .get("metadata_location") == table.metadata_location, 30, "kraft's copy of the pointer")
            assert [(part, off, value) for part, off, _, value in table_rows(c, alive, "events")] == expected

            status, body = http_json("DELETE", f"{c.v3(1)}/topics/events")
            assert status == 204, body
            c.wait_until(lambda: catalog.client().list_tables("lake") == [], 30,
                         "the table gone from the external catalog with its topic")
