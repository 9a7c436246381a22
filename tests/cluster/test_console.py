"""The web console (/console) in a real browser: Debian's Chromium driven by Playwright.

Every page renders with the shared 3-node cluster's data; what the console creates and
produces is seen over REST and by kcat, what kcat produces shows in the browser with
its headers; a group's lag is the v3 lag endpoint's; a short failure-lab scenario
started from the console updates its live view while it runs and ends with a verdict.
A secured 1-node cluster shows a user without ACLs a 403 and no data. Screenshots of
each page go to SCREENSHOTS (the session's summary prints where).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; "
                "./dev test installs it as root)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (the test extra)")

from console_shots import SCREENSHOTS  # noqa: E402  (beside this file; the summary prints the path)

WAIT_MS = 20_000
TOPIC = "console-browse"
GROUP = "console-lagging"
V2 = "application/vnd.kafka.v2+json"
_lab: dict = {}  # the page watching the lab run the first test started, for the last


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # root: no setuid sandbox
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster with a topic holding three messages on partition 0."""
    c = shared_cluster
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": TOPIC, "partitions_count": 2})
    assert status == 201, body
    for i in range(3):
        status, body = http_json("POST", c.v3(1) + f"/topics/{TOPIC}/records",
                                 {"partition_id": 0, "value": {"type": "JSON", "data": {"n": i}}})
        assert status == 200, body
    return c


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_page(page, cluster, route: str) -> None:
    page.goto(f"{cluster.url(1)}/console/#/{route}")


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text(timeout=WAIT_MS)


def test_a_scenario_started_from_the_lab_page_updates_its_live_view_while_it_runs(browser, cluster):
    """First, so the run goes on beside the other tests; the last test waits for its verdict."""
    lab = browser.new_page(viewport={"width": 1280, "height": 900})
    open_page(lab, cluster, "lab")
    form = lab.get_by_role("form", name="Start baseline")
    form.get_by_label("Seconds").fill("3")
    form.get_by_role("button", name="Start").click()
    counts = lab.locator("#lab-counts")
    counts.wait_for(timeout=60_000)  # the throwaway cluster is up and writing
    seen = {counts.inner_text()}
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:  # the counts move while it runs
        lab.wait_for_timeout(500)
        seen.add(counts.inner_text())
    assert len(seen) >= 2, f"the live view did not change: {seen}"
    assert "running" in text_of(lab, "#lab-state") or lab.locator("#lab-verdict").count()
    status, body = http_json("POST", cluster.url(1) + "/v1/lab/runs", {"scenario": "baseline"})
    assert (status, body["error_code"]) == (409, 40908) and "still running" in body["message"], body
    shoot(lab, "lab-running")
    _lab["page"] = lab


@pytest.mark.parametrize("method, path, body, code", [
    ("POST", "/v1/lab/runs", {"scenario": "no-such"}, 42206),
    ("POST", "/v1/lab/runs", {"scenario": "baseline", "duration": 0}, 42206),
    ("POST", "/v1/lab/runs", {"scenario": "baseline", "seed": "x"}, 42206),
    ("POST", "/v1/lab/runs", {"scenario": "baseline", "nodes": 3}, 400),
    ("GET", "/v1/lab/runs/..%2F..%2Fetc", None, 400),
    ("GET", "/v1/lab/runs/20000101-000000-baseline", None, 404),
    ("GET", "/console/../../etc/passwd", None, 404),
    ("GET", "/console/js/nothing.js", None, 404),
])
def test_the_lab_api_and_the_console_files_refuse_bad_requests_clearly(cluster, method, path, body, code):
    status, answer = http_json(method, cluster.url(1) + path, body)
    assert answer["error_code"] == code and status == int(str(code)[:3]), answer
    assert "Traceback" not in answer["message"] and "/kraft/" not in answer["message"]


