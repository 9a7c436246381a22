"""A topic config changed on a live cluster takes effect on the open logs and on the next
request, as in Kafka: each test changes one config (or a pair that only acts together)
through the v3 API and observes what a user would see change.

unclean.leader.election.enable toggled live, with the election it allows, is in
tests/cluster/test_data_path_faults.py (test_unclean_toggle_offline_then_elected...).
"""

from __future__ import annotations

import itertools
import time

import pytest
from cluster_client import NODES, V2_JSON, call, create_topic
from page_cache import cachestat_works, dirty_pages

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

_names = itertools.count()


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


@pytest.fixture
def topic(cluster):
    return create_topic(cluster, f"live-{next(_names)}", 1)


def set_config(cluster, topic, name, value):
    path = f"{cluster.v3(2)}/topics/{topic}/configs/{name}"
    if value is None:
        status, body = call("DELETE", path)
    else:
        status, body = call("PUT", path, {"value": str(value)})
    assert status == 204, body
    expected = None if value is None else str(value)
    # every node applies the change before the test looks for its effect
    for node in NODES:
        cluster.wait_until(lambda: _config(cluster, node, topic, name) == expected, 10,
                           f"{name} on node {node}")


def _config(cluster, node, topic, name):
    status, body = http_json("GET", f"{cluster.v3(node)}/topics/{topic}/configs/{name}")
    assert status == 200, body
    return body["value"] if body["source"] == "DYNAMIC_TOPIC_CONFIG" else None


def produce(cluster, topic, records, acks="all", node=1):
    status, body = call("POST", f"{cluster.url(node)}/topics/{topic}/partitions/0?acks={acks}",
                        {"records": records}, headers={"Content-Type": V2_JSON})
    assert status == 200, body
    return body["offsets"]


def produced(cluster, topic, records, acks="all"):
    offsets = produce(cluster, topic, records, acks)
    assert all(o["error_code"] is None for o in offsets), offsets
    return offsets


def read_all(cluster, topic):
    out, offset = [], 0
    for _ in range(1000):
        status, batch = http_json("GET", f"{cluster.url(1)}/topics/{topic}/partitions/0/records"
                                  f"?offset={offset}&timeout=0",
                                  headers={"Accept": V2_JSON})
        if status == 404 and isinstance(batch, dict) and batch.get("error_code") == 40402:
            status, starts = http_json("GET", f"{cluster.url(1)}/topics/{topic}/partitions/0/offsets")
            offset = starts["beginning_offset"]
            continue
        assert status == 200, batch
        if not batch:
            return out
        out += batch
        offset = batch[-1]["offset"] + 1
    raise AssertionError("the partition never ran out of records")


def partition(cluster, topic, node=1):
    status, body = http_json("GET", f"{cluster.v3(node)}/topics/{topic}/partitions/0")
    assert status == 200, body
    return body


def segment_files(cluster, topic):
    """node -> the .log segment files of the topic's partition 0 on that node."""
    return {n: sorted(p.name for p in (cluster.config.node(n).data_path / "partitions"
                                       / f"{topic}-0").glob("*.log"))
            for n in NODES}


def big_records(n, size=20_000):
    return [{"value": "x" * size} for _ in range(n)]


# -- segment.* ------------------------------------------------------------------------------------
def test_segment_bytes_lowered_rolls_the_open_logs(cluster, topic):
    for _ in range(4):
        produced(cluster, topic, big_records(1))
    assert all(len(files) == 1 for files in segment_files(cluster, topic).values())
    set_config(cluster, topic, "segment.bytes", 30_000)
    for _ in range(4):
        produced(cluster, topic, big_records(1))
    # each 20 kB batch after the change no longer fits beside the one before it
    cluster.wait_until(lambda: all(len(f) >= 4 for f in segment_files(cluster, topic).values()),
                       10, f"smaller segments on every replica: {segment_files(cluster, topic)}")


def test_a_cluster_wide_segment_size_reaches_open_logs_of_topics_without_their_own(cluster, topic):
    produced(cluster, topic, big_records(1))
    status, body = call("PUT", cluster.v3(1) + "/broker-configs/log.segment.bytes", {"value": "30000"})
    assert status == 204, body
    try:
        for _ in range(4):
            produced(cluster, topic, big_records(1))
        cluster.wait_until(lambda: all(len(f) >= 4 for f in segment_files(cluster, topic).values()),
                           10, f"smaller segments on every replica: {segment_files(cluster, topic)}")
    finally:
        assert call("DELETE", cluster.v3(1) + "/broker-configs/log.segment.bytes")[0] == 204


def test_segment_ms_lowered_rolls_by_time(cluster, topic):
    for _ in range(3):
        produced(cluster, topic, [{"value": "a"}])
        time.sleep(0.02)
    assert all(len(files) == 1 for files in segment_files(cluster, topic).values())
    set_config(cluster, topic, "segment.ms", 1)
    for _ in range(3):
        produced(cluster, topic, [{"value": "b"}])
        time.sleep(0.02)  # record timestamps 20 ms apart: more than segment.ms
    cluster.wait_until(lambda: all(len(f) >= 3 for f in segment_files(cluster, topic).values()),
                       10, f"time-rolled segments on every replica: {segment_files(cluster, topic)}")


