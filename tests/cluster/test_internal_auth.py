"""The node-to-node door: the Raft password alone opens nothing, a seen request cannot
be altered, and a node on another cluster's data dir is refused at start while the
cluster goes on changing metadata."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from cluster_client import create_topic
from kraft.internode.peers import SIGNATURE_HEADER
from kraft.config.cluster_keys import peer_key, request_signature
from kraft.config.data_dir import format_data_dir, new_cluster_id, read_identity
from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


def identity(cluster, node_id):
    return read_identity(cluster.config.node(node_id).data_path)


def test_the_raft_password_alone_opens_nothing(cluster):
    password = identity(cluster, 1).raft_password
    for header in ({"X-Kraft-Secret": password}, {SIGNATURE_HEADER: password}, {}):
        status, body = http_json("GET", cluster.url(2) + "/internal/v1/metadata/offset", headers=header)
        assert status == 401 and body["error_code"] == 401, body
    status, _ = http_json("POST", cluster.url(2) + "/internal/v1/controller/create_topic",
                          body={"name": "sneaky", "partitions": 1, "replication_factor": 1},
                          headers={"X-Kraft-Secret": password})
    assert status == 401
    assert cluster.get(1, "/topics/sneaky")[0] == 404


def test_a_signed_request_works_and_a_changed_one_does_not(cluster):
    key = peer_key(identity(cluster, 1))
    path = "/internal/v1/metadata/offset"
    sig = request_signature(key, "GET", path, b"", int(time.time() * 1000))
    status, body = http_json("GET", cluster.url(3) + path, headers={SIGNATURE_HEADER: sig})
    assert status == 200 and body["offset"] > 0
    # the same signature on another path or with a body it did not cover is refused
    status, _ = http_json("GET", cluster.url(3) + "/internal/v1/metadata?after=0", headers={SIGNATURE_HEADER: sig})
    assert status == 401
    create = "/internal/v1/controller/create_topic"
    good = b'{"name": "signed", "partitions": 1, "replication_factor": 1}'
    sig = request_signature(key, "POST", create, good, int(time.time() * 1000))
    status, _ = http_json("POST", cluster.url(3) + create, raw=good.replace(b"signed", b"forged"),
                          headers={SIGNATURE_HEADER: sig, "Content-Type": "application/json"})
    assert status == 401
    assert cluster.get(1, "/topics/forged")[0] == 404


def test_a_data_dir_of_another_cluster_is_refused_at_start(cluster):
    create_topic(cluster, "before-swap", partitions=1)
    cluster.stop(1)
    path = cluster.config.node(1).data_path
    mine = read_identity(path)
    kept = path.with_name("node-1-kept")
    shutil.move(str(path), str(kept))
    try:
        foreign = new_cluster_id()
        format_data_dir(path, foreign, 1, mine.raft_password)  # same password, other cluster
        run = subprocess.run([sys.executable, "-m", "kraft", "node", "-c", str(cluster.config_path), "--id", "1"],
                             cwd=cluster.base_dir, capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, run.stderr[-2000:]
        assert foreign in run.stderr and mine.cluster_id in run.stderr and "another cluster" in run.stderr
        # the others never stopped changing metadata
        create_topic_via(cluster, 2, "during-swap")
    finally:
        shutil.rmtree(path)
        shutil.move(str(kept), str(path))
    cluster.start_node(1)
    cluster.wait_ready([1], timeout_s=60)
    assert cluster.get(1, "/topics/during-swap")[0] == 200


def create_topic_via(cluster, node_id, name):
    status, body = http_json("POST", cluster.v3(node_id) + "/topics",
                             {"topic_name": name, "partitions_count": 1, "replication_factor": 2}, timeout=30)
    assert status == 201, body
