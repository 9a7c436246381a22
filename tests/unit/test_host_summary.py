"""Brokers grouped by host (kraft.metadata.host_summary), the per-host view the console,
`kraft status` and /metrics show; and the CPU meter each broker reports with
(kraft.api.process_usage)."""

from __future__ import annotations

import os

from kraft.api.process_usage import CpuMeter, rss_bytes
from kraft.metadata import host_summary as hs
from kraft.metadata.image import NO_LEADER, BrokerRegistration, MetadataImage, PartitionRegistration, TopicImage


def registration(broker_id: int, host_name: str | None) -> BrokerRegistration:
    return BrokerRegistration(broker_id, 1, "x", "127.0.0.1", 8080 + broker_id, ("broker",), fenced=False,
                              host_name=host_name)


def image() -> MetadataImage:
    """Host a: brokers 1 and 2; host b: 3 and 4; broker 5 outside any host entry."""
    brokers = {1: registration(1, "a"), 2: registration(2, "a"), 3: registration(3, "b"),
               4: registration(4, "b"), 5: registration(5, None)}
    parts = (PartitionRegistration((1, 3), (1, 3), 1),   # led on a, fully replicated
             PartitionRegistration((3, 5), (3,), 3),     # led on b, under-replicated
             PartitionRegistration((2, 4), (2, 4), 2),   # led on a
             PartitionRegistration((4, 5), (), NO_LEADER))  # offline: no host leads it
    topic = TopicImage("t", "id-t", parts)
    return MetadataImage(brokers=brokers, topics={"id-t": topic}, topic_ids={"t": "id-t"})


def test_counts_are_per_broker_with_under_replicated_on_the_leader():
    counts = hs.partition_counts(image())
    assert counts[1] == {"leaders": 1, "replicas": 1, "under_replicated": 0}
    assert counts[3] == {"leaders": 1, "replicas": 2, "under_replicated": 1}
    assert counts[5] == {"leaders": 0, "replicas": 2, "under_replicated": 0}
    assert counts[4] == {"leaders": 0, "replicas": 2, "under_replicated": 0}


def test_hosts_sum_their_brokers_and_a_broker_outside_any_entry_is_a_host_of_its_own():
    img = image()
    usage = {1: {"cpu_percent": 12.5, "rss_bytes": 100}, 2: {"cpu_percent": 30.0, "rss_bytes": 50},
             3: {"cpu_percent": 5.0, "rss_bytes": 10}}  # 4 and 5 did not answer
    rows = hs.broker_rows(hs.registered_hosts(img), hs.partition_counts(img), usage)
    assert [r["host_name"] for r in rows] == ["a", "a", "b", "b", None]
    assert rows[3] == {"broker_id": 4, "host_name": "b", "leaders": 0, "replicas": 2, "under_replicated": 0,
                       "cpu_percent": None, "rss_bytes": None}
    hosts = hs.host_rows(rows)
    assert [(h["host"], h["host_name"], h["brokers"]) for h in hosts] == [
        ("a", "a", [1, 2]), ("b", "b", [3, 4]), ("broker=5", None, [5])]
    a, b, alone = hosts
    assert (a["leaders"], a["replicas"], a["under_replicated"]) == (2, 2, 0)
    assert (b["leaders"], b["replicas"], b["under_replicated"]) == (1, 4, 1)
    assert (a["cpu_percent"], a["rss_bytes"], a["unreported"]) == (42.5, 150, [])
    assert (b["cpu_percent"], b["rss_bytes"], b["unreported"]) == (5.0, 10, [4])
    assert (alone["cpu_percent"], alone["rss_bytes"], alone["unreported"]) == (None, None, [5])
    # every online partition is led on exactly one host
    assert sum(h["leaders"] for h in hosts) == 3


def test_a_broker_with_no_partitions_still_has_its_row_and_host():
    rows = hs.broker_rows({7: "c"}, {}, {})
    assert rows == [{"broker_id": 7, "host_name": "c", "leaders": 0, "replicas": 0, "under_replicated": 0,
                     "cpu_percent": None, "rss_bytes": None}]
    assert hs.host_rows(rows)[0]["host"] == "c"


def test_hosts_come_in_the_order_of_their_lowest_broker_id():
    rows = hs.broker_rows({9: "z", 2: "y", 4: "z", 3: None}, {}, {})
    assert [h["host"] for h in hs.host_rows(rows)] == ["y", "broker=3", "z"]


def test_cpu_is_measured_from_the_newest_reading_at_least_a_second_old():
    clock, cpu = [100.0], [10.0]
    meter = CpuMeter(lambda: clock[0], lambda: cpu[0])
    clock[0], cpu[0] = 102.0, 11.0  # one CPU second in two: 50 %
    assert meter.percent() == 50.0
    clock[0], cpu[0] = 104.0, 13.0  # since 102: two cores busy
    assert meter.percent() == 100.0
    clock[0], cpu[0] = 104.5, 13.5  # 104 is too recent: from 102
    assert meter.percent() == 100.0
    clock[0], cpu[0] = 105.2, 13.5  # from 104 (newest at least 1 s old): idle since
    assert meter.percent() == round(100 * 0.5 / 1.2, 1)


def test_many_readings_in_a_moment_keep_a_short_queue():
    clock = [0.0]
    meter = CpuMeter(lambda: clock[0], lambda: 0.0)
    for _ in range(10_000):
        clock[0] += 0.001
        meter.percent()
    assert len(meter._readings) <= 12


def test_rss_is_this_process_resident_memory():
    with open(f"/proc/{os.getpid()}/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    found = rss_bytes()
    assert found is not None and abs(found - vm) < 16 * 2**20
