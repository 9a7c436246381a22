"""A node that cannot start says why at once: a port another process holds (HTTP, Kafka,
Raft) or a data dir it cannot write stops it within seconds with one line naming the
address or path, and `kraft up` shows that line in the node's row and exits non-zero.
A node that starts without `[security]` over metadata holding users says they are not
enforced; a command without credentials against a secured cluster says which to set."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from kraft.server.local_cluster import LocalCluster, security_toml

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

KRAFT = [sys.executable, "-m", "kraft"]
EXIT_WITHIN_S = 15  # generous for a loaded 2-core machine; a healthy exit takes about 1 s


@contextlib.contextmanager
def port_taken(host: str, port: int):
    """Another process's listener on the port, as a stray server would hold it."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node sets it: still refused
    holder.bind((host, port))
    holder.listen()
    try:
        yield f"{host}:{port}"
    finally:
        holder.close()


def run_node(cluster: LocalCluster, node_id: int) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(KRAFT + ["node", "-c", str(cluster.config_path), "--id", str(node_id)],
                          capture_output=True, text=True, timeout=EXIT_WITHIN_S, cwd=str(cluster.base_dir))
    return done, time.monotonic() - started


def refusal_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("kraft node:")]


@pytest.mark.parametrize("which", ["raft", "http", "kafka"])
def test_a_node_whose_port_is_taken_exits_at_once_naming_the_address(tmp_path, which):
    cluster = LocalCluster(1, base_dir=tmp_path)
    node = cluster.config.node(1)
    port = {"raft": node.raft_port, "http": node.http_port, "kafka": node.kafka_port}[which]
    assert port is not None
    with port_taken(node.host, port) as address:
        done, took = run_node(cluster, 1)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = refusal_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    label = {"raft": "Raft port", "http": "HTTP port", "kafka": "Kafka port"}[which]
    assert f"cannot bind the {label} {address}: Address already in use" in lines[0]
    assert took < EXIT_WITHIN_S


def test_up_with_a_taken_raft_port_stops_and_names_it_in_the_nodes_row(tmp_path):
    cluster = LocalCluster(3, base_dir=tmp_path)
    node = cluster.config.node(2)
    assert node.raft_port is not None
    with port_taken(node.host, node.raft_port) as address:
        started = time.monotonic()
        up = subprocess.run(KRAFT + ["up", "-c", str(cluster.config_path), "--ready-timeout", "60"],
                            capture_output=True, text=True, timeout=60)
        took = time.monotonic() - started
    assert up.returncode != 0
    assert up.stdout == ""  # the API address is printed only once the cluster is ready
    assert took < 40  # the ready timeout is 60 s: it did not wait for it
    assert "Traceback" not in up.stderr
    assert "node 2 could not start" in up.stderr
    row = [line for line in up.stderr.splitlines() if line.startswith("│ 2 ")]
    assert len(row) == 1, up.stderr  # one row, not cut to 80 columns
    assert f"exited (1): node 2 cannot start: cannot bind the Raft port {address}: Address already in use" in row[0]
    time.sleep(0.5)
    for other in (1, 3):  # the others were stopped with it
        with socket.socket() as probe:
            assert probe.connect_ex((cluster.config.node(other).host, cluster.config.node(other).http_port)) != 0


def test_a_data_dir_that_is_a_file_is_refused_in_one_line(tmp_path):
    cluster = LocalCluster(1, base_dir=tmp_path)
    path = cluster.config.node(1).data_path
    shutil.rmtree(path)
    path.write_text("not a directory")
    done, _ = run_node(cluster, 1)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert refusal_lines(done.stderr) == [
        f"kraft node: {cluster.config_path}: nodes[0].data_dir: {path} exists and is not a directory"]
    up = subprocess.run(KRAFT + ["up", "-c", str(cluster.config_path)], capture_output=True, text=True, timeout=30)
    assert up.returncode == 2 and "Traceback" not in up.stderr
    assert f"{path} exists and is not a directory" in up.stderr.splitlines()[0]


@contextlib.contextmanager
def read_only(path):
    """The directory made unwritable for this process: a read-only bind mount as root
    (permission bits do not stop root), its mode bits otherwise."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"a read-only bind mount is not possible here: {bind.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_read_only_data_dir_is_refused_in_one_line(tmp_path):
    cluster = LocalCluster(1, base_dir=tmp_path)
    path = cluster.config.node(1).data_path
    with read_only(path):
        done, _ = run_node(cluster, 1)
        up = subprocess.run(KRAFT + ["up", "-c", str(cluster.config_path)], capture_output=True, text=True,
                            timeout=30)
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert refusal_lines(done.stderr) == [
        f"kraft node: {cluster.config_path}: nodes[0].data_dir: cannot write in {path}: {reason}"]
    assert up.returncode == 2 and "Traceback" not in up.stderr
    assert f"cannot write in {path}: {reason}" in up.stderr.splitlines()[0]


def test_no_credentials_and_a_removed_security_table_are_both_said(tmp_path):
    security = security_toml({"admin": "admin-password"})
    cluster = LocalCluster(1, base_dir=tmp_path, extra_toml=security)
    env = {k: v for k, v in os.environ.items() if k not in ("KRAFT_USER", "KRAFT_PASSWORD")}
    try:
        cluster.start().wait_ready(timeout_s=60)
        listed = subprocess.run(KRAFT + ["topic", "list", "-c", str(cluster.config_path)], capture_output=True,
                                text=True, timeout=30, env=env)
        assert listed.returncode != 0
        assert len(listed.stderr.strip().splitlines()) == 1, listed.stderr
        assert "set KRAFT_USER and KRAFT_PASSWORD" in listed.stderr
        wrong = subprocess.run(KRAFT + ["topic", "list", "-c", str(cluster.config_path)], capture_output=True,
                               text=True, timeout=30, env={**env, "KRAFT_USER": "admin", "KRAFT_PASSWORD": "nope"})
        assert wrong.returncode != 0 and "refused KRAFT_USER=admin" in wrong.stderr

        cluster.stop(1)
        text = cluster.config_path.read_text()
        assert security in text
        cluster.config_path.write_text(text.replace(security, ""))
        mark = cluster.log_path(1).stat().st_size
        cluster.start_node(1)
        cluster.wait_ready(timeout_s=60)

        def warnings() -> list[str]:
            with open(cluster.log_path(1), "rb") as log:
                log.seek(mark)
                return [line for line in log.read().decode(errors="replace").splitlines()
                        if "no [security] table" in line]
        cluster.wait_until(warnings, 15, "the warning about unenforced users")
        time.sleep(1)  # metadata keeps being applied: still said once
        said = warnings()
        assert len(said) == 1, said
        assert "WARNING" in said[0] and "1 user(s)" in said[0] and "NOT enforced" in said[0]
    finally:
        cluster.close()
