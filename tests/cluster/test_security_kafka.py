"""Security on the Kafka listener with the real clients: SASL PLAIN and SCRAM against the
same users as HTTP Basic, and the same ACLs enforced on every Kafka API, whichever door
granted them (one system, two front doors)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import shutil
import socket
import struct
import subprocess
import time
import uuid

import pytest
from kafka_wire import closed_by_broker, kafka_socket, produce_frame, recv_frame, sasl_plain

from kraft.config.cluster_keys import peer_key
from kraft.config.data_dir import read_identity
from kraft.kafka.client.broker_client import BrokerConnection, BrokerUnreachable
from kraft.security.broker_login import broker_password
from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
aiokafka = pytest.importorskip("aiokafka", reason="aiokafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402
from kio.schema.fetch.v17 import request as v17  # noqa: E402
from kio.schema.metadata.v12.request import MetadataRequest  # noqa: E402
from kio.schema.types import BrokerId  # noqa: E402
from kio.static.primitive import i32, i32Timedelta, i64  # noqa: E402

SECURITY = security_toml({u: f"{u}-password" for u in ("admin", "alice", "bob", "mallory")},
                         mechanisms={"bob": "SCRAM-SHA-512"})
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}


@pytest.fixture(scope="module")
def cluster():
    # the brokers talk on listeners of their own (inter_broker_port): every test here runs
    # with their fetches, markers and forwarded calls there, secured
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN_HTTP, inter_broker_listener=True) as c:
        c.start().wait_ready(timeout_s=60)
        for topic in ("ks-orders", "ks-secret"):
            status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic, "partitions_count": 2},
                                     headers=ADMIN_HTTP)
            assert status == 201, body
        yield c


def sasl(c, user: str, password: str, mechanism: str = "SCRAM-SHA-256") -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}


def rest_grant(c, **fields) -> None:
    acl = {"resource_type": "TOPIC", "resource_name": "ks-orders", "pattern_type": "LITERAL",
           "principal": "User:alice", "host": "*", "operation": "WRITE", "permission": "ALLOW", **fields}
    status, body = http_json("POST", c.v3(2) + "/acls", acl, headers=ADMIN_HTTP)
    assert status == 201, body


def revoke_all(c) -> None:
    status, _ = http_json("DELETE", c.v3(1) + "/acls?resource_type=ANY&pattern_type=ANY&operation=ANY"
                          "&permission=ANY", headers=ADMIN_HTTP)
    assert status == 200


def deliveries(conf: dict, topic: str, values: list[bytes], refused=None) -> list:
    """The delivery error of each message (None = delivered); with `refused`, what the client
    saw must also come to say why (refused(seen) on its error_cb errors and statistics)."""
    seen = Seen()
    producer = confluent_kafka.Producer({"message.timeout.ms": 8000, "enable.idempotence": False, **conf,
                                         **(seen.callbacks() if refused else {})})
    errors: list = []
    for v in values:
        producer.produce(topic, v, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    if refused:
        assert seen.comes_to(producer, refused), seen
    return errors


class Seen:
    """What a confluent-kafka client reported: error_cb's errors and its statistics."""

    def __init__(self) -> None:
        self.errors: list = []
        self.stats: list = []

    def callbacks(self) -> dict:
        return {"error_cb": self.errors.append, "statistics.interval.ms": 100,
                "stats_cb": lambda text: self.stats.append(json.loads(text))}

    def comes_to(self, client, condition) -> bool:
        """Whether condition(self) holds, polling the client up to 20 s (poll serves the callbacks)."""
        deadline = time.monotonic() + 20
        while not condition(self) and time.monotonic() < deadline:
            client.poll(0.1)
        return condition(self)

    def __repr__(self) -> str:
        return repr([e.str() for e in self.errors])


def told_authentication_failed(seen: Seen) -> bool:
    return any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION for e in seen.errors)


def closed_by_the_broker(seen: Seen) -> bool:  # librdkafka does not always report it as an error
    return any(b["disconnects"] > 0 for s in seen.stats for b in s["brokers"].values())


def consume(conf: dict, topic: str, group: str, count: int, timeout_s: float = 20.0):
    """(values, the first error the consumer reported)."""
    consumer = confluent_kafka.Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got, error = [], None
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < count and time.monotonic() < deadline and error is None:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                error = msg.error()
            else:
                got.append(msg.value())
    finally:
        consumer.close()
    return got, error


