"""DescribeLogDirs' per-partition view: which hosted partitions, their size and lag."""

from __future__ import annotations

from types import SimpleNamespace

from kraft.kafka.handlers.log_admin_api import log_dir_topics, offset_lag


def hosted(topic, partition, size, leo, *, leader_hw=None, follower_hw=0, heard_hw=-1):
    return SimpleNamespace(topic=topic, partition=partition, size_bytes=size, log_end_offset=leo,
                           is_leader=leader_hw is not None, high_watermark=leader_hw if leader_hw is not None
                           else follower_hw, follower_hw=follower_hw, leader_offsets=(heard_hw, 0, 0))


def test_a_followers_lag_is_against_the_high_watermark_its_leader_reported():
    assert offset_lag(hosted("t", 0, 1, 10, leader_hw=10)) == 0
    assert offset_lag(hosted("t", 0, 1, 7, follower_hw=7, heard_hw=12)) == 5
    assert offset_lag(hosted("t", 0, 1, 7, follower_hw=7)) == 0  # nothing heard yet


def test_partitions_by_topic_sorted_and_filtered():
    replicas = [hosted("b", 1, 30, 3, leader_hw=3), hosted("a", 0, 10, 1, leader_hw=1), hosted("b", 0, 20, 2,
                                                                                               leader_hw=2)]
    every = log_dir_topics(replicas, None)  # duck-typed replicas
    assert [(t["name"], [p["partition_index"] for p in t["partitions"]]) for t in every] == [("a", [0]), ("b", [0, 1])]
    assert every[1]["partitions"][1] == {"partition_index": 1, "partition_size": 30, "offset_lag": 0,
                                         "is_future_key": False}
    assert [t["name"] for t in log_dir_topics(replicas, {"b": {1}, "c": {0}})] == ["b"]
