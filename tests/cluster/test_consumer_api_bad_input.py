"""Bad input to every REST Proxy v2 consumer endpoint, against one real 3-node cluster.

Each case is sent through every node (two of them forward it to the group's
coordinator, which must not change the answer) and must get the documented error in
the envelope {"error_code", "message"}, with the HTTP status = the code's first three
digits, never a 5xx, and must leave the instances as they were (subscription,
assignment, committed offsets, and what they read next).
"""

from __future__ import annotations

import json

import pytest
from cluster_client import (
    V2_BINARY,
    V2_JSON,
    assert_envelope,
    call,
    create_topic,
    padded_json_parts,
    raw_http,
)
from consumer_client import GROUPS, V2, Consumer, coordinator_of, http, produce
from inproc_cluster import InProcessCluster


pytestmark = pytest.mark.cluster

NODES = (1, 2, 3)
MIB = 1024 * 1024
TOPIC = "bad-in"  # 2 partitions, 3 records each
OTHER = "bad-other"  # 1 partition, no instance reads it
GROUP = "bad"
JSON_I = f"/consumers/{GROUP}/instances/json-inst"  # json, subscribed to TOPIC, committed 1 on p0
BIN_I = f"/consumers/{GROUP}/instances/bin-inst"  # binary, assigned TOPIC-0 by hand
BARE_I = f"/consumers/{GROUP}/instances/bare-inst"  # neither subscribed nor assigned
GONE_I = f"/consumers/{GROUP}/instances/no-such-instance"
_NO = object()


@pytest.fixture(scope="module")
def cluster():
    with InProcessCluster(nodes=3, first_address=80, groups=GROUPS) as c:
        c.start().wait_ready(timeout_s=40)
        create_topic(c, TOPIC, 2)
        create_topic(c, OTHER, 1)
        for p in (0, 1):
            produce(c, TOPIC, [{"value": {"p": p, "i": i}} for i in range(3)], partition=p)
        j = Consumer.create(c, GROUP, "json-inst", {"auto.offset.reset": "earliest"})
        j.subscribe([TOPIC])
        j.commit({(TOPIC, 0): 0})
        b = Consumer.create(c, GROUP, "bin-inst", {"format": "binary", "auto.offset.reset": "earliest"})
        b.ok("POST", "/assignments", {"partitions": [{"topic": TOPIC, "partition": 0}]})
        Consumer.create(c, GROUP, "bare-inst")
        yield c


def state(c):
    """What a user can see of the fixture's instances (without reading records)."""
    out = {}
    for path in (JSON_I, BIN_I, BARE_I):
        for suffix in ("/subscription", "/assignments"):
            status, body = http("GET", c.url(1) + path + suffix)
            out[path + suffix] = (status, body)
    status, body = http("GET", c.url(1) + JSON_I + "/offsets", {"partitions": [
        {"topic": TOPIC, "partition": p} for p in (0, 1)]}, headers={"Content-Type": V2})
    out["committed"] = (status, body)
    return out


@pytest.fixture
def unchanged(cluster):
    before = state(cluster)
    assert before[JSON_I + "/assignments"][1]["partitions"], before  # the fixture is as described
    yield
    assert state(cluster) == before, "a refused request changed an instance"


# -- the table ---------------------------------------------------------------------------------------
def case(case_id, method, path, code, body=_NO, raw=None, ctype=V2, accept=None):
    return pytest.param(method, path, code, body, raw, ctype, accept, id=case_id)


def tp(partition=0, topic=TOPIC, **extra):
    return {"topic": topic, "partition": partition, **extra}


INSTANCE_ROUTES = [("POST", "/subscription", {"topics": [TOPIC]}), ("GET", "/subscription", _NO),
                   ("DELETE", "/subscription", _NO), ("POST", "/assignments", {"partitions": [tp()]}),
                   ("GET", "/assignments", _NO), ("POST", "/positions", {"offsets": [tp(offset=0)]}),
                   ("POST", "/positions/beginning", {"partitions": [tp()]}),
                   ("POST", "/positions/end", {"partitions": [tp()]}), ("GET", "/records", _NO),
                   ("POST", "/offsets", {"offsets": [tp(offset=0)]}), ("GET", "/offsets", _NO),
                   ("DELETE", "", _NO)]