def alice_aio_producer(c, request_timeout_ms: int):
    """An aiokafka producer logged in as alice (SASL PLAIN)."""
    return aiokafka.AIOKafkaProducer(bootstrap_servers=c.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                                     sasl_mechanism="PLAIN", sasl_plain_username="alice",
                                     sasl_plain_password="alice-password", request_timeout_ms=request_timeout_ms)

def test_every_mechanism_authenticates_with_the_users_of_the_log(cluster):
    for mechanism, user in (("PLAIN", "admin"), ("SCRAM-SHA-256", "admin"), ("SCRAM-SHA-512", "bob"),
                            ("PLAIN", "bob")):
        password = f"{user}-password"
        metadata = cadmin.AdminClient(sasl(cluster, user, password, mechanism)).list_topics(timeout=15)
        assert {"ks-orders", "ks-secret"} <= set(metadata.topics) or user == "bob", (mechanism, user)
    # bob has no ACL: the listing hides what he may not describe
    assert not {"ks-orders", "ks-secret"} & set(
        cadmin.AdminClient(sasl(cluster, "bob", "bob-password", "SCRAM-SHA-512")).list_topics(timeout=15).topics)


@pytest.mark.parametrize("conf, refused", [
    ({"sasl.password": "wrong-password"}, told_authentication_failed),
    ({"sasl.username": "nobody"}, told_authentication_failed),
    ({"sasl.mechanism": "SCRAM-SHA-512"}, told_authentication_failed),  # mallory: a SCRAM-SHA-256 credential only
    ({"security.protocol": "PLAINTEXT"}, closed_by_the_broker),  # no SASL at all: the broker closes the connection
], ids=["wrong-password", "unknown-user", "other-mechanism", "no-sasl"])
def test_wrong_or_missing_credentials_deliver_nothing(cluster, conf, refused):
    """As mallory (who may write): the clients retry, and her failures back off her
    logins from this address, not the other users'."""
    rest_grant(cluster, principal="User:mallory", operation="WRITE")
    # the message gives up after 1 s of retried logins; what says it was refused, not slow,
    # is what the client saw
    errors = deliveries({**sasl(cluster, "mallory", "mallory-password"), "message.timeout.ms": 1000, **conf},
                        "ks-orders", [b"nope"], refused)
    assert errors and errors[0] is not None
    status, body = http_json("GET", cluster.url(1) + "/topics/ks-orders/partitions/0/offsets", headers=ADMIN_HTTP)
    status2, body2 = http_json("GET", cluster.url(1) + "/topics/ks-orders/partitions/1/offsets", headers=ADMIN_HTTP)
    assert body["end_offset"] + body2["end_offset"] == 0  # nothing was written
    revoke_all(cluster)


