"""The console in daily use, in a real browser on the shared cluster: the message browser
shows every partition and refreshes after the produce form writes; a share group's
numbers add up with records in every state (a real share consumer's fetch and
acknowledgements); the failure lab lists a run started from the command line, with its
checks that had nothing to judge shown as "not run" and its failed writes said to be
expected and not lost, and says what each scenario needs and how long it takes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
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


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


@pytest.fixture(scope="module")
def page(cluster):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # root: no setuid sandbox
        try:
            yield browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        finally:
            browser.close()


def open_page(page, cluster, route: str) -> None:
    page.goto(f"{cluster.url(1)}/console/#/{route}")


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _produce(cluster, topic: str, partition: int, value: str) -> None:
    status, body = call("POST", cluster.v3(1) + f"/topics/{topic}/records",
                        {"partition_id": partition, "value": {"type": "STRING", "data": value}})
    assert status == 200, body


def test_the_message_browser_shows_every_partition_and_refreshes_after_a_produce(page, cluster):
    topic = "console-every-partition"
    create_topic(cluster, topic, partitions=3)
    for partition, value in ((1, "on-one"), (2, "on-two-a"), (2, "on-two-b")):  # nothing on partition 0
        _produce(cluster, topic, partition, value)
    open_page(page, cluster, f"topics/{topic}")
    messages = page.locator("#messages article")
    sync_api.expect(messages).to_have_count(3, timeout=WAIT_MS)  # all partitions, as the page opens
    first = messages.first
    sync_api.expect(first.locator(".value")).to_have_text("on-two-b")  # the newest first
    sync_api.expect(first.locator(".partition")).to_have_text("partition 2")
    assert sorted(messages.locator(".partition").all_inner_texts()) == ["partition 1", "partition 2", "partition 2"]
    page.locator("#browse-partition").select_option("1")  # narrowed to one partition
    page.get_by_role("button", name="Load messages").click()
    sync_api.expect(messages).to_have_count(1, timeout=WAIT_MS)
    sync_api.expect(messages.first.locator(".value")).to_have_text("on-one")
    page.locator("#browse-partition").select_option("all")
    page.get_by_role("button", name="Load messages").click()
    sync_api.expect(messages).to_have_count(3, timeout=WAIT_MS)
    # the produce form writes to partition 0: the list shows it at once, no click on "Load messages"
    page.locator("#produce-partition").select_option("0")
    page.locator("#produce-value").fill("from-the-form")
    page.get_by_role("button", name="Produce").click()
    sync_api.expect(page.locator("#produce-result")).to_contain_text("partition 0 at offset 0", timeout=WAIT_MS)
    sync_api.expect(messages).to_have_count(4, timeout=WAIT_MS)
    sync_api.expect(messages.first.locator(".value")).to_have_text("from-the-form")
    sync_api.expect(messages.first.locator(".partition")).to_have_text("partition 0")
    shoot(page, "topic-every-partition")


def test_a_share_groups_numbers_add_up_with_records_in_every_state(page, cluster):
    """Six records; a share consumer takes five (ShareFetch) and accepts the first and the
    third, releases the second, rejects the fourth and holds the fifth; the sixth is never
    delivered. SPSO 1 (the first is done), SPEO 5, high watermark 6: in flight 4 = one
    available + one acquired + one acknowledged + one archived, lag 3 = available +
    acquired + not yet delivered."""
    from kafka_wire import kafka_socket, leader_of, wire_call
    from share_clients import code, produce, set_group_configs, share_acknowledge, share_fetch, topic_id
    topic, group = "console-share-states", "console-share-states-g"
    create_topic(cluster, topic, partitions=1)
    set_group_configs(cluster, group, share_auto_offset_reset="earliest", share_record_lock_duration_ms=60_000)
    produce(cluster, topic, [f"s{i}" for i in range(6)])  # one batch each
    tid, member = topic_id(cluster, topic), str(uuid.uuid4())
    with kafka_socket(cluster, 1) as s:  # as a client finds a coordinator: the groups' topic is made if need be
        from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
        cluster.wait_until(lambda: code(wire_call(s, FindCoordinatorRequest(
            key_type=0, coordinator_keys=(group,))).coordinators[0].error_code) == 0, 60, "a coordinator")
    with kafka_socket(cluster, leader_of(cluster, topic, 0)) as s:
        fetched = share_fetch(s, group, member, 0, tid, max_records=5)
        [part] = fetched.responses[0].partitions
        assert [(a.first_offset, a.last_offset) for a in part.acquired_records] == [(0, 4)], fetched
        for epoch, (offset, kind) in enumerate(((0, 1), (1, 2), (2, 1), (3, 3)), start=1):  # accept, release, accept, reject
            answer = share_acknowledge(s, group, member, epoch, tid, offset, offset, kind)
            assert code(answer.responses[0].partitions[0].error_code) == 0, answer
        status, view = http_json("GET", cluster.v3(1) + f"/share-groups/{group}")
        assert status == 200, view
        [p] = view["partitions"]
        assert (p["start_offset"], p["end_offset"], p["high_watermark"], p["not_yet_delivered"], p["lag"]) == \
            (1, 5, 6, 1, 3), p
        assert p["in_flight"] == {"available": 1, "acquired": 1, "acknowledged": 1, "archived": 1}, p
        open_page(page, cluster, f"share-groups/{group}")
        rows = page.get_by_role("table", name="Share partitions").locator("tbody tr")
        sync_api.expect(rows).to_have_count(1, timeout=WAIT_MS)
        headers = page.get_by_role("table", name="Share partitions").locator("thead th").all_inner_texts()
        cells = dict(zip(headers, rows.first.locator("td").all_inner_texts()))
        assert {k: cells[k] for k in ("Start offset (SPSO)", "End offset (SPEO)", "High watermark",
                                      "In flight (SPEO − SPSO)", "Available", "Acquired", "Acknowledged", "Archived",
                                      "Not yet delivered (HW − SPEO)", "Lag")} == {
            "Start offset (SPSO)": "1", "End offset (SPEO)": "5", "High watermark": "6", "In flight (SPEO − SPSO)": "4",
            "Available": "1", "Acquired": "1", "Acknowledged": "1", "Archived": "1",
            "Not yet delivered (HW − SPEO)": "1", "Lag": "3"}, cells
        sync_api.expect(page.locator("#share-numbers")).to_contain_text("Lag = available + acquired + not yet delivered")
        shoot(page, "share-group-states")


SHORT = """name = "console-cli-short"
description = "one node killed for 2 s: writes fail while it is down, none is lost"
[cluster]
nodes = 1
[topic]
replication_factor = 1
[workload]
duration = 3
recovery = 1
rate = 20
[[faults]]
at = 0.5
fault = "kill"
target = "random"
duration = 2
"""


def test_a_run_from_the_command_line_is_among_the_labs_past_runs_with_its_checks_not_run(page, cluster, tmp_path):
    runs = Path(os.environ["KRAFT_LAB_RUNS"])  # the suite's (tests/conftest.py); the nodes read it too
    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT)
    ran = subprocess.run([sys.executable, "-m", "kraft", "scenario", "run", str(scenario), "--report", str(tmp_path)],
                         capture_output=True, text=True, timeout=240)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    [record] = [d for d in runs.iterdir() if d.name.endswith("-console-cli-short")]
    assert json.loads((record / "run.json").read_text())["origin"] == "cli"
    status, listed = http_json("GET", cluster.url(1) + "/v1/lab/runs")
    assert status == 200, listed
    mine = next(r for r in listed["runs"] if r["run_id"] == record.name)
    assert (mine["origin"], mine["state"]) == ("cli", "passed"), mine
    open_page(page, cluster, "lab")
    past = page.get_by_role("table", name="Runs on this node and from the command line, newest first")
    row = past.get_by_role("row").filter(has_text=record.name)
    sync_api.expect(row).to_contain_text("command line", timeout=WAIT_MS)
    sync_api.expect(row).to_contain_text("passed")
    row.get_by_role("button", name="Open").click()
    expectations = page.get_by_role("table", name="Expectations").last
    access = expectations.get_by_role("row").filter(has=page.get_by_role("cell", name="access", exact=True))
    sync_api.expect(access).to_contain_text("not run", timeout=WAIT_MS)  # security is off: nothing to judge
    sync_api.expect(access.locator(".pill")).to_have_class("pill muted")
    assert "held" not in access.inner_text()
    lost = expectations.get_by_role("row").filter(has=page.get_by_role("cell", name="lost_writes", exact=True))
    sync_api.expect(lost.locator(".pill")).to_have_class("pill ok")
    # writes failed while the node was down (refused, the producer told): said to be expected, not lost
    failed = json.loads((tmp_path / "console-cli-short.json").read_text())["facts"]["writes_fail"]
    assert failed > 0
    opened = page.locator("section[aria-labelledby=h-opened]")
    sync_api.expect(opened).to_contain_text(f"The {failed} failed writes are expected under faults")
    sync_api.expect(opened).to_contain_text("Failed writes are not lost writes")
    sync_api.expect(page.locator("#lab-state")).to_contain_text(record.name)  # the newest run: the one shown
    sync_api.expect(page.locator("#lab-failed")).to_have_text(f"failed {failed}")
    sync_api.expect(page.locator("#lab-failed")).not_to_have_class(re.compile("bad"))
    sync_api.expect(page.locator("#lab-failed-why")).to_contain_text("not lost writes")
    # the library says how long each scenario takes and what it needs
    library = page.get_by_role("table", name="scenarios", exact=False)
    baseline = library.get_by_role("row").filter(has=page.get_by_role("cell", name="baseline", exact=True))
    sync_api.expect(baseline.locator(".takes")).to_contain_text("about ", timeout=WAIT_MS)
    sync_api.expect(baseline.locator(".needs")).to_contain_text("nothing more")
    isolate = library.get_by_role("row").filter(has=page.get_by_role("cell", name="isolate-leader", exact=True))
    sync_api.expect(isolate.locator(".needs")).to_contain_text("iptables")
    power = library.get_by_role("row").filter(has=page.get_by_role("cell", name="power-cut-leader", exact=True))
    sync_api.expect(power.locator(".needs")).to_contain_text("FUSE")
    shoot(page, "lab-cli-run")