CASES = [
    # unknown instances and groups, on every route
    *[case(f"unknown-instance-{m}{s or '-instance'}", m, GONE_I + s, 40403, body=b) for m, s, b in INSTANCE_ROUTES],
    *[case(f"never-used-group-{m}{s or '-instance'}", m, "/consumers/never-used/instances/x" + s, 40403, body=b)
      for m, s, b in INSTANCE_ROUTES],
    case("instance-path-traversal", "GET", f"/consumers/{GROUP}/instances/..%2F..%2Fetc%2Fpasswd/assignments", 40403),
    case("instance-300-chars", "GET", f"/consumers/{GROUP}/instances/{'x' * 300}/assignments", 40403),
    case("instance-unicode", "GET", f"/consumers/{GROUP}/instances/%C3%BC%E2%98%83/records", 40403),
    case("instance-nul", "GET", f"/consumers/{GROUP}/instances/%00/assignments", 400),  # a control character in a path
    case("group-300-chars", "GET", f"/consumers/{'g' * 300}/instances/x/assignments", 42206),
    case("group-unicode", "POST", "/consumers/gr%C3%BCppe", 42206, body={}),
    case("group-path-traversal", "POST", "/consumers/..%2F..%2Fetc", 42206, body={}),
    case("group-nul", "GET", "/consumers/%00/instances/x/subscription", 400),
    case("group-space", "POST", "/consumers/a%20b", 42206, body={}),
    # creating an instance
    case("create-text-plain", "POST", f"/consumers/{GROUP}", 415, body={"name": "t1"}, ctype="text/plain"),
    case("create-form", "POST", f"/consumers/{GROUP}", 415, raw=b"name=x",
         ctype="application/x-www-form-urlencoded"),
    case("create-malformed", "POST", f"/consumers/{GROUP}", 400, raw=b'{"name": "m1",'),
    case("create-single-quotes", "POST", f"/consumers/{GROUP}", 400, raw=b"{'name': 'm2'}"),
    case("create-list", "POST", f"/consumers/{GROUP}", 400, body=[{"name": "m3"}]),
    case("create-string", "POST", f"/consumers/{GROUP}", 400, body="m4"),
    case("create-null", "POST", f"/consumers/{GROUP}", 400, raw=b"null"),
    case("create-number", "POST", f"/consumers/{GROUP}", 400, raw=b"42"),
    case("create-huge-int", "POST", f"/consumers/{GROUP}", 42206, raw=b'{"session.timeout.ms": 1' + b"0" * 30 + b"}"),
    case("create-unknown-field", "POST", f"/consumers/{GROUP}", 42206, body={"name": "u1", "bogus": 1}),
    case("create-format-unknown", "POST", f"/consumers/{GROUP}", 42206, body={"format": "thrift"}),
    case("create-format-number", "POST", f"/consumers/{GROUP}", 42206, body={"format": 5}),
    case("create-reset-smallest", "POST", f"/consumers/{GROUP}", 42206, body={"auto.offset.reset": "smallest"}),
    case("create-strategy", "POST", f"/consumers/{GROUP}", 42206,
         body={"partition.assignment.strategy": "cooperative-bogus"}),
    case("create-session-999", "POST", f"/consumers/{GROUP}", 42206, body={"session.timeout.ms": 999}),
    case("create-session-text", "POST", f"/consumers/{GROUP}", 42206, body={"session.timeout.ms": "soon"}),
    case("create-session-bool", "POST", f"/consumers/{GROUP}", 42206, body={"session.timeout.ms": True}),
    case("create-session-float", "POST", f"/consumers/{GROUP}", 42206, body={"session.timeout.ms": 2000.5}),
    case("create-expiry-zero", "POST", f"/consumers/{GROUP}", 42206, body={"consumer.instance.timeout.ms": 0}),
    case("create-auto-commit-maybe", "POST", f"/consumers/{GROUP}", 42206, body={"auto.commit.enable": "maybe"}),
    case("create-name-300", "POST", f"/consumers/{GROUP}", 42206, body={"name": "n" * 300}),
    case("create-name-traversal", "POST", f"/consumers/{GROUP}", 42206, body={"name": "../../etc"}),
    case("create-name-slash", "POST", f"/consumers/{GROUP}", 42206, body={"name": "a/b"}),
    case("create-name-unicode", "POST", f"/consumers/{GROUP}", 42206, body={"name": "ü☃"}),
    case("create-name-empty", "POST", f"/consumers/{GROUP}", 42206, body={"name": ""}),
    case("create-name-number", "POST", f"/consumers/{GROUP}", 42206, body={"name": 5}),
    case("create-lone-surrogate", "POST", f"/consumers/{GROUP}", 400, raw=b'{"name": "\\ud800"}'),
    case("create-duplicate", "POST", f"/consumers/{GROUP}", 40902, body={"name": "json-inst"}),
    case("create-wrong-method", "PUT", f"/consumers/{GROUP}", 405, body={}),
    # subscription (on an instance with none: a success would change it)
    case("subscribe-text-plain", "POST", BARE_I + "/subscription", 415, body={"topics": [TOPIC]}, ctype="text/plain"),
    case("subscribe-malformed", "POST", BARE_I + "/subscription", 400, raw=b'{"topics": [' ),
    case("subscribe-list", "POST", BARE_I + "/subscription", 400, body=[TOPIC]),
    case("subscribe-empty-body", "POST", BARE_I + "/subscription", 42206, raw=b""),
    case("subscribe-empty-object", "POST", BARE_I + "/subscription", 42206, body={}),
    case("subscribe-both", "POST", BARE_I + "/subscription", 42206, body={"topics": [TOPIC], "topic_pattern": "b.*"}),
    case("subscribe-no-topics", "POST", BARE_I + "/subscription", 42206, body={"topics": []}),
    case("subscribe-topics-string", "POST", BARE_I + "/subscription", 42206, body={"topics": TOPIC}),
    case("subscribe-topics-numbers", "POST", BARE_I + "/subscription", 42206, body={"topics": [1, 2]}),
    case("subscribe-topic-empty-name", "POST", BARE_I + "/subscription", 42206, body={"topics": [""]}),
    case("subscribe-bad-regex", "POST", BARE_I + "/subscription", 42206, body={"topic_pattern": "bad-(in"}),
    case("subscribe-empty-regex", "POST", BARE_I + "/subscription", 42206, body={"topic_pattern": ""}),
    case("subscribe-huge-regex", "POST", BARE_I + "/subscription", 42206, body={"topic_pattern": "a" * 5000}),
    case("subscribe-extra-key", "POST", BARE_I + "/subscription", 42206, body={"topics": [TOPIC], "x": 1}),
    # assignments (on the bare instance too)
    case("assign-unknown-topic", "POST", BARE_I + "/assignments", 40401, body={"partitions": [tp(topic="nope")]}),
    case("assign-unknown-partition", "POST", BARE_I + "/assignments", 40402, body={"partitions": [tp(99)]}),
    case("assign-negative-partition", "POST", BARE_I + "/assignments", 40402, body={"partitions": [tp(-1)]}),
    case("assign-partition-string", "POST", BARE_I + "/assignments", 42206, body={"partitions": [tp("0")]}),
    case("assign-partition-float", "POST", BARE_I + "/assignments", 42206, body={"partitions": [tp(0.5)]}),
    case("assign-partition-bool", "POST", BARE_I + "/assignments", 42206, body={"partitions": [tp(True)]}),
    case("assign-not-a-list", "POST", BARE_I + "/assignments", 42206, body={"partitions": tp()}),
    case("assign-missing-key", "POST", BARE_I + "/assignments", 42206, body={"offsets": [tp()]}),
    case("assign-item-not-object", "POST", BARE_I + "/assignments", 42206, body={"partitions": [TOPIC]}),
    case("assign-item-extra-key", "POST", BARE_I + "/assignments", 42206, body={"partitions": [tp(x=1)]}),
    case("assign-duplicate", "POST", BARE_I + "/assignments", 42206, body={"partitions": [tp(), tp()]}),
    case("assign-no-topic", "POST", BARE_I + "/assignments", 42206, body={"partitions": [{"partition": 0}]}),
    case("assign-text-plain", "POST", BARE_I + "/assignments", 415, body={"partitions": [tp()]}, ctype="text/plain"),
    # positions (json-inst owns both partitions of TOPIC, each ends at 3)
    case("seek-negative", "POST", JSON_I + "/positions", 42206, body={"offsets": [tp(offset=-1)]}),
    case("seek-beyond-end", "POST", JSON_I + "/positions", 42206, body={"offsets": [tp(offset=4)]}),
    case("seek-int64-max", "POST", JSON_I + "/positions", 42206, body={"offsets": [tp(offset=2**63 - 1)]}),
    case("seek-offset-string", "POST", JSON_I + "/positions", 42206, body={"offsets": [tp(offset="1")]}),
    case("seek-offset-null", "POST", JSON_I + "/positions", 42206, body={"offsets": [tp(offset=None)]}),
    case("seek-no-offset", "POST", JSON_I + "/positions", 42206, body={"offsets": [tp()]}),
    case("seek-unassigned", "POST", JSON_I + "/positions", 40903, body={"offsets": [tp(topic=OTHER, offset=0)]}),
    case("seek-unknown-topic", "POST", JSON_I + "/positions", 40401, body={"offsets": [tp(topic="nope", offset=0)]}),
    case("seek-unknown-partition", "POST", JSON_I + "/positions", 40402, body={"offsets": [tp(7, offset=0)]}),
    case("seek-bare-instance", "POST", BARE_I + "/positions", 40903, body={"offsets": [tp(offset=0)]}),
    case("seek-empty-body", "POST", JSON_I + "/positions", 42206, raw=b""),
    case("beginning-unassigned", "POST", JSON_I + "/positions/beginning", 40903,
         body={"partitions": [tp(topic=OTHER)]}),
    case("beginning-unknown-topic", "POST", JSON_I + "/positions/beginning", 40401,
         body={"partitions": [tp(topic="nope")]}),
    case("beginning-malformed", "POST", JSON_I + "/positions/beginning", 400, raw=b"{partitions"),
    case("end-unassigned", "POST", JSON_I + "/positions/end", 40903, body={"partitions": [tp(topic=OTHER)]}),
    case("end-unknown-partition", "POST", JSON_I + "/positions/end", 40402, body={"partitions": [tp(2)]}),
    case("end-text-plain", "POST", JSON_I + "/positions/end", 415, body={"partitions": [tp()]}, ctype="text/plain"),
    # records: Accept and query
    case("records-binary-accept-on-json", "GET", JSON_I + "/records", 40601, accept=V2_BINARY),
    case("records-json-accept-on-binary", "GET", BIN_I + "/records", 40601, accept=V2_JSON),
    case("records-html-accept", "GET", JSON_I + "/records", 40601, accept="text/html"),
    case("records-avro-accept", "GET", JSON_I + "/records", 40601, accept="application/vnd.kafka.avro.v2+json"),
    case("records-negative-timeout", "GET", JSON_I + "/records?timeout=-1", 400, accept=V2_JSON),
    case("records-timeout-text", "GET", JSON_I + "/records?timeout=soon", 400, accept=V2_JSON),
    case("records-timeout-huge", "GET", JSON_I + "/records?timeout=99999999999", 400, accept=V2_JSON),
    case("records-max-bytes-zero", "GET", JSON_I + "/records?max_bytes=0", 400, accept=V2_JSON),
    case("records-max-bytes-negative", "GET", JSON_I + "/records?max_bytes=-5", 400, accept=V2_JSON),
    # commits (json-inst: TOPIC-0 and TOPIC-1 each end at 3, so the last record is offset 2)
    case("commit-negative", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(offset=-1)]}),
    case("commit-at-end", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(offset=3)]}),
    case("commit-beyond-end", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(1, offset=1000)]}),
    case("commit-int64-max", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(offset=2**63 - 1)]}),
    case("commit-unassigned", "POST", JSON_I + "/offsets", 40903, body={"offsets": [tp(topic=OTHER, offset=0)]}),
    case("commit-by-bare-instance", "POST", BARE_I + "/offsets", 40903, body={"offsets": [tp(offset=0)]}),
    case("commit-unknown-topic", "POST", JSON_I + "/offsets", 40401, body={"offsets": [tp(topic="nope", offset=0)]}),
    case("commit-unknown-partition", "POST", JSON_I + "/offsets", 40402, body={"offsets": [tp(5, offset=0)]}),
    case("commit-offset-string", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(offset="2")]}),
    case("commit-extra-key", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(offset=0)], "x": 1}),
    case("commit-both-keys", "POST", JSON_I + "/offsets", 42206,
         body={"offsets": [tp(offset=0)], "partitions": [tp(offset=0)]}),
    case("commit-not-a-list", "POST", JSON_I + "/offsets", 42206, body={"offsets": tp(offset=0)}),
    case("commit-metadata-too-long", "POST", JSON_I + "/offsets", 42206,
         body={"offsets": [tp(offset=0, metadata="m" * 5000)]}),
    case("commit-metadata-number", "POST", JSON_I + "/offsets", 42206, body={"offsets": [tp(offset=0, metadata=5)]}),
    case("commit-partial-batch", "POST", JSON_I + "/offsets", 42206,  # one bad entry: nothing committed
         body={"offsets": [tp(1, offset=1), tp(0, offset=9)]}),
    case("commit-text-plain", "POST", JSON_I + "/offsets", 415, body={"offsets": [tp(offset=0)]}, ctype="text/plain"),
    case("commit-malformed", "POST", JSON_I + "/offsets", 400, raw=b'{"offsets": [{"topic": '),
    case("commit-list", "POST", JSON_I + "/offsets", 400, body=[tp(offset=0)]),
    case("commit-trailing-garbage", "POST", JSON_I + "/offsets", 400, raw=b'{"offsets": []} xyz'),
    # committed offsets
    case("committed-unknown-topic", "GET", JSON_I + "/offsets", 40401, body={"partitions": [tp(topic="nope")]}),
    case("committed-unknown-partition", "GET", JSON_I + "/offsets", 40402, body={"partitions": [tp(3)]}),
    case("committed-malformed", "GET", JSON_I + "/offsets", 400, raw=b"{"),
    case("committed-text-plain", "GET", JSON_I + "/offsets", 415, body={"partitions": [tp()]}, ctype="text/plain"),
    case("instance-wrong-method", "PATCH", JSON_I, 405, body={}),
    # v3
    case("v3-hostile-group", "GET", "/v3/clusters/{cid}/consumer-groups/" + "g" * 300, 42206),
    case("v3-unknown-group-lags", "GET", "/v3/clusters/{cid}/consumer-groups/nobody/lags", 404),
    case("v3-unknown-cluster", "GET", "/v3/clusters/no-such-cluster/consumer-groups", 404),
]