def test_every_page_renders_with_the_clusters_data(page, cluster):
    open_page(page, cluster, "overview")
    brokers = page.get_by_role("table", name="Registered brokers")
    sync_api.expect(brokers.locator("tbody tr")).to_have_count(3, timeout=WAIT_MS)
    sync_api.expect(brokers).to_contain_text("alive")
    sync_api.expect(page.get_by_role("table", name="Voters").locator("tbody tr")).to_have_count(3)
    sync_api.expect(page.locator("figure").first).to_contain_text("broker 1")
    shoot(page, "overview")
    open_page(page, cluster, "topics")
    sync_api.expect(page.get_by_role("link", name=TOPIC)).to_be_visible(timeout=WAIT_MS)
    shoot(page, "topics")
    open_page(page, cluster, f"topics/{TOPIC}")
    parts = page.get_by_role("table", name=f"Partitions of {TOPIC}")
    sync_api.expect(parts.locator("tbody tr")).to_have_count(2, timeout=WAIT_MS)
    configs = page.get_by_role("table", name=f"Configs of {TOPIC}", exact=False)
    sync_api.expect(configs).to_contain_text("min.insync.replicas")
    page.get_by_role("button", name="Load messages").click()
    sync_api.expect(page.locator("#messages article")).to_have_count(3, timeout=WAIT_MS)
    sync_api.expect(page.locator("#messages")).to_contain_text('"n": 2')  # JSON shown pretty, newest first
    shoot(page, "topic")
    open_page(page, cluster, "security")
    sync_api.expect(page.get_by_role("heading", name="Users")).to_be_visible()
    shoot(page, "security")


