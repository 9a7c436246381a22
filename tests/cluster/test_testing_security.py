"""Cluster(security=True): a ready user and the cluster's CA, used by a real Kafka client
with nothing but client_config(); the REST API and the fault methods work the same."""

import ssl
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from kraft.server.local_cluster import http_json
from kraft.testing import Cluster

pytestmark = pytest.mark.cluster
CLIENT_BOUND_S = 60


@pytest.fixture(scope="module")
def secured():
    with Cluster(nodes=1, security=True) as c:
        yield c


def test_a_client_with_client_config_produces_and_consumes(secured):
    c = secured
    config = c.client_config()
    assert config["security.protocol"] == "SASL_SSL" and config["sasl.username"] == c.user
    assert config["ssl.ca.location"] == str(c.ca_file) and c.ca_file.read_bytes().startswith(b"-----BEGIN")
    topic = c.new_topic()
    producer = Producer({**config, "acks": "all"})
    producer.produce(topic, b"secret")
    assert producer.flush(CLIENT_BOUND_S) == 0
    consumer = Consumer({**config, "group.id": "g-secured", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        deadline, got = time.monotonic() + CLIENT_BOUND_S, None
        while got is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            got = msg.value() if msg is not None and msg.error() is None else None
        assert got == b"secret"
        # the fault that speaks the Kafka protocol itself (LeaveGroup) authenticates too
        c.expire_session("g-secured", consumer.memberid())
    finally:
        consumer.close()


def test_without_the_credentials_or_the_ca_a_client_gets_nothing(secured):
    c = secured
    no_password = {**c.client_config(), "sasl.password": "wrong"}
    no_ca = {k: v for k, v in c.client_config().items() if k != "ssl.ca.location"}
    plain = {"bootstrap.servers": c.bootstrap_servers}
    for config, refusal in ((no_password, {KafkaError._AUTHENTICATION}), (no_ca, {KafkaError._SSL}),
                            (plain, {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN})):
        reported: list = []
        admin = AdminClient({**config, "socket.timeout.ms": 5000, "error_cb": reported.append})
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=1)
        # refused, not merely slow: the client names why (error_cb is served by poll)
        deadline = time.monotonic() + CLIENT_BOUND_S
        while not refusal & {e.code() for e in reported} and time.monotonic() < deadline:
            admin.poll(0.2)
        assert refusal & {e.code() for e in reported}, [e.str() for e in reported]


def test_rest_takes_the_user_over_https_with_the_ca(secured):
    c = secured
    assert c.rest_url.startswith("https://")
    context = ssl.create_default_context(cafile=str(c.ca_file))
    status, body = http_json("GET", c.rest_url + "/v3/clusters", context=context, timeout=20,
                             headers=c.security.rest_headers())
    assert status == 200 and body["data"][0]["cluster_id"] == c.cluster_id
    assert http_json("GET", c.rest_url + "/v3/clusters", context=context, timeout=20)[0] == 401


def test_security_and_a_security_table_of_ones_own_do_not_mix():
    with pytest.raises(ValueError, match="extra_toml"):
        Cluster(nodes=1, security=True, extra_toml="[security]\nsuper_users = []\n")