@pytest.mark.parametrize("method, path, code, body, raw, ctype, accept", CASES)
def test_bad_input_gets_the_documented_error_through_every_node(cluster, unchanged, method, path, code,
                                                                 body, raw, ctype, accept):
    path = path.replace("{cid}", cluster.cluster_id)
    if raw is None and body is not _NO:
        raw = json.dumps(body).encode()
    headers = {}
    if raw is not None:
        headers["Content-Type"] = ctype
    if accept:
        headers["Accept"] = accept
    for node in NODES:
        status, answer = call(method, cluster.url(node) + path, raw=raw, headers=headers, retry_s=10)
        assert_envelope(status, answer, code)


# -- stateful conflicts ----------------------------------------------------------------------------------
def test_subscribe_and_assign_are_mutually_exclusive_and_refusals_change_nothing(cluster, unchanged):
    group = "bad-conflicts"
    s = Consumer.create(cluster, group, "subscriber", {"auto.offset.reset": "earliest"})
    s.subscribe([TOPIC])
    a = Consumer.create(cluster, group, "assignee", {"auto.offset.reset": "earliest"})
    a.ok("POST", "/assignments", {"partitions": [tp(1)]})
    for node in NODES:
        status, body = s.req("POST", "/assignments", {"partitions": [tp(1)]}, node=node)
        assert_envelope(status, body, 40903)
        status, body = s.req("POST", "/subscription", {"topic_pattern": "bad-.*"}, node=node)
        assert_envelope(status, body, 40903)  # topics, then a pattern
        status, body = a.req("POST", "/subscription", {"topics": [TOPIC]}, node=node)
        assert_envelope(status, body, 40903)
    assert s.ok("GET", "/subscription", expect=200) == {"topics": [TOPIC]}
    assert s.assignment() == {(TOPIC, 0), (TOPIC, 1)}
    assert a.assignment() == {(TOPIC, 1)}
    # after DELETE subscription, assigning is allowed (the documented way out)
    s.ok("DELETE", "/subscription")
    s.ok("POST", "/assignments", {"partitions": [tp(0)]})
    assert s.assignment() == {(TOPIC, 0)}
    for consumer in (s, a):
        consumer.delete()
        status, body = consumer.req("GET", "/assignments")
        assert_envelope(status, body, 40403)


