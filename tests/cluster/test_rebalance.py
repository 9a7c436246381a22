"""Rebalancing a real cluster: two brokers join a 3-broker cluster (each with a rack,
shown to REST and Kafka clients) and a rebalance evens replicas and preferred leaders
over the five while acks=all writes go on, losing nothing acknowledged; a reassignment
under the replication throttle copies no faster than the configured rate (measured from
outside, on the new replica's files); a cancelled rebalance starts no further move and
reverts the one under way. Real node processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_decommission import Writer, partitions_of, values_in

from kraft.server.local_cluster import LocalCluster, http_json

confluent_kafka = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)

pytestmark = pytest.mark.cluster
MIN_ISR = {"name": "min.insync.replicas", "value": "2"}
# one rack each: with RF 3, five brokers on fewer racks cannot all hold as many replicas
# (a rack of one broker gets a replica of every partition); the planner's rack rules are unit-tested
RACKS = {1: "az-1", 2: "az-2", 3: "az-3", 4: "az-4", 5: "az-5"}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=5, controllers=3) as c:
        text = c.config_path.read_text()
        for node, rack in RACKS.items():
            text = text.replace(f'data_dir = "node-{node}"\n', f'data_dir = "node-{node}"\nrack = "{rack}"\n')
        c.config_path.write_text(text)
        c.start([1, 2, 3]).wait_ready([1, 2, 3], timeout_s=60)
        c.wait_until(lambda: live(c) == [1, 2, 3], 30, "3 brokers registered")
        yield c


@pytest.fixture
def five(cluster):
    """Brokers 4 and 5 running too (the first test starts them itself, mid-way)."""
    start_the_new_brokers(cluster)
    return cluster


def start_the_new_brokers(c) -> None:
    for node in (4, 5):
        if not c.running(node):
            c.start_node(node)
    c.wait_ready([4, 5], timeout_s=60)
    c.wait_until(lambda: live(c) == [1, 2, 3, 4, 5], 30, "5 brokers registered")


def live(c) -> list[int]:
    status, body = http_json("GET", c.v3(1) + "/brokers")
    assert status == 200, body
    return sorted(b["broker_id"] for b in body["data"] if not b["fenced"])


def kraft(c, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraft", "rebalance", *args, "--bootstrap", c.url(2)],
                          capture_output=True, text=True, timeout=60, check=False)


def rebalance_status(c, via: int = 1) -> dict:
    status, body = http_json("GET", c.url(via) + "/v1/partitions/rebalance")
    assert status == 200, body
    return body


def replicas_of(c, topic: str) -> list[list[int]]:
    return [p["replica_ids"] for p in partitions_of(c, topic)]


def counts(c, topics) -> tuple[Counter, Counter]:
    lists = [r for t in topics for r in replicas_of(c, t)]
    return Counter(b for r in lists for b in r), Counter(r[0] for r in lists)


def create(c, name: str, body: dict) -> None:
    status, answer = http_json("POST", c.v3(1) + "/topics", {"topic_name": name, **body})
    assert status == 201, answer
    c.wait_until(lambda: all(len(p["isr"]) == len(p["replica_ids"]) for p in partitions_of(c, name)),
                 30, f"{name}: full ISRs")


def delete(c, name: str) -> None:
    assert http_json("DELETE", c.v3(1) + f"/topics/{name}")[0] == 204


def fill(c, topic: str, partitions: int, each_bytes: int) -> None:
    producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all",
                                         "batch.num.messages": 1, "message.timeout.ms": 30000})
    value = b"x" * 10_000
    for partition in range(partitions):
        for _ in range(each_bytes // len(value)):
            producer.produce(topic, value, partition=partition)
    assert producer.flush(60) == 0


def log_bytes(c, node: int, topic: str, partition: int) -> int:
    directory = Path(c.config.node(node).data_path) / "partitions" / f"{topic}-{partition}"
    return sum(f.stat().st_size for f in directory.glob("*.log")) if directory.is_dir() else 0


def set_throttle(c, rate: int | None) -> None:
    """Both throttle rates for every broker (cluster-wide, v3 broker-configs)."""
    for name in ("leader.replication.throttled.rate", "follower.replication.throttled.rate"):
        if rate is None:
            status, body = http_json("DELETE", c.v3(1) + f"/broker-configs/{name}")
        else:
            status, body = http_json("PUT", c.v3(1) + f"/broker-configs/{name}", {"value": str(rate)})
        assert status == 204, body


def test_a_rebalance_after_two_brokers_join_evens_replicas_and_leaders_under_writes(cluster):
    c = cluster
    partitions = 8
    create(c, "orders", {"partitions_count": partitions, "replication_factor": 3, "configs": [MIN_ISR]})
    writer = Writer(c, "orders", partitions)
    writer.start()
    try:
        c.wait_until(lambda: len(writer.acked) >= 100, 30, "writes acknowledged before")
        start_the_new_brokers(c)
        replicas, _ = counts(c, ["orders"])
        assert replicas[4] == replicas[5] == 0  # new brokers take nothing by themselves
        planned = kraft(c, "plan")
        assert planned.returncode == 0 and "replicas to move" in planned.stdout, planned
        started = kraft(c, "execute", "--max-moves-in-flight", "2")
        assert started.returncode == 0, started
        c.wait_until(lambda: rebalance_status(c)["state"] == "finished", 90, "the rebalance finished")
        acked_during = len(writer.acked)
        c.wait_until(lambda: len(writer.acked) >= acked_during + 50, 30, "writes acknowledged after")
    finally:
        writer.stop.set()
        writer.join(30)
    done = rebalance_status(c, via=3)
    assert done["moves_done"] == done["moves_total"] > 0 and done["moves_in_flight"] == done["moves_left"] == 0
    replicas, leaders = counts(c, ["orders"])
    assert set(replicas) == {1, 2, 3, 4, 5}
    assert max(replicas.values()) - min(replicas.values()) <= 1, replicas
    assert max(leaders[b] for b in range(1, 6)) - min(leaders[b] for b in range(1, 6)) <= 1, leaders
    assert all(len(set(r)) == 3 for r in replicas_of(c, "orders"))
    missing = writer.acked - values_in(c, "orders", partitions)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    shown = kraft(c, "show")
    assert shown.returncode == 0 and "finished" in shown.stdout and "0 left" in shown.stdout, shown
    # a balanced cluster has nothing to move
    status, plan = http_json("GET", c.url(4) + "/v1/partitions/rebalance/plan")
    assert status == 200 and plan["moves"] == [] and plan["replicas_to_move"] == 0, plan
    delete(c, "orders")


def test_brokers_show_their_racks_to_rest_and_kafka_clients(five):
    status, body = http_json("GET", five.v3(2) + "/brokers")
    assert status == 200, body
    assert {b["broker_id"]: b["rack"] for b in body["data"]} == RACKS
    listed = subprocess.run([sys.executable, "-m", "kraft", "broker", "list", "--bootstrap", five.url(1)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0 and "az-5" in listed.stdout, listed
    admin = AdminClient({"bootstrap.servers": five.bootstrap_servers})
    nodes = admin.describe_cluster(request_timeout=20).result().nodes
    assert {n.id: n.rack for n in nodes} == RACKS


def test_a_throttled_move_copies_no_faster_than_the_configured_rate(five):
    c = five
    rate = 250_000  # bytes/s
    size = 1_000_000
    create(c, "bulk", {"replicas_assignments": {"0": [1]}})
    fill(c, "bulk", 1, size)
    stored = log_bytes(c, 1, "bulk", 0)
    assert stored >= size
    set_throttle(c, rate // 2)  # cluster-wide: both sides of every broker
    # broker 4's own follower rate, through Kafka's IncrementalAlterConfigs, over the cluster-wide one
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    resource = ConfigResource(ResourceType.BROKER, "4", incremental_configs=[ConfigEntry(
        "follower.replication.throttled.rate", str(rate), incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=20)
    status, leader_rate = http_json("PUT", c.v3(2) + "/brokers/1/configs/leader.replication.throttled.rate",
                                    {"value": str(rate)})
    assert status == 204, leader_rate
    status, shown = http_json("GET", c.v3(3) + "/brokers/4/configs/follower.replication.throttled.rate")
    assert status == 200 and (shown["value"], shown["source"]) == (str(rate), "DYNAMIC_BROKER_CONFIG"), shown
    described = admin.describe_configs([ConfigResource(ResourceType.BROKER, "2")])
    configs = next(iter(described.values())).result(timeout=20)
    leader_config = configs["leader.replication.throttled.rate"]  # broker 2 has only the cluster-wide value
    assert leader_config.value == str(rate // 2)
    assert leader_config.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
    try:
        began = time.monotonic()
        status, body = http_json("POST", c.v3(1) + "/topics/bulk/partitions/0/reassignment", {"replicas": [1, 4]})
        assert status == 202, body
        samples = []
        for _ in range(600):  # bounded: 60 s
            copied = log_bytes(c, 4, "bulk", 0)
            samples.append((time.monotonic() - began, copied))
            if copied >= stored:
                break
            time.sleep(0.1)
        took, copied = samples[-1]
        assert copied >= stored, f"the new replica holds {copied} of {stored} bytes after {took:.1f} s"
        # the configured bound, with generous slack for the one second's burst and timing
        assert copied / took <= 1.6 * rate, f"{copied} bytes in {took:.1f} s: over {rate} B/s"
        c.wait_until(lambda: replicas_of(c, "bulk") == [[1, 4]], 30, "the move completed")
    finally:
        set_throttle(c, None)
        delete(c, "bulk")


def test_a_cancelled_rebalance_starts_no_more_moves_and_reverts_the_one_under_way(five):
    c = five
    # every replica on brokers 1 and 2, with data, so each move copies for a while
    create(c, "heavy", {"replicas_assignments": {str(p): [1 + p % 2, 2 - p % 2] for p in range(4)}})
    fill(c, "heavy", 4, 150_000)
    before = replicas_of(c, "heavy")
    set_throttle(c, 30_000)
    try:
        status, body = http_json("POST", c.url(3) + "/v1/partitions/rebalance", {"max_moves_in_flight": 1})
        assert status == 202 and body["replicas_to_move"] > 1, body
        status, again = http_json("POST", c.url(1) + "/v1/partitions/rebalance")
        assert status == 409 and again["error_code"] == 40911, again
        c.wait_until(lambda: rebalance_status(c)["moves_in_flight"] == 1, 20, "a move under way")
        cancelled = kraft(c, "cancel")
        assert cancelled.returncode == 0 and "1 moves under way reverted" in cancelled.stdout, cancelled
        first = rebalance_status(c, via=2)
        assert first["state"] == "cancelled" and first["moves_in_flight"] == 0, first
        assert first["moves_cancelled"] == first["moves_total"] - first["moves_done"] - first["moves_skipped"] > 0
        time.sleep(1.5)  # what a running plan would use to start its next move
        later = rebalance_status(c, via=3)
        assert (later["moves_done"], later["moves_cancelled"]) == (first["moves_done"], first["moves_cancelled"])
        status, moving = http_json("GET", c.v3(1) + "/topics/-/partitions/-/reassignment")
        assert status == 200 and moving["data"] == [], moving
        # reverted, and nothing else moved (a preferred leader may have changed: no data moves for that)
        assert [sorted(r) for r in replicas_of(c, "heavy")] == [sorted(r) for r in before]
        status, body = http_json("DELETE", c.url(1) + "/v1/partitions/rebalance")
        assert status == 404, body
    finally:
        set_throttle(c, None)
        delete(c, "heavy")


@pytest.mark.parametrize("method, path, doc, code", [
    ("POST", "/v1/partitions/rebalance", {"max_moves_in_flight": "many"}, 400),
    ("POST", "/v1/partitions/rebalance", {"max_moves_in_flight": 0}, 42206),
    ("POST", "/v1/partitions/rebalance", {"moves": []}, 400),
    ("POST", "/v1/partitions/rebalance", [], 400),
    ("DELETE", "/v1/partitions/rebalance", None, 404),
    ("PUT", "/v3/clusters/{cid}/brokers/1/configs/leader.replication.throttled.rate", {"value": "fast"}, 42206),
    ("PUT", "/v3/clusters/{cid}/brokers/1/configs/leader.replication.throttled.rate", {"value": "0"}, 42206),
    ("PUT", "/v3/clusters/{cid}/brokers/9/configs/leader.replication.throttled.rate", {"value": "10"}, 404),
    ("PUT", "/v3/clusters/{cid}/brokers/1/configs/num.partitions", {"value": "5"}, 42206),
    ("PUT", "/v3/clusters/{cid}/broker-configs/follower.replication.throttled.rate", {"value": "-1"}, 42206),
])
def test_bad_rebalance_and_throttle_requests_get_clear_errors(cluster, method, path, doc, code):
    path = path.replace("{cid}", cluster.cluster_id)
    status, body = http_json(method, cluster.url(2) + path, doc)
    assert status < 500 and body["error_code"] == code, (status, body)
    assert "Traceback" not in body["message"], body
