"""`kraft status`, `kraft health` and `kraft share-group` against real clusters: the
shared healthy one, and a 3-node one of its own that loses a node (health exits 1,
naming it). Subprocesses, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

KRAFT = [sys.executable, "-m", "kraft"]


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def kraft(cluster, *args, timeout=60):
    """A command run where the cluster's cluster.toml is (how it finds every node's address)."""
    return subprocess.run(KRAFT + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=str(cluster.base_dir))


def assert_one_line_error(done):
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kraft: ") and "Traceback" not in done.stderr, done.stderr


def test_status_and_health_of_a_healthy_cluster(cluster):
    health = kraft(cluster, "health")
    assert health.returncode == 0, (health.stdout, health.stderr)
    assert health.stdout.startswith("healthy: 3 node(s) up, controller node ")
    status = kraft(cluster, "status")
    assert status.returncode == 0, status.stderr
    rows = [line for line in status.stdout.splitlines() if "controller,broker" in line]
    assert len(rows) == 3 and all(" yes " in r and "unfenced" in r for r in rows), status.stdout
    assert sum("leader" in r for r in rows) == 1 and "healthy" in status.stdout.splitlines()[-1]
    assert "security: off" in status.stdout
    by_address = subprocess.run(KRAFT + ["health", "--bootstrap", cluster.url(2)], capture_output=True, text=True,
                                timeout=60)
    assert by_address.returncode == 0, by_address.stderr


def test_empty_lists_say_so_and_acl_list_says_security_is_off(cluster):
    acls = kraft(cluster, "acl", "list")
    assert acls.returncode == 0, acls.stderr
    assert "security is off" in acls.stderr and "not enforced" in acls.stderr
    users = kraft(cluster, "user", "list")
    assert users.returncode == 0 and ("no users" in users.stderr) == (users.stdout.strip() == "")


def test_share_group_list_describe_reset_and_delete(cluster):
    pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
    from confluent_kafka import AcknowledgeType
    from share_clients import BOUND_S, consumer, new_name, poll_until, produce, share_group
    topic = new_name("cli-share")
    group = share_group(cluster, topic)
    produce(cluster, topic, [f"v{i}" for i in range(3)])
    share = consumer(cluster, group, explicit=True)
    try:
        share.subscribe([topic])
        for m in poll_until(share, lambda got: len(got) >= 3):
            share.acknowledge(m, AcknowledgeType.ACCEPT)
        share.commit_sync()
        live = kraft(cluster, "share-group", "describe", group)
        assert live.returncode == 0, live.stderr
        assert f"Group: {group}  State: STABLE" in live.stdout and topic in live.stdout
        refused = kraft(cluster, "share-group", "delete", group)  # it has a member
        assert_one_line_error(refused)
    finally:
        share.close()
    deadline = time.monotonic() + BOUND_S
    while "State: EMPTY" not in (described := kraft(cluster, "share-group", "describe", group)).stdout:
        assert time.monotonic() < deadline, described.stdout + described.stderr
        time.sleep(0.5)
    assert "no members" in described.stdout
    row = next(line for line in described.stdout.splitlines() if topic in line and "│" in line)
    assert row.split("│")[3].strip() == "3", described.stdout  # every record was accepted
    reset = kraft(cluster, "share-group", "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert reset.returncode == 0 and f"{topic}-0: 0" in reset.stdout, reset.stderr
    row = next(line for line in kraft(cluster, "share-group", "describe", group).stdout.splitlines()
               if topic in line and "│" in line)
    assert row.split("│")[3].strip() == "0"
    assert kraft(cluster, "share-group", "reset-offsets", group, "--topic", topic).returncode == 2
    listed = kraft(cluster, "share-group", "list")
    assert listed.returncode == 0 and any(group in line and "EMPTY" in line for line in listed.stdout.splitlines())
    deleted = kraft(cluster, "share-group", "delete", group)
    assert deleted.returncode == 0 and f"deleted share group {group}" in deleted.stdout, deleted.stderr
    assert_one_line_error(kraft(cluster, "share-group", "describe", group))


def test_health_exits_1_naming_a_node_that_stopped(tmp_path):
    own = LocalCluster(3, base_dir=tmp_path)
    try:
        own.start().wait_ready(timeout_s=90)
        assert kraft(own, "topic", "create", "survives", "-p", "2").returncode == 0
        own.stop(3)
        deadline = time.monotonic() + 30  # the broker's session runs out, then it is fenced
        while (health := kraft(own, "health")).returncode == 0:
            assert time.monotonic() < deadline, health.stdout
            time.sleep(0.5)
        assert health.returncode == 1 and health.stdout.startswith("unhealthy:"), (health.stdout, health.stderr)
        assert "node 3:" in health.stdout and "does not answer" in health.stdout
        status = kraft(own, "status")
        assert status.returncode == 0 and "unhealthy:" in status.stdout
        row = next(line for line in status.stdout.splitlines() if line.strip("│ ").startswith("3 "))
        assert "no answer" in row, status.stdout
    finally:
        own.close()
