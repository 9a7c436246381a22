"""v3 (and v2 read) topic lifecycle against one real 3-node cluster.

What a Confluent REST Proxy v3 user does: create, list, get, delete topics; read
partitions and replicas; read and change topic configs; and expect every node to
answer the same, with admin writes accepted by any node (forwarded to the controller).
"""

from __future__ import annotations

from collections import Counter

import pytest

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

NODES = (1, 2, 3)
SPREAD_S = 10.0  # bounded wait for a change to reach the other nodes


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


# -- helpers -------------------------------------------------------------------------
def create(cluster, node, name, **fields):
    body = {"topic_name": name, **fields}
    return http_json("POST", cluster.v3(node) + "/topics", body)


def topic_names_v3(cluster, node):
    status, body = http_json("GET", cluster.v3(node) + "/topics")
    assert status == 200, body
    assert body["kind"] == "KafkaTopicList"
    return {t["topic_name"] for t in body["data"]}


def config_of(cluster, node, topic, name):
    status, body = http_json("GET", f"{cluster.v3(node)}/topics/{topic}/configs/{name}")
    assert status == 200, body
    return body


def wait_everywhere(cluster, check, what, nodes=NODES):
    """check(node) -> truthy once that node shows the change; bounded."""
    for node in nodes:
        cluster.wait_until(lambda: check(node), SPREAD_S, f"{what} on node {node}")


def non_controller(cluster):
    controller = cluster.controller_id()
    assert controller in NODES
    return next(n for n in NODES if n != controller), controller


# -- create / list / get / delete ------------------------------------------------------
def test_create_answers_201_with_the_topic(cluster):
    status, body = create(cluster, 1, "created-v3", partitions_count=4, replication_factor=3)
    assert status == 201, body
    assert body["kind"] == "KafkaTopic"
    assert body["topic_name"] == "created-v3"
    assert body["partitions_count"] == 4
    assert body["replication_factor"] == 3
    assert body["is_internal"] is False
    assert body["cluster_id"] == cluster.cluster_id


def test_created_topic_is_listed_and_readable_on_the_creating_node_at_once(cluster):
    status, _ = create(cluster, 2, "visible-now", partitions_count=2, replication_factor=2)
    assert status == 201
    assert "visible-now" in topic_names_v3(cluster, 2)
    status, body = http_json("GET", cluster.v3(2) + "/topics/visible-now")
    assert status == 200, body
    assert body["topic_name"] == "visible-now"
    assert body["partitions_count"] == 2
    assert body["replication_factor"] == 2


def test_created_topic_reaches_every_node(cluster):
    status, _ = create(cluster, 3, "everywhere", partitions_count=3, replication_factor=3)
    assert status == 201

    def seen(node):
        status, body = http_json("GET", cluster.v3(node) + "/topics/everywhere")
        return status == 200 and body["partitions_count"] == 3

    wait_everywhere(cluster, seen, "topic everywhere")
    assert all("everywhere" in topic_names_v3(cluster, n) for n in NODES)


