"""The partition counts of /metrics and the hosts view (kraft/metadata/partition_tallies.py)
are made per topic state and kept per image: after every step of a random history of real
metadata records they must be what a walk of every partition counts."""

from __future__ import annotations

import random
import uuid
from collections import Counter

from kraft.metadata import host_summary
from kraft.metadata.partition_tallies import Tallies
from kraft.metadata.records import (BecomeController, BrokerRegistrationChange, MetadataBatch, PartitionChange,
                                    PartitionRecord, RegisterBroker, RemoveTopic, TopicRecord, encode_batch)
from kraft.metadata.state_machine import MetadataStateMachine

BROKERS = (1, 2, 3, 4)


def walked(image) -> dict:
    """What a scrape counted before: every partition looked at."""
    parts = [p for t in image.topics.values() for p in t.partitions]
    return {"partitions": len(parts), "offline": sum(1 for p in parts if not p.online),
            "under": sum(1 for p in parts if p.online and p.under_replicated),
            "unclean": sum(p.unclean_elections for p in parts),
            "leaders": +Counter(p.leader for p in parts if p.online),
            "replicas": +Counter(b for p in parts for b in p.replicas),
            "under_by_leader": +Counter(p.leader for p in parts if p.online and p.under_replicated)}


def counted(tallies: Tallies, image) -> dict:
    t = tallies.of(image)
    return {"partitions": t.partitions, "offline": t.offline, "under": t.under_replicated,
            "unclean": t.unclean_elections, "leaders": +t.leaders, "replicas": +t.replicas,
            "under_by_leader": +t.under_by_leader}


def test_tallies_match_a_walk_through_a_random_history_of_records():
    rng = random.Random(7)
    sm = MetadataStateMachine()

    def apply(*records):
        assert sm.apply(encode_batch(MetadataBatch(controller_epoch=1, request_id=None, records=records))).ok

    apply(BecomeController(controller_id=1, controller_epoch=1))
    apply(*(RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1", http_port=8080 + b)
            for b in BROKERS))
    tallies = Tallies()
    for step in range(300):
        image = sm.image
        roll = rng.random()
        if roll < 0.15 or not image.topics:
            topic_id = uuid.uuid4().hex
            apply(TopicRecord(name=f"t{step}", topic_id=topic_id),
                  *(PartitionRecord(topic_id=topic_id, partition=p, replicas=tuple(rng.sample(BROKERS, 3)),
                                    isr=(), leader=-1) for p in range(rng.randint(1, 6))))
        elif roll < 0.2:
            apply(RemoveTopic(topic_id=rng.choice(list(image.topics))))
        elif roll < 0.3:
            b = rng.choice(BROKERS)
            apply(BrokerRegistrationChange(broker_id=b, broker_epoch=image.brokers[b].broker_epoch,
                                           fenced=rng.random() < 0.5))
        else:  # a leader, ISR or unclean election change
            topic = rng.choice(list(image.topics.values()))
            index = rng.randrange(len(topic.partitions))
            part = topic.partitions[index]
            isr = tuple(b for b in part.replicas if rng.random() < 0.7)
            leader = rng.choice(isr) if isr and rng.random() < 0.9 else -1
            apply(PartitionChange(topic_id=topic.topic_id, partition=index, leader=leader,
                                  isr=isr if leader != -1 else (), unclean=leader != -1 and rng.random() < 0.1,
                                  expected_partition_epoch=part.partition_epoch))
        assert counted(tallies, sm.image) == walked(sm.image), step
        assert tallies.of(sm.image) is tallies.of(sm.image)  # a scrape of the same image counts nothing
    assert {b: c["leaders"] for b, c in host_summary.partition_counts(sm.image).items() if c["leaders"]} == \
        dict(walked(sm.image)["leaders"])
