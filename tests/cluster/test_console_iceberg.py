"""The topic page of an Iceberg topic, in a real browser on the shared cluster: an
"Iceberg table" section with the table's name and mode, each partition's translated offset
against its last stable offset (the lag, 0 once the table has every record produced) and
a DuckDB query naming the topic and its pyiceberg equivalent, which DuckDB and pyiceberg
run as shown when they are installed; a plain topic's page has no such section.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import io
from pathlib import Path

import pytest

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (the test extra)")

from cluster_client import call, create_topic  # noqa: E402
from console_shots import SCREENSHOTS  # noqa: E402

WAIT_MS = 20_000
TRANSLATED_MS = 60_000  # the table trails the log by iceberg.target.lag.ms (1 s here); a loaded machine more
ICEBERG, PLAIN = "console-iceberg", "console-iceberg-plain"
RECORDS = 3


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    c = shared_cluster
    create_topic(c, ICEBERG, partitions=2, configs={"iceberg.mode": "key_value", "iceberg.target.lag.ms": 1000})
    create_topic(c, PLAIN, partitions=1)
    for i in range(RECORDS):  # all on partition 0
        status, body = call("POST", c.v3(1) + f"/topics/{ICEBERG}/records",
                            {"partition_id": 0, "key": {"type": "STRING", "data": f"k{i}"},
                             "value": {"type": "STRING", "data": f"v{i}"}})
        assert status == 200, body
    yield c
    for topic in (ICEBERG, PLAIN):  # no translation left running on the shared cluster
        http_json("DELETE", c.v3(1) + f"/topics/{topic}")


@pytest.fixture(scope="module")
def page(cluster):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # root: no setuid sandbox
        try:
            yield browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        finally:
            browser.close()


def test_an_iceberg_topics_page_shows_its_table_its_lag_and_a_query(page, cluster):
    page.goto(f"{cluster.url(1)}/console/#/topics/{ICEBERG}")
    section = page.locator("section[aria-labelledby=h-iceberg]")
    sync_api.expect(section.get_by_role("heading", name="Iceberg table")).to_be_visible(timeout=WAIT_MS)
    sync_api.expect(section.locator(".iceberg-table")).to_have_text(f"kraft.{ICEBERG}")
    sync_api.expect(section).to_contain_text("mode key_value")
    rows = section.get_by_role("table", name=f"Iceberg translation of {ICEBERG}", exact=False).locator("tbody tr")
    sync_api.expect(rows).to_have_count(2, timeout=WAIT_MS)
    first = rows.first.locator("td")
    sync_api.expect(first.nth(0)).to_have_text("0")
    # the page's own poll brings the translation in: no reload
    sync_api.expect(first.nth(1)).to_have_text(str(RECORDS), timeout=TRANSLATED_MS)
    sync_api.expect(first.nth(2)).to_have_text(str(RECORDS))
    sync_api.expect(first.nth(3)).to_have_text("0")
    sync_api.expect(first.nth(3).locator(".warn")).to_have_count(0)
    sync_api.expect(section.locator(".iceberg-snapshot")).not_to_contain_text("no snapshot yet")
    status, body = http_json("GET", f"{cluster.url(1)}/v1/topics/{ICEBERG}/iceberg")
    assert status == 200 and body["coordinator"] in (1, 2, 3), body  # the node committing the table
    sync_api.expect(section.locator(".iceberg-coordinator")).to_have_text(f"node {body['coordinator']}")
    duckdb_query = section.locator("pre.duckdb")
    sync_api.expect(duckdb_query).to_contain_text(f"ENDPOINT '{cluster.url(1)}/iceberg'")
    sync_api.expect(duckdb_query).to_contain_text(f'FROM k.kraft."{ICEBERG}" LIMIT 10;')
    python = section.locator("pre.pyiceberg")
    sync_api.expect(python).to_contain_text(f'load_table("kraft.{ICEBERG}")')
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "topic-iceberg.png"), full_page=True)
    _the_query_runs_as_shown(duckdb_query.inner_text())
    _the_python_runs_as_shown(python.inner_text())


def _the_query_runs_as_shown(query: str) -> None:
    """DuckDB with its extensions from the wheels (no download) runs the page's query."""
    try:
        import duckdb
        packages = [importlib.import_module(f"duckdb_extension_{name}") for name in ("avro", "httpfs", "iceberg")]
    except ImportError:
        return  # the page's text is checked above; running it needs the test extras
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    try:
        for name, package in zip(("avro", "httpfs", "iceberg"), packages):
            (path,) = glob.glob(f"{package.__path__[0]}/extensions/*/{name}.duckdb_extension")
            con.execute(f"LOAD '{path}'")
        attach, select = (s.strip() for s in query.strip().rstrip(";").split(";"))
        con.execute(attach)
        rows = con.execute(select).fetchall()
    finally:
        con.close()
    assert sorted((offset, bytes(key), bytes(value)) for offset, key, value in rows) == \
        [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(RECORDS)], rows


def _the_python_runs_as_shown(code: str) -> None:
    """pyiceberg runs the page's snippet: its table has every record produced."""
    pytest.importorskip("pyiceberg.catalog.rest", reason="running the pyiceberg snippet needs pyiceberg")
    scope: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(code, scope)  # the page's own text, as a user would paste it
    assert scope["table"].scan().to_arrow().num_rows == RECORDS
    assert printed.getvalue().startswith("pyarrow.Table"), printed.getvalue()


def test_a_plain_topics_page_has_no_iceberg_section(page, cluster):
    page.goto(f"{cluster.url(1)}/console/#/topics/{PLAIN}")
    sync_api.expect(page.locator("#iceberg")).to_have_attribute("data-mode", "disabled", timeout=WAIT_MS)
    sync_api.expect(page.get_by_role("heading", name="Partitions")).to_be_visible()
    sync_api.expect(page.locator("section[aria-labelledby=h-iceberg]")).to_have_count(0)
    sync_api.expect(page.get_by_role("heading", name="Iceberg table")).to_have_count(0)
