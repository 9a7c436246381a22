"""A newcomer's first hour (issue 61): a wiped data dir that `kraft up` formats afresh is
said loudly, on the console and in the node's log, and a controller starting without its
Raft state that the leader knew with entries says so too; the wrong doors' answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kraft.config.cluster import load_cluster_config
from kraft.config.data_dir import read_identity
from kraft.kafka.wire.codec import MalformedRequest
from kraft.kafka.connection.wrong_door import HttpOnKafkaPort, not_kafka
from kraft.server.controller_start import held_before
from kraft.server.launcher import prepare_data_dirs
from kraft.server.wrong_door import is_rest_path, kafka_at_http_hint

ROOT = Path(__file__).resolve().parents[2]


def bundled_copy(folder: Path):
    shutil.copy(ROOT / "cluster.toml", folder / "cluster.toml")
    return load_cluster_config(folder / "cluster.toml")


def test_a_wiped_data_dir_beside_formatted_ones_is_formatted_afresh_and_said_loudly(tmp_path):
    config = bundled_copy(tmp_path)
    said: list[str] = []
    cluster_id = prepare_data_dirs(config, said.append)
    assert said == []  # a new cluster: every dir new, nothing to say
    shutil.rmtree(tmp_path / "data" / "node-2")  # the voter's disk wiped
    assert prepare_data_dirs(config, said.append) == cluster_id
    [warning] = said
    assert warning.startswith(f"node 2's data dir {tmp_path / 'data' / 'node-2'} holds no data while nodes 1, 3")
    assert cluster_id in warning and "votes for no one until it has caught up from a leader" in warning
    identity = read_identity(tmp_path / "data" / "node-2")
    assert identity is not None and (identity.cluster_id, identity.node_id) == (cluster_id, 2)
    [line] = (tmp_path / "data" / "node-2" / "node.log").read_text().splitlines()
    assert " node-2 WARNING kraft.up: " in line and line.endswith(warning)  # where the node's own lines go
    prepare_data_dirs(config, said.append)
    assert len(said) == 1  # formatted now: said once


def test_a_controller_without_raft_state_lost_entries_only_when_the_leader_saw_it_acknowledge_some():
    leader = {"voters": {"1": "a:1", "2": "b:1", "3": "c:1"}, "established": True, "leader_id": 1,
              "acknowledged": {"1": 40, "2": 37, "3": 0}}
    follower = {**leader, "leader_id": 1, "acknowledged": {}}  # only the leader tracks the others
    assert held_before(2, [follower, leader]) == (1, 37)  # wiped: it had acknowledged up to 37
    assert held_before(3, [leader]) is None  # a new cluster's controller that started late
    assert held_before(2, [follower]) is None
    assert held_before(2, [{"voters": {}, "established": True, "leader_id": 1}]) is None  # an older node's answer


def test_http_at_the_kafka_port_is_answered_with_the_http_port_and_tls_is_named():
    node = load_cluster_config(ROOT / "cluster.toml").node(1)
    refused = not_kafka(b"GET ", node, first_request=True)
    assert isinstance(refused, HttpOnKafkaPort)
    head, body = refused.answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    message = json.loads(body)["message"]
    assert "node 1's Kafka port (9092)" in message and "http://127.0.0.1:8081" in message
    assert isinstance(not_kafka(b"POST", node, first_request=True), HttpOnKafkaPort)
    tls = not_kafka(b"\x16\x03\x01\x02", node, first_request=True)
    assert isinstance(tls, MalformedRequest) and "TLS handshake on a plaintext Kafka listener" in str(tls)
    assert not_kafka(b"\x7f\xff\xff\xff", node, first_request=True) is None  # a size: said as before
    assert not_kafka(b"GET ", node, first_request=False) is None  # mid-connection: a broken frame


def test_a_kafka_client_at_the_http_port_is_told_the_kafka_port():
    config = load_cluster_config(ROOT / "cluster.toml")
    assert kafka_at_http_hint(config.node(1)).endswith("bootstrap.servers=127.0.0.1:9092")



def test_the_rest_paths_a_registry_port_hints_at_are_the_rest_apis_not_the_registrys():
    for path in ("/topics", "/topics/orders", "/v3/clusters", "/consumers/g", "/v1/cluster/health_overview",
                 "/v1/brokers/1/decommission", "/console/"):
        assert is_rest_path(path), path
    for path in ("/", "/subjects", "/schemas/ids/1", "/v1/metadata/id", "/config", "/dek-registry/v1/keks"):
        assert not is_rest_path(path), path
