"""The web console (/console) in a real browser: Debian's Chromium driven by Playwright.

Every page renders with the shared 3-node cluster's data; what the console creates and
produces is seen over REST and by kcat, what kcat produces shows in the browser with
its headers; a group's lag is the v3 lag endpoint's; a group gone with its expired REST
instance says why; a short failure-lab scenario started from the console updates its
live view while it runs and ends with a verdict.
A secured 1-node cluster shows a user without ACLs a 403 and no data. Screenshots of
each page go to SCREENSHOTS (the session's summary prints where).
"""

from __future__ import annotations

import base64
import json
import re
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
        # node 1 takes the write once its metadata has the topic (on a busy machine, beyond
        # the REST door's own 2 s catch-up): a 404 wrote nothing, so it is asked again
        def produced(n=i):
            status, body = http_json("POST", c.v3(1) + f"/topics/{TOPIC}/records",
                                     {"partition_id": 0, "value": {"type": "JSON", "data": {"n": n}}})
            assert status in (200, 404), body
            return status == 200
        c.wait_until(produced, 60, f"record {i} written")
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
    counts.wait_for(timeout=180_000)  # the throwaway cluster is up and writing (a minute on a loaded machine)
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


def test_a_partitions_size_is_its_log_in_bytes_over_http_and_in_the_console(page, cluster):
    status, parts = http_json("GET", cluster.v3(1) + f"/topics/{TOPIC}/partitions")
    assert status == 200, parts
    leader = parts["data"][0]["leader_id"]
    status, parts = http_json("GET", cluster.v3(leader) + f"/topics/{TOPIC}/partitions/0")
    assert status == 200 and parts["size"] > 3 * len('{"n":0}'), parts  # three records and their batch headers
    open_page(page, cluster, "topics")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=TOPIC, exact=True))
    sync_api.expect(row).to_contain_text(" B", timeout=WAIT_MS)  # the Size column, e.g. "243 B"
    open_page(page, cluster, f"topics/{TOPIC}")
    first = page.get_by_role("table", name=f"Partitions of {TOPIC}").locator("tbody tr").first
    sync_api.expect(first.locator("td").last).to_have_text(re.compile(r"\d+(\.\d)? (B|KiB)"), timeout=WAIT_MS)


def test_the_overview_says_when_the_quorum_leader_was_elected(page, cluster):
    status, quorum = http_json("GET", cluster.v3(1) + "/quorum")
    assert status == 200 and quorum["leader_elected_ms"] <= time.time() * 1000, quorum
    open_page(page, cluster, "overview")
    sync_api.expect(page.locator("#last-election")).to_contain_text(
        f"node {quorum['leader_id']} won epoch {quorum['leader_epoch']} at", timeout=WAIT_MS)


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
    # the newest messages show as the page opens, no click needed
    sync_api.expect(page.locator("#messages article")).to_have_count(3, timeout=WAIT_MS)
    sync_api.expect(page.locator("#messages")).to_contain_text('"n": 2')  # JSON shown pretty, newest first
    shoot(page, "topic")
    open_page(page, cluster, "security")
    sync_api.expect(page.get_by_role("heading", name="Users")).to_be_visible()
    shoot(page, "security")


def test_the_header_names_the_cluster_as_cluster_toml_does(page, cluster):
    open_page(page, cluster, "overview")
    name = page.locator("#cluster-name")
    sync_api.expect(name).to_have_text(cluster.config.cluster.name, timeout=WAIT_MS)
    sync_api.expect(name).to_have_attribute("title", f"cluster id {cluster.cluster_id}")
    status, body = http_json("GET", cluster.url(2) + f"/v3/clusters/{cluster.cluster_id}")
    assert status == 200 and body["cluster_name"] == cluster.config.cluster.name, body


def test_a_cluster_without_security_offers_no_users_or_acls_to_add(page, cluster):
    status, body = http_json("GET", cluster.url(1) + "/v3/clusters")
    assert status == 200 and body["data"][0]["security_enabled"] is False, body
    open_page(page, cluster, "security")
    sync_api.expect(page.locator("#security-off")).to_contain_text("Security is off", timeout=WAIT_MS)
    sync_api.expect(page.get_by_role("heading", name="Users")).to_be_visible()
    assert page.get_by_role("button", name="Add user").count() == 0
    assert page.get_by_role("button", name="Add ACL").count() == 0


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
    page.locator("#reset-to").select_option("earliest")  # position 0: every record is read again
    page.get_by_role("button", name="Reset offsets").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("to earliest", timeout=WAIT_MS)
    status, lags = http_json("GET", cluster.v3(1) + f"/consumer-groups/{GROUP}/lags")
    assert status == 200 and all(r["current_offset"] == 0 for r in lags["data"]), lags