def test_acls_granted_over_rest_apply_to_kafka_clients(cluster):
    c = cluster
    revoke_all(c)
    alice = sasl(c, "alice", "alice-password")
    errors = deliveries(alice, "ks-orders", [b"a1"])
    assert errors[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    rest_grant(c, operation="WRITE")
    assert deliveries(alice, "ks-orders", [b"a1", b"a2", b"a3"]) == [None, None, None]
    # reading needs READ on the topic and on the group
    got, error = consume(alice, "ks-orders", "alice-group", 3, timeout_s=10)
    assert error is not None and error.code() in (confluent_kafka.KafkaError.GROUP_AUTHORIZATION_FAILED,
                                                  confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED)
    rest_grant(c, operation="READ")
    rest_grant(c, resource_type="GROUP", resource_name="alice-", pattern_type="PREFIXED", operation="READ")
    got, error = consume(alice, "ks-orders", "alice-group", 3)
    assert error is None and sorted(got) == [b"a1", b"a2", b"a3"]
    # the offsets alice's group committed over Kafka are the same group over REST
    status, body = http_json("GET", c.v3(3) + "/consumer-groups/alice-group", headers=ADMIN_HTTP)
    assert status == 200, body
    # another topic stays closed to her
    assert deliveries(alice, "ks-secret", [b"x"])[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    revoke_all(c)
    assert deliveries(alice, "ks-orders", [b"a4"])[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_kafka_python_and_aiokafka_authenticate_and_are_held_to_acls(cluster):
    c = cluster
    revoke_all(c)
    bob = dict(bootstrap_servers=c.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
               sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="bob", sasl_plain_password="bob-password")
    rest_grant(c, principal="User:bob", resource_name="ks-", pattern_type="PREFIXED", operation="WRITE")
    producer = kafka.KafkaProducer(**bob, request_timeout_ms=10000)
    try:
        assert producer.send("ks-orders", b"kp").get(timeout=20).offset >= 0
        with pytest.raises(kafka.errors.KafkaError):
            producer.send("other-topic", b"kp").get(timeout=20)  # no CREATE: not even auto-created
    finally:
        producer.close(timeout=5)
    status, _ = http_json("GET", c.v3(1) + "/topics/other-topic", headers=ADMIN_HTTP)
    assert status == 404

    async def aio() -> int:
        p = alice_aio_producer(c, 10000)
        await p.start()
        try:
            with pytest.raises(aiokafka.errors.TopicAuthorizationFailedError):
                await p.send_and_wait("ks-orders", b"aio")
            rest_grant(c, operation="WRITE")
            return (await p.send_and_wait("ks-orders", b"aio")).offset
        finally:
            await p.stop()
    assert asyncio.run(aio()) >= 0
    revoke_all(c)


def test_a_producer_that_may_not_create_a_missing_topic_is_refused_at_once(cluster):
    """Kafka answers TOPIC_AUTHORIZATION_FAILED, not UNKNOWN_TOPIC_OR_PARTITION, for a missing
    topic a client asks to auto-create without CREATE on the cluster or the topic (aiokafka's
    test_sasl_deny_autocreate_cluster)."""
    c = cluster
    revoke_all(c)
    for operation in ("DESCRIBE", "WRITE"):
        rest_grant(c, resource_name="ks-unborn", operation=operation)

    async def send() -> int:
        p = alice_aio_producer(c, 5000)
        await p.start()
        try:
            return (await p.send_and_wait("ks-unborn", b"aio")).offset
        finally:
            await p.stop()
    with pytest.raises(aiokafka.errors.TopicAuthorizationFailedError):
        asyncio.run(send())
    assert http_json("GET", c.v3(1) + "/topics/ks-unborn", headers=ADMIN_HTTP)[0] == 404
    # CREATE on the topic's name is enough: the same send creates it
    rest_grant(c, resource_name="ks-unborn", operation="CREATE")
    assert asyncio.run(send()) == 0
    revoke_all(c)


def test_acls_made_with_the_kafka_admin_api_are_the_rest_apis(cluster):
    c = cluster
    revoke_all(c)
    admin = cadmin.AdminClient(sasl(c, "admin", "admin-password"))
    binding = cadmin.AclBinding(cadmin.ResourceType.TOPIC, "ks-secret", cadmin.ResourcePatternType.LITERAL,
                                "User:alice", "*", cadmin.AclOperation.READ, cadmin.AclPermissionType.ALLOW)
    for future in admin.create_acls([binding]).values():
        future.result(timeout=15)
    status, body = http_json("GET", c.v3(2) + "/acls?principal=User%3Aalice", headers=ADMIN_HTTP)
    assert [(a["resource_name"], a["operation"]) for a in body["data"]] == [("ks-secret", "READ")]
    described = admin.describe_acls(cadmin.AclBindingFilter(
        cadmin.ResourceType.ANY, None, cadmin.ResourcePatternType.ANY, None, None,
        cadmin.AclOperation.ANY, cadmin.AclPermissionType.ANY)).result(timeout=15)
    assert described == [binding]
    # alice may not change ACLs herself
    alice_admin = cadmin.AdminClient(sasl(c, "alice", "alice-password"))
    with pytest.raises(confluent_kafka.KafkaException):
        for future in alice_admin.create_acls([binding]).values():
            future.result(timeout=15)
    deleted = admin.delete_acls([cadmin.AclBindingFilter(
        cadmin.ResourceType.TOPIC, "ks-secret", cadmin.ResourcePatternType.LITERAL, None, None,
        cadmin.AclOperation.ANY, cadmin.AclPermissionType.ANY)])
    assert [b for f in deleted.values() for b in f.result(timeout=15)] == [binding]
    assert http_json("GET", c.v3(2) + "/acls", headers=ADMIN_HTTP)[1]["data"] == []


def test_a_deleted_user_cannot_open_a_new_kafka_connection(cluster):
    c = cluster
    status, _ = http_json("POST", c.url(1) + "/v1/security/users", {"username": "gina", "password": "gina-password"},
                          headers=ADMIN_HTTP)
    assert status == 201
    gina = sasl(c, "gina", "gina-password")
    cadmin.AdminClient(gina).list_topics(timeout=15)
    assert http_json("DELETE", c.url(3) + "/v1/security/users/gina", headers=ADMIN_HTTP)[0] == 204
    seen = Seen()
    refused = cadmin.AdminClient({**gina, "socket.timeout.ms": 5000, **seen.callbacks()})
    with pytest.raises(confluent_kafka.KafkaException):
        refused.list_topics(timeout=1)
    assert seen.comes_to(refused, told_authentication_failed), seen  # refused, not slow


def test_requests_before_sasl_close_the_connection(cluster):
    """Only ApiVersions and the SASL requests are served before authentication."""
    s = kafka_socket(cluster, 2)
    try:
        s.sendall(produce_frame("ks-orders", 0, b"\0" * 70, 1))
        assert closed_by_broker(s)
    finally:
        s.close()
    s = kafka_socket(cluster, 2)
    try:  # ApiVersions v0 is answered, and lists the SASL APIs
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 7, -1))
        frame = recv_frame(s)
        assert struct.unpack(">ih", frame[:6]) == (7, 0)
        keys = {struct.unpack(">h", frame[10 + 6 * i:12 + 6 * i])[0] for i in range(struct.unpack(">i", frame[6:10])[0])}
        assert {17, 36} <= keys
    finally:
        s.close()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is installed by ./dev test (apt); not on PATH")
def test_kcat_produces_and_consumes_with_scram(cluster):
    c = cluster
    revoke_all(c)
    rest_grant(c, operation="ALL")
    args = ["-b", c.bootstrap_servers, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256",
            "-X", "sasl.username=alice", "-X", "sasl.password=alice-password"]
    produced = subprocess.run(["kcat", *args, "-P", "-t", "ks-orders", "-p", "1"], input=b"kcat-1\nkcat-2\n",
                              capture_output=True, timeout=60)
    assert produced.returncode == 0, produced.stderr
    read = subprocess.run(["kcat", *args, "-C", "-t", "ks-orders", "-p", "1", "-o", "beginning", "-e", "-q"],
                          capture_output=True, timeout=60)
    assert read.returncode == 0 and b"kcat-1\nkcat-2\n" in read.stdout, read.stderr
    denied = subprocess.run(["kcat", *args, "-C", "-t", "ks-secret", "-p", "0", "-o", "beginning", "-e", "-q"],
                            capture_output=True, timeout=60)
    assert denied.returncode != 0 and b"uthoriz" in denied.stderr, denied.stderr
    revoke_all(c)


def _plain_login_frames(s, password: str):
    """SaslHandshake PLAIN, then SaslAuthenticate as mallory: the SaslAuthenticate answer."""
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    from kafka_wire import wire_call
    assert int(wire_call(s, SaslHandshakeRequest(mechanism="PLAIN")).error_code.value) == 0
    return wire_call(s, SaslAuthenticateRequest(auth_bytes=b"\0mallory\0" + password.encode()), 2)


def _closed_without_answering_again(s) -> bool:
    """True if the broker closed the connection: an ApiVersions sent now is never answered
    (on a connection left open, it is answered at once, before a login too)."""
    try:
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 99, -1))
    except (BrokenPipeError, ConnectionResetError):
        return True
    return closed_by_broker(s)


