"""Iceberg topics with the warehouse on an object store: cluster.toml's `[iceberg]
warehouse = "s3://..."` (docs/ICEBERG.md, "Storage"), the way nodes on several machines
share one. The store is an S3 endpoint in a process of its own (tests/unit/s3_store.py);
the nodes reach it with the credentials in their environment, DuckDB and pyiceberg with
theirs, and find it through kraft's catalog (LoadTable names the endpoint).

The table must hold each committed record once when its coordinator's node (the one
committing its snapshots) is killed mid-stream, another node committing meanwhile, as on a directory, and leave the catalog with its topic; the console's query
for it must run as shown once the reader's credentials are filled in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cluster_client import create_topic

from kraft.server.local_cluster import LocalCluster, http_json

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from s3_store import S3Store  # noqa: E402
from test_iceberg import Acked, duckdb_with_extensions, not_translated_yet, paced_writer, producer  # noqa: E402

pytestmark = pytest.mark.cluster
duckdb = pytest.importorskip("duckdb", reason="needs duckdb (the test extras)")
pyiceberg_rest = pytest.importorskip("pyiceberg.catalog.rest", reason="needs pyiceberg")

TABLE_WAIT_S = 90  # the table trails the log by iceberg.target.lag.ms; a loaded 2-core machine more
CHROMIUM = "/usr/bin/chromium"


def duckdb_rows(c, store: S3Store, node: int, topic: str) -> list[tuple]:
    """(partition, offset, value) of every row, read by DuckDB through `node`'s catalog;
    DuckDB's own S3 credentials, the endpoint from the catalog."""
    return run_as_shown(f"CREATE SECRET (TYPE s3, KEY_ID '{store.env['AWS_ACCESS_KEY_ID']}', "
                        f"SECRET '{store.env['AWS_SECRET_ACCESS_KEY']}', REGION 'us-east-1'); "
                        f"ATTACH 'kraft' AS k (TYPE iceberg, ENDPOINT '{c.url(node)}/iceberg', "
                        "AUTHORIZATION_TYPE 'none'); "
                        f"SELECT kafka.partition, kafka.offset, value FROM k.kraft.\"{topic}\" ORDER BY 1, 2;")


def run_as_shown(query: str) -> list[tuple]:
    """DuckDB runs `query`'s statements in turn; the last one's rows ([] while the table
    is not in the catalog yet)."""
    con = duckdb_with_extensions()
    try:
        *setup, select = (s.strip() for s in query.strip().rstrip(";").split(";"))
        for statement in setup:
            con.execute(statement)
        return con.execute(select).fetchall()
    except duckdb.Error as exc:
        if not_translated_yet(exc):
            return []
        raise
    finally:
        con.close()


