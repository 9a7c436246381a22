"""A controller whose Raft state is damaged refuses to start (naming the file) instead
of voting or leading with an empty image; the others go on; moved aside, it rejoins.
A damaged newest snapshot is rebuilt from the previous one and the entries kept since,
on one controller or on a majority of them."""

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


@pytest.mark.parametrize("damage", ["snapshot cut in half, none kept before it", "journal cut short",
                                    "vote file garbled"])
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
            (raft_dir / "raft.snapshot.prev").unlink(missing_ok=True)  # nothing to rebuild from
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


def topics_of(cluster, via):
    status, body = http_json("GET", cluster.v3(via) + "/topics")
    assert status == 200, body
    return {t["topic_name"] for t in body["data"]}


def cut_snapshot(cluster, node_id):
    path = cluster.config.node(node_id).data_path / "__cluster_metadata" / "raft.snapshot"
    assert path.exists() and (path.parent / "raft.snapshot.prev").exists(), sorted(p.name for p in path.parent.iterdir())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("damaged", [(1,), (1, 3)], ids=["one controller", "a majority"])
def test_damaged_snapshot_is_rebuilt_from_the_previous_one(cluster, damaged):
    tag = f"rebuilt-{len(damaged)}"
    for i in range(45):  # past two snapshots on every controller (one each 20 entries)
        create(cluster, f"{tag}-{i}", via=2)
    before = topics_of(cluster, 2)
    cluster.stop_all()
    for node_id in damaged:
        cut_snapshot(cluster, node_id)
    cluster.start()
    cluster.wait_ready(timeout_s=60)
    for node_id in (1, 2, 3):
        assert before <= topics_of(cluster, node_id), f"node {node_id} lost committed topics"
        log_text = cluster.log_path(node_id).read_text()
        rebuilt = "metadata snapshot damaged" in log_text and "rebuilt" in log_text
        assert rebuilt == (node_id in damaged), (node_id, log_text[-2000:])
    create(cluster, f"{tag}-after", via=damaged[0])  # the quorum takes writes again
    # a create answers once the receiving node has the topic; the others follow
    cluster.wait_until(lambda: f"{tag}-after" in topics_of(cluster, damaged[-1]), 15,
                       "the new topic on the other rebuilt node")


def test_journal_damaged_on_a_majority_refuses_with_one_line_each(cluster):
    create(cluster, "before-majority-damage", via=1)
    cluster.stop_all()
    kept = {}
    try:
        for node_id in (2, 3):
            raft_dir = cluster.config.node(node_id).data_path / "__cluster_metadata"
            kept[node_id] = raft_dir.with_name("raft-kept")
            shutil.copytree(raft_dir, kept[node_id])
            journal = raft_dir / "raft.journal"
            journal.write_bytes(journal.read_bytes()[:200])
            run = run_node(cluster, node_id)
            lines = [line for line in run.stderr.splitlines() if line.strip()]
            assert run.returncode == 2 and len(lines) == 1 and str(journal) in lines[0] \
                and "will not vote or lead" in lines[0], run.stderr[-2000:]
    finally:
        for node_id, copy in kept.items():
            raft_dir = cluster.config.node(node_id).data_path / "__cluster_metadata"
            shutil.rmtree(raft_dir)
            shutil.move(str(copy), str(raft_dir))
    cluster.start()
    cluster.wait_ready(timeout_s=60)
    assert "before-majority-damage" in topics_of(cluster, 3)
