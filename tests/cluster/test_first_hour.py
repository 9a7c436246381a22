"""A newcomer's first hour (issue 61) on real node processes: a client at the wrong one
of a node's ports is told which one it meant, and a controller whose data dir was wiped
while the cluster ran says so when it starts again, and rejoins."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from kraft.config.cluster import load_cluster_config
from kraft.server.launcher import prepare_data_dirs
from kraft.server.local_cluster import LocalCluster, http_json
from kraft.server.taken_addresses import taken_addresses

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]

# a Kafka ApiVersions v3 request, as librdkafka sends it first: size, key 18, version 3,
# correlation id 1, client id "x", then its flexible body (client software name and version)
BODY = bytes.fromhex("0012" "0003" "00000001" "0001" "78" "00" "0278" "0278" "00")
API_VERSIONS = len(BODY).to_bytes(4, "big") + BODY


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3) as c:
        c.start().wait_ready(timeout_s=90)
        yield c


def test_http_at_a_kafka_port_is_answered_with_the_http_port(cluster):
    node = cluster.config.node(1)
    status, body = http_json("GET", f"http://{node.kafka_address}/topics", timeout=10)
    assert status == 400, body
    assert body["message"] == (f"this is node 1's Kafka port ({node.kafka_port}), which speaks the Kafka protocol, "
                               f"not HTTP: the REST API is on its HTTP port, {node.http_url}")
    # the `kraft` command given the Kafka port where it wants any node's HTTP address
    ran = subprocess.run([sys.executable, "-m", "kraft", "topic", "list", "--bootstrap", node.kafka_address],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode != 0 and f"the REST API is on its HTTP port, {node.http_url}" in ran.stderr, ran
    # a TLS client at the plaintext listener: it cannot read an answer, the log names it
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((node.host, node.kafka_port), timeout=10) as raw:
        with pytest.raises(OSError):  # ssl.SSLError among them: the listener closes
            tls.wrap_socket(raw, server_hostname=node.host)
    cluster.wait_until(lambda: "a TLS handshake on a plaintext Kafka listener" in cluster.log_path(1).read_text(),
                       10, "the TLS client named in the log")
    # and the Kafka listener serves Kafka clients as before
    with socket.create_connection((node.host, node.kafka_port), timeout=10) as s:
        s.sendall(API_VERSIONS)
        assert s.recv(4) != b"HTTP"


def test_a_kafka_client_at_an_http_port_is_answered_and_logged_with_the_kafka_port(cluster):
    node = cluster.config.node(2)
    with socket.create_connection((node.host, node.http_port), timeout=10) as s:
        s.sendall(API_VERSIONS)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    hint = f"this is node 2's HTTP port ({node.http_port}), the REST API, not a Kafka port: Kafka clients dial its " \
           f"Kafka port, bootstrap.servers={node.kafka_address}"
    assert hint.encode() in answer
    cluster.wait_until(lambda: "dialled the HTTP port" in cluster.log_path(2).read_text(), 10, "the log line")
    assert hint in cluster.log_path(2).read_text()
    status, _ = http_json("GET", cluster.url(2) + "/v3/clusters", timeout=10)
    assert status == 200  # HTTP clients are served as before


def test_rest_paths_at_the_registry_port_and_registry_paths_at_the_http_port_name_the_other(cluster):
    node = cluster.config.node(1)
    status, body = http_json("GET", f"{node.schema_registry_url}/v3/clusters", timeout=10)
    assert status == 404 and body["error_code"] == 404, body
    assert body["message"].endswith(f"the REST API is on port {node.http_port}: {node.http_url}"), body
    status, body = http_json("GET", f"{node.schema_registry_url}/no-such-thing", timeout=10)
    assert (status, body["message"]) == (404, "HTTP 404 Not Found"), body  # the registry's own 404, kept
    # Confluent's habit: the registry on 8081, which is kraft's HTTP port
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    with pytest.raises(SchemaRegistryError) as refused:
        SchemaRegistryClient({"url": node.http_url}).get_subjects()
    assert f"the schema registry is on port {node.schema_registry_port}: {node.schema_registry_url}" \
        in refused.value.error_message, refused.value
    status, body = http_json("GET", f"{node.http_url}/no-such-thing", timeout=10)
    assert (status, body["message"]) == (404, "no such endpoint: GET /no-such-thing"), body  # unchanged


def test_a_voter_wiped_while_the_cluster_runs_says_so_and_rejoins(cluster):
    """Last here: it restarts a node. A follower's data dir is wiped while it is down;
    formatted afresh (as `kraft up` would), it starts without Raft state, the leader having
    seen it acknowledge entries: its log says what happened, and it rejoins the quorum."""
    c = cluster
    wiped = next(n for n in (1, 2, 3) if n != c.raft_leader())
    c.kill(wiped)
    shutil.rmtree(c.config.node(wiped).data_path)
    said: list[str] = []
    prepare_data_dirs(c.config, said.append)
    assert len(said) == 1 and said[0].startswith(f"node {wiped}'s data dir"), said
    c.start_node(wiped)
    warning = f"node {wiped} starts with no Raft state, but the leader, node "
    c.wait_until(lambda: warning in c.log_path(wiped).read_text(), 90, "the wiped voter's warning")
    assert "its data dir was wiped or replaced" in c.log_path(wiped).read_text()
    c.wait_ready([wiped], timeout_s=90)
    status, body = http_json("GET", c.v3(wiped) + "/quorum", timeout=10)
    assert status == 200 and wiped in [v["node_id"] for v in body["voters"]], body


def test_a_new_clusters_controller_starting_after_the_others_is_no_wiped_voter(tmp_path):
    """The warning's false alarm ruled out: a new cluster's third controller, started once
    the other two formed the quorum, joins as a voter without Raft state too, but the
    leader never saw it acknowledge anything."""
    with LocalCluster(3, base_dir=tmp_path) as c:
        c.start([1, 2]).wait_ready([1, 2], timeout_s=90)
        c.start_node(3)
        c.wait_ready([3], timeout_s=90)
        log = c.log_path(3).read_text()
        assert "node 3 starts as a voter" in log, log[-3000:]  # it asked the running quorum
        assert "starts with no Raft state" not in log, log[-3000:]


def test_kafkas_usual_bootstrap_address_reaches_the_bundled_cluster(tmp_path):
    """The bundled cluster.toml as `./dev up` runs it (its data in a folder of this test's):
    a Kafka client given only Kafka's habit, localhost:9092, writes and reads back. Its
    ports are fixed, so where something already answers on them (a developer's own
    `./dev up`), the test skips rather than fight it."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    shutil.copy(ROOT / "cluster.toml", tmp_path / "cluster.toml")
    if taken := taken_addresses(load_cluster_config(tmp_path / "cluster.toml")):
        pytest.skip(f"the bundled cluster's addresses are in use here: {', '.join(taken)}")
    up = subprocess.Popen([sys.executable, "-m", "kraft", "up", "-c", str(tmp_path / "cluster.toml"),
                           "--ready-timeout", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=tmp_path, start_new_session=True)
    try:
        ready = up.stdout.readline().strip()  # printed once every node is ready
        if not ready and "already answers" in up.stderr.read():
            pytest.skip("the bundled cluster's addresses were taken meanwhile")
        assert ready == "http://127.0.0.1:8081"
        producer = confluent_kafka.Producer({"bootstrap.servers": "localhost:9092", "acks": "all"})
        producer.produce("first-hour", b"hello")
        assert producer.flush(60) == 0
        consumer = confluent_kafka.Consumer({"bootstrap.servers": "localhost:9092", "group.id": "first-hour",
                                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["first-hour"])
        try:
            got = [m.value() for m in consumer.consume(1, timeout=60) if m.error() is None]
        finally:
            consumer.close()
        assert got == [b"hello"]
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(10)
