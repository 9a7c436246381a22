"""SASL re-authentication (KIP-368): with connections.max.reauth.ms set, a login is told its
lifetime; past it the connection serves nothing but a new login, and a re-authentication
keeps the connection (same principal only). librdkafka's 0142_reauthentication reads the
setting from DescribeConfigs and re-authenticates while it produces."""

from __future__ import annotations

import base64
import json
import time

import pytest
from kafka_wire import closed_by_broker, kafka_socket, wire_call

from kraft.server.local_cluster import LocalCluster, security_toml

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402

LIFETIME_MS = 4000  # librdkafka re-authenticates at 90 %: 400 ms of slack on a loaded machine (150 ms was not enough)
USERS = {"admin": "admin-password", "alice": "alice-password"}
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}


@pytest.fixture(scope="module")
def cluster():
    toml = security_toml(USERS)
    with LocalCluster(nodes=1, extra_toml=toml, headers=ADMIN_HTTP, topic_defaults={"replication.factor": 1},
                      timeouts={"connections.max.reauth.ms": LIFETIME_MS}) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def login(s, user: str, correlation_id: int = 1):
    """SaslHandshake v1 + SaslAuthenticate v2 with PLAIN: the answer to the second."""
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    assert int(wire_call(s, SaslHandshakeRequest(mechanism="PLAIN"), correlation_id).error_code.value) == 0
    token = b"\0" + user.encode() + b"\0" + USERS[user].encode()
    return wire_call(s, SaslAuthenticateRequest(auth_bytes=token), correlation_id + 1)


def lifetime_ms(answer) -> int:
    return int(answer.session_lifetime.total_seconds() * 1000)


def metadata_answered(s, correlation_id: int) -> bool:
    from kio.schema.metadata.v1.request import MetadataRequest
    try:
        wire_call(s, MetadataRequest(topics=()), correlation_id)
        return True
    except (ConnectionError, OSError):
        return False


def test_a_login_past_its_lifetime_serves_only_a_new_login(cluster):
    s = kafka_socket(cluster)
    try:
        first = login(s, "alice")
        assert int(first.error_code.value) == 0 and lifetime_ms(first) == LIFETIME_MS
        assert metadata_answered(s, 3)
        time.sleep(LIFETIME_MS / 2000)
        again = login(s, "alice", 4)  # re-authentication half way: a fresh lifetime
        again_at = time.monotonic()  # the second lifetime began before its answer came
        assert int(again.error_code.value) == 0 and lifetime_ms(again) == LIFETIME_MS
        time.sleep(LIFETIME_MS / 2000 + 0.3)  # past the first login's end, not the second's
        assert metadata_answered(s, 6)
        time.sleep(max(0.0, again_at + LIFETIME_MS / 1000 + 0.3 - time.monotonic()))  # past the second's
        # anything but SASL closes it now
        assert not metadata_answered(s, 7)
    finally:
        s.close()


def test_a_late_login_is_served_and_a_changed_principal_is_refused(cluster):
    from kio.schema.sasl_authenticate.v0.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    lasting = kafka_socket(cluster)  # without a lifetime (SaslAuthenticate v0) a login lasts
    s = kafka_socket(cluster)
    try:
        assert int(wire_call(lasting, SaslHandshakeRequest(mechanism="PLAIN")).error_code.value) == 0
        answer = wire_call(lasting, SaslAuthenticateRequest(auth_bytes=b"\0alice\0alice-password"), 2)
        assert int(answer.error_code.value) == 0
        assert int(login(s, "alice").error_code.value) == 0
        time.sleep(LIFETIME_MS / 1000 + 0.3)
        assert int(login(s, "alice", 3).error_code.value) == 0  # expired, then re-authenticated
        assert metadata_answered(s, 5)
        other = login(s, "admin", 6)  # admin's password is right, but the login was alice's
        assert int(other.error_code.value) == 58  # SASL_AUTHENTICATION_FAILED
        assert "principal" in other.error_message
        assert not metadata_answered(s, 8)
        # the v0 login, older than the lifetime that ran out above, still serves
        assert metadata_answered(lasting, 3)
        assert not closed_by_broker_soon(lasting)
    finally:
        s.close()
        lasting.close()


def closed_by_broker_soon(s) -> bool:
    s.settimeout(0.2)
    try:
        return closed_by_broker(s)
    except TimeoutError:
        return False


def test_librdkafka_reauthenticates_while_producing_and_reads_the_setting(cluster):
    conf = {"bootstrap.servers": cluster.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "admin", "sasl.password": "admin-password"}
    resource = cadmin.ConfigResource(cadmin.ResourceType.BROKER, "1")
    admin = cadmin.AdminClient(conf)  # kept: a collected client cancels its futures
    described = admin.describe_configs([resource])[resource].result(timeout=20)
    assert described["connections.max.reauth.ms"].value == str(LIFETIME_MS)

    stats: list[dict] = []
    errors: list = []
    producer = confluent_kafka.Producer({**conf, "statistics.interval.ms": 500, "linger.ms": 0,
                                         "stats_cb": lambda text: stats.append(json.loads(text)),
                                         "error_cb": errors.append})
    delivered: list = []
    sent = 0
    # two lifetimes and a second: librdkafka logs in again at 90 % of each lifetime, twice, and
    # production outlasts the first re-login's lifetime, so the second one must have been taken
    deadline = time.monotonic() + 2 * LIFETIME_MS / 1000 + 1
    while time.monotonic() < deadline:
        producer.produce("reauth-topic", b"%d" % sent,
                         on_delivery=lambda err, msg: delivered.append(err))
        sent += 1
        producer.poll(0.1)
    assert producer.flush(20) == 0
    producer.poll(1.0)  # one more statistics event
    assert delivered == [None] * sent and not errors
    brokers = [b for b in stats[-1]["brokers"].values() if b["nodeid"] >= 0]
    # the broker never closed the connection: librdkafka re-authenticated on it
    assert brokers and all(b["connects"] == 1 and b["disconnects"] == 0 for b in brokers), brokers
