"""SASL/OAUTHBEARER with real clients: confluent-kafka's default method (an unsecured JWT
naming alice, as librdkafka's sasl.oauthbearer.config=principal=alice makes it) held to
alice's ACLs; its OIDC method against a token server started here, whose signed tokens
the cluster checks against the server's JWKS; refused tokens (expired, signed by an
unknown key, for another audience) fail the login and the client is told why; the HTTP
door takes the same tokens as `Authorization: Bearer`."""

from __future__ import annotations

import base64
import importlib.util
import json
import time
from pathlib import Path

import pytest
from kafka_wire import kafka_socket, wire_call

from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402

ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
USERS = {"admin": "admin-password"}


def _token_server_module():
    path = Path(__file__).resolve().parents[2] / "bench" / "oidc_token_server.py"
    spec = importlib.util.spec_from_file_location("bench_oidc_token_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oidc = _token_server_module()


def unsecured_token(principal: str, lifetime_s: int = 60) -> str:
    def b64(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    now = int(time.time())
    return f"{b64({'alg': 'none'})}.{b64({'sub': principal, 'iat': now, 'exp': now + lifetime_s})}."


def start(extra_toml: str) -> LocalCluster:
    c = LocalCluster(nodes=1, extra_toml=extra_toml, headers=ADMIN_HTTP, topic_defaults={"replication.factor": 1})
    c.start().wait_ready(timeout_s=60)
    admin = cadmin.AdminClient({"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
                                "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "admin",
                                "sasl.password": USERS["admin"]})
    for future in admin.create_topics([cadmin.NewTopic(t, 1, 1) for t in ("ob-allowed", "ob-denied")]).values():
        future.result(30)
    return c


def grant(c, principal: str, operation: str, resource_type: str = "TOPIC", name: str = "ob-allowed",
          pattern: str = "LITERAL") -> None:
    acl = {"resource_type": resource_type, "resource_name": name, "pattern_type": pattern,
           "principal": principal, "host": "*", "operation": operation, "permission": "ALLOW"}
    status, body = http_json("POST", c.v3(1) + "/acls", acl, headers=ADMIN_HTTP)
    assert status == 201, body


def deliveries(conf: dict, topic: str, values: list[bytes], timeout_ms: int = 10000,
               until=lambda seen: True) -> tuple[list, list]:
    """(the delivery error of each message, None = delivered; the errors error_cb saw, once
    `until` holds for them or 20 s passed)."""
    seen: list = []
    producer = confluent_kafka.Producer({"message.timeout.ms": timeout_ms, "enable.idempotence": False,
                                         "error_cb": seen.append, **conf})
    errors: list = []
    for v in values:
        producer.produce(topic, v, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(timeout_ms / 1000 + 10)
    deadline = time.monotonic() + 20
    while not until(seen) and time.monotonic() < deadline:
        producer.poll(0.2)  # serves error_cb
    return errors, seen


def consume(conf: dict, topic: str, group: str, count: int, timeout_s: float = 20.0) -> list[bytes]:
    consumer = confluent_kafka.Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append(msg.value())
    finally:
        consumer.close()
    return got


def end_offset(c, topic: str) -> int:
    status, body = http_json("GET", c.url(1) + f"/topics/{topic}/partitions/0/offsets", headers=ADMIN_HTTP)
    assert status == 200, body
    return body["end_offset"]


# -- unsecured JWTs: librdkafka's default OAUTHBEARER method ---------------------------

@pytest.fixture(scope="module")
def unsecured_cluster():
    toml = security_toml(USERS, **{"sasl.enabled.mechanisms": ["SCRAM-SHA-256", "OAUTHBEARER"],
                                   "sasl.oauthbearer.allow.unsecured.jwt": True})
    with start(toml) as c:
        yield c


def as_alice(c) -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.config": "principal=alice",
            "enable.sasl.oauthbearer.unsecure.jwt": True}


def test_unsecured_token_logs_in_alice_held_to_her_acls(unsecured_cluster):
    c = unsecured_cluster
    errors, _ = deliveries(as_alice(c), "ob-allowed", [b"before"])
    assert errors[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED  # logged in, not allowed
    grant(c, "User:alice", "WRITE")
    grant(c, "User:alice", "READ")
    grant(c, "User:alice", "READ", "GROUP", "alice-", "PREFIXED")
    assert deliveries(as_alice(c), "ob-allowed", [b"a1", b"a2"])[0] == [None, None]
    assert consume(as_alice(c), "ob-allowed", "alice-g", 2) == [b"a1", b"a2"]
    errors, _ = deliveries(as_alice(c), "ob-denied", [b"x"])
    assert errors[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert end_offset(c, "ob-denied") == 0


def test_scram_still_served_beside_oauthbearer_and_plain_is_not_offered(unsecured_cluster):
    c = unsecured_cluster
    base = {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.username": "admin", "sasl.password": "admin-password"}
    assert deliveries({**base, "sasl.mechanism": "SCRAM-SHA-256"}, "ob-denied", [b"s"])[0] == [None]
    # given up after 1 s of refused logins; the check is the reason the client is told
    errors, seen = deliveries({**base, "sasl.mechanism": "PLAIN"}, "ob-denied", [b"p"], timeout_ms=1000,
                              until=lambda seen: any("Unsupported SASL mechanism" in e.str() for e in seen))
    assert errors[0] is not None
    assert any("Unsupported SASL mechanism" in e.str() for e in seen), [e.str() for e in seen]


def oauthbearer_login(c, token: str):
    """SaslHandshake v1 + SaslAuthenticate v2 on a raw connection: (the socket, the answer)."""
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    s = kafka_socket(c)
    assert int(wire_call(s, SaslHandshakeRequest(mechanism="OAUTHBEARER"), 1).error_code.value) == 0
    message = b"n,,\x01auth=Bearer " + token.encode() + b"\x01\x01"
    return s, wire_call(s, SaslAuthenticateRequest(auth_bytes=message), 2)


def test_wire_refusal_is_rfc7628_and_the_session_ends_with_the_token(unsecured_cluster):
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    s, answer = oauthbearer_login(unsecured_cluster, unsecured_token("alice", lifetime_s=-30))
    try:  # first the error JSON (code 0), then, once the client acknowledges, the failure
        assert int(answer.error_code.value) == 0 and json.loads(answer.auth_bytes) == {"status": "invalid_token"}
        final = wire_call(s, SaslAuthenticateRequest(auth_bytes=b"\x01"), 3)
        assert int(final.error_code.value) == 58 and "expired" in final.error_message
    finally:
        s.close()
    s, answer = oauthbearer_login(unsecured_cluster, unsecured_token("alice", lifetime_s=40))
    try:  # KIP-368: the login lasts no longer than the token
        lifetime_ms = answer.session_lifetime.total_seconds() * 1000
        assert int(answer.error_code.value) == 0 and 20_000 < lifetime_ms <= 40_000, lifetime_ms
    finally:
        s.close()


def test_a_saslauthenticate_v0_login_ends_with_its_token(unsecured_cluster):
    # a client that cannot re-authenticate (SaslAuthenticate v0) is not served past its
    # token's expiry: its connection is closed, as Kafka closes an expired session's
    from kio.schema.metadata.v12.request import MetadataRequest
    from kio.schema.sasl_authenticate.v0.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    s = kafka_socket(unsecured_cluster)
    try:
        assert int(wire_call(s, SaslHandshakeRequest(mechanism="OAUTHBEARER"), 1).error_code.value) == 0
        token = unsecured_token("alice", lifetime_s=3)
        message = b"n,,\x01auth=Bearer " + token.encode() + b"\x01\x01"
        assert int(wire_call(s, SaslAuthenticateRequest(auth_bytes=message), 2).error_code.value) == 0
        metadata = MetadataRequest(topics=None, allow_auto_topic_creation=False,
                                   include_topic_authorized_operations=False)
        assert wire_call(s, metadata, 3).brokers  # served while the token is valid
        exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
        time.sleep(max(0.0, exp + 0.5 - time.time()))  # past the token's exp
        with pytest.raises(ConnectionError):
            wire_call(s, metadata, 4)
    finally:
        s.close()


def test_rest_takes_a_bearer_token_under_the_same_acls(unsecured_cluster):
    c = unsecured_cluster
    grant(c, "User:alice", "DESCRIBE")
    alice = {"Authorization": "Bearer " + unsecured_token("alice")}
    status, body = http_json("GET", c.v3(1) + "/topics/ob-allowed", headers=alice)
    assert status == 200, body
    status, body = http_json("GET", c.v3(1) + "/topics/ob-denied", headers=alice)
    assert status in (403, 404), body  # hidden or refused: never shown to alice
    for token, reason in ((unsecured_token("alice", lifetime_s=-30), "expired"), ("not.a-token", "")):
        status, body = http_json("GET", c.v3(1) + "/topics/ob-allowed", headers={"Authorization": f"Bearer {token}"})
        assert status == 401, body
        assert reason in body["message"] and "Traceback" not in json.dumps(body)


# -- signed JWTs checked against the identity provider's JWKS ------------------------

@pytest.fixture(scope="module")
def idp():
    with oidc.OidcTokenServer(lifetime_s=30) as server:
        yield server


@pytest.fixture(scope="module")
def signed_cluster(idp):
    toml = security_toml(USERS, **{"sasl.enabled.mechanisms": ["OAUTHBEARER", "SCRAM-SHA-256"],
                                   "sasl.oauthbearer.jwks.endpoint.url": idp.url("/jwks"),
                                   "sasl.oauthbearer.expected.audience": [oidc.AUDIENCE],
                                   "sasl.oauthbearer.expected.issuer": oidc.ISSUER})
    with start(toml) as c:
        grant(c, f"User:{idp.client_id}", "WRITE")
        grant(c, f"User:{idp.client_id}", "READ")
        grant(c, f"User:{idp.client_id}", "READ", "GROUP", "oidc-", "PREFIXED")
        yield c


def with_oidc(c, idp, path: str = "/token") -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.method": "oidc",
            "sasl.oauthbearer.client.id": idp.client_id, "sasl.oauthbearer.client.secret": idp.client_secret,
            "sasl.oauthbearer.token.endpoint.url": idp.url(path)}


def test_oidc_client_with_a_signed_token_produces_and_consumes(signed_cluster, idp):
    c = signed_cluster
    assert deliveries(with_oidc(c, idp), "ob-allowed", [b"o1", b"o2"])[0] == [None, None]
    assert consume(with_oidc(c, idp), "ob-allowed", "oidc-g", 2) == [b"o1", b"o2"]
    errors, _ = deliveries(with_oidc(c, idp), "ob-denied", [b"x"])
    assert errors[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED


@pytest.mark.parametrize("path, reason", [("/token/expired", "expired"), ("/token/unknown-key", "key"),
                                          ("/token/wrong-audience", "audience"), ("/token/invalid", "signature")])
def test_refused_tokens_fail_the_login_and_the_client_is_told(signed_cluster, idp, path, reason):
    c = signed_cluster
    before = end_offset(c, "ob-allowed")
    def told(seen: list) -> bool:
        return any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION
                   and (path == "/token/expired" or reason in e.str()) for e in seen)
    # given up after 1 s of refused logins; the check is the reason the client is told
    errors, seen = deliveries(with_oidc(c, idp, path), "ob-allowed", [b"nope"], timeout_ms=1000, until=told)
    assert errors[0] is not None
    texts = [e.str() for e in seen]
    assert any(e.code() == confluent_kafka.KafkaError._AUTHENTICATION for e in seen), texts
    if path != "/token/expired":  # librdkafka itself refuses to send an expired token
        assert any(reason in t for t in texts), texts
    assert not any("Traceback" in t or "/kraft/" in t for t in texts), texts
    assert end_offset(c, "ob-allowed") == before


def test_rest_takes_a_signed_bearer_token(signed_cluster, idp):
    c = signed_cluster
    grant(c, f"User:{idp.client_id}", "DESCRIBE")
    ok = {"Authorization": "Bearer " + idp.token(idp.client_id)}
    assert http_json("GET", c.v3(1) + "/topics/ob-allowed", headers=ok)[0] == 200
    for kind, reason in (("expired", "expired"), ("unknown-key", "key"), ("wrong-audience", "audience")):
        headers = {"Authorization": "Bearer " + idp.token(idp.client_id, kind)}
        status, body = http_json("GET", c.v3(1) + "/topics/ob-allowed", headers=headers)
        assert status == 401 and reason in body["message"], (kind, status, body)
    # an unsecured token naming the same client is no signed token
    headers = {"Authorization": "Bearer " + unsecured_token(idp.client_id)}
    assert http_json("GET", c.v3(1) + "/topics/ob-allowed", headers=headers)[0] == 401


def test_kafka_python_sends_extensions_and_acknowledges_a_refusal(unsecured_cluster, caplog):
    """kafka-python's OAUTHBEARER: a token with RFC 7628 extensions logs alice in; an
    expired one is refused (kafka-python answers the error JSON with \\x01, as RFC 7628
    says) and nothing is written."""
    kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra")
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class Tokens(AbstractTokenProvider):
        def __init__(self, lifetime_s: int) -> None:
            self.lifetime_s = lifetime_s

        def token(self) -> str:
            return unsecured_token("alice", self.lifetime_s)

        def extensions(self) -> dict:
            return {"traceId": "kp-1"}

    c = unsecured_cluster
    grant(c, "User:alice", "WRITE")

    def producer(lifetime_s: int, bootstrap_timeout_ms: int = 5000):
        return kafka.KafkaProducer(bootstrap_servers=c.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                                   sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=Tokens(lifetime_s),
                                   request_timeout_ms=5000, max_block_ms=5000,
                                   bootstrap_timeout_ms=bootstrap_timeout_ms)

    before = end_offset(c, "ob-allowed")
    good = producer(60)
    try:
        good.send("ob-allowed", b"kp").get(timeout=15)
    finally:
        good.close(timeout=5)
    assert end_offset(c, "ob-allowed") == before + 1
    # a refused login is retried until the bootstrap timeout (30 s by default; the refusal
    # comes in a fraction of a second, and kafka-python logs it)
    with caplog.at_level("ERROR", logger="kafka"), \
            pytest.raises(kafka.errors.KafkaError):  # kafka-python reports it as failing to bootstrap
        bad = producer(-30)
        try:
            bad.send("ob-allowed", b"never").get(timeout=10)
        finally:
            bad.close(timeout=5)
    assert "SaslAuthenticationFailedError" in caplog.text and "expired" in caplog.text, caplog.text
    assert end_offset(c, "ob-allowed") == before + 1
