"""Damaged segment files under real node processes: never served, repaired from a
healthy replica, reported where there is none. Bytes are changed in the files the
nodes have open, as a failing disk would change them."""

from __future__ import annotations

import os
import time

import pytest

from cluster_client import call
from kraft.server.local_cluster import LocalCluster, http_json
from kraft.storage.log_inspect import partition_dirs, read_records
from kraft.storage.record_batch import iter_batches

pytestmark = pytest.mark.cluster
V2 = {"Content-Type": "application/vnd.kafka.json.v2+json"}
SEGMENT = 16 * 1024


def create(cluster, name, rf=3):
    body = {"topic_name": name, "partitions_count": 1, "replication_factor": rf,
            "configs": [{"name": "segment.bytes", "value": str(SEGMENT)}]}
    status, out = call("POST", cluster.v3(1) + "/topics", body)
    assert status == 201, out
    cluster.wait_until(lambda: partition(cluster, name)["leader_id"] is not None
                       and partition(cluster, name).get("high_watermark") is not None, 15,
                       f"{name} has a leader")  # offsets show once the leader's log is open


def partition(cluster, name):
    via = next(n for n in cluster.hosts if cluster.running(n))
    status, body = http_json("GET", cluster.v3(via) + f"/topics/{name}/partitions/0")
    assert status == 200, body
    return body


def produce_values(cluster, name, count, per_request=20):
    values = [f"value-{i:05d}-" + "p" * 150 for i in range(count)]
    for i in range(0, count, per_request):
        status, body = call("POST", cluster.url(1) + f"/topics/{name}/partitions/0?acks=all",
                            {"records": [{"value": v} for v in values[i:i + per_request]]}, headers=V2)
        assert status == 200 and all(o["error_code"] is None for o in body["offsets"]), body
    return values


def replica_dir(cluster, node, name):
    (directory,) = partition_dirs(cluster.config.node(node).data_path, name, 0)
    return directory


def segment_files(cluster, node, name):
    return sorted(replica_dir(cluster, node, name).glob("*.log"))


def stored_values(cluster, node, name) -> list[str]:
    """The values in a node's replica files, as produced (the JSON quotes taken off)."""
    return [v.decode().strip('"') for *_, v in read_records(replica_dir(cluster, node, name))]


def wait_holds_every_value(cluster, node, name, values) -> None:
    cluster.wait_until(lambda: stored_values(cluster, node, name) == values, 20,
                       f"node {node} holds every record of {name} again")


def change_a_value(path, value: str) -> int:
    """Overwrite six bytes of `value` where it is stored in `path` (same length); returns
    the offset of the batch holding it."""
    data = path.read_bytes()
    at = data.index(value.encode())
    batch_offset = next(h.base_offset for pos, h in iter_batches(data) if pos <= at < pos + h.size)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"ZZZZZZ", at + 2)
    finally:
        os.close(fd)
    return batch_offset


def read_value(cluster, via, name, offset):
    status, body = http_json("GET", cluster.url(via) + f"/topics/{name}/partitions/0/records"
                             f"?offset={offset}&max_bytes=100000&timeout=500")
    return status, body


def metric(cluster, node, name) -> float:
    status, text = http_json("GET", cluster.url(node) + "/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "_total "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics of node {node}")


def test_damaged_leader_never_serves_and_repairs_from_an_in_sync_replica():
    with LocalCluster(3) as cluster:
        cluster.start().wait_ready()
        create(cluster, "d")
        values = produce_values(cluster, "d", 400)
        cluster.wait_until(lambda: sorted(partition(cluster, "d")["isr"]) == [1, 2, 3], 15, "full ISR")
        leader = partition(cluster, "d")["leader_id"]
        closed = segment_files(cluster, leader, "d")[1]
        victim = values[150] if values[150].encode() in closed.read_bytes() else \
            next(v for v in values if v.encode() in closed.read_bytes())
        damaged_batch = change_a_value(closed, victim)
        offset = values.index(victim)

        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, body = read_value(cluster, 1, "d", offset)
            seen.append((status, body if status != 200 else None))
            if status == 200:
                assert body and body[0]["offset"] == offset and body[0]["value"] == victim, body[:1]
                break
            assert body["error_code"] == 50003, body  # retriable, never a 500
            time.sleep(0.2)
        else:
            raise AssertionError(f"never served again: {seen[-3:]}")
        assert seen[0][0] != 200 or partition(cluster, "d")["leader_id"] != leader, \
            "the first read was served by the damaged leader"
        assert partition(cluster, "d")["leader_id"] != leader

        # the damaged copy leaves the ISR, is cut at the damage, refetched, and rejoins
        cluster.wait_until(lambda: metric(cluster, leader, "kraft_storage_replica_repairs") >= 1, 20,
                           "the damaged replica repaired")
        cluster.wait_until(lambda: sorted(partition(cluster, "d")["isr"]) == [1, 2, 3], 30,
                           "repaired replica back in the ISR")

        def identical():
            logs = [read_records(replica_dir(cluster, n, "d")) for n in (1, 2, 3)]
            return logs[0] == logs[1] == logs[2] and logs
        cluster.wait_until(identical, 20, "replicas identical on disk")
        assert stored_values(cluster, 1, "d") == values and damaged_batch <= offset