# -- bodies over the cap --------------------------------------------------------------------------------
def _big_json_parts(total, piece=MIB):
    return padded_json_parts(b'{"topics": ["', b'"]}', total, piece)


@pytest.mark.parametrize("path", [f"/consumers/{GROUP}", BARE_I + "/subscription", JSON_I + "/offsets",
                                  JSON_I + "/positions"])
@pytest.mark.parametrize("node", NODES)
def test_a_body_over_16_mib_is_413(cluster, unchanged, path, node):
    total = 17 * MIB
    status, body = raw_http(cluster.url(node), "POST", path,
                            {"Content-Type": V2, "Content-Length": str(total)}, _big_json_parts(total))
    assert_envelope(status, body, 413)


def test_a_chunked_body_over_16_mib_is_413(cluster, unchanged):
    def chunked():
        for part in _big_json_parts(17 * MIB, piece=256 * 1024):
            yield b"%x\r\n%s\r\n" % (len(part), part)
        yield b"0\r\n\r\n"

    status, body = raw_http(cluster.url(2), "POST", JSON_I + "/offsets",
                            {"Content-Type": V2, "Transfer-Encoding": "chunked"}, chunked())
    assert_envelope(status, body, 413)


# -- bodies a user may leave out -------------------------------------------------------------------------------
def test_a_post_without_body_needs_no_content_type_through_any_node(cluster):
    """`curl -X POST .../offsets` (commit the positions) and `curl -X POST /consumers/g`
    (an instance with defaults) send neither a body nor a Content-Type: nothing to
    parse, so nothing to refuse, whichever node the request reaches."""
    group = "bad-nobody"
    x = Consumer.create(cluster, group, "x", {"auto.offset.reset": "earliest"})
    x.ok("POST", "/assignments", {"partitions": [tp(1)]})
    answers = {}
    for node in NODES:
        x.ok("POST", "/positions", {"offsets": [tp(1, offset=node - 1)]})
        answers[f"commit via {node}"] = raw_http(cluster.url(node), "POST",
                                                 f"/consumers/{group}/instances/x/offsets", {"Content-Length": "0"})
        answers[f"committed after {node}"] = x.committed()
        status, body = raw_http(cluster.url(node), "POST", f"/consumers/{group}", {"Content-Length": "0"})
        answers[f"create via {node}"] = (status, status == 200 and bool(body["instance_id"]))
    assert answers == {
        **{f"commit via {n}": (204, None) for n in NODES},
        **{f"committed after {n}": {(TOPIC, 1): n - 1} for n in NODES},
        **{f"create via {n}": (200, True) for n in NODES}}, f"coordinator: node {coordinator_of(cluster, group)}"


