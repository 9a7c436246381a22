"""Kafka's client quotas, set by the Kafka admin APIs (as kafka-configs.sh sends them:
no Python client has them, so the frames are built with kio) and over HTTP, enforced on
both doors: a producer over its byte rate is slowed to it without an error (the answers
carry the throttle time, the broker stops reading the connection meanwhile), and a REST
client over its quota gets 429 with Retry-After."""

from __future__ import annotations

import io
import socket
import struct
import time

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")

QUOTA = 100_000  # bytes/s
WINDOW = 2  # samples of 1 s (Kafka: 11): the shorter the window, the smaller the bursts it lets through
RUN_S = 12
V2_JSON = "application/vnd.kafka.json.v2+json"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3, cluster={"quota.window.num": WINDOW, "quota.window.size.seconds": 1}) as c:
        c.start().wait_ready(timeout_s=60)
        status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": "q", "partitions_count": 1,
                                                              "replication_factor": 3})
        assert status == 201, body
        yield c


def kafka_call(c, api_key: int, request, response_cls):
    """One request of a flexible (v1) admin API, its decoded answer."""
    from kio.schema.request_header.v2.header import RequestHeader
    from kio.serial import entity_reader, entity_writer
    buf = io.BytesIO()
    entity_writer(RequestHeader)(buf, RequestHeader(request_api_key=api_key, request_api_version=1,
                                                    correlation_id=7, client_id="kafka-configs"))
    entity_writer(type(request))(buf, request)
    conf = c.config.node(2)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=20) as s:
        s.sendall(struct.pack(">i", buf.tell()) + buf.getvalue())
        size = struct.unpack(">i", recv_exactly(s, 4))[0]
        frame = recv_exactly(s, size)
    answer, _ = entity_reader(response_cls)(frame, 5)  # correlation id, empty tag buffer
    return answer