def test_no_healthy_copy_refuses_the_damaged_range_and_says_so():
    with LocalCluster(3) as cluster:
        cluster.start().wait_ready()
        create(cluster, "solo", rf=1)
        values = produce_values(cluster, "solo", 300)
        owner = partition(cluster, "solo")["leader_id"]
        closed = segment_files(cluster, owner, "solo")[1]
        victim = next(v for v in values if v.encode() in closed.read_bytes())
        change_a_value(closed, victim)
        offset = values.index(victim)

        for _ in range(3):
            status, body = read_value(cluster, owner, "solo", offset)
            assert status == 500 and body["error_code"] == 50003 and "damaged" in body["message"], body
        # ranges before and after the damaged batch still read back as written
        status, before = read_value(cluster, owner, "solo", 0)
        assert status == 200 and [r["value"] for r in before] == values[:len(before)]
        assert all(r["offset"] < offset for r in before)
        status, last = read_value(cluster, owner, "solo", len(values) - 1)
        assert status == 200 and last[0]["value"] == values[-1]

        cluster.wait_until(
            lambda: metric(cluster, owner, "kraft_storage_damaged_replicas_without_healthy_copy") == 1,
            15, "no healthy copy reported")
        status, health = http_json("GET", cluster.url(1) + "/v1/cluster/health_overview")
        assert status == 200 and health["is_healthy"] is False
        assert [(d["node_id"], d["topic"], d["healthy_copy"]) for d in health["damaged_replicas"]] == \
            [(owner, "solo", False)]
        # writes go on at the end of the log
        status, body = call("POST", cluster.url(1) + "/topics/solo/partitions/0",
                            {"records": [{"value": "after"}]}, headers=V2)
        assert status == 200 and body["offsets"][0]["offset"] == len(values)


def test_follower_cut_short_at_restart_leaves_isr_and_refetches():
    with LocalCluster(3) as cluster:
        cluster.start().wait_ready()
        create(cluster, "cut")
        values = produce_values(cluster, "cut", 400)
        cluster.wait_until(lambda: sorted(partition(cluster, "cut")["isr"]) == [1, 2, 3], 15, "full ISR")
        leader = partition(cluster, "cut")["leader_id"]
        follower = next(n for n in (1, 2, 3) if n != leader)
        assert cluster.stop(follower) == 0
        files = segment_files(cluster, follower, "cut")
        os.truncate(files[1], files[1].stat().st_size - 100)
        files[1].with_suffix(".index").unlink()
        cluster.start_node(follower)
        cluster.wait_ready([follower])
        cluster.wait_until(lambda: metric(cluster, follower, "kraft_storage_replica_repairs") >= 1, 20,
                           "the cut replica repaired")
        cluster.wait_until(lambda: sorted(partition(cluster, "cut")["isr"]) == [1, 2, 3], 30,
                           "back in the ISR")
        wait_holds_every_value(cluster, follower, "cut", values)


def test_scrubber_finds_damage_nobody_reads_and_the_replica_repairs(tmp_path):
    import subprocess
    import sys
    with LocalCluster(3, storage={"scrub.rate.mb.s": 50, "scrub.interval.s": 1}) as cluster:
        cluster.start().wait_ready()
        create(cluster, "s")
        values = produce_values(cluster, "s", 400)
        cluster.wait_until(lambda: sorted(partition(cluster, "s")["isr"]) == [1, 2, 3], 15, "full ISR")
        leader = partition(cluster, "s")["leader_id"]
        follower = next(n for n in (1, 2, 3) if n != leader)
        closed = segment_files(cluster, follower, "s")[1]
        change_a_value(closed, next(v for v in values if v.encode() in closed.read_bytes()))

        cluster.wait_until(lambda: metric(cluster, follower, "kraft_storage_scrubber_damaged_found") >= 1,
                           20, "the scrubber found the damage")
        cluster.wait_until(lambda: metric(cluster, follower, "kraft_storage_replica_repairs") >= 1, 20,
                           "the follower repaired")
        cluster.wait_until(lambda: sorted(partition(cluster, "s")["isr"]) == [1, 2, 3], 30, "back in the ISR")
        wait_holds_every_value(cluster, follower, "s", values)
        # the leader scrubs on its own schedule too (a pass at most once per scrub.interval.s)
        cluster.wait_until(lambda: metric(cluster, leader, "kraft_storage_scrubber_bytes_checked") > 0, 30,
                           "the leader's scrubber checked its segments")

        done = subprocess.run([sys.executable, "-m", "kraft", "storage", "status", "--bootstrap",
                               cluster.url(1)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        row = next(line for line in done.stdout.splitlines() if line.strip("│ ").startswith(str(follower)))
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells[0] == str(follower) and cells[1] == "0" and int(cells[3]) >= 1, done.stdout
        assert float(cells[4]) > 0, done.stdout
