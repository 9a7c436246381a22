"""REST Proxy conventions clients rely on: the v2 media type on answers, the Accept
header honoured (406) before anything else, internal topics hidden from the topic list,
`GET /brokers`, a topic name no topic can have answered 42206 (not 40401), seeking by
time, and CORS for the origins cluster.toml allows."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cluster_client import NODES, assert_envelope, create_topic
from inproc_cluster import InProcessCluster

from kraft.server.local_cluster import http_json
from kraft.config.topic_names import is_internal_topic

pytestmark = pytest.mark.cluster

V2 = "application/vnd.kafka.v2+json"
V2_JSON = "application/vnd.kafka.json.v2+json"
TOPIC = "conventions"
APP = "https://app.example"


@pytest.fixture(scope="module")
def cluster():
    with InProcessCluster(nodes=3, http={"access.control.allow.origin": f"{APP}, http://localhost:3000"}) as c:
        c.start().wait_ready(timeout_s=60)
        create_topic(c, TOPIC, 1)
        yield c


def request(url, method="GET", body=None, headers=None):
    """(status, Content-Type, parsed body) of one request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, resp.headers.get("Content-Type", ""), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, exc.headers.get("Content-Type", ""), json.loads(raw) if raw else None


def new_instance(cluster, group):
    status, _, body = request(cluster.url(1) + f"/consumers/{group}", "POST",
                              {"name": "i1", "format": "json"}, {"Content-Type": V2})
    assert status == 200, body
    return body["base_uri"]


def test_get_brokers_lists_the_broker_ids(cluster):
    for node in NODES:
        status, ctype, body = request(cluster.url(node) + "/brokers")
        assert (status, ctype, body) == (200, V2, {"brokers": [1, 2, 3]})


def test_topic_list_is_v2_and_hides_internal_topics(cluster):
    new_instance(cluster, "hide-internal")  # the first group use creates __consumer_offsets
    v3 = {t["topic_name"]: t["is_internal"] for t in http_json("GET", cluster.v3(1) + "/topics")[1]["data"]}
    assert v3["__consumer_offsets"] is True
    status, ctype, names = request(cluster.url(2) + "/topics")
    assert (status, ctype) == (200, V2)
    assert TOPIC in names and not any(is_internal_topic(n) for n in names)
    for path in (f"/topics/{TOPIC}", f"/topics/{TOPIC}/partitions", f"/topics/{TOPIC}/partitions/0"):
        status, ctype, _ = request(cluster.url(3) + path)
        assert (status, ctype) == (200, V2), path


def test_v2_produce_answers_in_the_v2_media_type(cluster):
    status, ctype, body = request(cluster.url(1) + f"/topics/{TOPIC}", "POST",
                                  {"records": [{"value": 1}]},
                                  {"Content-Type": V2_JSON, "Accept": V2})
    assert (status, ctype) == (200, V2), body
    assert body["offsets"][0]["error_code"] is None


@pytest.mark.parametrize("topic", [TOPIC, "missing-topic"])
def test_produce_with_an_unacceptable_accept_is_406_before_the_topic_lookup(cluster, topic):
    for content_type in (V2_JSON, "text/plain"):  # 406 also comes before the 415
        status, _, body = request(cluster.url(2) + f"/topics/{topic}", "POST",
                                  {"records": [{"value": 1}]},
                                  {"Content-Type": content_type, "Accept": "text/html"})
        assert_envelope(status, body, 406)
    assert http_json("GET", cluster.v3(1) + "/topics/missing-topic")[0] == 404  # nothing created


def test_subscribe_and_delete_honour_accept(cluster):
    base = new_instance(cluster, "accept-group")
    status, _, body = request(base + "/subscription", "POST", {"topics": [TOPIC]},
                              {"Content-Type": V2, "Accept": "text/html"})
    assert_envelope(status, body, 406)
    status, _, body = request(base + "/subscription")
    assert status == 200 and body == {"topics": []}, body
    status, _, body = request(base, "DELETE", headers={"Accept": "image/png"})
    assert_envelope(status, body, 406)
    status, _, body = request(base + "/subscription")
    assert status == 200, body  # the instance is still there
    status, _, _ = request(base, "DELETE", headers={"Accept": f"{V2}, application/json"})
    assert status == 204


