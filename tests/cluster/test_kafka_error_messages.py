"""Kafka answers carry the refusal's own words where the protocol has an error-message
field, the same words REST answers with: a real client prints them instead of its
generic text for the code ("Broker: Invalid topic", "Message size too large")."""

from __future__ import annotations

import pytest
from cluster_client import call
from kafka_wire import kafka_socket, wire_call

pytestmark = pytest.mark.cluster

kafka = pytest.importorskip("kafka", reason="kafka-python is a test extra: ./dev test installs it")
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import KafkaException  # noqa: E402
from confluent_kafka import admin as cadmin  # noqa: E402
from kafka import errors as kerrors  # noqa: E402

TOPIC = "errmsg-small"
LIMIT = 1000  # the topic's max.message.bytes


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    c = shared_cluster
    status, body = call("POST", c.v3(1) + "/topics", {
        "topic_name": TOPIC, "partitions_count": 1, "replication_factor": 1,
        "configs": [{"name": "max.message.bytes", "value": str(LIMIT)}]})
    assert status == 201, body
    return c


def test_a_produce_refusal_reaches_a_kafka_client_with_its_reason(cluster):
    producer = kafka.KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all", retries=0,
                                   max_request_size=1_000_000, request_timeout_ms=15_000)
    try:
        with pytest.raises(kerrors.MessageSizeTooLargeError) as refused:
            producer.send(TOPIC, b"x" * (4 * LIMIT), partition=0).get(timeout=30)
    finally:
        producer.close(timeout=10)
    said = str(refused.value)
    status, rest = call("POST", cluster.v3(1) + f"/topics/{TOPIC}/records",
                        {"partition_id": 0, "value": {"type": "STRING", "data": "x" * (4 * LIMIT)}})
    assert status == 413, rest
    # Kafka measures the batch, REST the record: the same rule, in the same words
    for words in (f"larger than max.message.bytes ({LIMIT}) of topic '{TOPIC}'",):
        assert words in said and words in rest["message"], (said, rest)


def _admin_error(future) -> str:
    with pytest.raises(KafkaException) as failed:
        future.result(timeout=30)
    return failed.value.args[0].str()


@pytest.mark.parametrize("topic, rest_body", [
    ("bad name!", {"topic_name": "bad name!"}),
    (cadmin.NewTopic(TOPIC, 1, 1), {"topic_name": TOPIC}),
    (cadmin.NewTopic("errmsg-rf", 1, 99), {"topic_name": "errmsg-rf", "replication_factor": 99}),
    (cadmin.NewTopic("errmsg-cfg", 1, 1, config={"no.such.config": "1"}),
     {"topic_name": "errmsg-cfg", "configs": [{"name": "no.such.config", "value": "1"}]}),
    (cadmin.NewTopic("errmsg-val", 1, 1, config={"retention.ms": "soon"}),
     {"topic_name": "errmsg-val", "configs": [{"name": "retention.ms", "value": "soon"}]}),
], ids=["illegal name", "exists", "replication factor", "unknown config", "config value"])
def test_an_admin_clients_refused_create_says_what_rest_says(cluster, topic, rest_body):
    admin = cadmin.AdminClient({"bootstrap.servers": cluster.bootstrap_servers})
    new = topic if isinstance(topic, cadmin.NewTopic) else cadmin.NewTopic(topic, 1, 1)
    said = _admin_error(admin.create_topics([new], validate_only=True)[new.topic])
    status, rest = call("POST", cluster.v3(1) + "/topics", rest_body)
    assert status in (400, 422), rest
    assert said == rest["message"], (said, rest)


def test_describe_producers_names_why_a_partition_has_no_answer(cluster):
    from kio.schema.describe_producers.v0.request import DescribeProducersRequest, TopicRequest
    with kafka_socket(cluster) as s:
        answer = wire_call(s, DescribeProducersRequest(topics=(TopicRequest(name="errmsg-none", partition_indexes=(0,)),)))
    (part,) = answer.topics[0].partitions
    assert int(part.error_code.value) == 3, part  # UNKNOWN_TOPIC_OR_PARTITION
    assert part.error_message and "errmsg-none" in part.error_message, part