def test_a_table_on_an_object_store_holds_each_committed_record_once_through_a_committer_kill(monkeypatch):
    with S3Store() as store:
        store.bucket("lake")
        toml = (f'[iceberg]\nwarehouse = "s3://lake/warehouse"\n"s3.endpoint" = "{store.endpoint}"\n'
                '"s3.region" = "us-east-1"\n')
        with LocalCluster(3, extra_toml=toml, env=store.env) as c:
            c.start().wait_ready(timeout_s=60)
            create_topic(c, "events", partitions=3, configs={"iceberg.mode": "key_value",
                                                             "iceberg.target.lag.ms": 1000})
            acked = Acked()
            p = producer(c, **{"message.timeout.ms": 60000})
            write = paced_writer(p, "events", 3, acked)
            write(0, 60)
            assert p.flush(30) == 0
            # an aborted transaction's records never become rows
            tx = producer(c, **{"transactional.id": "s3-tx"})
            tx.init_transactions(30)
            tx.begin_transaction()
            for i in range(3):
                tx.produce("events", value=b"aborted-%d" % i, partition=i)
            tx.abort_transaction(30)
            c.wait_until(lambda: len(duckdb_rows(c, store, 1, "events")) > 0, TABLE_WAIT_S, "a first translation")
            keys = store.keys("lake", "warehouse/kraft/events-")
            assert any("/data/" in k and k.endswith(".parquet") for k in keys), keys
            assert any("/metadata/" in k and k.endswith(".metadata.json") for k in keys), keys

            status, body = http_json("GET", f"{c.url(1)}/v1/topics/events/iceberg")
            assert status == 200 and body["coordinator"] in (1, 2, 3), body
            committer = body["coordinator"]  # the table's coordinator commits its snapshots
            c.kill(committer)
            write(60, 60)  # the producer retries to the new leaders
            assert p.flush(30) == 0
            alive = next(n for n in (1, 2, 3) if n != committer)
            # another node takes the table's commits over while the killed one is down
            c.wait_until(lambda: len(duckdb_rows(c, store, alive, "events")) >= 120, TABLE_WAIT_S,
                         "the records written after the coordinator's kill in the table")
            status, body = http_json("GET", f"{c.url(alive)}/v1/topics/events/iceberg")
            assert status == 200 and body["coordinator"] not in (None, committer), body
            c.start_node(committer)
            c.wait_ready(timeout_s=60)
            write(120, 30)
            assert p.flush(60) == 0
            assert len(acked.records) == 150
            expected = sorted((part, off, value) for (part, off), (_, value) in acked.records.items())
            c.wait_until(lambda: len(duckdb_rows(c, store, 2, "events")) >= len(expected), TABLE_WAIT_S,
                         "every acknowledged record in the table")
            assert duckdb_rows(c, store, 3, "events") == expected  # each once, none aborted

            # pyiceberg with only its credentials: the catalog tells it where the store is
            store.use_in_this_process(monkeypatch)
            catalog = pyiceberg_rest.RestCatalog("kraft", uri=f"{c.url(3)}/iceberg")
            table = catalog.load_table("kraft.events")
            assert table.metadata_location.startswith("s3://lake/warehouse/kraft/events-")
            assert table.scan().to_arrow().num_rows == len(expected)

            def lags():  # read from the table's metadata on the store
                status, state = http_json("GET", f"{c.url(2)}/v1/topics/events/iceberg")
                assert status == 200, state
                assert state["warehouse"] == "s3", state
                return [part["lag"] for part in state["partitions"]]
            c.wait_until(lambda: lags() == [0, 0, 0], TABLE_WAIT_S, "no partition behind")

            status, body = http_json("DELETE", f"{c.v3(1)}/topics/events")
            assert status == 204, body
            c.wait_until(lambda: http_json("GET", f"{c.url(2)}/iceberg/v1/namespaces/kraft/tables/events")[0] == 404,
                         30, "the table gone from the catalog with its topic")


def test_the_consoles_query_for_a_table_on_s3_runs_once_its_secret_is_filled_in():
    """The topic page of a table on S3 gives DuckDB's query with the secret DuckDB needs
    (the store's endpoint comes from the catalog): filled in with the reader's own
    credentials, as a user would, it reads every record."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (the test extra)")
    with S3Store() as store:
        store.bucket("lake")
        toml = f'[iceberg]\nwarehouse = "s3://lake/w"\n"s3.endpoint" = "{store.endpoint}"\n'
        with LocalCluster(3, extra_toml=toml, env=store.env) as c:
            c.start().wait_ready(timeout_s=60)
            create_topic(c, "shown", partitions=1, configs={"iceberg.mode": "key_value",
                                                            "iceberg.target.lag.ms": 1000})
            for i in range(3):
                status, body = http_json("POST", c.v3(1) + "/topics/shown/records",
                                         {"value": {"type": "STRING", "data": f"v{i}"}})
                assert status == 200, body
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # root: no setuid sandbox
                try:
                    page = browser.new_page()
                    page.goto(f"{c.url(1)}/console/#/topics/shown")
                    section = page.locator("section[aria-labelledby=h-iceberg]")
                    sync_api.expect(section).to_contain_text("Its files are in an S3 bucket", timeout=20_000)
                    query = section.locator("pre.duckdb").inner_text()
                finally:
                    browser.close()
            assert query.startswith("CREATE SECRET (TYPE s3, KEY_ID '<access key id>', SECRET '<secret access key>');")
            filled = query.replace("<access key id>", store.env["AWS_ACCESS_KEY_ID"]) \
                          .replace("<secret access key>", store.env["AWS_SECRET_ACCESS_KEY"])
            c.wait_until(lambda: len(run_as_shown(filled)) == 3, TABLE_WAIT_S, "the query as shown reads every record")

