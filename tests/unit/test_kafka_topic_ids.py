"""The pure lookups behind the newer request versions: topics named by id (OffsetCommit
and OffsetFetch v10) and KIP-951's leader hints (Produce v10), over a real metadata image."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from kraft.kafka.handlers.leaders import current_leader, node_endpoint
from kraft.kafka.handlers.topic_ids import id_of, name_of, request_topics
from kraft.metadata.image import BrokerRegistration, MetadataImage, PartitionRegistration, TopicImage

KNOWN = uuid.UUID("6f1c2a4e-0000-4000-8000-000000000001")


def node():
    topic = TopicImage("orders", KNOWN.hex, (PartitionRegistration((2, 1), (2, 1), 2, 7),))
    brokers = {2: BrokerRegistration(2, 1, "x", "10.0.0.2", 8082, ("broker",), kafka_port=9092, fenced=False,
                                     rack="r2"),
               3: BrokerRegistration(3, 1, "y", "10.0.0.3", 8083, ("broker",), kafka_port=None, fenced=False)}
    image = MetadataImage(offset=1, topics={topic.topic_id: topic}, topic_ids={"orders": topic.topic_id},
                          brokers=brokers)
    return SimpleNamespace(image=image, config=SimpleNamespace(node_or_none=lambda broker_id: None))


def test_topics_go_by_name_before_v10_and_by_id_from_it():
    n = node()
    named = [SimpleNamespace(name="orders"), SimpleNamespace(name="gone")]
    assert request_topics(n, 9, named) == [("orders", None), ("gone", None)]
    by_id = [SimpleNamespace(topic_id=KNOWN), SimpleNamespace(topic_id=uuid.uuid4()),
             SimpleNamespace(topic_id=uuid.UUID(int=0))]
    assert [name for name, _ in request_topics(n, 10, by_id)] == ["orders", None, None]  # unknown, zero: no name
    assert id_of(n, "orders") == KNOWN and id_of(n, "gone") is None and name_of(n, None) is None


def test_a_leader_hint_names_the_leader_its_epoch_and_its_kafka_endpoint():
    n = node()
    assert current_leader(n, "orders", 0) == (2, 7)
    assert current_leader(n, "orders", 1) == (-1, -1) and current_leader(n, "gone", 0) == (-1, -1)
    assert node_endpoint(n, 2) == {"node_id": 2, "host": "10.0.0.2", "port": 9092, "rack": "r2"}
    assert node_endpoint(n, 3) is None and node_endpoint(n, -1) is None  # no Kafka listener; no leader