def test_a_failed_login_is_answered_then_the_connection_closed(cluster):
    """As Kafka: a guess per connection, so the per-address connection limit bounds the rate."""
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    from kafka_wire import wire_call
    s = kafka_socket(cluster, 2)
    try:
        answer = _plain_login_frames(s, "wrong-password")
        assert int(answer.error_code.value) == 58  # SASL_AUTHENTICATION_FAILED, then the close
        assert _closed_without_answering_again(s)  # before: left open for the next guess
    finally:
        s.close()
    s = kafka_socket(cluster, 2)
    try:  # a mechanism not offered: answered with the list, then closed
        answer = wire_call(s, SaslHandshakeRequest(mechanism="GSSAPI"))
        assert int(answer.error_code.value) == 33  # UNSUPPORTED_SASL_MECHANISM
        assert _closed_without_answering_again(s)
    finally:
        s.close()
    s = kafka_socket(cluster, 2)
    try:  # SaslAuthenticate with no handshake before it
        answer = wire_call(s, SaslAuthenticateRequest(auth_bytes=b"\0mallory\0mallory-password"))
        assert int(answer.error_code.value) == 34  # ILLEGAL_SASL_STATE
        assert _closed_without_answering_again(s)
    finally:
        s.close()
    s = kafka_socket(cluster, 2)
    try:  # the right password still logs in, and the connection serves on
        assert int(_plain_login_frames(s, "mallory-password").error_code.value) == 0
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 9, -1))  # ApiVersions v0
        assert struct.unpack(">i", recv_frame(s)[:4]) == (9,)
    finally:
        s.close()