def test_a_misspelt_consumer_config_is_named_with_the_one_meant_through_every_node(cluster):
    for node in NODES:
        status, body = call("POST", f"{cluster.url(node)}/consumers/bad-typo",
                            {"name": "t", "format": "json", "auto.offset.rest": "earliest"},
                            headers={"Content-Type": V2})
        assert_envelope(status, body, 42206)
        assert 'unknown consumer config(s): auto.offset.rest (did you mean "auto.offset.reset"?)' \
            in body["message"], body


# -- after all that ----------------------------------------------------------------------------------------------
def test_the_instances_still_work_after_the_bad_input(cluster):
    j = Consumer(cluster, GROUP, "json-inst")
    got = []
    for _ in range(20):  # bounded
        got += j.records(timeout_ms=300)
        if len(got) >= 5:
            break
    # p0 resumes at its committed offset 1, p1 at the beginning: nothing skipped by bad input
    assert sorted((r["partition"], r["offset"]) for r in got) == [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    b = Consumer(cluster, GROUP, "bin-inst", binary=True)
    # a hand-assigned instance of the group also starts at the group's committed offset
    assert [r["offset"] for r in b.records(timeout_ms=500)] == [1, 2]
    for node in NODES:
        assert http("GET", cluster.url(node) + "/status/ready")[0] == 200
