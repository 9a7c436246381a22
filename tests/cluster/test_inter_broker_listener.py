"""A broker's inter-broker listener (`inter_broker_port`, Kafka's inter.broker.listener.name
naming a listener of its own): the other brokers fetch, send markers and forward REST
calls there, so a Kafka listener full of client connections refuses them nothing; a
client gets nothing from it without the brokers' own login."""

from __future__ import annotations

import socket
import time

import pytest
from cluster_client import call, create_topic
from consumer_client import produce
from kafka_wire import closed_by_broker, entity_frame, kafka_socket, minimal_request, recv_frame, wire_call

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

MAX_CONNECTIONS = 24  # the client listener's limit here, filled by served, idle clients
METADATA, API_VERSIONS = 3, 18


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, inter_broker_listener=True, cluster={"max.connections": MAX_CONNECTIONS}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def in_sync(c, topic: str) -> set[int]:
    status, replicas = call("GET", f"{c.v3(1)}/topics/{topic}/partitions/0/replicas")
    assert status == 200, replicas
    return {r["broker_id"] for r in replicas["data"] if r["is_in_sync"]}


def leader_of(c, topic: str) -> int:
    status, part = call("GET", f"{c.v3(1)}/topics/{topic}/partitions/0")
    assert status == 200, part
    return part["leader_id"]


def served_connection(c, node: int) -> socket.socket | None:
    """A client connection answered once (ApiVersions), so the listener counts it served
    and never closes it for a newcomer; None when the listener refused it."""
    s = kafka_socket(c, node)
    s.settimeout(5.0)
    try:
        s.sendall(entity_frame(minimal_request(API_VERSIONS, 3), 1))
        recv_frame(s)
    except (ConnectionError, TimeoutError, OSError):
        s.close()
        return None
    s.settimeout(10)
    return s


def fill_client_listener(c, node: int) -> list[socket.socket]:
    """Served client connections until the listener refuses the next one (at most 3x its limit)."""
    held = []
    for _ in range(3 * MAX_CONNECTIONS):
        s = served_connection(c, node)
        if s is None:
            return held
        held.append(s)
    raise AssertionError(f"the client listener took {len(held)} connections with max.connections {MAX_CONNECTIONS}")


def test_a_follower_catches_up_while_the_leaders_client_listener_is_full(cluster):
    topic = "behind-a-full-listener"
    create_topic(cluster, topic, partitions=1)
    produce(cluster, topic, [{"value": {"n": n}} for n in range(5)])
    leader = leader_of(cluster, topic)
    follower = next(n for n in (1, 2, 3) if n != leader)
    cluster.wait_until(lambda: in_sync(cluster, topic) == {1, 2, 3}, timeout_s=30, what="every replica in sync")
    cluster.stop(follower)
    cluster.wait_until(lambda: follower not in in_sync(cluster, topic), timeout_s=60,
                       what=f"broker {follower} out of the ISR after its shutdown")
    held = fill_client_listener(cluster, leader)
    try:
        # written while the follower is away (through a node's REST door, which forwards to
        # the leader on its inter-broker listener when it does not lead)
        produce(cluster, topic, [{"value": {"n": n}} for n in range(5, 50)])
        cluster.start_node(follower)
        cluster.wait_until(lambda: in_sync(cluster, topic) == {1, 2, 3}, timeout_s=90,
                           what=f"broker {follower} back in the ISR while the leader's client listener is full")
        fresh = kafka_socket(cluster, leader)
        fresh.settimeout(10)
        assert closed_by_broker(fresh), "the client listener was still full"
        fresh.close()
    finally:
        for s in held:
            s.close()
        # the slots come back as the broker sees the closes: the next test needs them
        cluster.wait_until(lambda: answers_metadata(cluster, leader), timeout_s=30,
                           what="the client listener taking connections again")


def answers_metadata(c, node: int) -> bool:
    try:
        with kafka_socket(c, node) as s:
            s.sendall(entity_frame(minimal_request(METADATA, 12), 7))
            return len(s.recv(4)) == 4
    except OSError:  # refused while the listener is still full
        return False


def inter_broker_socket(c, node: int) -> socket.socket:
    conf = c.config.node(node)
    return socket.create_connection((conf.host, conf.inter_broker_port), timeout=10)


def test_a_client_gets_nothing_from_the_inter_broker_listener_without_the_brokers_login(cluster):
    metadata = entity_frame(minimal_request(METADATA, 12), 7)
    assert answers_metadata(cluster, 1)  # the client listener answers it
    with inter_broker_socket(cluster, 1) as s:
        versions = wire_call(s, minimal_request(API_VERSIONS, 3, client_software_name="t",
                                                client_software_version="1"))
        assert versions.error_code.value == 0  # served before a login, as on any SASL listener
        started = time.monotonic()
        s.sendall(metadata)
        assert closed_by_broker(s), "a Metadata request before the brokers' login was answered"
        assert time.monotonic() - started < 10