def test_the_group_page_says_why_a_group_of_rest_instances_is_gone(page, cluster):
    group, name = "console-expired", "quiet"
    url = f"{cluster.url(1)}/consumers/{group}"
    body = {"name": name, "format": "json", "consumer.instance.timeout.ms": 2000}
    # the first group use may create the offsets topic meanwhile (50003): asked again
    cluster.wait_until(lambda: http_json("POST", url, body, headers={"Content-Type": V2})[0] in (200, 409),
                       60, "the instance created")

    def departed():  # asked beside the instance: its own requests would keep it alive
        status, answer = http_json("GET", f"{cluster.url(1)}/v1/console/consumer-groups/{group}/departures")
        return status == 200 and [d for d in answer["departures"] if d["instance_id"] == name]
    cluster.wait_until(departed, 30, "the instance expired")
    open_page(page, cluster, f"groups/{group}")
    sync_api.expect(page.get_by_role("heading", name="Instances that left")).to_be_visible(timeout=WAIT_MS)
    shown = page.locator(".departures li").first
    sync_api.expect(shown).to_contain_text(f"instance {name} expired at ", timeout=WAIT_MS)
    sync_api.expect(shown).to_contain_text("(no request for 2 s: consumer.instance.timeout.ms)")
    # it never committed: the v3 group is gone with it, and the page says why
    sync_api.expect(page.locator(".notice")).to_contain_text(
        f"The group is gone with its last REST consumer instance: instance {name} expired at ", timeout=WAIT_MS)
    shoot(page, "group-gone")


def test_a_share_group_shows_in_the_console_as_over_rest(page, cluster):
    """A REST share consumer holding a record: the group is listed under the consumer
    groups, and its page shows its member and the partition's start offset and lag; once
    the consumer is gone, the page resets its start offsets and deletes it."""
    group = "console-share"
    headers = {"Content-Type": V2, "Accept": V2}
    base = cluster.url(1) + f"/share-consumers/{group}"
    status, made = http_json("POST", base, {"name": "w", "auto.offset.reset": "earliest"}, headers)
    assert status == 200, made
    try:
        assert http_json("POST", base + "/instances/w/subscription", {"topics": [TOPIC]}, headers)[0] == 204
        status, got = http_json("GET", base + "/instances/w/records?timeout=3000&max_records=1", headers=headers)
        assert status == 200 and len(got) == 1, got
        status, view = http_json("GET", cluster.v3(1) + f"/share-groups/{group}")
        assert status == 200, view
        expected = {(p["topic_name"], p["partition_id"]): p for p in view["partitions"]}
        open_page(page, cluster, "groups")
        sync_api.expect(page.get_by_role("link", name=group, exact=True)).to_be_visible(timeout=WAIT_MS)
        open_page(page, cluster, f"share-groups/{group}")
        rows = page.get_by_role("table", name="Share partitions").locator("tbody tr")
        sync_api.expect(rows).to_have_count(len(expected), timeout=WAIT_MS)
        for i in range(rows.count()):
            cells = rows.nth(i).locator("td").all_inner_texts()
            shown = expected[(cells[0], int(cells[1]))]
            assert cells[2] == str(shown["start_offset"]) and cells[11] == str(shown["lag"])  # SPSO ... lag
        members = page.get_by_role("table", name="Share group members").locator("tbody tr")
        sync_api.expect(members).to_have_count(1, timeout=WAIT_MS)
        shoot(page, "share-group")
    finally:
        http_json("DELETE", base + "/instances/w", None, headers)
    # empty now: its start offsets move to the end, then the group is deleted
    sync_api.expect(page.locator("main")).to_contain_text("EMPTY", timeout=WAIT_MS)
    page.locator("#reset-to").select_option("latest")
    page.get_by_role("button", name="Reset offsets").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("to latest", timeout=WAIT_MS)
    status, view = http_json("GET", cluster.v3(1) + f"/share-groups/{group}")
    assert status == 200 and all(p["lag"] == 0 and sum(p["in_flight"].values()) == 0 for p in view["partitions"]), view
    page.get_by_role("button", name="Delete group").click()
    page.locator("#confirm-ok").click()
    sync_api.expect(page.locator(".notice")).to_contain_text(f"Deleted share group {group}", timeout=WAIT_MS)
    assert http_json("GET", cluster.v3(1) + f"/share-groups/{group}")[0] == 404


