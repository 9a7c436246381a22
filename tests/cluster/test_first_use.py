"""What a new user does first, on a fresh cluster with the defaults, works the first time:
a consumer is created without a retry, producing to a missing topic creates it, and an
RF 1 topic takes acks=all writes although the cluster's min.insync.replicas is 2."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cluster_sharing import module_log

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

V2_JSON = "application/vnd.kafka.json.v2+json"
V2 = "application/vnd.kafka.v2+json"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(fresh_shared_cluster):
    """The session's shared cluster, used by no other module before this one: fresh, as a new
    user's (tests/cluster/conftest.py)."""
    return fresh_shared_cluster


def v2_produce(cluster, node, topic, records, query=""):
    return http_json("POST", cluster.url(node) + f"/topics/{topic}{query}", {"records": records},
                     headers={"Content-Type": V2_JSON}, timeout=30)


def test_the_first_consumer_on_a_fresh_cluster_is_created_at_once(cluster):
    # no group has been used yet: the offsets topic does not exist before this request
    assert http_json("GET", cluster.v3(1) + "/topics/__consumer_offsets")[0] == 404
    status, body = http_json("POST", cluster.url(2) + "/consumers/first-group",
                             {"name": "c1", "format": "json", "auto.offset.reset": "earliest"},
                             headers={"Content-Type": V2}, timeout=30)
    assert status == 200, body
    assert body["instance_id"] == "c1"


def test_producing_to_a_missing_topic_creates_it_with_the_defaults(cluster):
    status, body = v2_produce(cluster, 3, "auto-v2", [{"value": {"n": 1}}, {"value": {"n": 2}}])
    assert status == 200, body
    assert all(o["error_code"] is None for o in body["offsets"]), body
    status, topic = http_json("GET", cluster.v3(1) + "/topics/auto-v2")
    assert status == 200 and topic["partitions_count"] == 3 and topic["replication_factor"] == 3
    status, body = http_json("POST", cluster.v3(2) + "/topics/auto-v3/records",
                             {"value": {"type": "JSON", "data": "x"}}, timeout=30)
    assert status == 200 and body["error_code"] == 200, body


def test_a_request_refused_for_its_own_sake_creates_no_topic(cluster):
    status, _ = http_json("POST", cluster.url(1) + "/topics/not-made-1", raw=b"{not json",
                          headers={"Content-Type": V2_JSON})
    assert status == 400
    status, _ = http_json("POST", cluster.url(1) + "/topics/not-made-2", {"records": [{"value": 1}]},
                          headers={"Content-Type": "text/plain"})
    assert status == 415
    # an internal topic is the cluster's to make (Kafka's Topic.isInternal), never a client's produce
    status, body = v2_produce(cluster, 1, "__share_group_state", [{"value": 1}])
    assert (status, body["error_code"]) == (404, 40401), body
    status, body = v2_produce(cluster, 1, "not-made-3", [{"value": 1}], query="/partitions/0")
    assert (status, body["error_code"]) == (404, 40401), body
    names = {t["topic_name"] for t in http_json("GET", cluster.v3(1) + "/topics")[1]["data"]}
    assert not names & {"not-made-1", "not-made-2", "__share_group_state", "not-made-3"}


def test_a_users_topic_named_with_two_underscores_is_made_like_any_other(cluster):
    """Kafka's internal topics are a set, not a prefix: a produce auto-creates `__app-state`."""
    status, body = v2_produce(cluster, 1, "__app-state", [{"value": 1}])
    assert status == 200 and body["offsets"][0]["error_code"] is None, body
    status, body = http_json("GET", cluster.url(1) + "/topics")
    assert status == 200 and "__app-state" in body, body  # listed: only internal topics are hidden
    status, body = http_json("DELETE", cluster.v3(1) + "/topics/__app-state")  # the shared cluster goes on
    assert status == 204, body


def test_an_rf1_topic_takes_acks_all_writes_despite_the_cluster_default_of_2(cluster):
    status, body = http_json("POST", cluster.v3(1) + "/topics",
                             {"topic_name": "rf1", "partitions_count": 1, "replication_factor": 1})
    assert status == 201, body
    status, body = v2_produce(cluster, 2, "rf1", [{"value": "v"}], query="?acks=all")
    assert status == 200 and body["offsets"][0]["error_code"] is None, body
    status, body = http_json("GET", cluster.v3(1) + "/topics/rf1/configs/min.insync.replicas")
    assert status == 200 and body["value"] == "1", body


