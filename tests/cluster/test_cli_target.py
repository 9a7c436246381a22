"""Every later command finds the cluster `kraft up` started: from a second shell-like
process with only KRAFT_CONFIG, or with nothing (the profile `kraft up` remembered),
and --bootstrap HOST:PORT over TLS with the CA from the profile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from certs import Authority
from kraft.server.local_cluster import LocalCluster, default_first_address, security_toml

pytestmark = pytest.mark.cluster

KRAFT = [sys.executable, "-m", "kraft"]
START_BOUND_S = 120


def shell_env(tmp_path, **extra) -> dict:
    """What a fresh shell has: PATH and HOME, its own config home (the profiles), nothing else."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **extra}


def kraft(env, *args, cwd):
    return subprocess.run(KRAFT + list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def start_up(config_path, env, cwd) -> subprocess.Popen:
    up = subprocess.Popen(KRAFT + ["up", "-c", str(config_path), "--ready-timeout", str(START_BOUND_S)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                          start_new_session=True)
    if not up.stdout.readline().strip():
        up.wait(30)
        pytest.fail(f"kraft up did not say ready: {up.stderr.read()}")
    return up


def stop_up(up: subprocess.Popen) -> None:
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        up.wait(10)


def test_commands_find_the_cluster_through_kraft_config_or_the_profile_kraft_up_remembered(tmp_path):
    (tmp_path / "cluster").mkdir()
    cluster = LocalCluster(3, base_dir=tmp_path / "cluster")
    elsewhere = tmp_path / "elsewhere"  # no cluster.toml here
    elsewhere.mkdir()
    env = shell_env(tmp_path)
    before = kraft(env, "topic", "list", cwd=elsewhere)  # nothing started yet: the error says what it tried
    assert before.returncode == 1 and "bundled cluster.toml" in before.stderr and "KRAFT_CONFIG" in before.stderr
    up = start_up(cluster.config_path, env, cwd=tmp_path)
    try:
        made = kraft({**shell_env(tmp_path / "other"), "KRAFT_CONFIG": str(cluster.config_path)},
                     "topic", "create", "by-env", "-p", "2", cwd=elsewhere)
        assert made.returncode == 0, made.stderr
        listed = kraft(env, "topic", "list", cwd=elsewhere)  # the profile `kraft up` saved
        assert listed.returncode == 0 and listed.stdout.split() == ["by-env"], listed.stderr
        current = kraft(env, "profile", "current", cwd=elsewhere)
        assert current.stdout.split() == ["test", str(cluster.config_path)]
        by_address = kraft(env, "topic", "describe", "by-env", "--bootstrap",
                           f"{cluster.hosts[2]}:{cluster.config.node(2).http_port}", cwd=elsewhere)
        assert by_address.returncode == 0 and "PartitionCount: 2" in by_address.stdout, by_address.stderr
    finally:
        stop_up(up)
    gone = kraft(env, "topic", "list", cwd=elsewhere)  # the cluster stopped: the error names the profile
    assert gone.returncode == 1 and "profile 'test'" in gone.stderr and str(cluster.config_path) in gone.stderr


def test_bootstrap_host_port_over_tls_takes_the_ca_from_the_profile(tmp_path):
    first = default_first_address()
    ca = Authority(tmp_path / "pki")
    cert, key = ca.issue("node", "kraft-node", [f"127.0.0.{i}" for i in range(first, first + 3)])
    security = security_toml({"admin": "admin-password"}, tls_cert=str(cert), tls_key=str(key), tls_ca=str(ca.ca_path))
    (tmp_path / "cluster").mkdir()
    cluster = LocalCluster(3, base_dir=tmp_path / "cluster", extra_toml=security)
    env = shell_env(tmp_path, KRAFT_USER="admin", KRAFT_PASSWORD="admin-password")  # no KRAFT_CA
    up = start_up(cluster.config_path, env, cwd=tmp_path)
    try:
        address = f"{cluster.hosts[1]}:{cluster.config.node(1).http_port}"
        listed = kraft(env, "broker", "list", "--bootstrap", address, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert all(str(b) in listed.stdout for b in (1, 2, 3))
        status = kraft(env, "quorum", "status", "--bootstrap", f"https://{address}", cwd=tmp_path)
        assert status.returncode == 0 and "Leader" in status.stdout, status.stderr
    finally:
        stop_up(up)
