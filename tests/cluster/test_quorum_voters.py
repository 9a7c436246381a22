"""Controller quorum changes with real node processes: a dead controller's seat is given
to a new machine (remove the dead voter, add the new one, one change at a time) and the
quorum then survives losing another original controller; the voter set outlives a
restart of every node, whose cluster.toml files still name the old voters."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kraft.quorum.raft_files import read_snapshot
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster


def without_node(text: str, node_id: int) -> str:
    blocks = text.split("\n[[nodes]]\n")
    return "\n[[nodes]]\n".join(b for b in blocks if not b.startswith(f"id = {node_id}\n"))


def quorum(c: LocalCluster, via: int) -> dict:
    status, body = http_json("GET", c.v3(via) + "/quorum", timeout=10)
    assert status == 200, body
    return body


def voter_ids(c: LocalCluster, via: int) -> list[int]:
    return [v["node_id"] for v in quorum(c, via)["voters"]]


def kraft(c: LocalCluster, via: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraft", *args, "--bootstrap", c.url(via)],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "COLUMNS": "200"})


def create_topic(c: LocalCluster, via: int, name: str) -> tuple[int, dict]:
    return http_json("POST", c.v3(via) + "/topics", {"topic_name": name, "partitions_count": 1,
                                                      "replication_factor": 1}, timeout=30)


@pytest.fixture(scope="module")
def replaced():
    """Controllers 1-3 from a file that never names node 4; node 4 from one that names all four."""
    # snapshots every few entries: the restart below loads the voter set from one
    with LocalCluster(nodes=4, controllers=4, env={"KRAFT_METADATA_SNAPSHOT_ENTRIES": "8"}) as c:
        three = c.config_path.with_name("three-nodes.toml")
        three.write_text(without_node(c.config_path.read_text(), 4))
        c.node_config_paths.update({1: three, 2: three, 3: three})
        c.start([1, 2, 3]).wait_ready([1, 2, 3], timeout_s=60)
        yield c


def test_replace_a_killed_controller_then_lose_another(replaced):
    c = replaced
    victim = next(n for n in (1, 2, 3) if n != c.raft_leader())  # a follower: the leader stays put
    c.kill(victim)
    survivor = next(n for n in (1, 2, 3) if n != victim)
    # a new machine's controller joins as an observer and catches up; it votes only once added
    c.start_node(4)
    c.wait_ready([4], timeout_s=60)
    c.wait_until(lambda: 4 in [o["node_id"] for o in quorum(c, survivor)["observers"]
                               if o.get("kind") == "controller"], 30, "node 4 following as an observer")
    assert voter_ids(c, survivor) == [1, 2, 3]
    shown = kraft(c, survivor, "quorum", "status")
    assert shown.returncode == 0, shown.stderr
    rows = [[cell.strip() for cell in line.split("\u2502")[1:-1]] for line in shown.stdout.splitlines()]
    assert [row[-1] for row in rows if row[:1] == ["4"]] == ["Observer (controller)"], shown.stdout

    # refusals, each saying why: no such voter, a node that is not an observer, bad input, and
    # removing a live voter while another is dead (the two left would need both up)
    status, body = http_json("DELETE", c.v3(survivor) + "/quorum/voters/9")
    assert status == 404 and body["error_code"] == 40406 and "not a voter" in body["message"], body
    status, body = http_json("POST", c.v3(survivor) + "/quorum/voters", {"node_id": 9})
    assert status == 409 and body["error_code"] == 40912 and "not connected" in body["message"], body
    for bad in ({"node_id": -1}, {"node_id": "4"}, {"node_id": True}, {"node": 4}, [4]):
        status, body = http_json("POST", c.v3(survivor) + "/quorum/voters", bad)
        assert status == 400 and body["error_code"] == 400, (bad, body)
    status, body = http_json("DELETE", c.v3(survivor) + "/quorum/voters/one")
    assert status == 400 and "non-negative integer" in body["message"], body
    other = next(n for n in (1, 2, 3) if n not in (victim, c.raft_leader()))
    status, body = http_json("DELETE", c.v3(survivor) + f"/quorum/voters/{other}")
    assert status == 409 and body["error_code"] == 40912 and "would stop" in body["message"], body

    replace(c, victim, survivor)

    # kill another original controller: 2 of the 3 voters remain, metadata writes go on
    second = c.raft_leader() if c.raft_leader() != 4 else survivor  # the leader, if an original
    c.kill(second)
    alive = next(n for n in (1, 2, 3) if n not in (victim, second))
    c.wait_until(lambda: create_topic(c, alive, "after-two-losses")[0] == 201, 60,
                 "a topic created with two of the first three controllers gone")
    status, body = http_json("GET", c.v3(4) + "/topics/after-two-losses")
    assert status == 200, body


def replace(c: LocalCluster, victim: int, survivor: int) -> None:
    """The dead voter out, node 4 (an observer) in, with the CLI; once per cluster."""
    removed = kraft(c, survivor, "quorum", "remove-voter", str(victim))
    assert removed.returncode == 0, removed.stderr
    assert victim not in voter_ids(c, survivor)
    added = kraft(c, survivor, "quorum", "add-voter", "4")
    assert added.returncode == 0, added.stderr
    status, body = http_json("POST", c.v3(survivor) + "/quorum/voters", {"node_id": 4})
    assert status == 409 and body["error_code"] == 40913 and "already a voter" in body["message"], body
    assert sorted(voter_ids(c, 4)) == sorted({1, 2, 3, 4} - {victim})
    c.victim = victim  # type: ignore[attr-defined]


def test_the_changed_voter_set_survives_a_restart_of_every_node(replaced):
    c = replaced
    victim = getattr(c, "victim", None)
    if victim is None:  # run alone: make the change first
        victim = next(n for n in (1, 2, 3) if n != c.raft_leader())
        c.kill(victim)
        c.start_node(4)
        c.wait_ready([4], timeout_s=60)
        survivor = next(n for n in (1, 2, 3) if n != victim)
        c.wait_until(lambda: 4 in [o["node_id"] for o in quorum(c, survivor)["observers"]], 30, "observer 4")
        replace(c, victim, survivor)
    voters = sorted({1, 2, 3, 4} - {victim})
    writer = next(n for n in voters if c.running(n))
    for name in ("s1", "s2", "s3", "s4", "s5"):  # entries enough for a snapshot after the change
        assert create_topic(c, writer, name)[0] == 201
    c.stop_all()
    # a snapshot taken since the change holds the new set with node ids; one of a node
    # that was down meanwhile holds the old set, and its journal the change
    kept = [sorted(read_snapshot(p)[1][2]) for p in snapshots_of(c, voters) if p.exists()]
    assert voters in kept and all(ids in (voters, [1, 2, 3]) for ids in kept), kept
    c.start(voters)  # the first three still start from a file naming 1, 2 and 3 as controllers
    c.wait_ready(voters, timeout_s=60)
    for n in voters:
        assert voter_ids(c, n) == voters, n
    status, body = create_topic(c, voters[0], "after-restart")
    assert status == 201, body


def snapshots_of(c: LocalCluster, node_ids: list[int]) -> list[Path]:
    return [c.config.node(n).data_path / "__cluster_metadata" / "raft.snapshot" for n in node_ids]


def test_removing_the_active_controller_hands_leadership_on_first(replaced):
    c = replaced
    voters = [v for v in voter_ids(c, next(n for n in c.hosts if c.running(n))) if c.running(v)]
    if len(voters) < 3:
        pytest.skip("needs three running voters (the restart test and the fixture leave them)")
    leader = c.raft_leader()
    asked = next(v for v in voters if v != leader)
    status, body = http_json("DELETE", c.v3(asked) + f"/quorum/voters/{leader}", timeout=60)
    assert status == 200 and body["voters"] == sorted(set(voters) - {leader}), body
    rest = body["voters"]
    c.wait_until(lambda: quorum(c, rest[0])["leader_id"] in rest, 30, "a leader among the remaining voters")
    status, body = create_topic(c, rest[0], "after-leader-removed")
    assert status == 201, body
    assert voter_ids(c, rest[1]) == rest
    # still running, the removed one is refused, and a voter it connects to says why (the
    # library connects from the greater address to the smaller)
    removed_at = f"{c.config.node(leader).host}:{c.config.node(leader).raft_port}"
    lower = [v for v in rest if f"{c.config.node(v).host}:{c.config.node(v).raft_port}" < removed_at]
    for v in lower:
        c.wait_until(lambda: any(removed_at in p and "not in the voter set" in p for p in http_json(
            "GET", c.v3(v) + "/quorum?local=1")[1]["problems"]), 30, f"voter {v} reporting the removed one")

    # the removed controller comes back as API.md says: without its Raft state it joins as
    # an observer, and is added again
    c.stop(leader)
    raft_dir = c.config.node(leader).data_path / "__cluster_metadata"
    raft_dir.rename(raft_dir.with_name("__cluster_metadata.removed"))
    c.start_node(leader)
    c.wait_ready([leader], timeout_s=60)
    c.wait_until(lambda: leader in [o["node_id"] for o in quorum(c, rest[0])["observers"]
                                    if o.get("kind") == "controller"], 30, "the old leader as an observer")
    status, body = http_json("POST", c.v3(leader) + "/quorum/voters", {"node_id": leader}, timeout=60)
    assert status == 200 and body["voters"] == voters, body


def test_kafka_clients_describe_the_quorum_and_get_kip_853_refusals(replaced):
    from kafka_wire import kafka_socket, wire_call
    from kio.schema.add_raft_voter.v1.request import AddRaftVoterRequest
    from kio.schema.describe_quorum.v2.request import DescribeQuorumRequest, PartitionData, TopicData
    from kio.schema.remove_raft_voter.v0.request import RemoveRaftVoterRequest
    c = replaced
    # a node that hears the leader (a removed controller still running does not)
    via = next(n for n in c.hosts if c.running(n) and quorum(c, n)["leader_id"] is not None)
    voters = voter_ids(c, via)
    s = kafka_socket(c, via)
    try:
        answer = wire_call(s, DescribeQuorumRequest(topics=(TopicData(
            topic_name="__cluster_metadata", partitions=(PartitionData(partition_index=0),)),)))
        (partition,) = answer.topics[0].partitions
        assert int(partition.error_code.value) == 0, partition
        assert sorted(v.replica_id for v in partition.current_voters) == voters
        assert partition.leader_id in voters and partition.high_watermark > 0
        assert {n.node_id: n.listeners[0].port for n in answer.nodes} == {
            v: c.config.node(v).raft_port for v in voters}
        unknown = wire_call(s, RemoveRaftVoterRequest(cluster_id=None, voter_id=99, voter_directory_id=None), 2)
        assert int(unknown.error_code.value) == 127 and "not a voter" in unknown.error_message, unknown
        twice = wire_call(s, AddRaftVoterRequest(cluster_id=None, timeout=datetime.timedelta(seconds=5),
                                                 voter_id=voters[0], voter_directory_id=None, listeners=()), 3)
        assert int(twice.error_code.value) == 126 and "already a voter" in twice.error_message, twice
        other = wire_call(s, RemoveRaftVoterRequest(cluster_id="another", voter_id=voters[0],
                                                    voter_directory_id=None), 4)
        assert int(other.error_code.value) == 104, other  # INCONSISTENT_CLUSTER_ID
    finally:
        s.close()
    assert voter_ids(c, via) == voters