def test_a_topic_created_in_the_console_is_listed_over_rest(page, cluster):
    open_page(page, cluster, "topics")
    page.get_by_label("Name", exact=True).fill("console-made")
    page.get_by_label("Partitions").fill("2")
    page.get_by_label("Configs", exact=False).fill("retention.ms=3600000")
    page.get_by_role("button", name="Create topic").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("Created topic console-made", timeout=WAIT_MS)
    status, body = http_json("GET", cluster.v3(2) + "/topics/console-made/configs/retention.ms")
    assert status == 200 and body["value"] == "3600000", body
    page.get_by_label("Name", exact=True).fill("console-made")
    page.get_by_role("button", name="Create topic").click()  # again: the API's own error shows
    sync_api.expect(page.get_by_role("alert")).to_contain_text("already exists", timeout=WAIT_MS)


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (apt-get install kcat)")
def test_a_message_produced_in_the_console_reads_back_with_kcat(page, cluster):
    open_page(page, cluster, f"topics/{TOPIC}")
    page.locator("#produce-partition").select_option("1")
    page.locator("#produce-key").fill("order-7")
    page.locator("#produce-value").fill("shipped")
    page.locator("#produce-headers").fill("source=console")
    page.get_by_role("button", name="Produce").click()
    sync_api.expect(page.locator("#produce-result")).to_contain_text("partition 1 at offset 0", timeout=WAIT_MS)
    out = subprocess.run(["kcat", "-C", "-b", cluster.bootstrap_servers, "-t", TOPIC, "-p", "1", "-o", "0", "-c", "1",
                          "-e", "-f", "%k|%s|%h\n"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "order-7|shipped|source=console", out


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed (apt-get install kcat)")
def test_a_message_produced_with_kcat_shows_in_the_browser_with_its_headers(page, cluster):
    sent = subprocess.run(["kcat", "-P", "-b", cluster.bootstrap_servers, "-t", TOPIC, "-p", "0", "-k", "k-bin",
                           "-H", "trace=abc123", "-H", "kind=test"], input='{"from": "kcat"}', capture_output=True,
                          text=True, timeout=30)
    assert sent.returncode == 0, sent
    open_page(page, cluster, f"topics/{TOPIC}")
    page.locator("#browse-count").fill("1")
    page.get_by_role("button", name="Load messages").click()
    newest = page.locator("#messages article").first
    sync_api.expect(newest).to_contain_text('"from": "kcat"', timeout=WAIT_MS)
    sync_api.expect(newest.locator(".key")).to_have_text("k-bin")
    sync_api.expect(newest.locator(".headers")).to_contain_text("trace: abc123")
    sync_api.expect(newest.locator(".headers")).to_contain_text("kind: test")


def test_a_groups_lag_in_the_console_is_the_v3_lag_endpoints(page, cluster):
    _committed_group(cluster, GROUP, TOPIC, partition=0, offset=1)
    status, lags = http_json("GET", cluster.v3(1) + f"/consumer-groups/{GROUP}/lags")
    assert status == 200, lags
    expected = {(r["topic_name"], r["partition_id"]): r["lag"] for r in lags["data"]}
    assert expected[(TOPIC, 0)] > 0
    open_page(page, cluster, "groups")
    sync_api.expect(page.get_by_role("link", name=GROUP)).to_be_visible(timeout=WAIT_MS)
    shoot(page, "groups")
    open_page(page, cluster, f"groups/{GROUP}")
    rows = page.get_by_role("table", name="Lag per partition").locator("tbody tr")
    sync_api.expect(rows).to_have_count(len(expected), timeout=WAIT_MS)
    shown = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        shown[(cells[0], int(cells[1]))] = int(cells[4])
    assert shown == expected
    shoot(page, "group")
    page.locator("#reset-to").select_option("latest")  # the group is empty: Kafka lets its offsets move
    page.get_by_role("button", name="Reset offsets").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("to latest", timeout=WAIT_MS)
    status, lags = http_json("GET", cluster.v3(1) + f"/consumer-groups/{GROUP}/lags")
    assert status == 200 and all(r["lag"] == 0 for r in lags["data"]), lags


def _committed_group(cluster, group: str, topic: str, partition: int, offset: int) -> None:
    """An empty group with one committed offset (a REST consumer instance that then leaves)."""
    headers = {"Content-Type": V2, "Accept": V2}
    status, made = http_json("POST", cluster.url(1) + f"/consumers/{group}", {"format": "binary"}, headers)
    assert status == 200, made
    instance = cluster.url(1) + f"/consumers/{group}/instances/{made['instance_id']}"
    try:
        status, out = http_json("POST", instance + "/assignments",
                                {"partitions": [{"topic": topic, "partition": partition}]}, headers)
        assert status == 204, out
        status, out = http_json("POST", instance + "/offsets",
                                {"offsets": [{"topic": topic, "partition": partition, "offset": offset}]}, headers)
        assert status in (200, 204), out
    finally:
        http_json("DELETE", instance, None, headers)


def test_a_user_without_acls_sees_a_403_and_no_data(browser):
    auth = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-secret").decode()}
    toml = security_toml({"admin": "admin-secret", "nobody": "nobody-secret"})
    with LocalCluster(nodes=1, extra_toml=toml, headers=auth) as secured:
        secured.start().wait_ready(timeout_s=60)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(f"{secured.url(1)}/console/")
            sync_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=WAIT_MS)
            page.get_by_label("User").fill("nobody")
            page.get_by_label("Password").fill("nobody-secret")
            page.get_by_role("button", name="Sign in").click()
            sync_api.expect(page.get_by_text("Signed in as nobody")).to_be_visible(timeout=WAIT_MS)
            quorum = page.get_by_role("region", name="Controller quorum")
            sync_api.expect(quorum.get_by_role("alert")).to_contain_text("403", timeout=WAIT_MS)
            sync_api.expect(quorum.get_by_role("alert")).to_contain_text("may not DESCRIBE the cluster")
            assert quorum.get_by_role("table", name="Voters").count() == 0
            shoot(page, "forbidden")
            open_page(page, secured, "lab")
            sync_api.expect(page.get_by_role("alert")).to_contain_text("403", timeout=WAIT_MS)
        finally:
            context.close()
        # only a super user starts a lab run
        nobody = {"Authorization": "Basic " + base64.b64encode(b"nobody:nobody-secret").decode()}
        status, body = http_json("POST", secured.url(1) + "/v1/lab/runs", {"scenario": "baseline"}, nobody)
        assert status == 403 and "super user" in body["message"], body
        _stopping_the_node_ends_its_lab_run(secured, auth)


def _stopping_the_node_ends_its_lab_run(node_cluster, auth) -> None:
    status, run = http_json("POST", node_cluster.url(1) + "/v1/lab/runs", {"scenario": "baseline"}, auth)
    assert status == 201 and run["state"] == "running", run
    meta = json.loads((node_cluster.config.node(1).data_path / "lab" / run["run_id"] / "run.json").read_text())
    node_cluster.stop(1)
    try:
        os.kill(meta["pid"], 0)
    except ProcessLookupError:
        return
    pytest.fail(f"the lab run (pid {meta['pid']}) outlived the node that started it")


def test_the_lab_run_ends_with_its_verdict_and_report(cluster):
    lab = _lab.get("page")
    if lab is None:
        pytest.skip("the lab run did not start (see the first test)")
    verdict = lab.locator("#lab-verdict")
    verdict.wait_for(timeout=120_000)
    assert "PASS" in verdict.inner_text()
    checks = lab.get_by_role("table", name="Checker verdicts as they come")
    sync_api.expect(checks.locator("tbody tr").first).to_be_visible()
    lab.get_by_role("button", name="Open").first.click()
    sync_api.expect(lab.get_by_role("heading", name="Report of", exact=False)).to_contain_text("PASS", timeout=WAIT_MS)
    shoot(lab, "lab")
    status, runs = http_json("GET", cluster.url(1) + "/v1/lab/runs")
    assert status == 200 and runs["runs"][0]["state"] == "passed", runs
    lab.close()