def _committed_group(cluster, group: str, topic: str, partition: int, offset: int, auth: dict | None = None) -> None:
    """An empty group with one committed offset (a REST consumer instance that then leaves)."""
    headers = {"Content-Type": V2, "Accept": V2, **(auth or {})}
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


PHONE = {"width": 390, "height": 844}
NAV = ("Overview", "Topics", "Consumer groups", "Security", "Failure lab")


def test_on_a_phone_no_page_scrolls_sideways_and_the_navigation_is_reachable(browser, cluster):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        for route, ready in (("overview", page.get_by_role("table", name="Voters")),
                             ("topics", page.get_by_role("link", name=TOPIC)),
                             (f"topics/{TOPIC}", page.get_by_role("table", name=f"Partitions of {TOPIC}")),
                             ("groups", page.get_by_role("heading", name="Consumer groups")),
                             ("security", page.get_by_role("heading", name="Users")),
                             ("lab", page.get_by_role("heading", name="Scenario library"))):
            open_page(page, cluster, route)
            sync_api.expect(ready).to_be_visible(timeout=WAIT_MS)
            page.evaluate("window.scrollTo(0, 0)")
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= PHONE["width"], f"#/{route} is {wide} px wide on a {PHONE['width']} px phone"
            nav = page.get_by_role("navigation", name="Console pages")
            for name in NAV:
                sync_api.expect(nav.get_by_role("link", name=name)).to_be_in_viewport()
            if route.startswith("topics/"):
                shoot(page, "phone-topic")
    finally:
        context.close()