@pytest.mark.parametrize("name", ["a%01b", "tab%09name", "new%0Aline", "bad!name"])
def test_a_name_no_topic_can_have_is_42206_everywhere(cluster, name):
    """In a path, a control character makes the request malformed: 400, as Redpanda's
    proxy answers it; any other name no topic can have is 42206. In a JSON body, 42206."""
    url = cluster.url(1)
    raw = urllib.parse.unquote(name)
    in_path = 400 if any(ord(ch) < 32 for ch in raw) else 42206
    cases = [
        ("POST", f"/topics/{name}", {"records": [{"value": 1}]}, {"Content-Type": V2_JSON}),
        ("POST", f"/topics/{name}/partitions/0", {"records": [{"value": 1}]}, {"Content-Type": V2_JSON}),
        ("GET", f"/topics/{name}/partitions/0/records?offset=0&timeout=0", None, {}),
        ("GET", f"/topics/{name}/partitions/0/offsets", None, {}),
        ("GET", f"/topics/{name}", None, {}),
    ]
    for method, path, body, headers in cases:
        status, _, answer = request(url + path, method, body, headers)
        assert_envelope(status, answer, in_path)
    base = new_instance(cluster, f"bad-name-{abs(hash(name))}")
    status, _, answer = request(base + "/subscription", "POST", {"topics": [raw]}, {"Content-Type": V2})
    assert_envelope(status, answer, 42206)


# -- seek by timestamp (ext): Kafka's ListOffsets by time --------------------------------------------
def test_offsets_by_timestamp_and_an_instance_seeking_by_time(cluster):
    topic = create_topic(cluster, "by-time", 1)
    for ts in (1000, 2000, 3000):
        status, _, body = request(cluster.url(1) + f"/topics/{topic}/partitions/0", "POST",
                                  {"records": [{"value": ts, "timestamp": ts}]}, {"Content-Type": V2_JSON})
        assert status == 200 and body["offsets"][0]["error_code"] is None, body
    for node in NODES:  # the leader answers; the others forward
        for asked, expected in ((0, (0, 1000)), (1500, (1, 2000)), (3000, (2, 3000)), (3001, (None, None))):
            status, _, body = request(cluster.url(node) + f"/topics/{topic}/partitions/0/offsets?timestamp={asked}")
            assert status == 200, body
            assert (body["offset"], body["timestamp"]) == expected, (node, asked, body)
            assert (body["beginning_offset"], body["end_offset"]) == (0, 3)
    for bad in ("-1", "x", "1e3", str(2**63)):
        status, _, body = request(cluster.url(2) + f"/topics/{topic}/partitions/0/offsets?timestamp={bad}")
        assert_envelope(status, body)
        assert status == 400, body

    base = new_instance(cluster, "seek-by-time")
    status, _, body = request(base + "/assignments", "POST",
                              {"partitions": [{"topic": topic, "partition": 0}]}, {"Content-Type": V2})
    assert status == 204, body
    status, _, body = request(base + "/positions", "POST", {"timestamps": [
        {"topic": topic, "partition": 0, "timestamp": 2500}]}, {"Content-Type": V2})
    assert status == 204, body
    got = []
    for _ in range(10):
        status, _, records = request(base + "/records?timeout=500", headers={"Accept": V2_JSON})
        assert status == 200, records
        got += [r["value"] for r in records]
        if got:
            break
    assert got == [3000]
    status, _, body = request(base + "/positions", "POST", {"timestamps": [
        {"topic": topic, "partition": 0, "timestamp": -5}]}, {"Content-Type": V2})
    assert_envelope(status, body, 42206)


# -- CORS ------------------------------------------------------------------------------------------
def raw_headers(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def test_an_allowed_origin_reads_answers_and_errors(cluster):
    for path, expected in (("/topics", 200), ("/topics/missing-topic", 404)):
        status, headers = raw_headers(cluster.url(1) + path, headers={"Origin": APP})
        assert status == expected
        assert headers["Access-Control-Allow-Origin"] == APP and headers["Vary"] == "Origin"


def test_a_preflight_from_an_allowed_origin_is_answered(cluster):
    status, headers = raw_headers(cluster.url(2) + f"/topics/{TOPIC}", "OPTIONS", {
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in headers["Access-Control-Allow-Methods"].split(",")
    assert "content-type" in headers["Access-Control-Allow-Headers"].split(",")


def test_another_origin_gets_no_cors_headers(cluster):
    status, headers = raw_headers(cluster.url(3) + "/topics", headers={"Origin": "https://evil.example"})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers = raw_headers(cluster.url(3) + "/topics", "OPTIONS", {
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert status == 405 and "Access-Control-Allow-Origin" not in headers