# -- flush.* ------------------------------------------------------------------------------------------
@pytest.mark.skipif(not cachestat_works(), reason="needs the cachestat syscall (Linux 6.5+) to see dirty pages")
@pytest.mark.parametrize("name, value", [("flush.messages", 1), ("flush.ms", 0)])
def test_flush_settings_make_acknowledged_records_reach_the_disk(cluster, topic, name, value):
    def active_segments():
        root = {n: cluster.config.node(n).data_path / "partitions" / f"{topic}-0" for n in NODES}
        return {n: max(root[n].glob("*.log")) for n in NODES}

    produced(cluster, topic, big_records(5, 4096))
    # Kafka's default: no fsync on append, replication is the durability
    assert any(dirty_pages(path) > 0 for path in active_segments().values())
    set_config(cluster, topic, name, value)
    produced(cluster, topic, big_records(5, 4096))
    assert dirty_pages(active_segments()[partition(cluster, topic)["leader_id"]]) == 0


# -- retention.* ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [("retention.ms", 1), ("retention.bytes", 30_000)])
def test_retention_lowered_deletes_old_segments(cluster, topic, name, value):
    set_config(cluster, topic, "segment.bytes", 30_000)
    for _ in range(5):
        produced(cluster, topic, big_records(1))
    assert partition(cluster, topic)["log_start_offset"] == 0
    set_config(cluster, topic, name, value)
    cluster.wait_until(lambda: partition(cluster, topic)["log_start_offset"] >= 3, 20,
                       f"old segments deleted under {name}")
    start = partition(cluster, topic)["log_start_offset"]
    assert [r["offset"] for r in read_all(cluster, topic)] == list(range(start, 5))
    # the log goes on from where it was, whatever retention removed
    assert produced(cluster, topic, [{"value": "next"}])[0]["offset"] == 5


# -- cleanup.policy, min.cleanable.dirty.ratio, delete.retention.ms -----------------------------------
def test_switching_to_compact_keeps_the_latest_value_per_key_and_drops_tombstones(cluster, topic):
    set_config(cluster, topic, "segment.bytes", 2_000)
    for round_ in range(6):
        produced(cluster, topic, [{"key": f"k{k}", "value": f"{round_}-{k}"} for k in range(5)])
    produced(cluster, topic, [{"key": "k0", "value": None}])  # a tombstone for k0
    produced(cluster, topic, [{"key": "filler", "value": "f" * 1500} for _ in range(3)])
    before = read_all(cluster, topic)
    assert len(before) == 34
    set_config(cluster, topic, "min.cleanable.dirty.ratio", "0.01")
    set_config(cluster, topic, "delete.retention.ms", 0)
    set_config(cluster, topic, "cleanup.policy", "compact")

    def compacted():
        latest = {}
        for r in read_all(cluster, topic):
            latest[r["key"]] = r["value"]
        return latest, len(read_all(cluster, topic))

    cluster.wait_until(lambda: compacted()[1] <= 12, 30, "the log compacted")
    latest, _ = compacted()
    assert "k0" not in latest  # its tombstone outlived delete.retention.ms=0, then went
    assert {k: latest[k] for k in ("k1", "k2", "k3", "k4")} == {f"k{k}": f"5-{k}" for k in range(1, 5)}


# -- produce-time checks ----------------------------------------------------------------------------
def test_max_message_bytes_lowered_refuses_larger_records_then_reset_takes_them(cluster, topic):
    produced(cluster, topic, [{"value": "y" * 2000}])
    set_config(cluster, topic, "max.message.bytes", 1000)
    status, body = call("POST", f"{cluster.url(3)}/topics/{topic}/partitions/0",
                        {"records": [{"value": "y" * 2000}]}, headers={"Content-Type": V2_JSON})
    assert status == 413, body
    set_config(cluster, topic, "max.message.bytes", None)
    produced(cluster, topic, [{"value": "y" * 2000}])


def test_min_insync_replicas_raised_refuses_acks_all_but_not_acks_1(cluster, topic):
    produced(cluster, topic, [{"value": "before"}])
    set_config(cluster, topic, "min.insync.replicas", 4)  # more than the 3 replicas there are
    [slot] = produce(cluster, topic, [{"value": "refused"}])
    assert slot["error_code"] is not None and "NOT_ENOUGH_REPLICAS" in slot["error"], slot
    produced(cluster, topic, [{"value": "acks-1"}], acks="1")
    set_config(cluster, topic, "min.insync.replicas", None)
    produced(cluster, topic, [{"value": "after"}])
    assert [r["value"] for r in read_all(cluster, topic)] == ["before", "acks-1", "after"]


def test_log_append_time_replaces_the_producers_timestamps(cluster, topic):
    # an hour ago: within retention.ms (a 1970 timestamp is past it, and the retention
    # check may delete that record before it is read, as Kafka's would)
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    produced(cluster, topic, [{"value": "create-time", "timestamp": an_hour_ago}])
    set_config(cluster, topic, "message.timestamp.type", "LogAppendTime")
    produced(cluster, topic, [{"value": "append-time", "timestamp": an_hour_ago}])
    records = read_all(cluster, topic)
    assert [r["value"] for r in records] == ["create-time", "append-time"], records
    assert records[0]["timestamp"] == an_hour_ago, records
    assert abs(records[1]["timestamp"] - time.time() * 1000) < 60_000, records[1]