def test_clients_given_a_wrong_password_report_an_authentication_error(cluster, caplog):
    """librdkafka, kafka-python and aiokafka each name the failure as an authentication one."""
    reported: list = []
    producer = confluent_kafka.Producer({**sasl(cluster, "mallory", "wrong-password", "PLAIN"),
                                         "error_cb": reported.append})
    for _ in range(40):  # error_cb is served by poll(); a failed login is reported within seconds
        producer.poll(0.5)
        if reported:
            break
    assert reported and reported[0].code() == confluent_kafka.KafkaError._AUTHENTICATION, reported
    del producer  # destroyed: it stops retrying

    # kafka-python 3 logs each failed bootstrap login and gives up at its bootstrap timeout
    # (30 s by default; the first refusal comes in a fraction of a second). Each of its
    # connections reads its refusal: kafka-python drops an answer that arrives together with
    # the broker's close ("socket disconnected"), so the broker leaves the close to it.
    with caplog.at_level("ERROR", logger="kafka"), \
            pytest.raises((kafka.errors.SaslAuthenticationFailedError, kafka.errors.KafkaTimeoutError)):
        kafka.KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                               sasl_mechanism="PLAIN", sasl_plain_username="mallory",
                               sasl_plain_password="wrong-password", request_timeout_ms=10000,
                               bootstrap_timeout_ms=5000)
    assert "SaslAuthenticationFailedError" in caplog.text and "Authentication failed" in caplog.text
    assert "socket disconnected" not in caplog.text

    async def aio() -> None:
        p = aiokafka.AIOKafkaProducer(bootstrap_servers=cluster.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                                      sasl_mechanism="PLAIN", sasl_plain_username="mallory",
                                      sasl_plain_password="wrong-password", request_timeout_ms=10000)
        try:
            with pytest.raises(aiokafka.errors.KafkaError):  # aiokafka: "Unable to bootstrap", the cause logged
                await p.start()
        finally:
            await p.stop()
    caplog.clear()
    with caplog.at_level("ERROR", logger="aiokafka"):
        asyncio.run(aio())
    assert "Authentication failed" in caplog.text, caplog.text


def test_brokers_log_in_as_their_own_user_and_nobody_else_can(cluster):
    """The brokers' login (User:kraft-broker over SCRAM-SHA-256, its credential derived by
    every node from the cluster's secret) may fetch as a replica; the same name with a
    guessed password is refused, and so is its real password over SASL/PLAIN or HTTP
    Basic, and a user of that name made through the API logs in nobody."""
    password = broker_password(peer_key(read_identity(cluster.config.node(1).data_path)))
    status, topic = http_json("GET", cluster.v3(1) + "/topics/ks-orders", headers=ADMIN_HTTP)
    assert status == 200, topic
    status, part = http_json("GET", cluster.v3(1) + "/topics/ks-orders/partitions/0", headers=ADMIN_HTTP)
    assert status == 200, part
    leader = cluster.config.node(part["leader_id"])
    fetch = v17.FetchRequest(
        replica_state=v17.ReplicaState(replica_id=BrokerId(99), replica_epoch=i64(1)),
        max_wait=i32Timedelta.parse(datetime.timedelta(0)), min_bytes=i32(0), max_bytes=i32(1 << 20),
        session_id=i32(0), session_epoch=i32(-1), forgotten_topics_data=(),
        topics=(v17.FetchTopic(topic_id=uuid.UUID(topic["topic_id"]), partitions=(v17.FetchPartition(
            partition=i32(0), current_leader_epoch=i32(part["leader_epoch"]), fetch_offset=i64(0),
            partition_max_bytes=i32(1 << 20)),)),))

    async def replica_fetch_code(with_password: str) -> int:
        connection = BrokerConnection(lambda: (leader.host, leader.kafka_port), "test-broker", None, with_password)
        try:
            answer = await connection.request(fetch, 20)
            return answer.responses[0].partitions[0].error_code.value
        finally:
            await connection.close()

    assert asyncio.run(replica_fetch_code(password)) == 0
    with pytest.raises(BrokerUnreachable, match="login refused"):
        asyncio.run(replica_fetch_code("a-guess"))
    with pytest.raises(confluent_kafka.KafkaException):
        cadmin.AdminClient({**sasl(cluster, "kraft-broker", password, "PLAIN"),
                            "socket.timeout.ms": 5000}).list_topics(timeout=5)
    basic = {"Authorization": "Basic " + base64.b64encode(f"kraft-broker:{password}".encode()).decode()}
    assert http_json("GET", cluster.v3(1) + "/topics", headers=basic)[0] == 401
    status, _ = http_json("POST", cluster.url(1) + "/v1/security/users",
                          {"username": "kraft-broker", "password": "chosen-password"}, headers=ADMIN_HTTP)
    assert status == 201
    try:
        chosen = {"Authorization": "Basic " + base64.b64encode(b"kraft-broker:chosen-password").decode()}
        assert http_json("GET", cluster.v3(1) + "/topics", headers=chosen)[0] == 401
        with pytest.raises(BrokerUnreachable, match="login refused"):
            asyncio.run(replica_fetch_code("chosen-password"))
    finally:
        assert http_json("DELETE", cluster.url(1) + "/v1/security/users/kraft-broker", headers=ADMIN_HTTP)[0] == 204


