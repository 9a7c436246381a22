"""Consumer groups through the REST Proxy v2 API, against one real 3-node cluster.

What a user of Confluent's REST Proxy would see: instances of one group share a
topic's partitions and rebalance when members join, leave or expire (a silent one keeps
its partitions until consumer.instance.timeout.ms, as the proxy heartbeats for it); committed offsets
are where a group resumes; auto.offset.reset; any node serves any instance; a stale
member cannot move a committed offset backwards; idle instances expire; the v3 lag
endpoints and `kraft group` report what was consumed. Faults that kill nodes are in
test_consumer_groups_faults.py (they need a cluster of their own).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time

import pytest
from cluster_client import V2_BINARY, V2_JSON, assert_envelope, call, create_topic
from consumer_client import (
    GROUPS,
    V2,
    Consumer,
    assigned,
    drain,
    group_view,
    http,
    produce,
)

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

SIX = "six"  # 6 partitions, shared by the group tests that only read it
_names = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, first_address=60, groups=GROUPS) as c:
        c.start().wait_ready(timeout_s=40)
        create_topic(c, SIX, 6)
        yield c


def fresh_topic(c, partitions=1):
    return create_topic(c, f"cg-{next(_names)}", partitions)


def all_partitions(topic, n):
    return {(topic, p) for p in range(n)}


def assert_split(shares: dict[str, set], everything: set):
    """Every instance has a non-empty share; shares are disjoint and cover everything."""
    for name, share in shares.items():
        assert share, f"instance {name} got no partition: {shares}"
    union = set().union(*shares.values())
    assert union == everything, f"shares {shares} do not cover {sorted(everything)}"
    assert sum(len(s) for s in shares.values()) == len(everything), f"shares overlap: {shares}"


def positions_of(records):
    return [(r["partition"], r["offset"]) for r in records]


# -- sharing partitions ------------------------------------------------------------------------
def records_in_background(consumer, timeout_ms):
    """One long-polling records call on a thread; result gets "records" and "took" (s)."""
    result = {}

    def poll():
        t0 = time.monotonic()
        result["records"] = consumer.records(timeout_ms=timeout_ms)
        result["took"] = time.monotonic() - t0

    poller = threading.Thread(target=poll)
    poller.start()
    return poller, result


def test_two_instances_split_the_partitions_and_a_third_joining_rebalances(cluster):
    topic = fresh_topic(cluster, 6)
    everything = all_partitions(topic, 6)
    first = produce(cluster, topic, [{"key": f"k{i}", "value": {"i": i}} for i in range(60)])
    assert {p for p, _ in first} == set(range(6)), "the keys did not reach every partition"
    earliest = {"auto.offset.reset": "earliest"}
    a = Consumer.create(cluster, "split", "a", earliest)
    b = Consumer.create(cluster, "split", "b", earliest)
    a.subscribe([topic])
    b.subscribe([topic])
    two = {"a": a.assignment(), "b": b.assignment()}
    assert_split(two, everything)
    assert sorted(len(s) for s in two.values()) == [3, 3], two

    got = drain([a, b], lambda g: sum(map(len, g.values())) >= len(first))
    for name, share in two.items():  # each read only its own partitions
        assert {(topic, r["partition"]) for r in got[name]} <= share, (name, share, got[name])
    round1 = positions_of(got["a"] + got["b"])
    assert sorted(round1) == sorted(first), "not every record exactly once before the rebalance"
    a.commit()
    b.commit()

    c = Consumer.create(cluster, "split", "c", earliest)
    c.subscribe([topic])
    three = {"a": a.assignment(), "b": b.assignment(), "c": c.assignment()}
    assert_split(three, everything)
    assert sorted(len(s) for s in three.values()) == [2, 2, 2], three
    view = group_view(cluster, "split")
    assert view["state"] == "STABLE" and view["partition_assignor"] == "range", view
    status, members = call("GET", f"{cluster.v3(2)}/consumer-groups/split/consumers")
    assert status == 200, members
    assert {m["instance_id"]: {(x["topic_name"], x["partition_id"]) for x in assigned(m)}
            for m in members["data"]} == three

    second = produce(cluster, topic, [{"key": f"k{i}", "value": {"i": i}} for i in range(60, 120)])
    got = drain([a, b, c], lambda g: sum(map(len, g.values())) >= len(second))
    for name, share in three.items():
        assert {(topic, r["partition"]) for r in got[name]} <= share, (name, share, got[name])
    round2 = positions_of(got["a"] + got["b"] + got["c"])
    # the partitions that moved to c resume from a's and b's commits: nothing again, nothing lost
    assert sorted(round2) == sorted(second), "records after the rebalance: some missing or twice"
    assert not any(x.records(timeout_ms=100) for x in (a, b, c)), "records delivered twice"


def test_a_silent_instance_keeps_its_partitions_past_its_session_until_it_expires(cluster):
    """Confluent's proxy heartbeats for its instances: a client silent for longer than
    session.timeout.ms keeps its partitions and resumes where it was, without the others
    reading its records again; only consumer.instance.timeout.ms of silence ends it."""
    topic = fresh_topic(cluster, 2)
    earliest = {"auto.offset.reset": "earliest", "session.timeout.ms": 1000}
    a = Consumer.create(cluster, "silent", "a", {**earliest, "consumer.instance.timeout.ms": 6000})
    b = Consumer.create(cluster, "silent", "b", earliest)
    for m in (a, b):
        m.subscribe([topic])
    shares = {"a": a.assignment(), "b": b.assignment()}
    assert_split(shares, all_partitions(topic, 2))
    (a_part,) = [p for _, p in shares["a"]]
    produce(cluster, topic, [{"value": {"i": i}, "partition": i % 2} for i in range(8)])
    got = drain([a, b], lambda g: len(g["a"]) + len(g["b"]) >= 8)
    assert {r["partition"] for r in got["a"]} == {a_part}
    generation = group_view(cluster, "silent")["generation_id"]
    produce(cluster, topic, [{"value": {"late": i}, "partition": i % 2} for i in range(4)])

    silent_since = time.monotonic()  # a says nothing for 3 sessions; b keeps reading
    seen_by_b = []
    while time.monotonic() - silent_since < 3.5:
        seen_by_b += b.records(timeout_ms=200)
    view = group_view(cluster, "silent", node=2)
    assert (view["state"], view["generation_id"]) == ("STABLE", generation), view
    assert b.assignment() == shares["b"], "b took a's partitions while a was silent"
    assert {r["partition"] for r in seen_by_b} == {1 - a_part}, f"b read a's partition: {seen_by_b}"
    back = drain([a], lambda g: len(g["a"]) >= 2)["a"]  # a resumes after what it had read
    assert [r["value"] for r in back] == [{"late": i} for i in range(4) if i % 2 == a_part], back

    time.sleep(6.5)  # now past a's consumer.instance.timeout.ms: it is gone, b has everything
    status, body = a.req("GET", "/assignments", retry_s=5)
    assert_envelope(status, body, 40403)
    cluster.wait_until(lambda: b.assignment() == all_partitions(topic, 2), 10, "b owns a's partition")


def test_deleting_an_instance_hands_its_partitions_to_the_rest_at_once(cluster):
    everything = all_partitions(SIX, 6)
    a = Consumer.create(cluster, "leavers", "a")
    b = Consumer.create(cluster, "leavers", "b")
    a.subscribe([SIX])
    b.subscribe([SIX])
    assert_split({"a": a.assignment(), "b": b.assignment()}, everything)
    b.ok("DELETE", "/subscription", node=3)
    assert b.ok("GET", "/subscription", expect=200) == {"topics": []}
    assert (a.assignment(), b.assignment()) == (everything, set())
    b.subscribe([SIX])
    assert_split({"a": a.assignment(), "b": b.assignment()}, everything)
    b.delete(node=2)
    assert a.assignment() == everything  # a leave rebalances now, not after a session timeout
    assert [m["instance_id"] for m in call("GET", f"{cluster.v3(1)}/consumer-groups/leavers/consumers")[1]["data"]] \
        == ["a"]


@pytest.mark.parametrize("strategy", ["roundrobin", "sticky"])
def test_other_assignors_split_and_sticky_keeps_what_it_can(cluster, strategy):
    everything = all_partitions(SIX, 6)
    group = f"assignor-{strategy}"
    config = {"partition.assignment.strategy": strategy}
    a = Consumer.create(cluster, group, "a", config)
    b = Consumer.create(cluster, group, "b", config)
    a.subscribe([SIX])
    b.subscribe([SIX])
    two = {"a": a.assignment(), "b": b.assignment()}
    assert_split(two, everything)
    c = Consumer.create(cluster, group, "c", config)
    c.subscribe([SIX])
    three = {"a": a.assignment(), "b": b.assignment(), "c": c.assignment()}
    assert_split(three, everything)
    assert sorted(map(len, three.values())) == [2, 2, 2], three
    assert group_view(cluster, group)["partition_assignor"] == strategy
    if strategy == "sticky":  # a and b each give up one partition and keep the rest
        assert three["a"] <= two["a"] and three["b"] <= two["b"], (two, three)


def test_a_pattern_subscription_follows_the_topics_that_match(cluster):
    first = create_topic(cluster, "pat-one", 2)
    create_topic(cluster, "unmatched-pat", 1)
    p = Consumer.create(cluster, "patterns", "p", {"auto.offset.reset": "earliest"})
    p.ok("POST", "/subscription", {"topic_pattern": "pat-.*"})
    assert p.ok("GET", "/subscription", expect=200) == {"topics": [first]}
    assert p.assignment() == all_partitions(first, 2)
    second = create_topic(cluster, "pat-two", 1)
    cluster.wait_until(lambda: p.assignment() == all_partitions(first, 2) | {(second, 0)}, 15,
                       "the new matching topic assigned")
    assert p.ok("GET", "/subscription", expect=200) == {"topics": [first, second]}
    produce(cluster, second, [{"value": {"new": True}}])
    got = drain([p], lambda g: len(g["p"]) >= 1)["p"]
    assert [(r["topic"], r["value"]) for r in got] == [(second, {"new": True})]


def test_records_long_poll_answers_when_data_arrives_and_max_bytes_bounds_a_read(cluster):
    topic = fresh_topic(cluster, 1)
    w = Consumer.create(cluster, "waiters", "w")  # latest
    w.subscribe([topic])
    started = time.monotonic()
    assert w.records(timeout_ms=1500) == []
    waited = time.monotonic() - started
    assert 1.2 <= waited < 10, f"an empty long poll of 1.5s took {waited:.2f}s"

    poller, result = records_in_background(w, 8000)
    time.sleep(0.5)
    produce(cluster, topic, [{"value": {"i": 0}}])
    poller.join(30)
    assert not poller.is_alive()
    assert [r["value"] for r in result["records"]] == [{"i": 0}]
    assert result["took"] < 5, f"the long poll did not answer when data arrived ({result['took']:.1f}s)"

    for i in range(1, 6):  # five batches of one record each
        produce(cluster, topic, [{"value": {"i": i, "pad": "x" * 100}}])
    small = w.records(timeout_ms=0, max_bytes=10)
    assert [r["value"]["i"] for r in small] == [1], "max_bytes below one batch: exactly one batch"
    rest = drain([w], lambda g: len(g["w"]) >= 4)["w"]
    assert [r["value"]["i"] for r in rest] == [2, 3, 4, 5]


def test_auto_commit_is_off_by_default_and_commits_what_was_delivered_when_on(cluster):
    topic = fresh_topic(cluster, 1)
    tp = (topic, 0)
    produce(cluster, topic, [{"value": {"i": i}} for i in range(4)])
    manual = Consumer.create(cluster, "autocommit-off", "m", {"auto.offset.reset": "earliest"})
    manual.subscribe([topic])
    drain([manual], lambda g: len(g["m"]) >= 4)
    manual.records(timeout_ms=100)
    assert manual.committed([tp]) == {}, "committed without being asked (auto.commit.enable defaults to false)"
    auto = Consumer.create(cluster, "autocommit-on", "a", {"auto.offset.reset": "earliest",
                                                           "auto.commit.enable": "true"})
    auto.subscribe([topic])
    drain([auto], lambda g: len(g["a"]) >= 4)
    auto.records(timeout_ms=100)  # the next poll commits what the previous ones delivered
    assert auto.committed([tp]) == {tp: 4}


def test_an_instance_works_through_every_node(cluster):
    topic = fresh_topic(cluster, 1)
    produce(cluster, topic, [{"key": "k", "value": {"i": i}} for i in range(5)], node=2)
    for node in (2, 3):  # created through each node: each answers with its own base_uri
        Consumer.create(cluster, "anynode", f"via-{node}", node=node).delete(node=1)
    x = Consumer.create(cluster, "anynode", "x", {"auto.offset.reset": "earliest"}, node=1)
    x.subscribe([topic], node=2)
    assert x.assignment(node=3) == {(topic, 0)}
    got = drain([Consumer(cluster, "anynode", "x", node=3)], lambda g: len(g["x"]) >= 5)["x"]
    assert [r["value"]["i"] for r in got] == [0, 1, 2, 3, 4]
    x.commit({(topic, 0): 2}, node=1)
    assert x.committed([(topic, 0)], node=2) == {(topic, 0): 3}
    assert x.committed(node=3) == {(topic, 0): 3}  # no body: the partitions it owns
    x.delete(node=3)
    status, body = x.req("GET", "/assignments", node=1)
    assert_envelope(status, body, 40403)


# -- Confluent's documented v2 examples ---------------------------------------------------------
def test_confluent_v2_json_example_works_as_documented(cluster):
    create_topic(cluster, "jsontest", 1)
    status, body = http("POST", f"{cluster.url(1)}/topics/jsontest", {"records": [{"value": {"foo": "bar"}}]},
                        headers={"Content-Type": V2_JSON})
    assert status == 200 and body["offsets"][0]["offset"] == 0, body
    produce(cluster, "jsontest", [{"value": {"foo": "baz"}}])

    status, body = call("POST", f"{cluster.url(1)}/consumers/my_json_consumer",
                        {"name": "my_consumer_instance", "format": "json", "auto.offset.reset": "earliest"},
                        headers={"Content-Type": V2}, retry_s=30)
    assert status == 200, body
    assert body == {"instance_id": "my_consumer_instance",
                    "base_uri": f"{cluster.url(1)}/consumers/my_json_consumer/instances/my_consumer_instance"}
    base = body["base_uri"]
    status, body = http("POST", base + "/subscription", {"topics": ["jsontest"]},
                        headers={"Content-Type": V2})
    assert (status, body) == (204, None)
    status, body = http("GET", base + "/subscription")
    assert (status, body) == (200, {"topics": ["jsontest"]})

    def records():
        status, body = http("GET", base + "/records", headers={"Accept": V2_JSON})
        assert status == 200, body
        return body

    got = []
    deadline = time.monotonic() + 15
    while len(got) < 2 and time.monotonic() < deadline:
        got += records()
    assert [{k: r[k] for k in ("key", "value", "partition", "offset", "topic")} for r in got] == [
        {"key": None, "value": {"foo": "bar"}, "partition": 0, "offset": 0, "topic": "jsontest"},
        {"key": None, "value": {"foo": "baz"}, "partition": 0, "offset": 1, "topic": "jsontest"}]

    # commit the first record; committed = the next one to read (Confluent's rule)
    status, body = http("POST", base + "/offsets",
                        {"offsets": [{"topic": "jsontest", "partition": 0, "offset": 0}]},
                        headers={"Content-Type": V2})
    assert status == 204, body
    status, body = http("GET", base + "/offsets", {"partitions": [{"topic": "jsontest", "partition": 0}]},
                        headers={"Content-Type": V2})
    assert (status, body) == (200, {"offsets": [{"topic": "jsontest", "partition": 0, "offset": 1,
                                                 "metadata": ""}]})
    # an empty commit commits what was fetched
    assert http("POST", base + "/offsets", headers={"Content-Type": V2})[0] == 204
    status, body = http("GET", base + "/offsets")
    assert body["offsets"][0]["offset"] == 2, body

    part = {"topic": "jsontest", "partition": 0}
    assert http("POST", base + "/positions/beginning", {"partitions": [part]},
                headers={"Content-Type": V2})[0] == 204
    assert records() == got, "reading again from the beginning gave other records"
    assert http("POST", base + "/positions", {"offsets": [{**part, "offset": 1}]},
                headers={"Content-Type": V2})[0] == 204
    assert records() == got[1:]
    assert http("POST", base + "/positions/end", {"partitions": [part]}, headers={"Content-Type": V2})[0] == 204
    status, body = http("GET", base + "/records?timeout=200", headers={"Accept": V2_JSON})
    assert (status, body) == (200, [])

    status, body = http("DELETE", base, headers={"Content-Type": V2})  # as the docs send it
    assert (status, body) == (204, None)
    status, body = http("GET", base + "/records", headers={"Accept": V2_JSON})
    assert_envelope(status, body, 40403)


def test_confluent_v2_binary_example_with_assignments_works_as_documented(cluster):
    create_topic(cluster, "binarytest", 2)
    status, body = http("POST", f"{cluster.url(2)}/topics/binarytest/partitions/1",
                        {"records": [{"value": "S2Fma2E="}]}, headers={"Content-Type": V2_BINARY})
    assert status == 200, body
    status, body = call("POST", f"{cluster.url(2)}/consumers/my_binary_consumer",
                        {"name": "my_consumer_instance", "format": "binary", "auto.offset.reset": "earliest"},
                        headers={"Content-Type": V2}, retry_s=30)
    assert status == 200, body
    base = body["base_uri"]
    assert base.startswith(cluster.url(2)), body
    part = {"topic": "binarytest", "partition": 1}
    assert http("POST", base + "/assignments", {"partitions": [part]}, headers={"Content-Type": V2})[0] == 204
    assert http("GET", base + "/assignments") == (200, {"partitions": [part]})
    got = []
    deadline = time.monotonic() + 15
    while not got and time.monotonic() < deadline:
        status, got = http("GET", base + "/records", headers={"Accept": V2_BINARY})
        assert status == 200, got
    assert [{k: r[k] for k in ("key", "value", "partition", "offset", "topic")} for r in got] == [
        {"key": None, "value": "S2Fma2E=", "partition": 1, "offset": 0, "topic": "binarytest"}]
    status, body = http("GET", base + "/records", headers={"Accept": V2_JSON})
    assert_envelope(status, body, 40601)  # a binary instance is not read as JSON
    status, body = http("DELETE", base, headers={"Content-Type": V2})
    assert status == 204, body
    status, body = http("DELETE", base, headers={"Content-Type": V2})
    assert_envelope(status, body, 40403)


# -- where a new instance starts ------------------------------------------------------------------
def test_auto_offset_reset_latest_reads_only_records_produced_after_the_first_poll(cluster):
    topic = fresh_topic(cluster, 2)
    produce(cluster, topic, [{"key": f"old{i}", "value": {"old": i}} for i in range(10)])
    late = Consumer.create(cluster, "latest", "l")  # no auto.offset.reset: latest is the default
    late.subscribe([topic])
    assert late.records(timeout_ms=300) == []  # positions resolved at the log end
    new = produce(cluster, topic, [{"key": f"new{i}", "value": {"new": i}} for i in range(6)])
    got = drain([late], lambda g: len(g["l"]) >= len(new))["l"]
    assert sorted(positions_of(got)) == sorted(new)
    assert all("new" in r["value"] for r in got), got


def test_auto_offset_reset_none_refuses_to_read_until_a_position_is_set(cluster):
    topic = fresh_topic(cluster, 1)
    produce(cluster, topic, [{"value": {"i": i}} for i in range(5)])
    strict = Consumer.create(cluster, "none", "s", {"auto.offset.reset": "none"})
    strict.subscribe([topic])
    status, body = call("GET", strict.url(suffix="/records?timeout=100"), headers={"Accept": V2_JSON})
    assert_envelope(status, body, 40402)
    strict.ok("POST", "/positions", {"offsets": [{"topic": topic, "partition": 0, "offset": 2}]})
    got = drain([strict], lambda g: len(g["s"]) >= 3)["s"]
    assert [r["value"]["i"] for r in got] == [2, 3, 4]
    strict.commit({(topic, 0): 3})
    strict.delete()
    # with a committed offset, "none" starts there without an error
    again = Consumer.create(cluster, "none", "s2", {"auto.offset.reset": "none"})
    again.subscribe([topic])
    got = drain([again], lambda g: len(g["s2"]) >= 1)["s2"]
    assert [r["value"]["i"] for r in got] == [4]


# -- stale members and expiry -------------------------------------------------------------------------
def test_an_expired_instance_cannot_move_a_committed_offset_backwards(cluster):
    topic = fresh_topic(cluster, 1)
    tp = (topic, 0)
    produce(cluster, topic, [{"value": {"i": i}} for i in range(20)])
    config = {"auto.offset.reset": "earliest", "consumer.instance.timeout.ms": 2000}
    a = Consumer.create(cluster, "stale", "a", config)
    a.subscribe([topic])
    got = drain([a], lambda g: len(g["a"]) >= 20)["a"]
    assert len(got) == 20
    a.commit({tp: 9})  # X: next to read is 10
    assert a.committed([tp]) == {tp: 10}

    # a goes silent; b joins and, once a has expired, takes the partition
    b = Consumer.create(cluster, "stale", "b", {"auto.offset.reset": "earliest"})
    b.subscribe([topic])
    cluster.wait_until(lambda: b.assignment() == {tp}, 15, "b owns the partition after a expired")
    got = drain([b], lambda g: len(g["b"]) >= 10)["b"]
    assert [r["offset"] for r in got] == list(range(10, 20)), "b did not resume from a's commit"
    b.commit({tp: 14})  # Y: next to read is 15
    assert b.committed([tp]) == {tp: 15}

    status, body = a.req("POST", "/offsets", {"offsets": [{"topic": topic, "partition": 0, "offset": 4}]},
                         retry_s=5)
    after = b.committed([tp])
    assert after == {tp: 15} and status == 404, (
        f"an expired instance's commit answered {status} {body} and the committed offset is now {after} "
        f"(was 15): a committed offset moved backwards")
    assert_envelope(status, body, 40403)


def test_a_long_poll_longer_than_the_session_keeps_the_membership(cluster):
    """A records request waiting for data is the client talking, as Kafka's consumer
    heartbeats while it waits in poll(): the group must not drop the instance meanwhile,
    and a record arriving during the wait is the answer."""
    topic = fresh_topic(cluster, 1)
    a = Consumer.create(cluster, "longpoll", "a", {"session.timeout.ms": 2000})
    a.subscribe([topic])
    assert a.records(timeout_ms=100) == []  # its position is the log end now
    generation = group_view(cluster, "longpoll")["generation_id"]
    poller, result = records_in_background(a, 6000)
    seen = []
    for _ in range(4):  # 0.9s apart: well past the 2s session before the record comes
        time.sleep(0.9)
        view = group_view(cluster, "longpoll", node=2)
        status, members = call("GET", f"{cluster.v3(2)}/consumer-groups/longpoll/consumers")
        assert status == 200, members
        seen.append((view["state"], view["generation_id"],
                     [(x["topic_name"], x["partition_id"]) for m in members["data"] for x in assigned(m)]))
    produce(cluster, topic, [{"value": {"during": "the wait"}}])
    poller.join(30)
    assert not poller.is_alive()
    values = [r["value"] for r in result["records"]]
    if not values:  # what the client gets next
        result["next"] = [r["value"] for r in a.records(timeout_ms=1000)]
    assert values == [{"during": "the wait"}] and seen == [("STABLE", generation, [(topic, 0)])] * 4, (
        f"while its records request waited, the group saw {seen} (generation before: {generation}); "
        f"the request answered {values} after {result['took']:.1f}s, the next one {result.get('next')}")


def test_a_consumer_whose_topic_was_deleted_is_told_so_not_given_empty_answers(cluster):
    """Kafka's clients get UNKNOWN_TOPIC_OR_PARTITION for a subscribed topic that is gone;
    a REST instance gets 40401 naming it (subscribed or assigned by hand), while a topic
    that has not been created yet is simply waited for."""
    topic, other = fresh_topic(cluster, 1), fresh_topic(cluster, 1)
    produce(cluster, topic, [{"value": {"i": 1}}])
    sub = Consumer.create(cluster, "gone", "sub", {"auto.offset.reset": "earliest"})
    sub.subscribe([topic])
    manual = Consumer.create(cluster, "gone-manual", "m", {"auto.offset.reset": "earliest"})
    manual.ok("POST", "/assignments", {"partitions": [{"topic": topic, "partition": 0}]})
    assert len(drain([sub, manual], lambda g: len(g["sub"]) == len(g["m"]) == 1)["sub"]) == 1
    early = Consumer.create(cluster, "gone-early", "e")
    early.subscribe(["cg-not-created-yet"])
    assert early.records(timeout_ms=100) == []  # a topic to come is not an error

    status, _ = call("DELETE", f"{cluster.v3(1)}/topics/{topic}")
    assert status == 204
    for consumer, how in ((sub, "subscribes to"), (manual, "is assigned partitions of")):
        for node in (1, 2, 3):
            status, body = consumer.req("GET", "/records?timeout=2000", node=node,
                                        headers={"Accept": V2_JSON}, retry_s=0)
            assert_envelope(status, body, 40401)
            assert f"topic {topic!r} was deleted and instance {consumer.name!r} still {how} it" in body["message"]
    sub.subscribe([other])  # a subscription without it ends the errors
    assert sub.records(timeout_ms=100) == []
    assert early.records(timeout_ms=100) == []


def test_an_idle_instance_expires_after_consumer_instance_timeout(cluster):
    config = {"consumer.instance.timeout.ms": 3000}
    idle = Consumer.create(cluster, "expiry", "idle", config)
    idle.subscribe([SIX])
    time.sleep(1.8)
    assert idle.assignment() == all_partitions(SIX, 6)  # a request resets its idle clock
    time.sleep(1.8)  # 3.6s since it was created, 1.8s since its last request
    assert idle.assignment() == all_partitions(SIX, 6), "expired although a request came 1.8s ago"
    time.sleep(4.0)
    status, body = idle.req("GET", "/assignments", retry_s=5)
    assert_envelope(status, body, 40403)
    status, listed = call("GET", f"{cluster.v3(1)}/consumer-groups/expiry/consumers")
    assert status in (200, 404), listed
    assert "idle" not in {m["instance_id"] for m in (listed.get("data") or [])}, listed
    Consumer.create(cluster, "expiry", "idle", config).delete()  # the name is free again


# -- lag: v3 and the CLI ---------------------------------------------------------------------------
def test_v3_lag_and_kraft_group_commands_show_committed_offsets_and_lag(cluster):
    topic = fresh_topic(cluster, 1)
    produce(cluster, topic, [{"value": {"i": i}} for i in range(10)])
    lagger = Consumer.create(cluster, "laggers", "lag-1", {"auto.offset.reset": "earliest"})
    lagger.subscribe([topic])
    drain([lagger], lambda g: len(g["lag-1"]) >= 10)
    lagger.commit({(topic, 0): 3})  # 4 consumed and committed

    for node in (1, 2, 3):
        status, lags = call("GET", f"{cluster.v3(node)}/consumer-groups/laggers/lags")
        assert status == 200, lags
        rows = [(r["topic_name"], r["partition_id"], r["current_offset"], r["log_end_offset"], r["lag"],
                 r["instance_id"]) for r in lags["data"]]
        assert rows == [(topic, 0, 4, 10, 6, "lag-1")], rows
        status, summary = call("GET", f"{cluster.v3(node)}/consumer-groups/laggers/lag-summary")
        assert status == 200, summary
        assert (summary["total_lag"], summary["max_lag"], summary["max_lag_instance_id"],
                summary["max_lag_topic_name"], summary["max_lag_partition_id"]) == (6, 6, "lag-1", topic, 0)
        status, one = call("GET", f"{cluster.v3(node)}/consumer-groups/laggers/lags/{topic}/partitions/0")
        assert status == 200 and one["lag"] == 6, one
        status, listed = call("GET", f"{cluster.v3(node)}/consumer-groups")
        assert status == 200, listed
        assert "laggers" in {g["consumer_group_id"] for g in listed["data"]}, listed
    view = group_view(cluster, "laggers", node=2)
    assert view["consumer_group_id"] == "laggers" and view["state"] == "STABLE", view
    assert (view["type"], view["is_mixed_consumer_group"]) == ("CLASSIC", False)
    # every link the group's answers carry resolves, as the v3 spec shapes them
    status, members = call("GET", view["consumers"]["related"])
    assert status == 200, members
    [member] = members["data"]
    [assignment] = assigned(member)
    assert (assignment["kind"], assignment["topic_name"], assignment["partition_id"]) == (
        "KafkaConsumerAssignment", topic, 0)
    links = [view["coordinator"], view["lag_summary"], member["assignments"], assignment["partition"],
             assignment["lag"], summary["max_lag_consumer"], summary["max_lag_partition"]]
    for link in links:
        status, body = call("GET", link["related"])
        assert status == 200, (link, body)
    assert call("GET", assignment["metadata"]["self"])[1]["partition_id"] == 0
    assert call("GET", summary["max_lag_consumer"]["related"])[1]["instance_id"] == "lag-1"
    status, body = call("GET", f"{member['assignments']['related']}/{topic}/partitions/7")
    assert_envelope(status, body, 404)
    for path in ("", "/lags", "/lag-summary", "/consumers"):
        status, body = call("GET", f"{cluster.v3(3)}/consumer-groups/no-such-group{path}")
        assert_envelope(status, body, 404)

    def kraft_group(*args, node):
        return subprocess.run([sys.executable, "-m", "kraft", "group", *args, "--bootstrap", cluster.url(node)],
                              check=False, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})

    listing = kraft_group("list", node=2)
    assert listing.returncode == 0, listing.stderr
    assert "laggers" in listing.stdout and "STABLE" in listing.stdout, listing.stdout
    described = kraft_group("describe", "laggers", node=3)
    assert described.returncode == 0, described.stderr
    out = described.stdout
    assert "lag-1" in out, out  # the member
    rows = [line.replace("│", " ").replace("┃", " ").split() for line in out.splitlines()]
    lag_rows = [cells for cells in rows if cells and cells[0] == topic]
    assert lag_rows == [[topic, "0", "4", "10", "6", "lag-1"]], out  # committed, log end, lag, owner
    missing = kraft_group("describe", "no-such-group", node=1)
    assert missing.returncode != 0 and "no-such-group" in missing.stderr + missing.stdout, missing
    assert "Traceback" not in missing.stderr, missing.stderr


# -- the offsets topic and topic deletion ------------------------------------------------------
def test_offsets_of_a_deleted_topic_do_not_apply_to_a_new_topic_of_the_same_name(cluster):
    topic = fresh_topic(cluster, 1)
    produce(cluster, topic, [{"value": i} for i in range(5)])
    old = Consumer.create(cluster, "g-recreate", "old", {"auto.offset.reset": "earliest"})
    old.ok("POST", "/assignments", {"partitions": [{"topic": topic, "partition": 0}]})
    assert len(old.records(timeout_ms=2000)) == 5
    old.commit({(topic, 0): 4})
    old.delete()
    assert http("DELETE", f"{cluster.v3(1)}/topics/{topic}")[0] == 204
    cluster.wait_until(lambda: http("GET", f"{cluster.v3(2)}/topics/{topic}")[0] == 404, 15, "topic gone")
    create_topic(cluster, topic, 1)
    produce(cluster, topic, [{"value": f"new-{i}"} for i in range(3)])
    new = Consumer.create(cluster, "g-recreate", "new", {"auto.offset.reset": "earliest"})
    new.ok("POST", "/assignments", {"partitions": [{"topic": topic, "partition": 0}]})
    got = drain([new], lambda rs: len(rs["new"]) >= 3, timeout_s=15)["new"]
    assert [r["value"] for r in got] == ["new-0", "new-1", "new-2"]  # from 0, not the old commit's 5
    assert new.committed() == {}


def test_the_offsets_topic_is_reserved(cluster):
    status, body = http("POST", cluster.v3(1) + "/topics", {"topic_name": "__consumer_offsets"})
    assert_envelope(status, body, 42206)
    status, body = http("POST", cluster.url(2) + "/topics/__consumer_offsets", {"records": [{"value": 1}]},
                        headers={"Content-Type": V2_JSON})
    assert_envelope(status, body, 42206)
    status, body = http("DELETE", cluster.v3(3) + "/topics/__consumer_offsets")
    assert_envelope(status, body, 42206)
