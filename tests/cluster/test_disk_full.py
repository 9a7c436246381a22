"""A node's partition disk fills up under acks=all load, and later frees: the node stops
appending, leaves the ISR and leadership, says so once, and rejoins by itself. The disk
is a real size-limited filesystem (tmpfs, mounted by the test; needs root)."""

from __future__ import annotations

import threading
import time

import pytest

from kraft.scenario.faults import storage as storage_faults
from kraft.server import small_disks
from kraft.server.local_cluster import LocalCluster, http_json
from kraft.storage.log_inspect import partition_dirs, read_records

pytestmark = pytest.mark.cluster
DISKS_OK, DISKS_WHY = small_disks.available()
V2 = {"Content-Type": "application/vnd.kafka.json.v2+json"}


def partition(cluster, name, via=2):
    status, body = http_json("GET", cluster.v3(via) + f"/topics/{name}/partitions/0")
    assert status == 200, body
    return body


def metric(cluster, node, name) -> float:
    status, text = http_json("GET", cluster.url(node) + "/metrics")
    assert status == 200
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


class Writer(threading.Thread):
    """acks=all writes of unique values through nodes 2 and 3; every answer kept."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.stop = cluster, threading.Event()
        self.acked, self.errors = [], []

    def run(self):
        seq = 0
        deadline = time.monotonic() + 90
        while not self.stop.is_set() and time.monotonic() < deadline:
            seq += 1
            value = f"v-{seq}"
            try:
                status, body = http_json("POST", self.cluster.url(2 + seq % 2) + "/topics/d/partitions/0"
                                         "?acks=all&timeout_ms=3000", {"records": [{"value": value}]},
                                         headers=V2, timeout=15)
            except OSError:
                continue
            offset = body["offsets"][0] if status == 200 else None
            if offset is not None and offset["error_code"] is None:
                self.acked.append(value)
            else:
                self.errors.append((status, offset or body))
            time.sleep(0.01)


@pytest.mark.skipif(not DISKS_OK, reason=f"small disks unavailable: {DISKS_WHY}")
def test_full_disk_leaves_isr_and_leadership_then_rejoins_when_freed():
    with LocalCluster(3, partitions_fs_mb=48) as cluster:
        cluster.start().wait_ready()
        status, body = http_json("POST", cluster.v3(1) + "/topics", {
            "topic_name": "d", "partitions_count": 1, "replication_factor": 3,
            "configs": [{"name": "min.insync.replicas", "value": "2"}]})
        assert status == 201, body
        cluster.wait_until(lambda: partition(cluster, "d")["leader_id"] is not None
                           and sorted(partition(cluster, "d")["isr"]) == [1, 2, 3], 20, "topic ready")
        victim = partition(cluster, "d")["leader_id"]
        writer = Writer(cluster)
        writer.start()
        try:
            cluster.wait_until(lambda: len(writer.acked) > 30, 20, "writes flowing")
            assert "disk full" in storage_faults.disk_full(cluster, victim).detail

            cluster.wait_until(lambda: victim not in partition(cluster, "d")["isr"]
                               and partition(cluster, "d")["leader_id"] not in (None, victim), 20,
                               "the full node out of the ISR and leadership")
            count = len(writer.acked)
            cluster.wait_until(lambda: len(writer.acked) > count + 30, 20, "writes go on elsewhere")
            assert metric(cluster, victim, "kafka_log_logmanager_offlinelogdirectorycount") == 1
            status, health = http_json("GET", cluster.url(2) + "/v1/cluster/health_overview")
            assert health["nodes_with_failed_log_dir"] == [victim] and health["is_healthy"] is False
            status, view = http_json("GET", cluster.url(victim) + "/v1/node/storage")
            assert view["log_dir"]["ok"] is False and "space" in view["log_dir"]["reason"]
            time.sleep(3)  # the node stays failed a while: its log must not repeat the error
            assert victim not in partition(cluster, "d")["isr"]

            storage_faults.disk_free(cluster, victim)
            cluster.wait_until(lambda: sorted(partition(cluster, "d")["isr"]) == [1, 2, 3], 30,
                               "back in the ISR after the disk was freed")
            assert metric(cluster, victim, "kafka_log_logmanager_offlinelogdirectorycount") == 0
            status, health = http_json("GET", cluster.url(2) + "/v1/cluster/health_overview")
            assert health["nodes_with_failed_log_dir"] == []
            count = len(writer.acked)
            cluster.wait_until(lambda: len(writer.acked) > count + 30, 20, "writes after rejoining")
        finally:
            writer.stop.set()
            writer.join(20)

        # every error a writer saw was a clear, retriable one: never a 5xx other than 50003
        assert all(err.get("error_code") == 50003 for _, err in writer.errors), writer.errors[:5]
        log_text = cluster.log_path(victim).read_text()
        assert log_text.count("takes no writes (No space left on device)") == 1, \
            [line for line in log_text.splitlines() if "takes no writes" in line][:5]
        assert log_text.count("takes writes again") == 1

        def identical():
            logs = [read_records(d) for n in (1, 2, 3)
                    for d in partition_dirs(cluster.config.node(n).data_path, "d", 0)]
            return len(logs) == 3 and logs[0] == logs[1] == logs[2] and logs
        logs = cluster.wait_until(identical, 20, "replicas identical on disk")
        stored = {v.decode().strip('"') for *_, v in logs[0]}
        assert not set(writer.acked) - stored, "acknowledged writes lost"


@pytest.mark.skipif(not DISKS_OK, reason=f"small disks unavailable: {DISKS_WHY}")
def test_a_graceful_stop_on_a_full_disk_ends_with_one_clear_line():
    """The clean-shutdown mark cannot be written: the node says so in one line and exits 1
    (its logs are recovered at the next start, as after a crash), no traceback."""
    with LocalCluster(3, partitions_fs_mb=48) as cluster:
        cluster.start().wait_ready()
        status, body = http_json("POST", cluster.v3(1) + "/topics", {"topic_name": "d", "partitions_count": 3})
        assert status == 201, body
        cluster.wait_until(lambda: partition(cluster, "d")["leader_id"] is not None, 20, "topic ready")
        assert "disk full" in storage_faults.disk_full(cluster, 1).detail
        try:
            assert cluster.stop(1) == 1
        finally:
            storage_faults.disk_free(cluster, 1)
        lines = [line for line in cluster.log_path(1).read_text().splitlines() if line.strip()]
        assert lines[-1] == "kraft node: node 1 stopped without a clean shutdown: No space left on device"
        assert not any("Traceback" in line or "ExceptionGroup" in line for line in lines)