def test_an_explicit_min_isr_above_the_replication_factor_is_refused_at_create(cluster):
    status, body = http_json("POST", cluster.v3(1) + "/topics", {
        "topic_name": "rf1-strict", "partitions_count": 1, "replication_factor": 1,
        "configs": [{"name": "min.insync.replicas", "value": "2"}]})
    assert (status, body["error_code"]) == (422, 42206), body
    assert "replication factor" in body["message"]


def test_a_failed_slot_names_its_partition(cluster):
    status, body = http_json("POST", cluster.v3(1) + "/topics",
                             {"topic_name": "rf1-altered", "partitions_count": 1, "replication_factor": 1})
    assert status == 201, body
    # set on the topic itself (not inherited), so kept: acks=all cannot succeed
    status, body = http_json("PUT", cluster.v3(1) + "/topics/rf1-altered/configs/min.insync.replicas",
                             {"value": "2"})
    assert status == 204, body
    status, body = v2_produce(cluster, 1, "rf1-altered", [{"value": "v"}], query="?acks=all&timeout_ms=2000")
    assert status == 200, body
    slot = body["offsets"][0]
    assert slot["error_code"] == 50003 and slot["partition"] == 0, slot


def test_the_readme_quickstart_answers_each_step_the_first_time(cluster):
    url = cluster.url(1)
    status, body = v2_produce(cluster, 1, "orders", [{"value": {"order": 1}}, {"value": {"order": 2}}])
    assert status == 200 and all(o["error_code"] is None for o in body["offsets"]), body
    status, body = http_json("POST", url + "/consumers/g", {"name": "c1", "format": "json",
                                                           "auto.offset.reset": "earliest"},
                             headers={"Content-Type": V2}, timeout=30)
    assert status == 200, body
    status, body = http_json("POST", url + "/consumers/g/instances/c1/subscription",
                             {"topics": ["orders"]}, headers={"Content-Type": V2}, timeout=30)
    assert status == 204, body
    status, body = http_json("GET", url + "/consumers/g/instances/c1/records?timeout=3000",
                             headers={"Accept": "application/vnd.kafka.json.v2+json"}, timeout=30)
    assert status == 200, body
    assert sorted(r["value"]["order"] for r in body) == [1, 2], body


def test_the_readme_idempotent_produce_example_runs_as_written(cluster):
    """docs/REST.md's block (it defines the cluster id and the producer id it uses), on this
    cluster's addresses, and its request sent again: the same offsets, nothing twice."""
    status, body = http_json("POST", cluster.v3(1) + "/topics", {"topic_name": "orders"})  # the quickstart's
    assert status in (201, 400), body  # made here when this test runs alone
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "docs" / "REST.md").read_text(), flags=re.S)
    [block] = [b for b in blocks if "producer_id=$PID" in b]
    for node in (1, 2, 3):
        block = block.replace(f"localhost:808{node}", cluster.url(node).removeprefix("http://"))
    produce_line = block[block.index("curl -X POST -H"):block.index("# the same request again")]
    again = block + produce_line  # the retry the comment describes, with the same sequence
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", again], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    first, retried = [json.loads(line) for line in ran.stdout.replace("}{", "}\n{").splitlines()]
    offsets = [(o["partition"], o["offset"], o["error_code"]) for o in first["offsets"]]
    assert len(offsets) == 2 and all(code is None for _, _, code in offsets), first
    assert retried == first, "the retry was written again"


def test_a_broker_reports_the_settings_it_runs_with(cluster):
    status, body = http_json("GET", cluster.v3(2) + "/brokers/1/configs")
    assert status == 200, body
    configs = {c["name"]: c for c in body["data"]}
    auto = configs["auto.create.topics.enable"]
    assert (auto["value"], auto["source"], auto["broker_id"]) == ("true", "DEFAULT_CONFIG", 1)
    assert configs["num.partitions"]["value"] == "3"
    assert configs["broker.session.timeout.ms"]["value"] == "3000"
    status, body = http_json("GET", cluster.v3(1) + "/brokers/3/configs/min.insync.replicas")
    assert status == 200 and body["value"] == "2", body
    for path in ("/brokers/1/configs/no.such.config", "/brokers/99/configs",
                 "/brokers/x/configs/num.partitions"):
        status, body = http_json("GET", cluster.v3(1) + path)
        assert status == 404, (path, status, body)


def test_a_fresh_cluster_forms_its_quorum_without_a_stalled_handshake_or_a_false_alarm(cluster):
    for node in (1, 2, 3):
        text = module_log(cluster, node)  # all of it: this module is the first to use the cluster
        assert "not finished in" not in text, text  # a first handshake that stalled
        assert "fail authentication" not in text, text  # a password warning with equal passwords
