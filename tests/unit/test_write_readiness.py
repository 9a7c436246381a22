"""When does the cluster take an acks=all write (kraft.metadata.write_readiness, what
`kraft up` waits for)? Real records replayed into an image."""

from __future__ import annotations

import random

from kraft.metadata.records import (
    BecomeController,
    BrokerRegistrationChange,
    ConfigRecord,
    MetadataBatch,
    PartitionChange,
    PartitionRecord,
    RegisterBroker,
    RemoveTopic,
    TopicRecord,
    encode_batch,
)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.metadata.write_readiness import BelowMinIsr, acks_all_problems


def machine(registered, unfenced):
    """A state machine with brokers `registered`, those in `unfenced` unfenced; and how to
    apply records to it."""
    sm = MetadataStateMachine()

    def apply(*records):
        result = sm.apply(encode_batch(MetadataBatch(controller_epoch=1, request_id=None, records=records)))
        assert result.ok, result

    apply(BecomeController(controller_id=1, controller_epoch=1))
    apply(*(RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1", http_port=8080 + b)
            for b in registered))
    for b in unfenced:
        apply(BrokerRegistrationChange(broker_id=b, broker_epoch=sm.image.brokers[b].broker_epoch, fenced=False))
    return sm, apply


def cluster(registered, unfenced, partitions=()):
    """An image: brokers `registered`, those in `unfenced` unfenced, then `partitions` of topic t
    as (replicas, isr)."""
    sm, apply = machine(registered, unfenced)
    if partitions:
        apply(TopicRecord(name="t", topic_id="id-t"),
              *(PartitionRecord(topic_id="id-t", partition=p, replicas=replicas, isr=isr, leader=isr[0])
                for p, (replicas, isr) in enumerate(partitions)))
    return sm.image


def started(isr=(1, 2, 3)):
    """Brokers 1-3 up, topic t (3 partitions, RF 3) with this ISR."""
    return cluster((1, 2, 3), (1, 2, 3), [((1, 2, 3), isr)] * 3)


def test_a_started_cluster_with_full_isrs_takes_acks_all_writes():
    assert acks_all_problems(started(), {}) == []


def test_after_a_restart_partitions_below_min_isr_are_waited_for_and_named_only_when_asked():
    image = started(isr=(1,))
    named = acks_all_problems(image, {})
    assert len(named) == 1 and "3 partition(s) below min.insync.replicas" in named[0] and "t-0" in named[0]
    counted = acks_all_problems(image, {}, named=False)
    assert len(counted) == 1 and "t-0" not in counted[0]


def test_a_partition_the_live_brokers_cannot_bring_back_is_not_waited_for():
    image = cluster((1, 2, 3), (1,), [((1, 2, 3), (1,))])
    problems = acks_all_problems(image, {"replication.factor": "1"})
    assert problems == []  # brokers 2 and 3 are fenced: no wait makes the ISR 2


def test_too_few_usable_brokers_for_the_default_replication_factor_is_a_problem_but_a_small_cluster_is_not():
    image = cluster((1, 2, 3), (1,))
    assert any("1 of 3 brokers usable" in p for p in acks_all_problems(image, {}))
    one = cluster((1,), (1,))
    assert acks_all_problems(one, {}) == []  # one node, RF 3 by default: no wait would help


def test_the_partitions_below_min_isr_followed_change_by_change_are_those_a_walk_finds():
    """The index a node keeps for /status/ready?acks=all looks only at what each image
    changed; after every step of a random history it names what a walk over every
    partition names."""
    rng = random.Random(7)
    sm, apply = machine((1, 2, 3), (1, 2, 3))
    for t in ("a", "b"):
        apply(TopicRecord(name=t, topic_id=f"id-{t}"),
              *(PartitionRecord(topic_id=f"id-{t}", partition=p, replicas=(1, 2, 3), isr=(1,), leader=1)
                for p in range(20)))
    below = BelowMinIsr({"min.insync.replicas": "3"})
    below.follow(*reversed(sm.take_changes()))
    seen = set()
    for step in range(200):
        kind = rng.choice(["isr"] * 6 + ["config", "fence", "delete", "shrink0", "grow0"])
        topics = sorted(sm.image.topic_ids)
        if kind == "isr" and topics:
            topic = sm.image.topic(rng.choice(topics))
            index = rng.randrange(len(topic.partitions))
            part = topic.partitions[index]
            isr = tuple(sorted({part.leader, *rng.sample([1, 2, 3], rng.randint(0, 2))}))
            apply(PartitionChange(topic_id=topic.topic_id, partition=index,
                                  expected_partition_epoch=part.partition_epoch, isr=isr))
        elif kind in ("shrink0", "grow0") and topics:  # partition 0's replica count caps an inherited min ISR
            topic = sm.image.topic(rng.choice(topics))
            part = topic.partitions[0]
            replicas = (1,) if kind == "shrink0" else (1, 2, 3)
            apply(PartitionChange(topic_id=topic.topic_id, partition=0, expected_partition_epoch=part.partition_epoch,
                                  replicas=replicas, isr=tuple(b for b in part.isr if b in replicas) or (1,),
                                  leader=1))
        elif kind == "config" and topics:
            value = rng.choice(["1", "2", "3", None])  # None: back to the inherited (capped) value
            apply(ConfigRecord(resource_type="topic", resource_name=rng.choice(topics), name="min.insync.replicas",
                               value=value))
        elif kind == "fence":
            b = rng.choice([2, 3])
            apply(BrokerRegistrationChange(broker_id=b, broker_epoch=sm.image.brokers[b].broker_epoch,
                                           fenced=not sm.image.brokers[b].fenced))
        elif kind == "delete" and len(topics) > 1:
            apply(RemoveTopic(topic_id=sm.image.topic_ids[rng.choice(topics)]))
        changes, image = sm.take_changes()
        below.follow(image, changes)
        walked = acks_all_problems(image, {"min.insync.replicas": "3"})
        followed = acks_all_problems(image, {"min.insync.replicas": "3"}, below=below)
        assert followed == walked, step
        seen.add(len(below))
    assert len(seen) > 5  # the history moved the count around, not one answer all along
