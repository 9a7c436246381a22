"""What an operator sees of a saturated node in /metrics: how late its event loop runs
(kraft_event_loop_lag_seconds), how far apart its accepted heartbeats went
(kraft_broker_heartbeat_gap_seconds) and how many Kafka requests wait for their answers
(kraft_kafka_requests_in_flight), which a connection's bounded queue keeps from growing
with the load. Real nodes, paused with SIGSTOP; real sockets."""

from __future__ import annotations

import re
import time

import pytest
from cluster_client import create_topic
from kafka_wire import kafka_socket, leader_of, produce_error_code, produce_frame, recv_frame

from kraft.kafka.connection.listener import MAX_IN_FLIGHT
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    return shared_cluster


def metric(c, node: int, name: str) -> float:
    status, text = c.get(node, "/metrics")
    assert status == 200, text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    assert found, f"{name} not in node {node}'s /metrics"
    return float(found.group(1))


def lags_over_one_second(c, node: int) -> float:
    """Samples of the loop-lag histogram above 1 s."""
    return (metric(c, node, "kraft_event_loop_lag_seconds_count")
            - metric(c, node, 'kraft_event_loop_lag_seconds_bucket{le="1.0"}'))


def test_a_stalled_event_loop_shows_as_lag(cluster):
    node = 2
    before = lags_over_one_second(cluster, node)
    cluster.pause(node)
    try:
        time.sleep(1.6)
    finally:
        cluster.resume(node)
    cluster.wait_until(lambda: lags_over_one_second(cluster, node) > before, 10,
                       "a loop-lag sample above 1 s after a 1.6 s stall")


def heartbeat_gaps_over(c, node: int, bound: str) -> float:
    return (metric(c, node, "kraft_broker_heartbeat_gap_seconds_count")
            - metric(c, node, f'kraft_broker_heartbeat_gap_seconds_bucket{{le="{bound}"}}'))


def test_a_stalled_broker_shows_its_longest_heartbeat_gap(cluster):
    """The gap a controller's session sees, from the broker's side: a stall well inside the
    session (not fenced) shows as a gap past the heartbeat interval."""
    node = 3
    before = heartbeat_gaps_over(cluster, node, "1.5")
    cluster.pause(node)
    try:
        time.sleep(1.8)  # the session is 3 s: fenced past it
    finally:
        cluster.resume(node)
    cluster.wait_until(lambda: heartbeat_gaps_over(cluster, node, "1.5") > before, 10,
                       "a heartbeat gap above 1.5 s after a 1.8 s stall")


def test_requests_waiting_for_replication_are_counted_and_bounded_per_connection(cluster):
    topic = "saturation-inflight"
    create_topic(cluster, topic, 1)
    leader = leader_of(cluster, topic, 0)
    followers = [n for n in (1, 2, 3) if n != leader]
    batch = encode_batch([Record(key=None, value=b"v" * 100)], 0, -1)
    sent = MAX_IN_FLIGHT * 2  # more than a connection may have queued
    with kafka_socket(cluster, leader) as s:
        s.settimeout(30)
        cluster.wait_until(lambda: metric(cluster, leader, "kraft_kafka_requests_in_flight") == 0, 10,
                           "an idle leader owes no answers")
        for node in followers:
            cluster.pause(node)  # acks=all: every write waits for the followers
        try:
            s.sendall(b"".join(produce_frame(topic, 0, batch, i) for i in range(sent)))
            cluster.wait_until(
                lambda: metric(cluster, leader, "kraft_kafka_requests_in_flight") >= MAX_IN_FLIGHT, 10,
                "the leader's queued produce requests in /metrics")
            time.sleep(0.5)  # the listener would read on now if it were going to
            waiting = metric(cluster, leader, "kraft_kafka_requests_in_flight")
            assert MAX_IN_FLIGHT <= waiting <= MAX_IN_FLIGHT + 1, waiting  # the rest stay unread
        finally:
            for node in followers:
                cluster.resume(node)
        codes = [produce_error_code(recv_frame(s)) for _ in range(sent)]
    assert codes == [0] * sent  # every request answered once the followers caught up
    cluster.wait_until(lambda: metric(cluster, leader, "kraft_kafka_requests_in_flight") == 0, 10,
                       "nothing owed after the answers")