def _tab_to(page, check: str, limit: int = 60) -> None:
    """Press Tab until the focused element passes `check` (JS on `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!({check}); }})()"):
            return
    pytest.fail(f"{limit} presses of Tab never reached the element where {check}")


def test_the_console_works_from_the_keyboard(page, cluster):
    open_page(page, cluster, "overview")
    sync_api.expect(page.get_by_role("table", name="Voters")).to_be_visible(timeout=WAIT_MS)
    _tab_to(page, "el.matches('#nav a') && el.textContent === 'Topics'")
    page.keyboard.press("Enter")
    sync_api.expect(page.get_by_role("heading", name="Topics", exact=True)).to_be_visible(timeout=WAIT_MS)
    _tab_to(page, "el.id === 'new-topic-name'")
    page.keyboard.type("keyboard-made")
    page.keyboard.press("Enter")  # submits the create form
    sync_api.expect(page.locator(".notice")).to_contain_text("Created topic keyboard-made", timeout=WAIT_MS)
    open_page(page, cluster, f"topics/{TOPIC}")
    sync_api.expect(page.get_by_role("table", name=f"Partitions of {TOPIC}")).to_be_visible(timeout=WAIT_MS)
    _tab_to(page, "el.textContent === 'Load messages'")
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#messages article").first).to_be_visible(timeout=WAIT_MS)


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ADMIN, READER = _basic("admin", "admin-secret"), _basic("reader", "reader-secret")
NOBODY = _basic("nobody", "nobody-secret")
WATCHED, WATCHERS = "watched", "watchers"


@pytest.fixture(scope="module")
def secured():
    """A 1-node cluster with security on: admin (a super user), reader (READ on the topic
    `watched` and the group `watchers`, nothing else) and nobody (no ACLs)."""
    toml = security_toml({"admin": "admin-secret", "reader": "reader-secret", "nobody": "nobody-secret"})
    with LocalCluster(nodes=1, extra_toml=toml, headers=ADMIN) as c:
        c.start().wait_ready(timeout_s=60)
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": WATCHED, "partitions_count": 1,
                                                                  "replication_factor": 1}, ADMIN)
        assert status == 201, body
        status, body = http_json("POST", c.v3(1) + f"/topics/{WATCHED}/records",
                                 {"value": {"type": "STRING", "data": "for your eyes"}}, ADMIN)
        assert status == 200, body
        for resource_type, name in (("TOPIC", WATCHED), ("GROUP", WATCHERS)):
            status, body = http_json("POST", c.v3(1) + "/acls", {
                "principal": "User:reader", "host": "*", "resource_type": resource_type, "resource_name": name,
                "pattern_type": "LITERAL", "operation": "READ", "permission": "ALLOW"}, ADMIN)
            assert status == 201, body
        _committed_group(c, WATCHERS, WATCHED, partition=0, offset=0, auth=ADMIN)
        yield c


def _signed_in(browser, cluster, user: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{cluster.url(1)}/console/#/signin")
    page.get_by_label("User").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_text(f"Signed in as {user}")).to_be_visible(timeout=WAIT_MS)
    return context, page


def test_the_v3_reads_say_what_the_caller_may_do_when_asked(secured):
    ops = "?include_authorized_operations=true"
    cid = secured.cluster_id
    status, topic = http_json("GET", secured.v3(1) + f"/topics/{WATCHED}{ops}", None, READER)
    assert status == 200 and set(topic["authorized_operations"]) == {"READ", "DESCRIBE"}, topic  # READ implies DESCRIBE
    status, topic = http_json("GET", secured.v3(1) + f"/topics/{WATCHED}{ops}", None, ADMIN)
    assert status == 200 and {"WRITE", "DELETE", "ALTER_CONFIGS"} <= set(topic["authorized_operations"]), topic
    status, group = http_json("GET", secured.v3(1) + f"/consumer-groups/{WATCHERS}{ops}", None, READER)
    assert status == 200 and set(group["authorized_operations"]) == {"READ", "DESCRIBE"}, group
    status, clusters = http_json("GET", secured.url(1) + f"/v3/clusters{ops}", None, NOBODY)
    assert status == 200 and clusters["data"][0]["authorized_operations"] == [], clusters
    status, plain = http_json("GET", secured.url(1) + f"/v3/clusters/{cid}", None, ADMIN)
    assert status == 200 and "authorized_operations" not in plain, plain  # only when asked
    status, bad = http_json("GET", secured.url(1) + f"/v3/clusters/{cid}?include_authorized_operations=yes",
                            None, ADMIN)
    assert status == 400 and "true or false" in bad["message"], bad
    for who, may in ((ADMIN, True), (READER, False)):
        status, lab = http_json("GET", secured.url(1) + "/v1/lab/scenarios", None, who)
        assert (status, lab.get("may_start_runs")) == (200, may) or (status == 403 and not may), lab


def test_a_reader_sees_the_data_but_no_write_delete_or_config_controls(browser, secured):
    context, page = _signed_in(browser, secured, "reader", "reader-secret")
    try:
        open_page(page, secured, "topics")
        sync_api.expect(page.get_by_role("link", name=WATCHED)).to_be_visible(timeout=WAIT_MS)
        assert page.get_by_role("button", name="Delete").count() == 0
        sync_api.expect(page.locator("#create-limited")).to_contain_text("may not CREATE on the cluster")
        open_page(page, secured, f"topics/{WATCHED}")
        page.get_by_role("button", name="Load messages").click()
        sync_api.expect(page.locator("#messages article")).to_have_count(1, timeout=WAIT_MS)
        sync_api.expect(page.locator("#messages")).to_contain_text("for your eyes")
        sync_api.expect(page.get_by_text("Producing is not offered")).to_be_visible()
        assert page.get_by_role("button", name="Produce").count() == 0
        sync_api.expect(page.get_by_text("The configs list is not offered")).to_be_visible()
        assert page.get_by_role("button", name="Save").count() == 0
        shoot(page, "topic-read-only")
        open_page(page, secured, f"groups/{WATCHERS}")
        sync_api.expect(page.get_by_text("deleting it needs DELETE on the group")).to_be_visible(timeout=WAIT_MS)
        sync_api.expect(page.get_by_role("button", name="Reset offsets")).to_be_visible()
        assert page.get_by_role("button", name="Delete group").count() == 0
        open_page(page, secured, "security")
        sync_api.expect(page.get_by_text("Adding and deleting ACLs is not offered")).to_be_visible(timeout=WAIT_MS)
        assert page.get_by_role("button", name="Add ACL").count() == 0
    finally:
        context.close()


def test_a_super_user_is_offered_every_action(browser, secured):
    context, page = _signed_in(browser, secured, "admin", "admin-secret")
    try:
        open_page(page, secured, "topics")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=WATCHED))
        sync_api.expect(row.get_by_role("button", name="Delete")).to_be_visible(timeout=WAIT_MS)
        sync_api.expect(page.get_by_role("button", name="Create topic")).to_be_visible()
        open_page(page, secured, f"topics/{WATCHED}")
        sync_api.expect(page.get_by_role("button", name="Produce")).to_be_visible(timeout=WAIT_MS)
        sync_api.expect(page.get_by_role("button", name="Save").first).to_be_visible()
        open_page(page, secured, f"groups/{WATCHERS}")
        sync_api.expect(page.get_by_role("button", name="Delete group")).to_be_visible(timeout=WAIT_MS)
        open_page(page, secured, "lab")
        sync_api.expect(page.get_by_role("button", name="Start").first).to_be_visible(timeout=WAIT_MS)
        open_page(page, secured, "security")  # security is on: users and ACLs may be added
        sync_api.expect(page.get_by_role("button", name="Add user")).to_be_visible(timeout=WAIT_MS)
        sync_api.expect(page.get_by_role("button", name="Add ACL")).to_be_visible()
        assert page.locator("#security-off").count() == 0
    finally:
        context.close()


def test_a_user_without_acls_sees_a_403_and_no_data(browser, secured):
    context, page = _signed_in(browser, secured, "nobody", "nobody-secret")
    try:
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
    status, body = http_json("POST", secured.url(1) + "/v1/lab/runs", {"scenario": "baseline"}, NOBODY)
    assert status == 403 and "super user" in body["message"], body


def test_a_lab_run_never_outlives_its_node(secured):
    """Last of the secured tests: it stops the node, then kills it."""
    run = _started_run(secured)
    secured.stop(1)  # a clean stop ends the run it owns
    _assert_gone(run["pid"], "the lab run after its node stopped")
    secured.start_node(1)
    secured.wait_ready(timeout_s=60)
    run = _started_run(secured)
    deadline = time.monotonic() + 30
    while len(_group(run["pid"])) < 2 and time.monotonic() < deadline:  # its throwaway cluster's nodes
        time.sleep(0.2)
    nodes = _group(run["pid"]) - {run["pid"]}
    assert nodes, "the run's cluster did not start within 30 s"
    secured.kill(1)  # kill -9: the node runs no cleanup of its own
    _assert_gone(run["pid"], "the lab run after kill -9 of its node")
    for pid in nodes:
        _assert_gone(pid, "a node of the lab run's throwaway cluster after kill -9 of the node that owned the run")


def _started_run(node_cluster) -> dict:
    status, run = http_json("POST", node_cluster.url(1) + "/v1/lab/runs", {"scenario": "baseline"}, ADMIN)
    assert status == 201 and run["state"] == "running", run
    meta = json.loads((node_cluster.config.node(1).data_path / "lab" / run["run_id"] / "run.json").read_text())
    return {**run, "pid": meta["pid"]}


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is gone for this purpose)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group(pgid: int) -> set[int]:
    """The live processes of a process group."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _assert_gone(pid: int, what: str, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), f"{what} (pid {pid}) still runs {within_s:.0f} s later"


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
    # opened afresh once the run is over: the last run with its verdict, past runs before the library
    open_page(lab, cluster, "lab")
    lab.reload()
    sync_api.expect(lab.get_by_role("heading", name="Latest run")).to_be_visible(timeout=WAIT_MS)
    sync_api.expect(lab.locator("#lab-state")).to_contain_text(runs["runs"][0]["run_id"], timeout=WAIT_MS)
    sync_api.expect(lab.locator("#lab-verdict")).to_contain_text("PASS", timeout=WAIT_MS)
    assert lab.get_by_text("No run yet.").count() == 0
    headings = [lab.get_by_role("heading", name=n, exact=True).bounding_box()["y"]
                for n in ("Latest run", "Past runs", "Scenario library")]
    assert headings == sorted(headings), f"the lab page's sections are out of order: {headings}"
    shoot(lab, "lab-after-run")
    lab.close()


def test_the_lab_page_learns_which_events_end_a_fault_from_the_verdicts_rule(cluster):
    from kraft.scenario.verdict import UNDO_KINDS
    status, body = http_json("GET", cluster.url(1) + "/v1/lab/scenarios")
    assert status == 200 and body["fault_end_kinds"] == list(UNDO_KINDS), body
    assert "end-abuse" in body["fault_end_kinds"]  # the hostile scenario's end of its abuse
