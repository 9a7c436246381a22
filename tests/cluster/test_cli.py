"""The `kraft` command as a user runs it: real subprocesses, real files, real ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

KRAFT = [sys.executable, "-m", "kraft"]


def run(*args, cwd=None, timeout=30):
    return subprocess.run(KRAFT + list(args), capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def node_pids(config_path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"kraft node --id [0-9]+ -c {config_path}"],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.cluster
def test_up_starts_serves_reports_a_dead_node_and_stops_everything(tmp_path):
    cluster = LocalCluster(3, base_dir=tmp_path)  # used only to write a config
    cfg = str(cluster.config_path)
    up = subprocess.Popen(KRAFT + ["up", "-c", cfg], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        url = up.stdout.readline().strip()  # printed once the cluster is ready
        assert url == cluster.url(1)
        created = run("topic", "create", "cli-topic", "-p", "4", "--set", "retention.ms=5000",
                      "-c", cfg)
        assert created.returncode == 0, created.stderr
        assert "4 partitions" in created.stdout
        described = run("topic", "describe", "cli-topic", "--bootstrap", cluster.url(3))
        assert described.returncode == 0 and "retention.ms=5000" in described.stdout
        status = run("quorum", "status", "-c", cfg)
        assert status.returncode == 0 and "Leader" in status.stdout and "Follower" in status.stdout
        listed = run("topic", "list", "-c", cfg)
        assert listed.stdout.split() == ["cli-topic"]
        dup = run("topic", "create", "cli-topic", "-c", cfg)
        assert dup.returncode == 1 and "already exists" in dup.stderr
        assert len(dup.stderr.strip().splitlines()) == 1
        # one node dies: it is reported, the others keep serving
        pids = node_pids(cfg)
        assert len(pids) == 3
        victim = [p for p in pids if "--id 3" in open(f"/proc/{p}/cmdline").read().replace("\0", " ")][0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and http_json("GET", cluster.url(1) + "/v1/cluster/health_overview")[1]["nodes_down"] != [3]:
            time.sleep(0.2)
        assert http_json("GET", cluster.url(1) + "/v1/cluster/health_overview")[1]["nodes_down"] == [3]
        up.send_signal(signal.SIGTERM)
        assert up.wait(40) == 1  # a node failed: a script or a service manager must hear it
        said = up.stderr.read()
        assert "node 3 exited" in said and "node 3 failed" in said
        assert node_pids(cfg) == []
    finally:
        if up.poll() is None:
            up.kill()
        for pid in node_pids(cfg):
            os.kill(pid, signal.SIGKILL)


def test_config_mistake_is_one_line_with_file_and_key_and_binds_nothing(tmp_path):
    port = 18555
    (tmp_path / "cluster.toml").write_text(f"""
[cluster]
name = "x"
[[nodes]]
id = 1
roles = ["controller", "broker"]
http_port = {port}
kafka_port = 19556
raft_port = 19555
data_dir = "d1"
colour = "blue"
""")
    result = run("up", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cluster.toml" in lines[0] and "nodes[0].colour" in lines[0] and "unknown key" in lines[0]
    with socket.socket() as s:  # nothing was left listening
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert not (tmp_path / "d1").exists()


def test_format_refuses_a_formatted_dir_and_node_refuses_another_clusters_dir(tmp_path):
    (tmp_path / "cluster.toml").write_text("""
[[nodes]]
id = 1
roles = ["controller", "broker"]
http_port = 18601
kafka_port = 19611
raft_port = 19601
data_dir = "d1"
""")
    first = run("format", "--id", "1", "--cluster-id", "AAAAAAAAAAAAAAAAAAAAAQ",
                "--raft-password", "secret-password", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "d1" / "meta.properties").exists()
    again = run("format", "--id", "1", cwd=tmp_path)
    assert again.returncode == 2 and "already formatted" in again.stderr
    # the file now names a different cluster id: the node must refuse the dir
    text = (tmp_path / "cluster.toml").read_text()
    (tmp_path / "cluster.toml").write_text(
        '[cluster]\nid = "BBBBBBBBBBBBBBBBBBBBBQ"\nraft_password = "secret-password"\n' + text)
    refused = run("node", "--id", "1", cwd=tmp_path)  # 30 s: a loaded machine starts Python slowly
    assert refused.returncode == 2
    assert "AAAAAAAAAAAAAAAAAAAAAQ" in refused.stderr or "cluster" in refused.stderr.lower()
    unknown = run("node", "--id", "7", cwd=tmp_path)
    assert unknown.returncode == 2 and "no node has id 7" in unknown.stderr


def test_unformatted_dir_without_cluster_id_is_refused_with_advice(tmp_path):
    (tmp_path / "cluster.toml").write_text("""
[[nodes]]
id = 1
roles = ["controller", "broker"]
http_port = 18602
kafka_port = 19612
raft_port = 19602
data_dir = "d1"
""")
    result = run("node", "--id", "1", cwd=tmp_path)
    assert result.returncode == 2 and "kraft format" in result.stderr


def test_admin_commands_without_a_cluster_fail_cleanly(tmp_path):
    result = run("topic", "list", "--bootstrap", "http://127.0.0.1:1")
    assert result.returncode == 1
    assert result.stderr.startswith("kraft: no node answered")
    assert "Traceback" not in result.stderr