def test_the_inter_broker_listener_serves_the_brokers_login_and_ends_a_users(cluster):
    """On a secured cluster the brokers' own port takes their login (a Metadata request is
    served then) and nobody else's: a user's login there is answered, then the connection
    ends, holding no slot of the brokers'."""
    password = broker_password(peer_key(read_identity(cluster.config.node(1).data_path)))
    node = cluster.config.node(3)

    async def brokers_seen_as_broker() -> int:
        connection = BrokerConnection(lambda: (node.host, node.inter_broker_port), "test-broker", None, password)
        try:
            answer = await connection.request(MetadataRequest(
                topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False), 20)
            return len(answer.brokers)
        finally:
            await connection.close()

    assert asyncio.run(brokers_seen_as_broker()) == 3  # served once logged in as a broker
    with socket.create_connection((node.host, node.inter_broker_port), timeout=10) as s:
        sasl_plain(s, "alice", "alice-password")  # the login itself is answered
        assert closed_by_broker(s), "a user's connection on the inter-broker listener stayed open"


def test_an_idempotent_producer_needs_write_on_some_topic_or_idempotent_write(cluster):
    """KIP-679 on both doors, one rule: a producer id needs IDEMPOTENT_WRITE on the cluster,
    or WRITE on any topic (Kafka 3's idempotent-by-default producers need no more)."""
    c = cluster
    revoke_all(c)
    alice = {**sasl(c, "alice", "alice-password"), "enable.idempotence": True}
    alice_http = {"Authorization": "Basic " + base64.b64encode(b"alice:alice-password").decode()}
    try:
        assert fatal_error(alice, "ks-orders") == confluent_kafka.KafkaError.CLUSTER_AUTHORIZATION_FAILED
        status, body = http_json("POST", c.v3(1) + "/producers", {}, headers=alice_http)
        assert status == 403, body
        rest_grant(c, resource_name="ks-secret")  # WRITE on another topic: a producer id for any
        assert deliveries(alice, "ks-secret", [b"i2"]) == [None]
        status, body = http_json("POST", c.v3(2) + "/producers", {}, headers=alice_http)
        assert status == 200, body
        revoke_all(c)
        rest_grant(c, resource_type="CLUSTER", resource_name="kafka-cluster", operation="IDEMPOTENT_WRITE")
        status, body = http_json("POST", c.v3(3) + "/producers", {}, headers=alice_http)
        assert status == 200, body
    finally:
        revoke_all(c)


def fatal_error(conf: dict, topic: str) -> int | None:
    """The code of the fatal error a producer stops with (an id refused), within 20 s."""
    producer = confluent_kafka.Producer({"message.timeout.ms": 8000, **conf})
    producer.produce(topic, b"x")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            producer.poll(0.1)
        except confluent_kafka.KafkaException as exc:
            return exc.args[0].code()
    return None
