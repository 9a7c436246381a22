"""Cluster, brokers, quorum, health, readiness and metrics against one real 3-node cluster.

The last test kills a broker (kill -9) and starts it again; it runs at the end of the
module so the earlier tests see a healthy cluster.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

NODES = (1, 2, 3)
FAILOVER_S = 15.0


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


def get(cluster, node, path):
    return http_json("GET", cluster.url(node) + path, timeout=5.0)


def metrics_of(cluster, node) -> dict[str, float]:
    """Sample name -> value, for samples without labels."""
    status, text = get_text(cluster.url(node) + "/metrics")
    assert status == 200
    return {s.name: s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples if not s.labels}


def get_text(url):
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.headers.get_content_type() == "text/plain", resp.headers["Content-Type"]
        return resp.status, resp.read().decode()


def settled_controller(cluster):
    """Every node reports the same controller id (bounded wait)."""
    def agree():
        ids = {get(cluster, n, "/v3/clusters")[1]["data"][0]["controller_id"] for n in NODES}
        return ids.pop() if len(ids) == 1 and None not in ids else None

    return cluster.wait_until(agree, 10, "nodes agree on the controller")


# -- cluster -------------------------------------------------------------------------------
def test_cluster_list_has_one_cluster_with_its_controller(cluster):
    controller = settled_controller(cluster)
    assert controller in NODES
    for node in NODES:
        status, body = get(cluster, node, "/v3/clusters")
        assert status == 200, body
        assert body["kind"] == "KafkaClusterList"
        assert len(body["data"]) == 1
        one = body["data"][0]
        assert one["kind"] == "KafkaCluster"
        assert one["cluster_id"] == cluster.cluster_id
        assert one["controller_id"] == controller


def test_cluster_get_and_controller_is_the_quorum_leader(cluster):
    controller = settled_controller(cluster)
    status, body = http_json("GET", cluster.v3(2))
    assert status == 200, body
    assert body["kind"] == "KafkaCluster"
    assert body["cluster_id"] == cluster.cluster_id
    assert body["controller_id"] == controller
    assert cluster.raft_leader() == controller


# -- brokers -------------------------------------------------------------------------------
def test_brokers_list_has_the_three_unfenced_brokers(cluster):
    for node in NODES:
        status, body = http_json("GET", cluster.v3(node) + "/brokers")
        assert status == 200, body
        assert body["kind"] == "KafkaBrokerList"
        brokers = {b["broker_id"]: b for b in body["data"]}
        assert sorted(brokers) == [1, 2, 3]
        for broker_id, b in brokers.items():
            assert b["kind"] == "KafkaBroker"
            assert b["host"] == cluster.hosts[broker_id]
            assert f"http://{b['host']}:{b['port']}" == cluster.url(broker_id)
            assert b["fenced"] is False


def test_broker_get_and_unknown_broker(cluster):
    status, body = http_json("GET", cluster.v3(1) + "/brokers/2")
    assert status == 200, body
    assert body["broker_id"] == 2
    assert body["host"] == cluster.hosts[2]
    assert body["fenced"] is False
    for raw in ("99", "0", "x", "-1"):
        status, body = http_json("GET", cluster.v3(1) + f"/brokers/{raw}")
        assert status == 404, (raw, body)
        assert body["error_code"] == 404 and body["message"]


# -- quorum ---------------------------------------------------------------------------------
def test_quorum_from_every_node_agrees(cluster):
    controller = settled_controller(cluster)

    def caught_up(body):
        leader = next(v for v in body["voters"] if v["node_id"] == body["leader_id"])
        return leader["lag"] == 0

    leaders = set()
    for node in NODES:
        status, body = http_json("GET", cluster.v3(node) + "/quorum")
        assert status == 200, body
        leaders.add(body["leader_id"])
        assert sorted(v["node_id"] for v in body["voters"]) == [1, 2, 3]
        assert body["high_watermark"] > 0
        assert isinstance(body["leader_epoch"], int) and body["leader_epoch"] >= 1
        assert caught_up(body), body
        for v in body["voters"]:
            assert v["lag"] >= 0 and v["log_end_offset"] >= 0
    assert leaders == {controller}


# -- health, readiness, metrics ---------------------------------------------------------------
def test_health_overview_is_healthy(cluster):
    controller = settled_controller(cluster)
    for node in NODES:
        status, body = get(cluster, node, "/v1/cluster/health_overview")
        assert status == 200, body
        assert body["is_healthy"] is True
        assert body["all_nodes"] == [1, 2, 3]
        assert body["nodes_down"] == []
        assert body["leaderless_partitions"] == []
        assert body["controller_id"] == controller


def test_every_node_is_ready(cluster):
    for node in NODES:
        status, body = get(cluster, node, "/status/ready")
        assert status == 200, body


def test_metrics_are_prometheus_text_with_one_active_controller(cluster):
    controller = settled_controller(cluster)

    def one_active():
        active = {n: metrics_of(cluster, n)["kafka_controller_kafkacontroller_activecontrollercount"]
                  for n in NODES}
        return active if sorted(active.values()) == [0, 0, 1] else None

    active = cluster.wait_until(one_active, 10, "exactly one active controller in /metrics")
    assert active[controller] == 1
    for node in NODES:
        m = metrics_of(cluster, node)
        assert "kafka_server_replicamanager_underreplicatedpartitions" in m
        assert m["kafka_server_replicamanager_underreplicatedpartitions"] == 0


# -- a broker dies (kill -9) and comes back: keep this test last ----------------------------------
def test_killed_broker_is_fenced_and_loses_leadership_then_rejoins(cluster):
    controller = settled_controller(cluster)
    victim = next(n for n in (3, 2, 1) if n != controller)
    survivors = [n for n in NODES if n != victim]
    observer = next(n for n in survivors if n != controller)  # ask a node that is not the controller

    status, body = http_json("POST", cluster.v3(controller) + "/topics",
                             {"topic_name": "failover", "partitions_count": 6,
                              "replication_factor": 3})
    assert status == 201, body
    cluster.wait_until(lambda: get(cluster, observer, "/topics/failover")[0] == 200, 10,
                       "failover topic on the observer")
    status, body = http_json("GET", cluster.v3(observer) + "/topics/failover/partitions")
    before = {p["partition_id"]: p for p in body["data"]}
    led_by_victim = [i for i, p in before.items() if p["leader_id"] == victim]
    assert led_by_victim, "the victim leads no partition; placement should give it two"

    cluster.kill(victim)

    def noticed():
        status, h = get(cluster, observer, "/v1/cluster/health_overview")
        return h if status == 200 and victim in h["nodes_down"] else None

    health = cluster.wait_until(noticed, FAILOVER_S, f"node {victim} in nodes_down")
    assert health["is_healthy"] is False
    assert health["nodes_down"] == [victim]
    assert health["all_nodes"] == [1, 2, 3]

    def moved():
        status, body = http_json("GET", cluster.v3(observer) + "/topics/failover/partitions")
        now = {p["partition_id"]: p for p in body["data"]}
        ok = all(now[i]["leader_id"] in survivors and victim not in now[i]["isr"]
                 for i in led_by_victim)
        return now if ok else None

    now = cluster.wait_until(moved, FAILOVER_S, "leadership moved off the killed broker")
    for i in led_by_victim:
        assert now[i]["leader_id"] in before[i]["isr"]  # a clean election, from the ISR
        assert now[i]["leader_epoch"] > before[i]["leader_epoch"]
    for p in now.values():
        assert p["leader_id"] != victim
        assert victim not in p["isr"]
        assert victim in p["replica_ids"]  # still assigned, just out of sync

    status, body = http_json("GET", cluster.v3(observer) + "/brokers")
    fenced = {b["broker_id"]: b["fenced"] for b in body["data"]}
    assert fenced == {**{n: False for n in survivors}, victim: True}

    health = get(cluster, observer, "/v1/cluster/health_overview")[1]
    assert health["under_replicated_count"] > 0
    # none of this test's RF 3 partitions is leaderless (on the shared cluster another
    # module's RF 1 topic on the victim may be: it has no other replica)
    assert [p for p in health["leaderless_partitions"] if p["topic"] == "failover"] == []
    urp = [metrics_of(cluster, n)["kafka_server_replicamanager_underreplicatedpartitions"]
           for n in survivors]
    assert sum(urp) > 0, urp
    status, body = http_json("GET", cluster.v3(observer) + f"/topics/failover/partitions/{led_by_victim[0]}/replicas")
    replicas = {r["broker_id"]: r for r in body["data"]}
    assert replicas[victim]["is_leader"] is False and replicas[victim]["is_in_sync"] is False

    cluster.start_node(victim)

    def unfenced():
        status, body = http_json("GET", cluster.v3(observer) + "/brokers")
        return status == 200 and all(not b["fenced"] for b in body["data"])

    cluster.wait_until(unfenced, FAILOVER_S, f"broker {victim} unfenced again")
    cluster.wait_ready([victim], timeout_s=FAILOVER_S)
    status, health = get(cluster, observer, "/v1/cluster/health_overview")
    assert health["nodes_down"] == []
