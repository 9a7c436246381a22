"""Names past ACLs, and the cluster's own topics, on a real 3-node cluster with `[security]`.

A user may learn a topic's name only where it may DESCRIBE the topic: in a group's lags,
a REST consumer's pattern subscription and a KIP-848 member's regex (ConsumerGroupHeartbeat
answers with topic ids). And only the cluster creates, deletes or grows its internal
topics, whichever door a client knocks on; they keep the replication their settings give.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

import pytest
from cluster_client import V2_JSON
from kafka_wire import kafka_socket, minimal_request, sasl_plain, wire_call

from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402

SECURITY = security_toml({u: f"{u}-password" for u in ("admin", "alice")})
OPEN, SECRET = "nm-open", "nm-secret"


def basic(user: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{user}-password".encode()).decode()}


ADMIN, ALICE = basic("admin"), basic("alice")


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN) as c:
        c.start().wait_ready(timeout_s=60)
        for topic in (OPEN, SECRET):
            status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic, "partitions_count": 1},
                                     headers=ADMIN)
            assert status == 201, body
        grant(c, "TOPIC", OPEN, "DESCRIBE")  # alice sees nm-open only
        yield c


def grant(c, resource_type: str, name: str, operation: str) -> None:
    acl = {"resource_type": resource_type, "resource_name": name, "pattern_type": "LITERAL",
           "principal": "User:alice", "host": "*", "operation": operation, "permission": "ALLOW"}
    status, body = http_json("POST", c.v3(1) + "/acls", acl, headers=ADMIN)
    assert status == 201, body


def sasl(c, user: str) -> dict:
    return {"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": user, "sasl.password": f"{user}-password"}


def topic_id(c, name: str) -> uuid.UUID:
    status, body = http_json("GET", c.v3(1) + f"/topics/{name}", headers=ADMIN)
    assert status == 200, body
    return uuid.UUID(body["topic_id"])


def commit_as_admin(c, group: str) -> None:
    """Offsets of the group on both topics (a commit from outside the group, as an admin tool does)."""
    consumer = confluent_kafka.Consumer({**sasl(c, "admin"), "group.id": group, "enable.auto.commit": False})
    try:
        offsets = [confluent_kafka.TopicPartition(t, 0, 0) for t in (OPEN, SECRET)]
        committed = consumer.commit(offsets=offsets, asynchronous=False)
        assert all(tp.error is None for tp in committed), committed
    finally:
        consumer.close()


def test_group_lags_name_only_topics_the_user_may_describe(cluster):
    c, group = cluster, "nm-lags"
    commit_as_admin(c, group)
    grant(c, "GROUP", group, "DESCRIBE")
    status, body = http_json("GET", c.v3(2) + f"/consumer-groups/{group}/lags", headers=ADMIN)
    assert status == 200 and {r["topic_name"] for r in body["data"]} == {OPEN, SECRET}, body
    status, body = http_json("GET", c.v3(2) + f"/consumer-groups/{group}/lags", headers=ALICE)
    assert status == 200 and [r["topic_name"] for r in body["data"]] == [OPEN], body
    status, body = http_json("GET", c.v3(3) + f"/consumer-groups/{group}/lag-summary", headers=ALICE)
    assert status == 200 and body["max_lag_topic_name"] == OPEN, body
    status, body = http_json("GET", c.v3(1) + f"/consumer-groups/{group}/lags/{SECRET}/partitions/0",
                             headers=ALICE)
    assert status == 403 and SECRET in body["message"] and "offset" not in body, body


def test_a_rest_pattern_subscription_names_only_topics_the_user_may_describe(cluster):
    c, group = cluster, "nm-rest"
    grant(c, "GROUP", group, "READ")
    headers = {**ALICE, "Content-Type": V2_JSON, "Accept": "application/vnd.kafka.v2+json"}
    status, body = http_json("POST", c.url(1) + f"/consumers/{group}", {"name": "i1", "format": "json"},
                             headers=headers)
    assert status == 200, body
    instance = f"/consumers/{group}/instances/i1"
    status, body = http_json("POST", c.url(1) + instance + "/subscription", {"topic_pattern": "nm-.*"},
                             headers=headers)
    assert status == 204, body
    status, body = http_json("GET", c.url(2) + instance + "/subscription", headers=headers)
    assert status == 200 and body["topics"] == [OPEN], body
    http_json("DELETE", c.url(1) + instance, headers=headers)


def heartbeat_on_coordinator(c, group: str, regex: str):
    """A first ConsumerGroupHeartbeat (v1: with a regex) as alice, on whichever node
    coordinates the group (the others answer NOT_COORDINATOR, or not yet loaded)."""
    request = minimal_request(68, 1, group_id=group, member_id=uuid.uuid4().hex, member_epoch=0,
                              rebalance_timeout=timedelta(seconds=30),
                              subscribed_topic_regex=regex, subscribed_topic_names=None,
                              topic_partitions=None, instance_id=None, rack_id=None, server_assignor=None)
    deadline = time.monotonic() + 60
    answer = None
    while time.monotonic() < deadline:
        for node in (1, 2, 3):
            with kafka_socket(c, node) as s:
                sasl_plain(s, "alice", "alice-password")
                answer = wire_call(s, request, 3)
            if int(answer.error_code.value) not in (14, 15, 16):  # loading, unavailable, not coordinator
                return answer
        time.sleep(0.5)
    raise AssertionError(f"no node coordinated {group} within 60 s: {answer}")


def test_a_kip848_regex_resolves_only_to_topics_the_member_may_describe(cluster):
    c, group = cluster, "nm-848"
    grant(c, "GROUP", group, "READ")
    answer = heartbeat_on_coordinator(c, group, "nm-.*")
    assert int(answer.error_code.value) == 0, answer
    ids = {t.topic_id for t in answer.assignment.topic_partitions}
    assert ids == {topic_id(c, OPEN)}, (ids, topic_id(c, SECRET))


def test_a_kip848_subscription_by_name_to_a_hidden_topic_is_refused(cluster):
    c, group = cluster, "nm-848-names"
    grant(c, "GROUP", group, "READ")
    request = minimal_request(68, 1, group_id=group, member_id=uuid.uuid4().hex, member_epoch=0,
                              rebalance_timeout=timedelta(seconds=30),
                              subscribed_topic_names=(OPEN, SECRET), subscribed_topic_regex=None,
                              topic_partitions=None, instance_id=None, rack_id=None, server_assignor=None)
    with kafka_socket(c, 1) as s:
        sasl_plain(s, "alice", "alice-password")
        answer = wire_call(s, request, 3)
    assert int(answer.error_code.value) == 29, answer  # TOPIC_AUTHORIZATION_FAILED, on any node
    assert answer.assignment is None


@pytest.mark.parametrize("name", ["__transaction_state", "__consumer_offsets"])
def test_no_client_creates_an_internal_topic_through_either_door(cluster, name):
    c = cluster
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": name, "partitions_count": 1,
                                                           "replication_factor": 1}, headers=ADMIN)
    assert status == 422 and body["error_code"] == 42206 and "internal topic" in body["message"], body
    admin = cadmin.AdminClient(sasl(c, "admin"))
    future = admin.create_topics([cadmin.NewTopic(name, 1, 1)], request_timeout=15)[name]
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        future.result(20)
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.INVALID_REQUEST


def test_internal_topics_keep_their_replication_and_are_neither_deleted_nor_grown(cluster):
    """After a refused create, the first transaction makes __transaction_state with the
    configured replication (3 here), not one replica."""
    c = cluster
    http_json("POST", c.v3(1) + "/topics", {"topic_name": "__transaction_state", "partitions_count": 1,
                                            "replication_factor": 1}, headers=ADMIN)
    producer = confluent_kafka.Producer({**sasl(c, "admin"), "transactional.id": "nm-txn"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(OPEN, b"v")
    producer.commit_transaction(30)
    status, body = http_json("GET", c.v3(2) + "/topics/__transaction_state", headers=ADMIN)
    assert status == 200 and body["replication_factor"] == 3 and body["partitions_count"] > 1, body
    for node, method, body_sent in ((1, "DELETE", None), (2, "PATCH", {"partitions_count": 100})):
        status, body = http_json(method, c.v3(node) + "/topics/__transaction_state", body_sent, headers=ADMIN)
        assert status == 422 and body["error_code"] == 42206, body
    admin = cadmin.AdminClient(sasl(c, "admin"))
    deleted = admin.delete_topics(["__transaction_state"], request_timeout=15)["__transaction_state"]
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        deleted.result(20)
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.INVALID_REQUEST
    grown = admin.create_partitions([cadmin.NewPartitions("__transaction_state", 100)],
                                    request_timeout=15)["__transaction_state"]
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        grown.result(20)
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.INVALID_REQUEST
