"""Moving a partition's replicas on a real 4-broker cluster, under acks=all writes: the
new replica catches up and joins the ISR before the old leader leaves, leadership moves,
the old copy is deleted, and every acknowledged record is on the new replica set."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from cluster_client import V2_JSON, call

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=4, controllers=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def partition(c, topic):
    status, body = http_json("GET", f"{c.v3(1)}/topics/{topic}/partitions/0")
    assert status == 200, body
    return body


class Writer(threading.Thread):
    """acks=all writes until stopped; remembers what was acknowledged."""

    def __init__(self, c, topic):
        super().__init__(daemon=True)
        self.c, self.topic = c, topic
        self.stop = threading.Event()
        self.acked: list[str] = []

    def run(self):
        n = 0
        while not self.stop.is_set() and n < 5000:
            n += 1
            value = f"v{n}"
            try:
                status, body = http_json("POST", self.c.url(1 + n % 4) + f"/topics/{self.topic}/partitions/0",
                                         {"records": [{"value": value}]}, headers={"Content-Type": V2_JSON},
                                         timeout=10)
            except OSError:  # a node restarting, or the test already over
                continue
            if status == 200 and body["offsets"][0]["error_code"] is None:
                self.acked.append(value)
            time.sleep(0.01)


def values_on(c, node, topic) -> list[str]:
    status, body = http_json("GET", c.url(node) + f"/topics/{topic}/partitions/0/offsets")
    end, out, offset = body["end_offset"], [], 0
    while offset < end:
        status, records = call("GET", c.url(node) + f"/topics/{topic}/partitions/0/records?offset={offset}",
                               headers={"Accept": V2_JSON})
        assert status == 200, records
        out += [r["value"] for r in records]
        offset = records[-1]["offset"] + 1
    return out


def test_moving_replicas_away_from_the_leader_under_writes_loses_nothing(cluster):
    c = cluster
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "moving", "partitions_count": 1,
                                                          "replication_factor": 3})
    assert status == 201, body
    c.wait_until(lambda: len(partition(c, "moving")["isr"]) == 3, 20, "full ISR")
    before = partition(c, "moving")
    old_leader = before["leader_id"]
    newcomer = next(b for b in (1, 2, 3, 4) if b not in before["replica_ids"])
    target = [newcomer] + [b for b in before["replica_ids"] if b != old_leader]
    # a new partition's ISR is full from the start; its logs open a moment later
    c.wait_until(lambda: any(c.config.node(old_leader).data_path.glob("partitions/moving-0*")), 20,
                 "the leader's log directory")
    old_dir = next(c.config.node(old_leader).data_path.glob("partitions/moving-0*"))

    writer = Writer(c, "moving")
    writer.start()
    time.sleep(2)
    status, started = http_json("POST", c.v3(2) + "/topics/moving/partitions/0/reassignment", {"replicas": target})
    assert status in (200, 202), started
    if status == 202:
        assert started["adding_replicas"] == [newcomer] and started["removing_replicas"] == [old_leader]

    def done():
        p = partition(c, "moving")
        return sorted(p["replica_ids"]) == sorted(target) and http_json(
            "GET", c.v3(3) + "/topics/moving/partitions/0/reassignment")[0] == 404 and p
    after = c.wait_until(done, 60, "reassignment complete")
    time.sleep(1)  # writes go on under the new leader
    writer.stop.set()
    writer.join(30)
    assert after["leader_id"] != old_leader and after["leader_id"] in target
    assert newcomer in after["isr"]
    c.wait_until(lambda: not old_dir.exists(), 20, "the old leader's copy deleted")
    assert len(writer.acked) > 50
    c.wait_until(lambda: sorted(partition(c, "moving")["isr"]) == sorted(target), 20, "target ISR")
    stored = values_on(c, 1, "moving")
    missing = set(writer.acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    assert len(stored) == len(set(stored))


def test_cli_starts_shows_and_cancels_and_bad_targets_are_refused(cluster):
    c = cluster
    status, _ = http_json("POST", c.v3(1) + "/topics", {"topic_name": "cli-moving", "partitions_count": 1,
                                                       "replication_factor": 2})
    assert status == 201
    kraft = [sys.executable, "-m", "kraft", "topic", "reassign", "cli-moving", "-p", "0", "--bootstrap", c.url(1)]
    shown = subprocess.run(kraft, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1 and "no reassignment in progress" in shown.stderr, shown
    current = partition(c, "cli-moving")["replica_ids"]
    keep = [current[1]]
    moved = subprocess.run([*kraft, "--replicas", ",".join(map(str, keep))], capture_output=True, text=True,
                           timeout=60)
    assert moved.returncode == 0, moved.stderr
    c.wait_until(lambda: partition(c, "cli-moving")["replica_ids"] == keep, 20, "shrunk to one replica")
    for body, code in (({"replicas": [1, 1]}, 42206), ({"replicas": [99]}, 42206), ({"replicas": []}, 42206),
                       ({"replicas": "1,2"}, 400), ({"brokers": [1]}, 400)):
        status, answer = http_json("POST", c.v3(1) + "/topics/cli-moving/partitions/0/reassignment", body)
        assert answer["error_code"] == code and status < 500, (body, answer)
    assert partition(c, "cli-moving")["replica_ids"] == keep


def test_kafka_python_admin_reassigns_and_lists(cluster):
    """AlterPartitionReassignments / ListPartitionReassignments over the Kafka listener."""
    kadmin = pytest.importorskip("kafka.admin", reason="kafka-python is a test extra: ./dev test installs it")
    from kafka import TopicPartition
    c = cluster
    status, _ = http_json("POST", c.v3(1) + "/topics", {"topic_name": "kp-moving", "partitions_count": 1,
                                                       "replication_factor": 2})
    assert status == 201
    c.wait_until(lambda: len(partition(c, "kp-moving")["isr"]) == 2, 20, "full ISR")
    current = partition(c, "kp-moving")["replica_ids"]
    target = [b for b in (1, 2, 3, 4) if b not in current]
    admin = kadmin.KafkaAdminClient(bootstrap_servers=c.bootstrap_servers, request_timeout_ms=15000)
    try:
        tp = TopicPartition("kp-moving", 0)
        assert admin.alter_partition_reassignments({tp: target}) == {tp: None}
        listed = admin.list_partition_reassignments()  # in progress, or already done
        assert set(listed) <= {tp}
        c.wait_until(lambda: sorted(partition(c, "kp-moving")["replica_ids"]) == sorted(target), 30,
                     "moved by the Kafka admin client")
        assert admin.list_partition_reassignments() == {}
        errors = admin.alter_partition_reassignments({tp: None})  # nothing to cancel
        assert errors[tp] is not None and errors[tp].errno == 85
        errors = admin.alter_partition_reassignments({TopicPartition("kp-moving", 0): [99]})
        assert errors[tp] is not None
    finally:
        admin.close()


def test_alter_reassignments_v1_refuses_a_replication_factor_change_when_not_allowed(cluster):
    """KIP-860: with allow_replication_factor_change false, a target of another size is
    INVALID_REPLICATION_FACTOR and nothing moves; one of the same size moves."""
    import datetime

    from kafka_wire import kafka_socket, wire_call
    from kio.schema.alter_partition_reassignments.v1.request import (AlterPartitionReassignmentsRequest,
                                                                     ReassignablePartition, ReassignableTopic)
    c = cluster
    status, _ = http_json("POST", c.v3(1) + "/topics", {"topic_name": "rf-kept", "partitions_count": 1,
                                                       "replication_factor": 2})
    assert status == 201
    c.wait_until(lambda: len(partition(c, "rf-kept")["isr"]) == 2, 20, "full ISR")
    current = partition(c, "rf-kept")["replica_ids"]
    others = [b for b in (1, 2, 3, 4) if b not in current]

    def reassign(target: list[int], allow: bool, correlation: int) -> tuple[int, str | None]:
        request = AlterPartitionReassignmentsRequest(
            timeout=datetime.timedelta(seconds=15), allow_replication_factor_change=allow, topics=(ReassignableTopic(
                name="rf-kept", partitions=(ReassignablePartition(partition_index=0, replicas=tuple(target)),)),))
        s = kafka_socket(c, 1)
        try:
            answer = wire_call(s, request, correlation)
        finally:
            s.close()
        assert int(answer.error_code.value) == 0, answer
        (result,) = answer.responses[0].partitions
        return int(result.error_code.value), result.error_message

    code, message = reassign(current + others[:1], False, 1)
    assert code == 38 and "replication factor" in message  # INVALID_REPLICATION_FACTOR
    code, _ = reassign(current[:1], False, 2)
    assert code == 38
    assert sorted(partition(c, "rf-kept")["replica_ids"]) == sorted(current)  # nothing moved
    assert reassign(others[:2], False, 3) == (0, None)  # the same size: allowed
    c.wait_until(lambda: sorted(partition(c, "rf-kept")["replica_ids"]) == sorted(others[:2]), 30, "moved")
