"""A Metadata answer's topic entries are written once per topic state
(kraft/kafka/handlers/metadata_topics.py): what a client reads must still be the image of
the moment, through a leader change, a fenced broker, a deleted topic and every version."""

from __future__ import annotations

import uuid

from kraft.kafka.handlers.metadata_topics import EncodedTopics, _topic_class, topic_view
from kraft.kafka.wire.codec import RequestHead, decode_response, encode_response, response_class
from kraft.kafka.wire.entities import build
from kraft.kafka.wire.wire_writer import Encoded
from kraft.metadata.records import (BecomeController, BrokerRegistrationChange, MetadataBatch, PartitionChange,
                                    PartitionRecord, RegisterBroker, RemoveTopic, TopicRecord, encode_batch)
from kraft.metadata.state_machine import MetadataStateMachine

IDS = {name: uuid.uuid4().hex for name in ("a", "b")}


def cluster():
    sm = MetadataStateMachine()

    def apply(*records):
        assert sm.apply(encode_batch(MetadataBatch(controller_epoch=1, request_id=None, records=records))).ok

    apply(BecomeController(controller_id=1, controller_epoch=1))
    apply(*(RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1", http_port=8080 + b)
            for b in (1, 2, 3)))
    for b in (1, 2, 3):
        apply(BrokerRegistrationChange(broker_id=b, broker_epoch=sm.image.brokers[b].broker_epoch, fenced=False))
    for name, topic_id in IDS.items():
        apply(TopicRecord(name=name, topic_id=topic_id),
              *(PartitionRecord(topic_id=topic_id, partition=p, replicas=(1, 2, 3), isr=(1, 2, 3), leader=1 + p % 3)
                for p in range(4)))
    return sm, apply


def answer(cache: EncodedTopics, sm: MetadataStateMachine, version: int, cached: bool):
    """What a client decodes from an answer for every topic, written with or without the cache."""
    image = sm.image
    live = frozenset(image.unfenced_broker_ids())
    topics = sorted(image.topics.values(), key=lambda t: t.name)
    entries = ([cache.entry(image, t, live, version) for t in topics] if cached
               else [topic_view(image, t, live) for t in topics])
    body = build(response_class(3, version), {"throttle_time": 0, "brokers": [], "cluster_id": "c",
                                               "controller_id": 1, "topics": entries, "error_code": 0,
                                               "cluster_authorized_operations": -2147483648})
    frame = encode_response(RequestHead(3, version, 7, None), body)
    return frame, decode_response(3, version, frame[4:])


def test_cached_entries_follow_every_change_of_the_image_at_every_version():
    cache = EncodedTopics()
    sm, apply = cluster()
    for version in range(1, 14):
        assert answer(cache, sm, version, True)[0] == answer(cache, sm, version, False)[0]
    first = answer(cache, sm, 12, True)[1]
    assert [p.leader_id for p in first.topics[0].partitions] == [1, 2, 3, 1]

    part = sm.image.topics[IDS["a"]].partitions[0]
    apply(PartitionChange(topic_id=IDS["a"], partition=0, leader=2, isr=(2, 3),
                          expected_partition_epoch=part.partition_epoch))
    moved = answer(cache, sm, 12, True)
    assert moved[0] == answer(cache, sm, 12, False)[0]
    assert moved[1].topics[0].partitions[0].leader_id == 2
    assert list(moved[1].topics[0].partitions[0].isr_nodes) == [2, 3]

    apply(BrokerRegistrationChange(broker_id=3, broker_epoch=sm.image.brokers[3].broker_epoch, fenced=True))
    fenced = answer(cache, sm, 12, True)
    assert fenced[0] == answer(cache, sm, 12, False)[0]
    assert all(list(p.offline_replicas) == [3] for t in fenced[1].topics for p in t.partitions)

    apply(RemoveTopic(topic_id=IDS["b"]))
    assert [t.name for t in answer(cache, sm, 12, True)[1].topics] == ["a"]


def test_an_unchanged_topic_is_written_once_and_deleted_topics_leave_the_cache():
    cache = EncodedTopics()
    sm, apply = cluster()
    live = frozenset(sm.image.unfenced_broker_ids())
    topic = sm.image.topics[IDS["b"]]
    once = cache.entry(sm.image, topic, live, 12)
    assert type(once) is Encoded
    part = sm.image.topics[IDS["a"]].partitions[1]
    apply(PartitionChange(topic_id=IDS["a"], partition=1, leader=3, expected_partition_epoch=part.partition_epoch))
    assert sm.image.topics[IDS["b"]] is topic  # the other topic's state is the same object
    assert cache.entry(sm.image, sm.image.topics[IDS["b"]], live, 12) is once
    apply(RemoveTopic(topic_id=IDS["b"]))
    more = [uuid.uuid4().hex for _ in range(40)]
    apply(*(TopicRecord(name=f"c{n}", topic_id=topic_id) for n, topic_id in enumerate(more)))
    for topic_id in more:  # new topics' entries at two versions fill the cache past its sweep
        for version in (9, 12):
            cache.entry(sm.image, sm.image.topics[topic_id], live, version)
    assert all(key[1] != IDS["b"] for key in cache._entries)
    assert len(cache._entries) == 80  # and every live topic's entries stay


def test_the_topic_entry_class_is_each_versions_own():
    assert {_topic_class(v).__module__ for v in (1, 12)} == {"kio.schema.metadata.v1.response",
                                                             "kio.schema.metadata.v12.response"}