def test_a_topic_created_through_one_node_is_found_through_every_other_at_once(cluster):
    # no waiting between the 201 and the next request: the other nodes catch up with
    # the controller before they would answer 404
    for i in range(6):
        creator = NODES[i % 3]
        name = f"at-once-{i}"
        status, body = create(cluster, creator, name, partitions_count=1, replication_factor=3)
        assert status == 201, body
        for node in NODES:
            if node == creator:
                continue
            status, body = http_json("GET", f"{cluster.v3(node)}/topics/{name}")
            assert status == 200, (node, body)
        other = NODES[(i + 1) % 3]
        status, body = http_json("POST", f"{cluster.url(other)}/topics/{name}",
                                 {"records": [{"value": i}]},
                                 headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
        assert status == 200 and body["offsets"][0]["offset"] == 0, (other, body)
    status, body = http_json("GET", cluster.v3(2) + "/topics/never-created")
    assert status == 404 and body["error_code"] == 40401, body


def test_create_without_counts_uses_the_cluster_defaults(cluster):
    status, body = create(cluster, 1, "defaults")
    assert status == 201, body
    assert body["partitions_count"] == 3  # num.partitions default
    assert body["replication_factor"] == 3  # replication.factor default


def test_delete_answers_204_then_the_topic_is_gone_everywhere(cluster):
    assert create(cluster, 1, "doomed", partitions_count=2)[0] == 201
    status, body = http_json("DELETE", cluster.v3(2) + "/topics/doomed")
    assert status == 204, body
    status, body = http_json("GET", cluster.v3(2) + "/topics/doomed")
    assert status == 404
    assert body["error_code"] == 40401
    assert "doomed" not in topic_names_v3(cluster, 2)

    def gone(node):
        return http_json("GET", cluster.v3(node) + "/topics/doomed")[0] == 404

    wait_everywhere(cluster, gone, "topic doomed deleted")
    for node in NODES:
        status, names = http_json("GET", cluster.url(node) + "/topics")
        assert status == 200 and "doomed" not in names
    # deleting it again is a 40401, not a success
    status, body = http_json("DELETE", cluster.v3(1) + "/topics/doomed")
    assert (status, body["error_code"]) == (404, 40401)


def test_a_deleted_topic_name_can_be_created_again(cluster):
    assert create(cluster, 1, "phoenix", partitions_count=2)[0] == 201
    status, first = http_json("GET", cluster.v3(1) + "/topics/phoenix")
    assert status == 200
    assert http_json("DELETE", cluster.v3(1) + "/topics/phoenix")[0] == 204
    status, body = create(cluster, 1, "phoenix", partitions_count=5)
    assert status == 201, body
    assert body["partitions_count"] == 5
    assert body["topic_id"] != first["topic_id"]


def test_validate_only_create_checks_but_creates_nothing(cluster):
    status, body = create(cluster, 1, "dry-run", partitions_count=2, validate_only=True)
    assert status in (200, 201), body
    # the full topic body, as the spec shapes it
    assert {"kind", "metadata", "cluster_id", "topic_name", "is_internal", "replication_factor",
            "partitions_count", "partitions", "configs", "partition_reassignments"} <= set(body), body
    assert (body["topic_name"], body["partitions_count"], body["replication_factor"]) == ("dry-run", 2, 3)
    assert http_json("GET", cluster.v3(1) + "/topics/dry-run")[0] == 404
    assert "dry-run" not in topic_names_v3(cluster, 1)
    # and an invalid request is still refused
    status, body = create(cluster, 1, "dry-run", partitions_count=0, validate_only=True)
    assert (status, body["error_code"]) == (422, 42206)


def test_patch_grows_a_topic_and_the_new_partitions_take_records(cluster):
    assert create(cluster, 1, "growing", partitions_count=2, replication_factor=3)[0] == 201
    status, body = http_json("PATCH", cluster.v3(2) + "/topics/growing",
                             {"partitions_count": 5, "validate_only": True})
    assert status == 200 and body["partitions_count"] == 5, body
    assert http_json("GET", cluster.v3(1) + "/topics/growing")[1]["partitions_count"] == 2
    status, body = http_json("PATCH", cluster.v3(2) + "/topics/growing", {"partitions_count": 5})
    assert status == 200, body
    assert (body["partitions_count"], body["replication_factor"]) == (5, 3)
    for node in NODES:
        for p in (2, 3, 4):  # each new partition is led, replicated and writable from every node
            def takes(node=node, p=p):
                status, body = http_json("POST", f"{cluster.url(node)}/topics/growing/partitions/{p}",
                                         {"records": [{"value": node}]},
                                         headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
                return status == 200 and body["offsets"][0]["error_code"] is None
            cluster.wait_until(takes, SPREAD_S, f"growing-{p} writable via node {node}")
    status, part = http_json("GET", cluster.v3(3) + "/topics/growing/partitions/4")
    assert status == 200 and len(part["replica_ids"]) == 3 and part["log_end_offset"] == 3, part


# -- partitions and replicas ------------------------------------------------------------
def test_partitions_carry_leader_isr_replicas_and_epoch(cluster):
    assert create(cluster, 1, "parts", partitions_count=3, replication_factor=3)[0] == 201
    for node in NODES:
        cluster.wait_until(
            lambda: http_json("GET", cluster.v3(node) + "/topics/parts")[0] == 200,
            SPREAD_S, f"parts on node {node}")
        status, body = http_json("GET", cluster.v3(node) + "/topics/parts/partitions")
        assert status == 200, body
        assert body["kind"] == "KafkaPartitionList"
        assert [p["partition_id"] for p in body["data"]] == [0, 1, 2]
        for p in body["data"]:
            assert p["kind"] == "KafkaPartition"
            assert p["topic_name"] == "parts"
            assert sorted(p["replica_ids"]) == [1, 2, 3]
            assert p["leader_id"] in p["replica_ids"]
            assert sorted(p["isr"]) == [1, 2, 3]
            assert isinstance(p["leader_epoch"], int) and p["leader_epoch"] >= 0
            status, one = http_json(
                "GET", f"{cluster.v3(node)}/topics/parts/partitions/{p['partition_id']}")
            assert status == 200, one
            for key in ("partition_id", "leader_id", "replica_ids", "isr", "leader_epoch"):
                assert one[key] == p[key], key


def test_replicas_list_marks_the_leader_and_in_sync_replicas(cluster):
    assert create(cluster, 1, "reps", partitions_count=2, replication_factor=3)[0] == 201
    for index in (0, 1):
        status, part = http_json("GET", f"{cluster.v3(1)}/topics/reps/partitions/{index}")
        assert status == 200
        status, body = http_json("GET", f"{cluster.v3(1)}/topics/reps/partitions/{index}/replicas")
        assert status == 200, body
        assert body["kind"] == "KafkaReplicaList"
        replicas = body["data"]
        assert sorted(r["broker_id"] for r in replicas) == sorted(part["replica_ids"])
        leaders = [r["broker_id"] for r in replicas if r["is_leader"]]
        assert leaders == [part["leader_id"]]
        assert all(r["is_in_sync"] for r in replicas)
        assert all(r["topic_name"] == "reps" and r["partition_id"] == index for r in replicas)


def test_six_partitions_rf3_spread_two_leaders_per_broker(cluster):
    status, _ = create(cluster, 1, "spread", partitions_count=6, replication_factor=3)
    assert status == 201
    status, body = http_json("GET", cluster.v3(1) + "/topics/spread/partitions")
    assert status == 200
    parts = body["data"]
    assert len(parts) == 6
    assert Counter(p["leader_id"] for p in parts) == {1: 2, 2: 2, 3: 2}
    for p in parts:
        assert len(p["replica_ids"]) == 3
        assert set(p["replica_ids"]) == {1, 2, 3}
        assert p["leader_id"] in p["replica_ids"]


# -- configs --------------------------------------------------------------------------------
def test_configs_list_shows_every_config_with_value_and_source(cluster):
    assert create(cluster, 1, "cfg-list", partitions_count=1)[0] == 201
    status, body = http_json("GET", cluster.v3(1) + "/topics/cfg-list/configs")
    assert status == 200, body
    assert body["kind"] == "KafkaTopicConfigList"
    by_name = {c["name"]: c for c in body["data"]}
    for name in ("min.insync.replicas", "unclean.leader.election.enable", "retention.ms",
                 "cleanup.policy", "max.message.bytes", "compression.type", "segment.jitter.ms"):
        assert name in by_name, name
    assert "num.partitions" not in by_name and "replication.factor" not in by_name  # not topic configs
    assert by_name["compression.type"]["value"] == "producer"
    assert by_name["unclean.leader.election.enable"]["value"] == "false"
    assert by_name["retention.ms"]["value"] == "604800000"
    for c in body["data"]:
        assert c["kind"] == "KafkaTopicConfig"
        assert c["topic_name"] == "cfg-list"
        assert isinstance(c["value"], str)
        assert c["source"] != "DYNAMIC_TOPIC_CONFIG"  # nothing was set on this topic
        assert c["is_default"] is True
    # the single-config GET agrees with the list
    one = config_of(cluster, 1, "cfg-list", "retention.ms")
    assert one["value"] == by_name["retention.ms"]["value"]
    assert one["source"] == by_name["retention.ms"]["source"]


def test_configs_given_at_creation_are_dynamic_topic_configs(cluster):
    status, body = create(cluster, 1, "cfg-create", partitions_count=1, configs=[
        {"name": "retention.ms", "value": "3600000"},
        {"name": "cleanup.policy", "value": "compact"},
        {"name": "compression.type", "value": "gzip"},  # as in Confluent's own example bodies
    ])
    assert status == 201, body
    for node in NODES:
        def shows(node=node):
            status, c = http_json("GET", f"{cluster.v3(node)}/topics/cfg-create/configs/retention.ms")
            return status == 200 and c["value"] == "3600000"

        cluster.wait_until(shows, SPREAD_S, f"retention.ms on node {node}")
        c = config_of(cluster, node, "cfg-create", "retention.ms")
        assert c["source"] == "DYNAMIC_TOPIC_CONFIG"
        assert c["is_default"] is False
        c = config_of(cluster, node, "cfg-create", "cleanup.policy")
        assert (c["value"], c["source"]) == ("compact", "DYNAMIC_TOPIC_CONFIG")
        c = config_of(cluster, node, "cfg-create", "compression.type")
        assert (c["value"], c["source"]) == ("gzip", "DYNAMIC_TOPIC_CONFIG")
        # untouched configs keep their defaults
        assert config_of(cluster, node, "cfg-create", "min.insync.replicas")["source"] != \
            "DYNAMIC_TOPIC_CONFIG"


def test_put_config_is_visible_at_once_and_then_everywhere(cluster):
    assert create(cluster, 1, "cfg-put", partitions_count=1)[0] == 201
    status, body = http_json("PUT", cluster.v3(2) + "/topics/cfg-put/configs/retention.ms",
                             {"value": "120000"})
    assert status == 204, body
    c = config_of(cluster, 2, "cfg-put", "retention.ms")
    assert (c["value"], c["source"]) == ("120000", "DYNAMIC_TOPIC_CONFIG")

    def shows(node):
        return config_of(cluster, node, "cfg-put", "retention.ms")["value"] == "120000"

    wait_everywhere(cluster, shows, "retention.ms=120000")
    # the full list agrees
    status, body = http_json("GET", cluster.v3(3) + "/topics/cfg-put/configs")
    assert {c["name"]: c["value"] for c in body["data"]}["retention.ms"] == "120000"


def test_unclean_leader_election_toggle_is_visible_live(cluster):
    assert create(cluster, 1, "cfg-unclean", partitions_count=1)[0] == 201
    url = "/topics/cfg-unclean/configs/unclean.leader.election.enable"
    assert http_json("PUT", cluster.v3(3) + url, {"value": "true"})[0] == 204
    assert http_json("GET", cluster.v3(3) + url)[1]["value"] == "true"
    wait_everywhere(cluster, lambda n: http_json("GET", cluster.v3(n) + url)[1]["value"] == "true",
                    "unclean election on")
    assert http_json("PUT", cluster.v3(1) + url, {"value": "false"})[0] == 204
    assert http_json("GET", cluster.v3(1) + url)[1]["value"] == "false"
    wait_everywhere(cluster, lambda n: http_json("GET", cluster.v3(n) + url)[1]["value"] == "false",
                    "unclean election off")


def test_delete_config_resets_it_to_the_default(cluster):
    status, _ = create(cluster, 1, "cfg-reset", partitions_count=1,
                       configs=[{"name": "min.insync.replicas", "value": "1"}])
    assert status == 201
    status, body = http_json("DELETE", cluster.v3(3) + "/topics/cfg-reset/configs/min.insync.replicas")
    assert status == 204, body
    c = config_of(cluster, 3, "cfg-reset", "min.insync.replicas")
    assert c["value"] == "2"  # the built-in / cluster default
    assert c["source"] != "DYNAMIC_TOPIC_CONFIG"

    def reset(node):
        c = config_of(cluster, node, "cfg-reset", "min.insync.replicas")
        return c["value"] == "2" and c["source"] != "DYNAMIC_TOPIC_CONFIG"

    wait_everywhere(cluster, reset, "min.insync.replicas reset")
    status, body = http_json("GET", cluster.url(1) + "/topics/cfg-reset")
    assert status == 200 and "min.insync.replicas" not in body["configs"]


def test_configs_alter_sets_several_at_once_and_can_delete(cluster):
    assert create(cluster, 1, "cfg-alter", partitions_count=1,
                  configs=[{"name": "segment.ms", "value": "60000"}])[0] == 201
    status, body = http_json("POST", cluster.v3(1) + "/topics/cfg-alter/configs:alter", {"data": [
        {"name": "retention.ms", "value": "7200000"},
        {"name": "min.insync.replicas", "value": "1"},
        {"name": "segment.ms", "operation": "DELETE"},
    ]})
    assert status == 204, body

    def altered(node):
        values = {c["name"]: (c["value"], c["source"]) for c in
                  http_json("GET", f"{cluster.v3(node)}/topics/cfg-alter/configs")[1]["data"]}
        return (values["retention.ms"] == ("7200000", "DYNAMIC_TOPIC_CONFIG")
                and values["min.insync.replicas"] == ("1", "DYNAMIC_TOPIC_CONFIG")
                and values["segment.ms"][1] != "DYNAMIC_TOPIC_CONFIG")

    assert altered(1)  # on the node that made the change, at once
    wait_everywhere(cluster, altered, "configs:alter")


def test_configs_alter_validate_only_changes_nothing(cluster):
    assert create(cluster, 1, "cfg-dry", partitions_count=1)[0] == 201
    before = config_of(cluster, 1, "cfg-dry", "retention.ms")["value"]
    status, body = http_json("POST", cluster.v3(1) + "/topics/cfg-dry/configs:alter", {
        "data": [{"name": "retention.ms", "value": "4242"}], "validate_only": True})
    assert status == 204, body
    assert config_of(cluster, 1, "cfg-dry", "retention.ms")["value"] == before


# -- admin writes through a node that is not the controller -----------------------------------
def test_admin_writes_through_a_non_controller_node_are_forwarded(cluster):
    via, controller = non_controller(cluster)
    status, body = create(cluster, via, "forwarded", partitions_count=3, replication_factor=3,
                          configs=[{"name": "retention.ms", "value": "5000"}])
    assert status == 201, body
    assert body["partitions_count"] == 3
    # readable on the node that was asked, at once, and on the controller
    assert http_json("GET", cluster.v3(via) + "/topics/forwarded")[0] == 200
    cluster.wait_until(
        lambda: http_json("GET", cluster.v3(controller) + "/topics/forwarded")[0] == 200,
        SPREAD_S, "forwarded topic on the controller")

    status, _ = http_json("PUT", cluster.v3(via) + "/topics/forwarded/configs/retention.ms",
                          {"value": "6000"})
    assert status == 204
    assert config_of(cluster, via, "forwarded", "retention.ms")["value"] == "6000"
    status, _ = http_json("POST", cluster.v3(via) + "/topics/forwarded/configs:alter",
                          {"data": [{"name": "retention.ms", "value": "7000"}]})
    assert status == 204
    assert config_of(cluster, via, "forwarded", "retention.ms")["value"] == "7000"
    status, _ = http_json("DELETE", cluster.v3(via) + "/topics/forwarded/configs/retention.ms")
    assert status == 204
    assert config_of(cluster, via, "forwarded", "retention.ms")["source"] != "DYNAMIC_TOPIC_CONFIG"

    status, _ = http_json("DELETE", cluster.v3(via) + "/topics/forwarded")
    assert status == 204
    assert http_json("GET", cluster.v3(via) + "/topics/forwarded")[0] == 404
    cluster.wait_until(
        lambda: http_json("GET", cluster.v3(controller) + "/topics/forwarded")[0] == 404,
        SPREAD_S, "forwarded topic gone on the controller")


# -- v2 metadata reads ---------------------------------------------------------------------------
def test_v2_lists_topic_names(cluster):
    assert create(cluster, 1, "v2-list-a", partitions_count=1)[0] == 201
    assert create(cluster, 1, "v2-list-b", partitions_count=1)[0] == 201
    status, names = http_json("GET", cluster.url(1) + "/topics")
    assert status == 200
    assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    assert {"v2-list-a", "v2-list-b"} <= set(names)
    # the same topics as v3 lists, but for the internal ones (__consumer_offsets, once some
    # module on the shared cluster has used a group), which v2 leaves out
    status, body = http_json("GET", cluster.v3(1) + "/topics")
    assert status == 200, body
    assert set(names) == {t["topic_name"] for t in body["data"] if not t["is_internal"]}


def test_v2_topic_shows_name_configs_and_partitions(cluster):
    status, _ = create(cluster, 1, "v2-topic", partitions_count=3, replication_factor=3,
                       configs=[{"name": "retention.ms", "value": "1000"}])
    assert status == 201
    status, body = http_json("GET", cluster.url(1) + "/topics/v2-topic")
    assert status == 200, body
    assert body["name"] == "v2-topic"
    assert body["configs"].get("retention.ms") == "1000"
    status, v3 = http_json("GET", cluster.v3(1) + "/topics/v2-topic/partitions")
    v3_by_id = {p["partition_id"]: p for p in v3["data"]}
    assert [p["partition"] for p in body["partitions"]] == [0, 1, 2]
    for p in body["partitions"]:
        expected = v3_by_id[p["partition"]]
        assert p["leader"] == expected["leader_id"]
        assert [r["broker"] for r in p["replicas"]] == expected["replica_ids"]
        assert [r["broker"] for r in p["replicas"] if r["leader"]] == [expected["leader_id"]]
        assert all(r["in_sync"] for r in p["replicas"])
    status, body = http_json("GET", cluster.url(2) + "/topics/no-such-topic")
    assert (status, body["error_code"]) == (404, 40401)


# -- cluster-wide reads (the spec's "-" paths), broker replicas, offsets, reassignments -----------------
def test_cluster_wide_reads_answer_in_the_specs_shapes(cluster):
    assert create(cluster, 1, "wide-a", partitions_count=2, replication_factor=3)[0] == 201
    assert create(cluster, 1, "wide-b", partitions_count=1, replication_factor=1,
                  configs=[{"name": "retention.ms", "value": "1000"}])[0] == 201
    wait_everywhere(cluster, lambda n: http_json("GET", f"{cluster.v3(n)}/topics/wide-b")[0] == 200, "wide-b")
    status, body = http_json("GET", cluster.v3(2) + "/topics/-/configs")
    assert status == 200 and body["kind"] == "KafkaTopicConfigList", body
    by_topic = Counter(c["topic_name"] for c in body["data"])
    assert by_topic["wide-a"] == by_topic["wide-b"] > 10
    [retention] = [c for c in body["data"] if c["topic_name"] == "wide-b" and c["name"] == "retention.ms"]
    assert (retention["value"], retention["source"]) == ("1000", "DYNAMIC_TOPIC_CONFIG")

    status, body = http_json("GET", cluster.v3(3) + "/brokers/-/configs")
    assert status == 200 and body["kind"] == "KafkaBrokerConfigList", body
    per_broker = Counter(c["broker_id"] for c in body["data"])  # every broker, the same settings
    assert set(per_broker) == set(NODES) and len(set(per_broker.values())) == 1 and per_broker[1] > 5

    for broker in NODES:
        status, body = http_json("GET", f"{cluster.v3(1)}/brokers/{broker}/partition-replicas")
        assert status == 200 and body["kind"] == "KafkaReplicaList", body
        hosted = set()
        for name in ("wide-a", "wide-b"):
            for p in http_json("GET", f"{cluster.v3(1)}/topics/{name}/partitions")[1]["data"]:
                if broker in p["replica_ids"]:
                    hosted.add((name, p["partition_id"]))
        listed = {(r["topic_name"], r["partition_id"]) for r in body["data"] if r["topic_name"].startswith("wide-")}
        assert listed == hosted and all(r["broker_id"] == broker for r in body["data"])
    assert http_json("GET", f"{cluster.v3(1)}/brokers/9/partition-replicas")[0] == 404

    for path in ("/topics/-/partitions/-/reassignment", "/topics/wide-a/partitions/-/reassignment"):
        status, body = http_json("GET", cluster.v3(1) + path)
        assert status == 200 and body["data"] == [], body
    assert http_json("GET", cluster.v3(1) + "/topics/wide-a/partitions/0/reassignment")[0] == 404
    assert http_json("GET", cluster.v3(1) + "/topics/nope/partitions/-/reassignment")[0] == 404


def test_partition_offset_is_the_earliest_and_the_high_watermark(cluster):
    assert create(cluster, 1, "offsets-v3", partitions_count=1, replication_factor=3)[0] == 201
    status, body = http_json("POST", cluster.url(1) + "/topics/offsets-v3/partitions/0",
                             {"records": [{"value": i} for i in range(7)]},
                             headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
    assert status == 200, body
    for node in NODES:  # the leader answers; the others ask it
        status, body = http_json("GET", f"{cluster.v3(node)}/topics/offsets-v3/partitions/0/offset")
        assert status == 200, body
        assert (body["kind"], body["earliest_offset"], body["latest_offset"]) == ("KafkaPartitionWithOffsets", 0, 7)
    status, body = http_json("GET", f"{cluster.v3(2)}/topics/offsets-v3/partitions/0/offset?offset_type=sideways")
    assert status == 400, body
    assert http_json("GET", f"{cluster.v3(2)}/topics/offsets-v3/partitions/3/offset")[0] == 404


# -- dynamic cluster-wide broker configs ---------------------------------------------------------------
def test_cluster_wide_broker_configs_change_the_topic_defaults_live(cluster):
    assert create(cluster, 1, "cw-plain", partitions_count=1)[0] == 201
    assert create(cluster, 1, "cw-own", partitions_count=1,
                  configs=[{"name": "retention.ms", "value": "1000"}])[0] == 201
    status, body = http_json("PUT", cluster.v3(2) + "/broker-configs/log.retention.ms", {"value": "3600000"})
    assert status == 204, body
    status, body = http_json("GET", cluster.v3(3) + "/broker-configs")
    assert status == 200 and body["kind"] == "KafkaClusterConfigList", body
    assert [(c["name"], c["value"], c["source"]) for c in body["data"]] == [
        ("log.retention.ms", "3600000", "DYNAMIC_DEFAULT_BROKER_CONFIG")]
    wait_everywhere(cluster, lambda n: config_of(cluster, n, "cw-plain", "retention.ms")["value"] == "3600000",
                    "the cluster-wide retention")
    for node in NODES:
        plain = config_of(cluster, node, "cw-plain", "retention.ms")
        assert plain["source"] == "DYNAMIC_DEFAULT_BROKER_CONFIG"
        assert config_of(cluster, node, "cw-own", "retention.ms")["value"] == "1000"  # its own wins

    status, body = http_json("POST", cluster.v3(1) + "/broker-configs:alter", {"data": [
        {"name": "log.retention.ms", "operation": "DELETE"},
        {"name": "message.max.bytes", "value": "2000000"}]})
    assert status == 204, body
    assert http_json("GET", cluster.v3(1) + "/broker-configs/log.retention.ms")[0] == 404
    status, body = http_json("GET", cluster.v3(1) + "/broker-configs/message.max.bytes")
    assert status == 200 and body["value"] == "2000000", body
    wait_everywhere(cluster, lambda n: config_of(cluster, n, "cw-plain", "retention.ms")["value"] == "604800000",
                    "retention back to the static default")
    assert http_json("DELETE", cluster.v3(3) + "/broker-configs/message.max.bytes")[0] == 204
    status, body = http_json("GET", cluster.v3(3) + "/broker-configs")
    assert status == 200 and body["data"] == [], body


@pytest.mark.parametrize("method, path, doc, code", [
    ("PUT", "/broker-configs/no.such.config", {"value": "1"}, 42206),
    ("PUT", "/broker-configs/retention.ms", {"value": "1"}, 42206),  # a topic name: the hint says log.retention.ms
    ("PUT", "/broker-configs/log.retention.msec", {"value": "1"}, 42206),  # misspelt: the hint says log.retention.ms
    ("PUT", "/broker-configs/log.retention.ms", {"value": "soon"}, 42206),
    ("PUT", "/broker-configs/log.retention.ms", {"val": "1"}, 400),
    ("POST", "/broker-configs:alter", {"data": [{"name": "log.roll.ms", "operation": "ZAP"}]}, 400),
    ("POST", "/broker-configs:alter", {"data": []}, 42206),
    ("PUT", "/brokers/1/configs/num.partitions", {"value": "5"}, 42206),
    ("POST", "/brokers/2/configs:alter", {"data": [{"name": "num.partitions", "value": "5"}]}, 42206),
])
def test_bad_cluster_wide_config_changes_are_refused(cluster, method, path, doc, code):
    status, body = http_json(method, cluster.v3(2) + path, doc)
    assert status < 500 and body["error_code"] == code, (status, body)
    if path.endswith("/retention.ms"):
        assert '(its broker name is "log.retention.ms")' in body["message"], body
    if path.endswith("/log.retention.msec"):
        assert '(did you mean "log.retention.ms"?)' in body["message"], body
    assert http_json("GET", cluster.v3(1) + "/broker-configs")[1]["data"] == []
