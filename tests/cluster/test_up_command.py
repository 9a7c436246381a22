"""`kraft up` as an operator runs it: ready means writable, a second start on the same
addresses is refused, a node that fails makes the exit code non-zero."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

KRAFT = [sys.executable, "-m", "kraft"]
V2_JSON = "application/vnd.kafka.json.v2+json"
START_BOUND_S = 120  # three Python processes starting on a loaded 2-core machine


def start_up(config_path, env=None) -> subprocess.Popen:
    return subprocess.Popen(KRAFT + ["up", "-c", str(config_path), "--ready-timeout", str(START_BOUND_S)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def stop_up(up: subprocess.Popen) -> tuple[int, str]:
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
    try:
        code = up.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        code = up.wait(10)
    return code, up.stderr.read()


def test_ready_means_an_acks_all_write_with_the_default_topic_settings_succeeds_at_once(tmp_path):
    cluster = LocalCluster(3, base_dir=tmp_path)  # only writes the config and formats the dirs
    up = start_up(cluster.config_path)
    try:
        assert up.stdout.readline().strip() == cluster.url(1)  # printed once ready
        # no retry: the first write of a new user, to a topic made with the defaults (RF 3,
        # min.insync.replicas 2), through each node
        for node in (1, 2, 3):
            status, body = http_json("POST", cluster.url(node) + f"/topics/first-{node}?acks=all",
                                     {"records": [{"value": {"n": node}}]},
                                     headers={"Content-Type": V2_JSON}, timeout=30)
            assert status == 200 and body["offsets"][0]["error_code"] is None, body
    finally:
        stop_up(up)


def produce_all(cluster, node: int, topic: str, partition: int | None = None):
    path = f"/topics/{topic}" + (f"/partitions/{partition}" if partition is not None else "")
    return http_json("POST", cluster.url(node) + path + "?acks=all", {"records": [{"value": node}]},
                     headers={"Content-Type": V2_JSON}, timeout=30)


def test_ready_after_a_restart_means_every_partition_takes_acks_all_writes_at_once(tmp_path):
    cluster = LocalCluster(3, base_dir=tmp_path)
    up = start_up(cluster.config_path)
    try:
        assert up.stdout.readline().strip() == cluster.url(1)
        for topic in ("kept-1", "kept-2"):
            status, body = produce_all(cluster, 1, topic)
            assert status == 200 and body["offsets"][0]["error_code"] is None, body
    finally:
        assert stop_up(up)[0] == 0
    # the same data dirs: the topics are there, each partition's ISR down to the replica
    # that stopped last until the others catch up
    up = start_up(cluster.config_path)
    try:
        assert up.stdout.readline().strip() == cluster.url(1)
        # what a client's metadata shows at once: every partition can take acks=all
        cid = http_json("GET", cluster.url(1) + "/v3/clusters")[1]["data"][0]["cluster_id"]
        isr = {(topic, p["partition_id"]): p["isr"] for topic in ("kept-1", "kept-2")
               for p in http_json("GET", cluster.url(1) + f"/v3/clusters/{cid}/topics/{topic}/partitions")[1]["data"]}
        assert len(isr) == 6 and all(len(ids) >= 2 for ids in isr.values()), isr  # min.insync.replicas 2
        answers = [(topic, p, produce_all(cluster, 1 + p, topic, p))
                   for topic in ("kept-1", "kept-2") for p in range(3)]
        failed = [(topic, p, body) for topic, p, (status, body) in answers
                  if status != 200 or body["offsets"][0]["error_code"] is not None]
        assert failed == []
    finally:
        stop_up(up)


def test_up_twice_on_one_file_is_refused_naming_the_addresses_and_the_first_keeps_running(tmp_path):
    cluster = LocalCluster(3, base_dir=tmp_path)
    first = start_up(cluster.config_path)
    try:
        assert first.stdout.readline().strip() == cluster.url(1)
        second = subprocess.run(KRAFT + ["up", "-c", str(cluster.config_path)], capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert "already answers" in second.stderr
        for node in (1, 2, 3):
            assert f"node {node} http {cluster.hosts[node]}:{cluster.config.node(node).http_port}" in second.stderr
        assert second.stdout == ""  # no URL: nothing was started, nothing is ready
        assert len(second.stderr.strip().splitlines()) == 1  # one line, no status table
        status, _ = http_json("GET", cluster.url(2) + "/status/ready")
        assert status == 200
    finally:
        code, err = stop_up(first)
    assert code == 0, err
