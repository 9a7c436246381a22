"""Taking a broker out for good on a real 4-broker cluster while acks=all writes go on:
every replica moves off it (new copies catch up before old ones leave), nothing
acknowledged is lost, the next controller carries on when the active one dies, it is unregistered
and stays out while it keeps running; a
decommission the others cannot absorb is refused; a recommission stops one under way
and the broker takes new partitions again. Real node processes."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from cluster_client import V2_JSON, call

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster
MIN_ISR = {"name": "min.insync.replicas", "value": "2"}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=4, controllers=3) as c:
        c.start().wait_ready(timeout_s=60)
        c.wait_until(lambda: len(brokers(c)) == 4, 30, "4 brokers registered")
        yield c


def brokers(c) -> list[int]:
    status, body = http_json("GET", c.v3(1) + "/brokers")
    assert status == 200, body
    return [b["broker_id"] for b in body["data"] if not b["fenced"]]


def kraft(c, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraft", *args, "--bootstrap", c.url(2)],
                          capture_output=True, text=True, timeout=60, check=False)


def registered(c) -> list[int]:
    status, body = http_json("GET", c.v3(1) + "/brokers")
    assert status == 200, body
    return [b["broker_id"] for b in body["data"]]


def create(c, name: str, partitions: int, rf: int = 3):
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": name, "partitions_count": partitions,
                                                          "replication_factor": rf, "configs": [MIN_ISR]})
    assert status == 201, body
    c.wait_until(lambda: all(len(p["isr"]) == rf for p in partitions_of(c, name)), 30, f"{name}: full ISRs")


def partitions_of(c, name: str) -> list[dict]:
    status, body = http_json("GET", f"{c.v3(1)}/topics/{name}/partitions")
    assert status == 200, body
    return body["data"]


def replicas_of(c, name: str) -> list[list[int]]:
    return [p["replica_ids"] for p in partitions_of(c, name)]


def progress(c, broker: int, via: int = 2) -> dict:
    status, body = http_json("GET", c.url(via) + f"/v1/brokers/{broker}/decommission")
    assert status == 200, body
    return body


class Writer(threading.Thread):
    """acks=all writes to every partition in turn through nodes 1-3, until stopped;
    remembers what was acknowledged. Bounded in count."""

    def __init__(self, c, topic: str, partitions: int):
        super().__init__(daemon=True)
        self.c, self.topic, self.partitions = c, topic, partitions
        self.stop = threading.Event()
        self.acked: set[str] = set()

    def run(self):
        n = 0
        while not self.stop.is_set() and n < 20000:
            n += 1
            value = f"v{n}"
            try:
                status, body = http_json("POST", self.c.url(1 + n % 3) + f"/topics/{self.topic}/partitions/"
                                         f"{n % self.partitions}?acks=all", {"records": [{"value": value}]},
                                         headers={"Content-Type": V2_JSON}, timeout=10)
            except OSError:
                continue
            if status == 200 and body["offsets"][0]["error_code"] is None:
                self.acked.add(value)


def values_in(c, topic: str, partitions: int) -> set[str]:
    out: set[str] = set()
    for p in range(partitions):
        offset = 0
        for _ in range(10000):  # bounded: pages of records until the high watermark
            status, records = call("GET", c.url(1) + f"/topics/{topic}/partitions/{p}/records?offset={offset}"
                                   "&timeout=200", headers={"Accept": V2_JSON})
            assert status == 200, records
            if not records:
                break
            out |= {r["value"] for r in records}
            offset = records[-1]["offset"] + 1
    return out


def test_a_decommission_the_others_cannot_absorb_is_refused(cluster):
    c = cluster
    create(c, "everywhere", 1, rf=4)
    try:
        status, body = http_json("PUT", c.url(1) + "/v1/brokers/4/decommission")
        assert status == 409 and body["error_code"] == 40909, body
        assert "replication factor 4" in body["message"], body
        assert progress(c, 4)["state"] == "active"
    finally:
        assert http_json("DELETE", c.v3(1) + "/topics/everywhere")[0] == 204
    status, body = http_json("PUT", c.url(2) + "/v1/brokers/9/decommission")
    assert status == 404 and "broker 9" in body["message"], body
    status, body = http_json("PUT", c.url(2) + "/v1/brokers/four/decommission")
    assert status == 400 and body["error_code"] == 400, body
    for bad in ("3,x", "3,,4", ",".join(["3"] * 1001), "9" * 30):
        status, body = http_json("PUT", c.url(2) + f"/v1/brokers/4/decommission?together={bad}")
        assert status == 400 and body["error_code"] == 400 and len(body["message"]) < 200, (bad[:20], body)
    assert progress(c, 4)["state"] == "active"
    status, body = http_json("PUT", c.url(2) + "/v1/brokers/2/recommission")
    assert status == 409 and "not being decommissioned" in body["message"], body
    listed = kraft(c, "broker", "list")
    assert listed.returncode == 0 and all(f"│ {b} " in listed.stdout for b in (1, 2, 3, 4)), listed
    refused = kraft(c, "broker", "decommission", "9")
    assert refused.returncode == 1 and "broker 9 is not registered" in refused.stderr, refused
    assert "Traceback" not in refused.stderr


def cordoned(c, broker: int) -> bool:
    """DescribeLogDirs v5 at the broker: is its log dir cordoned (KIP-1066)?"""
    from kafka_wire import kafka_socket, wire_call
    from kio.schema.describe_log_dirs.v5.request import DescribeLogDirsRequest
    s = kafka_socket(c, broker)
    try:
        (result,) = wire_call(s, DescribeLogDirsRequest(topics=())).results
    finally:
        s.close()
    return result.is_cordoned


def test_recommission_during_a_decommission_stops_it_and_the_broker_takes_partitions_again(cluster):
    c = cluster
    create(c, "busy", 32)
    on_four = sum(4 in r for r in replicas_of(c, "busy"))
    status, body = http_json("PUT", c.url(3) + "/v1/brokers/4/decommission")
    assert status == 200 and body["state"] == "decommissioning", body
    c.wait_until(lambda: progress(c, 4)["moves_in_flight"] > 0, 20, "moves under way")
    # its log dir takes no new replicas: cordoned, as Kafka 4's DescribeLogDirs says it
    c.wait_until(lambda: cordoned(c, 4), 20, "broker 4's log dir cordoned")
    assert not cordoned(c, 3)
    status, body = http_json("PUT", c.url(1) + "/v1/brokers/4/recommission")
    assert status == 200 and body["state"] == "active", body
    c.wait_until(lambda: not cordoned(c, 4), 20, "broker 4's log dir no longer cordoned")
    # at most one bounded wave of moves can have finished: most partitions never left
    assert 0 < body["replicas_left"] <= on_four, body
    # through the node that answered (it waited for the recommission's metadata)
    status, moving = http_json("GET", c.v3(1) + "/topics/-/partitions/-/reassignment")
    assert status == 200 and moving["data"] == [], moving  # nothing is moving any more
    create(c, "after", 8)
    assert any(4 in r for r in replicas_of(c, "after"))
    for name in ("busy", "after"):
        assert http_json("DELETE", c.v3(1) + f"/topics/{name}")[0] == 204


def test_decommission_under_writes_moves_every_replica_off_and_unregisters_the_broker(cluster):
    c = cluster
    partitions = 8
    create(c, "orders", partitions)
    assert any(4 in r for r in replicas_of(c, "orders"))
    writer = Writer(c, "orders", partitions)
    writer.start()
    try:
        c.wait_until(lambda: len(writer.acked) >= 100, 30, "writes acknowledged before")
        status, body = http_json("DELETE", c.v3(2) + "/brokers/4")  # Confluent's v3 form of the same
        assert status == 202 and body["state"] == "decommissioning", body
        # the active controller dies mid-way (the moves need it to finish): the next one
        # carries on from the log, and the dead one comes back
        controller = c.wait_until(lambda: c.controller_id(), 20, "an active controller")
        assert controller in (1, 2, 3)
        c.kill(controller)
        c.start_node(controller)
        c.wait_ready([controller], timeout_s=60)
        c.wait_until(lambda: progress(c, 4, via=1 + controller % 3)["finished"], 60, "broker 4 decommissioned")
        acked_during = len(writer.acked)
        c.wait_until(lambda: len(writer.acked) >= acked_during + 50, 30, "writes acknowledged after")
    finally:
        writer.stop.set()
        writer.join(30)
    assert all(4 not in r and len(r) == 3 for r in replicas_of(c, "orders"))
    assert registered(c) == [1, 2, 3]
    done = progress(c, 4, via=1)
    assert done["state"] == "decommissioned" and done["replicas_left"] == 0, done
    shown = kraft(c, "broker", "status", "4")
    assert shown.returncode == 0 and "broker 4: decommissioned, 0 partitions left" in shown.stdout, shown
    missing = writer.acked - values_in(c, "orders", partitions)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    # still running, it is refused when it registers again and stays out of placement
    assert c.running(4)
    c.wait_until(lambda: "was decommissioned" in c.log_path(4).read_text(), 20, "broker 4 told it is out")
    create(c, "later", 6)
    assert all(4 not in r for r in replicas_of(c, "later"))
    status, health = http_json("GET", c.url(1) + "/v1/cluster/health_overview")
    assert status == 200 and 4 not in health["nodes_down"], health


@pytest.fixture
def broker_4_decommissioned(cluster):
    """Broker 4 out of the cluster: done by the test before, or here when it runs alone."""
    if 4 in registered(cluster):
        status, body = http_json("PUT", cluster.url(1) + "/v1/brokers/4/decommission")
        assert status == 200, body
        cluster.wait_until(lambda: 4 not in registered(cluster), 60, "broker 4 decommissioned")
    return cluster


def test_kafka_clients_no_longer_see_the_decommissioned_broker(broker_4_decommissioned):
    cluster = broker_4_decommissioned
    pytest.importorskip("confluent_kafka", reason="confluent-kafka is not installed")
    from confluent_kafka.admin import AdminClient
    metadata = AdminClient({"bootstrap.servers": cluster.config.node(1).kafka_address}).list_topics(timeout=20)
    assert sorted(metadata.brokers) == [1, 2, 3]
    assert all(4 not in p.replicas for t in metadata.topics.values() for p in t.partitions.values())


def test_a_decommissioned_broker_comes_back_when_recommissioned(broker_4_decommissioned):
    c = broker_4_decommissioned
    status, body = http_json("PUT", c.url(1) + "/v1/brokers/4/recommission")
    assert status == 200, body
    c.wait_until(lambda: 4 in brokers(c), 30, "broker 4 registered again and unfenced")
    create(c, "back", 8)
    assert any(4 in r for r in replicas_of(c, "back"))
