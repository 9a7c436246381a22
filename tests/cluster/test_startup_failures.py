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
import signal
import subprocess
import sys
import threading
import time

import pytest

from kraft.server.local_cluster import LocalCluster, security_toml

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

KRAFT = [sys.executable, "-m", "kraft"]
EXIT_WITHIN_S = 30  # generous for a loaded 2-core CI machine (one took over 15 s); a healthy exit takes about 2 s


@contextlib.contextmanager
def port_taken(host: str, port: int, listening: bool = True):
    """Another process's listener on the port, as a stray server would hold it; with
    listening=False only bound (a client's socket): nothing answers there, the bind fails."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if listening:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node sets it: still refused
    holder.bind((host, port))
    if listening:
        holder.listen()
    try:
        yield f"{host}:{port}"
    finally:
        holder.close()


def run_node(cluster: LocalCluster, node_id: int) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    try:
        done = subprocess.run(KRAFT + ["node", "-c", str(cluster.config_path), "--id", str(node_id)],
                              capture_output=True, text=True, timeout=EXIT_WITHIN_S, cwd=str(cluster.base_dir))
    except subprocess.TimeoutExpired as exc:  # say where it stood, not just that it did not end
        said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"node {node_id} still running after {EXIT_WITHIN_S} s; its log:\n{said[-3000:]}")
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
    """A port held by a socket that does not listen: `kraft up`'s check for a running
    cluster hears nothing there, the node's bind fails (a listener is refused before any
    start: tests/cluster/test_up_command.py)."""
    cluster = LocalCluster(3, base_dir=tmp_path)
    node = cluster.config.node(2)
    assert node.raft_port is not None
    with port_taken(node.host, node.raft_port, listening=False) as address:
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


def read_stdout_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """The first line the process prints on stdout, or "" when it gave none in time."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return got[0].strip() if got else ""


def test_no_credentials_and_a_removed_security_table_are_both_said(tmp_path):
    security = security_toml({"admin": "admin-password"})
    cluster = LocalCluster(1, base_dir=tmp_path, extra_toml=security)
    cfg = str(cluster.config_path)
    env = {k: v for k, v in os.environ.items() if k not in ("KRAFT_USER", "KRAFT_PASSWORD")}
    admin = {**env, "KRAFT_USER": "admin", "KRAFT_PASSWORD": "admin-password"}
    try:
        cluster.start().wait_ready(timeout_s=60)
        for command in (["topic", "list"], ["acl", "list"], ["acl", "delete", "--principal", "User:x"]):
            done = subprocess.run(KRAFT + command + ["-c", cfg], capture_output=True, text=True, timeout=30,
                                  env=env)
            assert done.returncode != 0, (command, done.stdout)
            assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
            assert "set KRAFT_USER and KRAFT_PASSWORD" in done.stderr, (command, done.stderr)
        wrong = subprocess.run(KRAFT + ["topic", "list", "-c", cfg], capture_output=True,
                               text=True, timeout=30, env={**env, "KRAFT_USER": "admin", "KRAFT_PASSWORD": "nope"})
        assert wrong.returncode != 0 and "refused KRAFT_USER=admin" in wrong.stderr

        # a table printed into a pipe keeps every cell whole (rich would cut it to 80 columns)
        principal = "User:a-principal-with-a-name-longer-than-a-terminal-column-would-allow"
        added = subprocess.run(KRAFT + ["acl", "add", "--principal", principal, "--operation", "READ",
                                        "--resource-type", "TOPIC", "--resource-name", "orders-of-the-long-name",
                                        "-c", cfg], capture_output=True, text=True, timeout=30, env=admin)
        assert added.returncode == 0, added.stderr
        listed = subprocess.run(KRAFT + ["acl", "list", "-c", cfg], capture_output=True, text=True, timeout=30,
                                env=admin)
        rows = [line for line in listed.stdout.splitlines() if principal in line]
        assert len(rows) == 1 and "orders-of-the-long-name" in rows[0] and "…" not in listed.stdout, listed.stdout

        cluster.stop(1)
        text = cluster.config_path.read_text()
        assert security in text
        cluster.config_path.write_text(text.replace(security, ""))
        up = subprocess.Popen(KRAFT + ["up", "-c", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
        try:
            assert read_stdout_line(up, 60) == cluster.url(1), "kraft up did not get the cluster ready"
        finally:
            up.send_signal(signal.SIGINT)
            _, said_by_up = up.communicate(timeout=30)
        warned = [line for line in said_by_up.splitlines() if "no [security] table" in line]
        assert len(warned) == 1, said_by_up
        assert warned[0].startswith("warning: node 1: cluster.toml has no [security] table, but the metadata "
                                    "holds 1 user(s) and 1 ACL(s): they are NOT enforced"), warned

        log = (cluster.config.node(1).data_path / "node.log").read_text(errors="replace")
        logged = [line for line in log.splitlines() if "no [security] table" in line]
        assert len(logged) == 1 and "WARNING" in logged[0], logged  # said once, though metadata kept coming
    finally:
        cluster.close()


def test_a_misspelt_key_in_any_section_is_refused_by_up_with_a_suggestion(tmp_path):
    cluster = LocalCluster(1, base_dir=tmp_path)
    text = cluster.config_path.read_text()
    cluster.config_path.write_text(text + '\n[transactions]\n"transaction.max.timout.ms" = 60000\n')
    up = subprocess.run(KRAFT + ["up", "-c", str(cluster.config_path)], capture_output=True, text=True, timeout=30)
    assert up.returncode == 2 and "Traceback" not in up.stderr
    assert up.stderr.strip().splitlines() == [
        f'kraft: {cluster.config_path}: transactions."transaction.max.timout.ms": unknown key '
        f'(did you mean "transaction.max.timeout.ms"?)'], up.stderr