def recv_exactly(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "the broker closed the connection"
        out += chunk
    return out


def alter(c, entries, validate_only=False):
    from kio.schema.alter_client_quotas.v1 import request as q
    from kio.schema.alter_client_quotas.v1.response import AlterClientQuotasResponse
    request = q.AlterClientQuotasRequest(validate_only=validate_only, entries=tuple(
        q.EntryData(entity=tuple(q.EntityData(entity_type=t, entity_name=n) for t, n in entity),
                    ops=tuple(q.OpData(key=k, value=float(v or 0), remove=v is None) for k, v in ops))
        for entity, ops in entries))
    answer = kafka_call(c, 49, request, AlterClientQuotasResponse)
    return [(int(e.error_code.value), e.error_message) for e in answer.entries]


def describe(c, components, strict=False):
    from kio.schema.describe_client_quotas.v1 import request as q
    from kio.schema.describe_client_quotas.v1.response import DescribeClientQuotasResponse
    answer = kafka_call(c, 48, q.DescribeClientQuotasRequest(strict=strict, components=tuple(
        q.ComponentData(entity_type=t, match_type=m, match=n) for t, m, n in components)),
        DescribeClientQuotasResponse)
    assert int(answer.error_code.value) == 0, answer.error_message
    return {tuple((d.entity_type, d.entity_name) for d in entry.entity): {v.key: v.value for v in entry.values}
            for entry in answer.entries}


def test_quotas_set_by_the_kafka_api_are_described_by_it_and_over_http_on_every_node(cluster):
    c = cluster
    answers = alter(c, [((("client-id", "reports"),), [("producer_byte_rate", 2048), ("consumer_byte_rate", 4096)]),
                        ((("user", None),), [("request_percentage", 50)]),
                        ((("client-id", "x"),), [("producer_bytes_rate", 1)]),  # misspelt: refused alone
                        ((("ip", "10.0.0.1"),), [("connection_creation_rate", 5)])])
    assert [code for code, _ in answers] == [0, 0, 42, 42]
    assert "unknown quota" in answers[2][1] and "not enforced" in answers[3][1]
    try:
        assert describe(c, [("client-id", 0, "reports")]) == {
            (("client-id", "reports"),): {"producer_byte_rate": 2048.0, "consumer_byte_rate": 4096.0}}
        assert describe(c, [("user", 1, None)]) == {(("user", None),): {"request_percentage": 50.0}}
        for node in (1, 3):
            status, body = http_json("GET", c.url(node) + "/v1/client-quotas?client-id=reports")
            assert status == 200 and body["quotas"] == [
                {"entity": {"client-id": "reports"}, "values": {"consumer_byte_rate": 4096.0,
                                                                "producer_byte_rate": 2048.0}}]
        status, body = http_json("POST", c.url(3) + "/v1/client-quotas",
                                 {"entity": {"client-id": "reports"}, "remove": ["consumer_byte_rate"]})
        assert status == 200 and body == {"entity": {"client-id": "reports"}, "values": {"producer_byte_rate": 2048.0}}
        status, body = http_json("POST", c.url(3) + "/v1/client-quotas",
                                 {"entity": {"client-id": "reports"}, "set": {"producer_byte_rate": -1}})
        assert status == 400 and "must be positive" in body["message"]
    finally:
        assert alter(c, [((("client-id", "reports"),), [("producer_byte_rate", None), ("consumer_byte_rate", None)]),
                         ((("user", None),), [("request_percentage", None)])]) == [(0, None), (0, None)]
    assert describe(c, []) == {}


def test_a_producer_over_its_byte_rate_is_slowed_to_it_without_errors(cluster):
    c = cluster
    assert alter(c, [((("client-id", "slow"),), [("producer_byte_rate", QUOTA)])]) == [(0, None)]
    throttles, delivered, errors = [], [], []
    producer = confluent_kafka.Producer({
        "bootstrap.servers": c.bootstrap_servers, "client.id": "slow", "linger.ms": 5, "acks": "all",
        "batch.size": 16384, "queue.buffering.max.kbytes": 256,  # requests well under the quota's window
        "throttle_cb": lambda event: throttles.append(event.throttle_time)})

    def on_delivery(err, msg):
        (errors if err else delivered).append((time.monotonic(), len(msg.value())))
    value = b"x" * 1000
    started = time.monotonic()
    try:
        while time.monotonic() - started < RUN_S:
            try:
                producer.produce("q", value, on_delivery=on_delivery)
            except BufferError:
                producer.poll(0.05)
            producer.poll(0)
        assert producer.flush(30) == 0
    finally:
        alter(c, [((("client-id", "slow"),), [("producer_byte_rate", None)])])
    assert not errors, errors[:3]
    assert throttles and max(throttles) > 0  # the answers said how long to wait
    # what got through while it wrote as fast as it could: the quota's rate over the run,
    # plus the budget of one window a new client (and one whose window just emptied) may
    # use at once, as in Kafka; within 20 %
    through = sum(n for t, n in delivered if t <= started + RUN_S)
    expected = QUOTA * RUN_S + QUOTA * (WINDOW - 1)
    assert 0.8 * expected <= through <= 1.2 * expected, f"{through} bytes in {RUN_S} s at {QUOTA} B/s"


def test_a_rest_client_over_its_quota_gets_429_with_retry_after_then_gets_through(cluster):
    c = cluster
    status, body = http_json("POST", c.url(1) + "/v1/client-quotas",
                             {"entity": {"user": "ANONYMOUS"}, "set": {"producer_byte_rate": 1000}})
    assert status == 200, body
    record = {"records": [{"value": "v" * 6000}]}
    headers = {"Content-Type": V2_JSON}
    try:
        status, body = http_json("POST", c.url(2) + "/topics/q", record, headers=headers)
        assert status == 200, body  # served: it takes the user over its quota
        status, body = http_json("POST", c.url(2) + "/topics/q", record, headers=headers)
        assert status == 429 and body["error_code"] == 429 and "producer_byte_rate" in body["message"]
        retry = retry_after(c, record, headers)
        assert 1 <= retry <= WINDOW
        deadline = time.monotonic() + 10
        while (status := http_json("POST", c.url(2) + "/topics/q", record, headers=headers)[0]) == 429:
            assert time.monotonic() < deadline, "still refused long after Retry-After"
            time.sleep(0.5)
        assert status == 200
    finally:
        http_json("POST", c.url(1) + "/v1/client-quotas", {"entity": {"user": "ANONYMOUS"},
                                                          "remove": ["producer_byte_rate"]})


def retry_after(c, record, headers) -> int:
    import json
    import urllib.error
    import urllib.request
    req = urllib.request.Request(c.url(2) + "/topics/q", data=json.dumps(record).encode(), method="POST",
                                 headers=headers)
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 429
        return int(exc.headers["Retry-After"])
    raise AssertionError("not refused")
