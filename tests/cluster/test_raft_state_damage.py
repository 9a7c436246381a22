"""A controller whose Raft state is damaged refuses to start (naming the file) instead
of voting or leading with an empty image; the others go on; moved aside, it rejoins."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster():
    # snapshots every 20 entries, so a few topics are enough to have one on disk
    with LocalCluster(3, env={"KRAFT_METADATA_SNAPSHOT_ENTRIES": "20"}) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        yield c


def create(cluster, name, via):
    status, body = http_json("POST", cluster.v3(via) + "/topics",
                             {"topic_name": name, "partitions_count": 1, "replication_factor": 2}, timeout=30)
    assert status == 201, body


def run_node(cluster, node_id):
    return subprocess.run([sys.executable, "-m", "kraft", "node", "-c", str(cluster.config_path), "--id", str(node_id)],
                          cwd=cluster.base_dir, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("damage", ["snapshot cut in half", "journal cut short", "vote file garbled"])
def test_damaged_raft_state_refuses_to_start(cluster, damage):
    victim = 3
    for i in range(30):
        create(cluster, f"{damage.split()[0]}-{i}", via=1)
    raft_dir = cluster.config.node(victim).data_path / "__cluster_metadata"
    cluster.stop(victim)
    kept = raft_dir.with_name("raft-kept")
    shutil.copytree(raft_dir, kept)
    try:
        if damage.startswith("snapshot"):
            path = raft_dir / "raft.snapshot"
            assert path.exists(), sorted(p.name for p in raft_dir.iterdir())
            data = path.read_bytes()
            path.write_bytes(data[:len(data) // 2])
        elif damage.startswith("journal"):
            path = raft_dir / "raft.journal"
            path.write_bytes(path.read_bytes()[:200])
        else:
            path = raft_dir / "raft.journal.meta"
            path.write_bytes(b"\x80\x04garbage")
        run = run_node(cluster, victim)
        assert run.returncode == 2, run.stderr[-3000:]
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and str(path) in lines[0] and "will not vote or lead" in lines[0], run.stderr
        create(cluster, f"while-{damage.split()[0]}-is-down", via=2)  # the quorum goes on
    finally:
        shutil.rmtree(raft_dir)
        shutil.move(str(kept), str(raft_dir))
    cluster.start_node(victim)
    cluster.wait_ready([victim], timeout_s=60)
    assert cluster.get(victim, f"/topics/while-{damage.split()[0]}-is-down")[0] == 200


def test_moved_aside_it_rejoins_empty_and_catches_up(cluster):
    victim = 2
    create(cluster, "before-move", via=1)
    cluster.stop(victim)
    raft_dir = cluster.config.node(victim).data_path / "__cluster_metadata"
    shutil.move(str(raft_dir), str(raft_dir.with_name("raft-aside")))
    cluster.start_node(victim)
    cluster.wait_ready([victim], timeout_s=60)
    assert cluster.get(victim, "/topics/before-move")[0] == 200
    create(cluster, "after-move", via=victim)
