"""Bad input against one real 3-node cluster: every mistake gets the error envelope.

Each case checks {"error_code", "message"}, that the HTTP status is the code's first
three digits, that it is never a 5xx, and that the cluster's metadata (topics, their
partitions and configs) is the same afterwards.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from cluster_client import assert_envelope, padded_json_parts, raw_http

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

NODES = (1, 2, 3)
EXISTING = "existing"  # created by the fixture; used by the config and partition cases
MIB = 1024 * 1024
CAP = 16 * MIB


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    c = shared_cluster
    status, body = http_json("POST", c.v3(1) + "/topics",
                             {"topic_name": EXISTING, "partitions_count": 3,
                              "replication_factor": 3,
                              "configs": [{"name": "retention.ms", "value": "86400000"}]})
    assert status == 201, body
    for node in NODES:
        c.wait_until(lambda: http_json("GET", f"{c.v3(node)}/topics/{EXISTING}")[0] == 200,
                     10, f"{EXISTING} on node {node}")
    return c


@pytest.fixture(scope="module")
def via(cluster):
    """A node that is not the controller: its writes are forwarded, errors must survive that."""
    controller = cluster.controller_id()
    return next(n for n in NODES if n != controller)


# -- helpers ---------------------------------------------------------------------------------
def snapshot(cluster, node=1):
    status, names = http_json("GET", cluster.url(node) + "/topics")
    assert status == 200, names
    topics = {}
    for name in sorted(names):
        status, body = http_json("GET", f"{cluster.url(node)}/topics/{name}")
        assert status == 200, body
        topics[name] = (body["configs"],
                        [(p["partition"], [r["broker"] for r in p["replicas"]])
                         for p in body["partitions"]])
    return topics


@contextmanager
def unchanged(cluster):
    """Nothing in the metadata changes inside the block, seen from every node."""
    before = {n: snapshot(cluster, n) for n in NODES}
    yield
    for n in NODES:
        assert snapshot(cluster, n) == before[n], f"metadata changed (seen from node {n})"


def delete_everywhere(cluster, name, via=1):
    """Delete a topic and wait until every node has applied it, so that the next test's
    before-snapshot does not catch a node half way."""
    status, body = http_json("DELETE", f"{cluster.v3(via)}/topics/{name}")
    assert status == 204, body
    for node in NODES:
        cluster.wait_until(lambda: http_json("GET", f"{cluster.v3(node)}/topics/{name}")[0] == 404,
                           10, f"{name} deleted on node {node}")


def post_topics(cluster, node, raw: bytes, content_type="application/json"):
    return http_json("POST", cluster.v3(node) + "/topics", raw=raw,
                     headers={"Content-Type": content_type})


# -- the body itself -----------------------------------------------------------------------------
@pytest.mark.parametrize("raw, code", [
    pytest.param(b'{topic_name: bad-1}', 400, id="malformed"),
    pytest.param(b'{"topic_name": "bad-2", "partitions_count": 3', 400, id="truncated"),
    pytest.param(b'{"topic_name": "bad-3"', 400, id="truncated-no-brace"),
    pytest.param(b'{"topic_name": "bad-4"} xyz', 400, id="trailing-garbage"),
    pytest.param(b'{"topic_name": "bad-5"}{"topic_name": "bad-6"}', 400, id="two-objects"),
    pytest.param(b'{"topic_name": "bad-7",}', 400, id="trailing-comma"),
    pytest.param(b"{'topic_name': 'bad-8'}", 400, id="single-quotes"),
    pytest.param(b'[{"topic_name": "bad-9"}]', 400, id="list"),
    pytest.param(b'42', 400, id="number"),
    pytest.param(b'"bad-10"', 400, id="string"),
    pytest.param(b'null', 400, id="null"),
    pytest.param(b'true', 400, id="bool"),
    pytest.param(b'{"topic_name": "bad-\xff"}', 400, id="invalid-utf8"),
    pytest.param(b'[' * 100_000 + b']' * 100_000, 400, id="deep-nesting"),
    pytest.param(b'', 422, id="empty"),
    pytest.param(b'   \n\t ', 422, id="whitespace-only"),
])
def test_unusable_body_is_refused(cluster, raw, code):
    with unchanged(cluster):
        status, body = post_topics(cluster, 2, raw)
        assert_envelope(status, body, code)


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "application/xml",
    "application/vnd.kafka.json.v2+json", "multipart/form-data; boundary=x",
])
def test_wrong_content_type_is_415(cluster, content_type):
    with unchanged(cluster):
        status, body = post_topics(cluster, 1, b'{"topic_name": "ctype-topic"}', content_type)
        assert_envelope(status, body, 415)


def test_missing_content_type_is_415(cluster):
    with unchanged(cluster):
        body = b'{"topic_name": "no-ctype-topic"}'
        status, answer = raw_http(cluster.url(1), "POST",
                                  f"/v3/clusters/{cluster.cluster_id}/topics",
                                  {"Content-Length": str(len(body))}, [body])
        assert_envelope(status, answer, 415)


def test_json_content_type_with_charset_is_accepted(cluster):
    status, body = post_topics(cluster, 1, b'{"topic_name": "charset-ok", "partitions_count": 1}',
                               "application/json; charset=utf-8")
    assert status == 201, body
    delete_everywhere(cluster, "charset-ok")


# -- fields ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc, codes", [
    pytest.param({"topic_name": "uf-1", "partitions": 3}, {400}, id="unknown-field"),
    pytest.param({"topic_name": "uf-2", "replicationFactor": 3}, {400}, id="camel-case-field"),
    pytest.param({"partitions_count": 3}, {400, 42206}, id="no-topic-name"),
    pytest.param({"topic_name": "wt-1", "partitions_count": "3"}, {400, 42206}, id="count-string"),
    pytest.param({"topic_name": "wt-2", "partitions_count": 3.5}, {400, 42206}, id="count-float"),
    pytest.param({"topic_name": "wt-3", "partitions_count": True}, {400, 42206}, id="count-bool"),
    pytest.param({"topic_name": "wt-4", "partitions_count": [3]}, {400, 42206}, id="count-list"),
    pytest.param({"topic_name": "wt-5", "replication_factor": "3"}, {400, 42206}, id="rf-string"),
    pytest.param({"topic_name": "wt-6", "replication_factor": 2.0}, {400, 42206}, id="rf-float"),
    pytest.param({"topic_name": None}, {400, 42206}, id="name-null"),
    pytest.param({"topic_name": 7}, {400, 42206}, id="name-number"),
    pytest.param({"topic_name": ["x"]}, {400, 42206}, id="name-list"),
    pytest.param({"topic_name": {"a": 1}}, {400, 42206}, id="name-object"),
    pytest.param({"topic_name": "wt-7", "configs": {"retention.ms": "1"}}, {400}, id="configs-object"),
    pytest.param({"topic_name": "wt-8", "configs": [["retention.ms", "1"]]}, {400}, id="configs-pairs"),
    pytest.param({"topic_name": "wt-9", "configs": [{"name": "retention.ms"}]}, {400},
                 id="config-without-value"),
    pytest.param({"topic_name": "wt-10", "configs": [{"name": 5, "value": "1"}]}, {400},
                 id="config-name-number"),
    pytest.param({"topic_name": "wt-11", "configs": [{"name": ["a"], "value": "1"}]}, {400},
                 id="config-name-list"),
])
def test_unknown_fields_and_wrong_types_are_refused(cluster, doc, codes):
    with unchanged(cluster):
        status, body = http_json("POST", cluster.v3(2) + "/topics", doc)
        assert_envelope(status, body, codes=codes)


@pytest.mark.parametrize("field, value", [
    ("partitions_count", 0), ("partitions_count", -5), ("partitions_count", 10_001),
    ("partitions_count", 10**12), ("partitions_count", 2**63 - 1),
    ("replication_factor", 0), ("replication_factor", -2), ("replication_factor", 4),
    ("replication_factor", 1000), ("replication_factor", 10**12),
])
def test_absurd_counts_are_42206(cluster, via, field, value):
    with unchanged(cluster):
        status, body = http_json("POST", cluster.v3(via) + "/topics",
                                 {"topic_name": "absurd", field: value})
        assert_envelope(status, body, 42206)


def test_integer_beyond_64_bits_is_refused(cluster):
    with unchanged(cluster):
        status, body = post_topics(cluster, 1, b'{"topic_name": "huge", "partitions_count": '
                                   + b"9" * 40 + b"}")
        assert_envelope(status, body, codes={400, 42206})


@pytest.mark.parametrize("name", [
    "", ".", "..", "a/b", "ä", "x" * 250, "with space", "tab\there", "new\nline", "a\u0000b",
    "semi;colon", "../../etc", "日本", "x" * 10_000,
], ids=lambda n: repr(n)[:20])
def test_invalid_topic_names_are_42206(cluster, via, name):
    with unchanged(cluster):
        status, body = http_json("POST", cluster.v3(via) + "/topics",
                                 {"topic_name": name, "partitions_count": 1})
        assert_envelope(status, body, 42206)


def test_a_249_character_name_is_accepted(cluster):
    name = "n" * 249
    status, body = http_json("POST", cluster.v3(1) + "/topics",
                             {"topic_name": name, "partitions_count": 1})
    assert status == 201, body
    assert body["topic_name"] == name
    status, body = http_json("GET", f"{cluster.v3(1)}/topics/{name}")
    assert status == 200, body
    assert body["topic_name"] == name
    status, names = http_json("GET", cluster.url(1) + "/topics")
    assert name in names
    delete_everywhere(cluster, name)


def test_dot_and_underscore_names_collide(cluster, via):
    status, body = http_json("POST", cluster.v3(1) + "/topics",
                             {"topic_name": "a.b", "partitions_count": 1})
    assert status == 201, body
    try:
        for node in NODES:
            cluster.wait_until(lambda: http_json("GET", cluster.v3(node) + "/topics/a.b")[0] == 200,
                               10, f"a.b on node {node}")
        with unchanged(cluster):
            for node in (1, via):
                status, body = http_json("POST", cluster.v3(node) + "/topics",
                                         {"topic_name": "a_b", "partitions_count": 1})
                assert_envelope(status, body, 42206)
    finally:
        delete_everywhere(cluster, "a.b")


def test_duplicate_topic_is_40002_and_the_original_is_untouched(cluster, via):
    with unchanged(cluster):
        for node in (1, via):
            status, body = http_json("POST", cluster.v3(node) + "/topics",
                                     {"topic_name": EXISTING, "partitions_count": 7,
                                      "replication_factor": 1,
                                      "configs": [{"name": "retention.ms", "value": "5"}]})
            assert_envelope(status, body, 40002)


# -- configs ------------------------------------------------------------------------------------------
BAD_CONFIGS = [
    pytest.param("no.such.config", "1", id="unknown-name"),
    pytest.param("retention.msec", "1", id="misspelt-name"),
    pytest.param("min.insync.replicas", "x", id="mir-x"),
    pytest.param("min.insync.replicas", "-1", id="mir-minus-1"),
    pytest.param("min.insync.replicas", "0", id="mir-0"),
    pytest.param("min.insync.replicas", "99999999999", id="mir-over-int"),
    pytest.param("unclean.leader.election.enable", "maybe", id="unclean-maybe"),
    pytest.param("unclean.leader.election.enable", "1", id="unclean-1"),
    pytest.param("retention.ms", "-2", id="retention-minus-2"),
    pytest.param("retention.ms", "1e3", id="retention-float-text"),
    pytest.param("cleanup.policy", "zap", id="cleanup-zap"),
    pytest.param("num.partitions", "3", id="cluster-only-num-partitions"),
    pytest.param("replication.factor", "3", id="cluster-only-rf"),
]


@pytest.mark.parametrize("name, value", BAD_CONFIGS)
def test_bad_config_at_creation_is_42206(cluster, via, name, value):
    with unchanged(cluster):
        for node in (1, via):
            status, body = http_json("POST", cluster.v3(node) + "/topics", {
                "topic_name": "bad-config-topic", "partitions_count": 1,
                "configs": [{"name": name, "value": value}]})
            assert_envelope(status, body, 42206)


@pytest.mark.parametrize("name, value", BAD_CONFIGS)
def test_bad_config_change_is_42206(cluster, via, name, value):
    topic_url = f"{cluster.v3(via)}/topics/{EXISTING}"
    with unchanged(cluster):
        status, body = http_json("PUT", f"{topic_url}/configs/{name}", {"value": value})
        assert_envelope(status, body, 42206)
        status, body = http_json("POST", f"{topic_url}/configs:alter",
                                 {"data": [{"name": name, "value": value}]})
        assert_envelope(status, body, 42206)
        # one bad entry spoils the whole request: the good one is not applied either
        status, body = http_json("POST", f"{topic_url}/configs:alter", {"data": [
            {"name": "retention.ms", "value": "1234"}, {"name": name, "value": value}]})
        assert_envelope(status, body, 42206)


def test_resetting_an_unknown_config_is_refused(cluster):
    with unchanged(cluster):
        status, body = http_json("DELETE", f"{cluster.v3(1)}/topics/{EXISTING}/configs/no.such.config")
        assert_envelope(status, body, codes={404, 42206})


@pytest.mark.parametrize("doc", [
    pytest.param({}, id="empty-object"),
    pytest.param({"data": {}}, id="data-object"),
    pytest.param({"data": "retention.ms=1"}, id="data-string"),
    pytest.param({"data": None}, id="data-null"),
    pytest.param({"data": [1]}, id="entry-number"),
    pytest.param({"data": [["retention.ms", "1"]]}, id="entry-list"),
    pytest.param({"data": [{"value": "1"}]}, id="entry-without-name"),
    pytest.param({"data": [{"name": "retention.ms", "value": "1", "extra": 1}]}, id="entry-extra-key"),
    pytest.param({"data": [{"name": 5, "value": "1"}]}, id="name-number"),
    pytest.param({"data": [{"name": ["retention.ms"], "value": "1"}]}, id="name-list"),
    pytest.param({"data": [{"name": {"n": "retention.ms"}, "value": "1"}]}, id="name-object"),
    pytest.param({"data": [], "extra": True}, id="unknown-top-level"),
    pytest.param({"data": [{"name": "retention.ms", "value": "1", "operation": "EXPLODE"}]},
                 id="unknown-operation"),
    pytest.param({"data": [{"name": "retention.ms", "value": "1", "operation": ["DELETE"]}]},
                 id="operation-list"),
    pytest.param([{"name": "retention.ms", "value": "1"}], id="list-body"),
])
def test_configs_alter_with_bad_shape_is_400(cluster, doc):
    with unchanged(cluster):
        status, body = http_json("POST", f"{cluster.v3(2)}/topics/{EXISTING}/configs:alter", doc)
        assert_envelope(status, body, 400)


@pytest.mark.parametrize("doc", [
    pytest.param({}, id="empty-object"),
    pytest.param({"val": "1"}, id="wrong-key"),
    pytest.param({"value": "1", "name": "retention.ms"}, id="extra-key"),
    pytest.param(["1"], id="list-body"),
    pytest.param("1", id="string-body"),
])
def test_put_config_with_bad_shape_is_400(cluster, doc):
    with unchanged(cluster):
        status, body = http_json("PUT", f"{cluster.v3(3)}/topics/{EXISTING}/configs/retention.ms", doc)
        assert_envelope(status, body, 400)


# -- size cap -------------------------------------------------------------------------------------------
def _big_json_parts(total: int, piece: int = MIB):
    """A valid JSON object of `total` bytes, yielded in pieces."""
    return padded_json_parts(b'{"topic_name": "huge-body", "pad": "', b'"}', total, piece)


def test_body_over_the_cap_with_content_length_is_413(cluster):
    total = 17 * MIB
    with unchanged(cluster):
        status, body = raw_http(cluster.url(1), "POST", f"/v3/clusters/{cluster.cluster_id}/topics",
                                {"Content-Type": "application/json", "Content-Length": str(total)},
                                _big_json_parts(total))
        assert_envelope(status, body, 413)


def test_chunked_body_over_the_cap_is_413(cluster):
    def chunked():
        for part in _big_json_parts(17 * MIB, piece=256 * 1024):
            yield b"%x\r\n%s\r\n" % (len(part), part)
        yield b"0\r\n\r\n"

    with unchanged(cluster):
        status, body = raw_http(cluster.url(2), "POST", f"/v3/clusters/{cluster.cluster_id}/topics",
                                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                                chunked())
        assert_envelope(status, body, 413)


def test_body_over_the_cap_on_configs_alter_is_413(cluster):
    with unchanged(cluster):
        status, body = http_json("POST", f"{cluster.v3(3)}/topics/{EXISTING}/configs:alter",
                                 raw=b"".join(_big_json_parts(CAP + 1024)), timeout=30)
        assert_envelope(status, body, 413)


def test_the_node_still_serves_after_oversized_bodies(cluster):
    for node in NODES:
        assert http_json("GET", cluster.url(node) + "/status/ready")[0] == 200
        assert http_json("GET", f"{cluster.v3(node)}/topics/{EXISTING}")[0] == 200


@pytest.mark.parametrize("headers", [
    pytest.param({"Content-Length": "abc"}, id="content-length-not-a-number"),
    pytest.param({"Content-Length": "-5"}, id="content-length-negative"),
    pytest.param({"X-Padding": "y" * 20_000}, id="header-over-8k"),
])
def test_broken_http_framing_is_a_4xx_and_the_node_keeps_serving(cluster, headers):
    with unchanged(cluster):
        status, _ = raw_http(cluster.url(1), "POST", f"/v3/clusters/{cluster.cluster_id}/topics",
                             {"Content-Type": "application/json", **headers},
                             [b'{"topic_name": "framing"}'])
        assert 400 <= status < 500
    assert http_json("GET", cluster.url(1) + "/status/ready")[0] == 200


# -- not found -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, doc", [
    ("GET", "/topics/nope", None),
    ("DELETE", "/topics/nope", None),
    ("GET", "/topics/nope/partitions", None),
    ("GET", "/topics/nope/partitions/0", None),
    ("GET", "/topics/nope/partitions/0/replicas", None),
    ("GET", "/topics/nope/configs", None),
    ("GET", "/topics/nope/configs/retention.ms", None),
    ("PUT", "/topics/nope/configs/retention.ms", {"value": "1"}),
    ("DELETE", "/topics/nope/configs/retention.ms", None),
    ("POST", "/topics/nope/configs:alter", {"data": [{"name": "retention.ms", "value": "1"}]}),
])
def test_unknown_topic_is_40401(cluster, via, method, path, doc):
    with unchanged(cluster):
        for node in (1, via):
            status, body = http_json(method, cluster.v3(node) + path, doc)
            assert_envelope(status, body, 40401)


@pytest.mark.parametrize("path", ["/topics/nope", "/topics/nope/partitions",
                                  "/topics/nope/partitions/0"])
def test_unknown_topic_v2_is_40401(cluster, path):
    status, body = http_json("GET", cluster.url(3) + path)
    assert_envelope(status, body, 40401)


@pytest.mark.parametrize("partition", ["x", "-1", "99", "3", "1.0", "%20", "%201", "0_1"])
def test_unknown_partition_is_40402(cluster, partition):
    for url in (f"{cluster.v3(1)}/topics/{EXISTING}/partitions/{partition}",
                f"{cluster.v3(2)}/topics/{EXISTING}/partitions/{partition}/replicas",
                f"{cluster.url(3)}/topics/{EXISTING}/partitions/{partition}"):
        status, body = http_json("GET", url)
        assert_envelope(status, body, 40402)


@pytest.mark.parametrize("method, suffix, doc", [
    ("GET", "", None),
    ("GET", "/topics", None),
    ("GET", "/brokers", None),
    ("GET", f"/topics/{EXISTING}", None),
    ("GET", f"/topics/{EXISTING}/configs", None),
    ("POST", "/topics", {"topic_name": "wrong-cluster", "partitions_count": 1}),
    ("DELETE", f"/topics/{EXISTING}", None),
    ("PUT", f"/topics/{EXISTING}/configs/retention.ms", {"value": "1"}),
])
def test_unknown_cluster_id_is_404(cluster, method, suffix, doc):
    with unchanged(cluster):
        status, body = http_json(method, cluster.url(1) + "/v3/clusters/not-this-cluster" + suffix, doc)
        assert_envelope(status, body, 404)


@pytest.mark.parametrize("path", ["/nope", "/v3", "/v3/nope", "/v2/topics", "/topics/",
                                  "/v3/clusters/{cid}/nope", "/v3/clusters/{cid}/topics/x/y/z"])
def test_unknown_path_is_404_envelope(cluster, path):
    status, body = http_json("GET", cluster.url(2) + path.format(cid=cluster.cluster_id))
    assert_envelope(status, body, 404)


@pytest.mark.parametrize("method, path", [
    ("PATCH", "/v3/clusters/{cid}/topics"),
    ("PUT", "/v3/clusters/{cid}/topics"),
    ("DELETE", "/v3/clusters/{cid}/topics"),
    ("PUT", "/v3/clusters/{cid}/topics/" + EXISTING),
    ("POST", "/v3/clusters/{cid}/topics/" + EXISTING + "/partitions"),
    ("DELETE", "/v3/clusters"),
    ("POST", "/v3/clusters/{cid}/brokers"),
])
def test_wrong_method_is_405_envelope(cluster, method, path):
    with unchanged(cluster):
        status, body = http_json(method, cluster.url(1) + path.format(cid=cluster.cluster_id),
                                 {"topic_name": "method-topic"})
        assert_envelope(status, body, 405)


@pytest.mark.parametrize("doc, code", [
    pytest.param({"partitions_count": 2}, 42206, id="shrink"),
    pytest.param({"partitions_count": 3}, 42206, id="same-count"),
    pytest.param({"partitions_count": "4"}, 42206, id="string-count"),
    pytest.param({"partitions_count": True}, 42206, id="bool-count"),
    pytest.param({"partitions_count": 3 + 10_001}, 42206, id="too-many-at-once"),
    pytest.param({"partitions_count": 4, "x": 1}, 400, id="unknown-field"),
    pytest.param({}, 400, id="no-count"),
    pytest.param([4], 400, id="list"),
])
def test_bad_partition_count_change_changes_nothing(cluster, via, doc, code):
    with unchanged(cluster):
        for node in (1, via):
            status, body = http_json("PATCH", f"{cluster.v3(node)}/topics/{EXISTING}", doc)
            assert_envelope(status, body, code)
    status, body = http_json("PATCH", f"{cluster.v3(1)}/topics/no-such-topic", {"partitions_count": 4})
    assert_envelope(status, body, 40401)


# -- internal endpoints ------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-secret"),
    pytest.param({"X-Kraft-Secret": "guess"}, id="wrong-secret"),
    pytest.param({"X-Kraft-Secret": ""}, id="empty-secret"),
    pytest.param({"X-Kraft-Secret": "x" * 4000}, id="long-secret"),
])
def test_internal_endpoints_refuse_strangers(cluster, headers):
    with unchanged(cluster):
        for node in NODES:
            status, body = http_json(
                "POST", cluster.url(node) + "/internal/v1/controller/create_topic",
                {"name": "sneaky", "partitions": 1, "replication_factor": 1, "configs": {}},
                headers={**headers, "X-Kraft-Forwarded": "1"})
            assert_envelope(status, body, 401)
            status, body = http_json(
                "POST", cluster.url(node) + "/internal/v1/controller/delete_topic",
                {"name": EXISTING}, headers=headers)
            assert_envelope(status, body, 401)
            status, body = http_json(
                "POST", cluster.url(node) + "/internal/v1/controller/alter_configs",
                {"topic": EXISTING, "changes": {"retention.ms": "1"}}, headers=headers)
            assert_envelope(status, body, 401)
            status, body = http_json("GET", cluster.url(node) + "/internal/v1/metadata",
                                     headers=headers)
            assert_envelope(status, body, 401)
            status, body = http_json("GET", cluster.url(node) + "/internal/v1/metadata?image=1",
                                     headers=headers)
            assert_envelope(status, body, 401)


# -- a hostile burst -----------------------------------------------------------------------------------
def test_burst_of_concurrent_bad_requests_then_a_good_one_works(cluster):
    cid = cluster.cluster_id
    bad = [
        ("POST", "/v3/clusters/{cid}/topics", b'{"topic_name": ', "application/json"),
        ("POST", "/v3/clusters/{cid}/topics", b'{"topic_name": "burst", "partitions_count": "x"}',
         "application/json"),
        ("POST", "/v3/clusters/{cid}/topics", b'{"topic_name": "burst"}', "text/plain"),
        ("POST", "/v3/clusters/{cid}/topics", b'{"topic_name": "b/u/r/s/t"}', "application/json"),
        ("POST", "/v3/clusters/{cid}/topics", b'{"topic_name": "burst", "replication_factor": 9}',
         "application/json"),
        ("POST", "/v3/clusters/{cid}/topics", b'', "application/json"),
        ("GET", "/v3/clusters/{cid}/topics/nope", None, None),
        ("GET", "/v3/clusters/{cid}/topics/" + EXISTING + "/partitions/77", None, None),
        ("POST", "/v3/clusters/{cid}/topics/" + EXISTING + "/configs:alter",
         b'{"data": [{"name": "min.insync.replicas", "value": "x"}]}', "application/json"),
        ("POST", "/internal/v1/controller/create_topic", b'{"name": "burst"}', "application/json"),
        ("PATCH", "/v3/clusters/{cid}/topics", b'{}', "application/json"),
    ]
    jobs = [(NODES[i % 3],) + bad[i % len(bad)] for i in range(200)]
    start = threading.Barrier(50, timeout=30)

    def send(job):
        node, method, path, raw, ctype = job
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        return http_json(method, cluster.url(node) + path.format(cid=cid), raw=raw,
                         headers={"Content-Type": ctype} if ctype else None, timeout=30)

    with unchanged(cluster):
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(send, jobs, timeout=60))
        assert len(results) == 200
        for status, body in results:
            assert_envelope(status, body)
            assert status != 200 and status != 201

    # the cluster still takes a good request, on every node
    status, body = http_json("POST", cluster.v3(2) + "/topics",
                             {"topic_name": "after-burst", "partitions_count": 3})
    assert status == 201, body
    deadline = time.monotonic() + 10
    for node in NODES:
        while http_json("GET", cluster.v3(node) + "/topics/after-burst")[0] != 200:
            assert time.monotonic() < deadline, f"after-burst never reached node {node}"
            time.sleep(0.05)
    delete_everywhere(cluster, "after-burst", via=2)


# -- empty and malformed path parameters, unanswerable Accept (Redpanda's proxy tests) ---------
@pytest.mark.parametrize("method, suffix", [("GET", "/topics"), ("GET", "/brokers"), ("POST", "/topics"),
                                            ("GET", f"/topics/{EXISTING}/partitions")])
def test_an_empty_cluster_id_is_404_saying_it_is_missing(cluster, method, suffix):
    with unchanged(cluster):
        status, body = http_json(method, cluster.url(1) + "/v3/clusters/" + suffix,
                                 {"topic_name": "empty-cid"} if method == "POST" else None)
        assert_envelope(status, body, 404)
        assert "cluster id is missing" in body["message"], body


@pytest.mark.parametrize("method, path, doc", [
    ("GET", "/topics//partitions/0/records?offset=0", None),
    ("POST", "/topics//partitions/0", {"records": [{"value": 1}]}),
    ("GET", "/topics//partitions", None),
    ("GET", "/v3/clusters/{cid}/topics//partitions", None),
])
def test_an_empty_topic_segment_is_400(cluster, method, path, doc):
    headers = {"Content-Type": "application/vnd.kafka.json.v2+json"} if doc else None
    with unchanged(cluster):
        status, body = http_json(method, cluster.url(2) + path.format(cid=cluster.cluster_id), doc, headers=headers)
        assert_envelope(status, body, 400)
        assert "topic name in the path" in body["message"] and "is empty" in body["message"], body


@pytest.mark.parametrize("method, path, doc", [
    ("GET", "/topics/a%01b", None),
    ("POST", "/topics/a%0Ab", {"records": [{"value": 1}]}),
    ("GET", "/topics/a%7Fb/partitions/0/records?offset=0", None),
    ("POST", "/v3/clusters/{cid}/topics/a%00b/records", {"value": {"type": "JSON", "data": 1}}),
    ("GET", "/v3/clusters/{cid}/topics/tab%09here", None),
])
def test_control_characters_in_a_topic_name_are_400(cluster, method, path, doc):
    headers = {"Content-Type": "application/vnd.kafka.json.v2+json"} if doc and "records" in doc else None
    with unchanged(cluster):
        status, body = http_json(method, cluster.url(3) + path.format(cid=cluster.cluster_id), doc, headers=headers)
        assert_envelope(status, body, 400)
        assert "control character" in body["message"], body


def test_creating_a_consumer_with_an_unanswerable_accept_is_406(cluster):
    create = {"Content-Type": "application/vnd.kafka.v2+json"}
    status, body = http_json("POST", cluster.url(1) + "/consumers/accept-406-group", {"name": "c406", "format": "json"},
                             headers={**create, "Accept": "application/xml"})
    assert_envelope(status, body, 406)
    # nothing was made: the same name is free for a request the API can answer
    status, body = http_json("POST", cluster.url(1) + "/consumers/accept-406-group", {"name": "c406", "format": "json"},
                             headers={**create, "Accept": "application/vnd.kafka.v2+json"})
    assert status == 200, body
    status, _ = http_json("DELETE", cluster.url(1) + "/consumers/accept-406-group/instances/c406",
                          headers={"Content-Type": "application/vnd.kafka.v2+json"})
    assert status == 204
