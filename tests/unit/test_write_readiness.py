"""When does the cluster take an acks=all write (kraft.metadata.write_readiness, what
`kraft up` waits for)? Real records replayed into an image."""

from __future__ import annotations

from kraft.metadata.records import (
    BecomeController,
    BrokerRegistrationChange,
    MetadataBatch,
    PartitionRecord,
    RegisterBroker,
    TopicRecord,
    encode_batch,
)
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.metadata.write_readiness import acks_all_problems


def cluster(registered, unfenced, partitions=()):
    """An image: brokers `registered`, those in `unfenced` unfenced, then `partitions` of topic t
    as (replicas, isr)."""
    sm = MetadataStateMachine()

    def apply(*records):
        result = sm.apply(encode_batch(MetadataBatch(controller_epoch=1, request_id=None, records=records)))
        assert result.ok, result

    apply(BecomeController(controller_id=1, controller_epoch=1))
    apply(*(RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1", http_port=8080 + b)
            for b in registered))
    for b in unfenced:
        apply(BrokerRegistrationChange(broker_id=b, broker_epoch=sm.image.brokers[b].broker_epoch, fenced=False))
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
