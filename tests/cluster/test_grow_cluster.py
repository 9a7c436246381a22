"""A cluster grows by a broker whose address only its own cluster.toml names: the
others learn its HTTP and Kafka endpoints from its registration in the metadata log,
as Kafka brokers learn each other's listeners. Real node processes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient  # noqa: E402

from kraft.server.local_cluster import LocalCluster, http_json  # noqa: E402

pytestmark = pytest.mark.cluster
V2_JSON = "application/vnd.kafka.json.v2+json"


def without_node(text: str, node_id: int) -> str:
    blocks = text.split("\n[[nodes]]\n")
    return "\n[[nodes]]\n".join(b for b in blocks if not b.startswith(f"id = {node_id}\n"))


@pytest.fixture(scope="module")
def grown():
    with LocalCluster(nodes=4, controllers=3) as c:
        three = c.config_path.with_name("three-nodes.toml")
        three.write_text(without_node(c.config_path.read_text(), 4))
        c.node_config_paths.update({1: three, 2: three, 3: three})
        c.start([1, 2, 3]).wait_ready([1, 2, 3], timeout_s=60)
        c.start_node(4)  # from the file that names all four
        c.wait_ready([4], timeout_s=60)
        c.wait_until(lambda: 4 in {b["broker_id"] for b in http_json("GET", c.v3(1) + "/brokers")[1]["data"]},
                     30, "broker 4 registered")
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "grown", "partitions_count": 8,
                                                                "replication_factor": 1})
        assert status == 201, body
        c.wait_until(lambda: 4 in leaders(c).values(), 30, "a partition of 'grown' led by broker 4")
        yield c


def leaders(c) -> dict[int, int]:
    status, body = http_json("GET", c.v3(1) + "/topics/grown/partitions")
    assert status == 200, body
    return {p["partition_id"]: int(p["leader"]["related"].rsplit("/", 1)[-1]) for p in body["data"]}


def test_kafka_clients_bootstrapped_from_the_first_nodes_see_the_new_broker_and_write_to_it(grown):
    first = grown.config.node(1).kafka_address
    metadata = AdminClient({"bootstrap.servers": first}).list_topics(timeout=20)
    assert sorted(metadata.brokers) == [1, 2, 3, 4]
    assert metadata.brokers[4].port == grown.config.node(4).kafka_port
    producer = confluent_kafka.Producer({"bootstrap.servers": first, "message.timeout.ms": 20000})
    errors: list = []
    for partition in range(8):
        producer.produce("grown", b"via-kafka", partition=partition, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(30)
    assert errors == [None] * 8


def test_rest_through_a_node_that_never_heard_of_it_reaches_its_partitions(grown):
    on_four = next(p for p, leader in leaders(grown).items() if leader == 4)
    status, body = http_json("POST", grown.url(1) + f"/topics/grown/partitions/{on_four}",
                             {"records": [{"value": {"via": "rest"}}]}, headers={"Content-Type": V2_JSON})
    assert status == 200 and body["offsets"][0]["error_code"] is None, body
    status, records = http_json("GET", grown.url(2) + f"/topics/grown/partitions/{on_four}/records?offset=0",
                                headers={"Accept": V2_JSON})
    assert status == 200 and {"via": "rest"} in [r["value"] for r in records], records
    status, health = http_json("GET", grown.url(3) + "/v1/cluster/health_overview")
    assert status == 200 and health["all_nodes"] == [1, 2, 3, 4] and health["nodes_down"] == [], health


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
def test_kcat_lists_four_brokers_through_the_first(grown):
    listed = subprocess.run(["kcat", "-b", grown.config.node(2).kafka_address, "-L", "-t", "grown"],
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert "4 brokers:" in listed.stdout, listed.stdout
