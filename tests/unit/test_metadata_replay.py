"""Image/delta replay and the state machine: what every node computes from the log."""

from __future__ import annotations

import orjson

from kraft.metadata.image_codec import image_from_dict, image_to_dict
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
    decode_batch,
    encode_batch,
)
from kraft.metadata.state_machine import DEDUPE_WINDOW, MetadataStateMachine


def batch(epoch, *records, request_id=None):
    return encode_batch(MetadataBatch(controller_epoch=epoch, request_id=request_id,
                                      records=tuple(records)))


def register(b, inc="i"):
    return RegisterBroker(broker_id=b, incarnation_id=f"{inc}{b}", host="127.0.0.1",
                          http_port=8080 + b)


def booted() -> MetadataStateMachine:
    sm = MetadataStateMachine()
    assert sm.apply(batch(1, BecomeController(controller_id=1, controller_epoch=1))).ok
    assert sm.apply(batch(1, register(1), register(2), register(3))).ok
    return sm


def test_batch_codec_roundtrip_keeps_every_record_type():
    records = (
        BecomeController(controller_id=1, controller_epoch=4), register(2),
        BrokerRegistrationChange(broker_id=2, broker_epoch=3, fenced=False),
        TopicRecord(name="t", topic_id="id"),
        PartitionRecord(topic_id="id", partition=0, replicas=(1, 2), isr=(1, 2), leader=1),
        PartitionChange(topic_id="id", partition=0, expected_partition_epoch=0, leader=2),
        ConfigRecord(resource_type="topic", resource_name="t", name="retention.ms", value="1"),
        RemoveTopic(topic_id="id"),
    )
    text = batch(4, *records, request_id="r1")
    assert decode_batch(text).records == records
    assert orjson.loads(text)["records"][3]["type"] == "Topic"


def test_broker_epoch_is_the_offset_of_its_registration_and_brokers_start_fenced():
    sm = booted()
    assert sm.image.offset == 2
    assert {b.broker_epoch for b in sm.image.brokers.values()} == {2}
    assert all(b.fenced for b in sm.image.brokers.values())


def test_a_batch_applies_atomically_or_not_at_all():
    sm = booted()
    before = sm.image
    result = sm.apply(batch(
        1, TopicRecord(name="t", topic_id="x"),
        PartitionRecord(topic_id="x", partition=0, replicas=(1, 2), isr=(1, 2), leader=1),
        PartitionRecord(topic_id="x", partition=5, replicas=(1,), isr=(1,), leader=1),  # gap
    ))
    assert not result.ok and "out of sequence" in result.error
    assert sm.image is before and sm.image.topic("t") is None


def test_stale_controller_epoch_is_rejected_after_a_new_controller():
    sm = booted()
    assert sm.apply(batch(2, BecomeController(controller_id=2, controller_epoch=2))).ok
    old = sm.apply(batch(1, TopicRecord(name="t", topic_id="x")))
    assert not old.ok and "stale controller epoch" in old.error
    assert sm.image.topic("t") is None
    # an older term cannot take control back either
    again = sm.apply(batch(1, BecomeController(controller_id=1, controller_epoch=1)))
    assert not again.ok and sm.image.controller_id == 2


def test_partition_change_is_compare_and_set_on_partition_epoch():
    sm = booted()
    sm.apply(batch(1, TopicRecord(name="t", topic_id="x"),
                   PartitionRecord(topic_id="x", partition=0, replicas=(1, 2, 3),
                                   isr=(1, 2, 3), leader=1)))
    first = sm.apply(batch(1, PartitionChange(topic_id="x", partition=0,
                                              expected_partition_epoch=0, leader=2, isr=(2, 3))))
    assert first.ok
    part = sm.image.topic("t").partitions[0]
    assert (part.leader, part.isr, part.leader_epoch, part.partition_epoch) == (2, (2, 3), 1, 1)
    stale = sm.apply(batch(1, PartitionChange(topic_id="x", partition=0,
                                              expected_partition_epoch=0, leader=3)))
    assert not stale.ok and sm.image.topic("t").partitions[0].leader == 2
    # an ISR-only change bumps the partition epoch, not the leader epoch
    sm.apply(batch(1, PartitionChange(topic_id="x", partition=0, expected_partition_epoch=1,
                                      isr=(2,))))
    part = sm.image.topic("t").partitions[0]
    assert (part.leader_epoch, part.partition_epoch, part.isr) == (1, 2, (2,))


def test_leader_outside_isr_is_refused():
    sm = booted()
    sm.apply(batch(1, TopicRecord(name="t", topic_id="x"),
                   PartitionRecord(topic_id="x", partition=0, replicas=(1, 2), isr=(1,), leader=1)))
    bad = sm.apply(batch(1, PartitionChange(topic_id="x", partition=0, expected_partition_epoch=0,
                                            leader=2)))
    assert not bad.ok


def test_unclean_election_is_recorded_and_counted():
    sm = booted()
    sm.apply(batch(1, TopicRecord(name="t", topic_id="x"),
                   PartitionRecord(topic_id="x", partition=0, replicas=(1, 2), isr=(1,), leader=1)))
    sm.apply(batch(1, PartitionChange(topic_id="x", partition=0, expected_partition_epoch=0,
                                      leader=2, isr=(2,), unclean=True)))
    part = sm.image.topic("t").partitions[0]
    assert part.unclean_elections == 1
    (event,) = sm.image.unclean_elections
    assert (event.topic, event.partition, event.leader, event.leader_epoch) == ("t", 0, 2, 1)


def test_duplicate_request_id_applies_once_and_answers_the_first_result():
    sm = booted()
    text = batch(1, TopicRecord(name="t", topic_id="x"), request_id="req-1")
    first = sm.apply(text)
    second = sm.apply(text)
    assert first.ok and second.ok and second.duplicate and second.offset == first.offset
    assert sm.image.offset == first.offset


def test_dedupe_window_is_bounded():
    sm = booted()
    for i in range(DEDUPE_WINDOW + 10):
        sm.apply(batch(1, ConfigRecord(resource_type="cluster", resource_name="", name="k",
                                       value=str(i)), request_id=f"r{i}"))
    assert len(sm.snapshot()["results"]) == DEDUPE_WINDOW


def test_apply_never_raises_on_garbage():
    sm = booted()
    for junk in ["", "{", "[]", '{"controller_epoch": 1, "records": [{"type": "Nope"}]}',
                 '{"controller_epoch": "x", "records": []}', "\x00\xff"]:
        result = sm.apply(junk)
        assert not result.ok and result.error


def test_remove_topic_drops_its_configs_and_name():
    sm = booted()
    sm.apply(batch(1, TopicRecord(name="t", topic_id="x"),
                   ConfigRecord(resource_type="topic", resource_name="t", name="retention.ms",
                                value="5")))
    assert sm.image.topic_configs["t"] == {"retention.ms": "5"}
    assert sm.apply(batch(1, RemoveTopic(topic_id="x"))).ok
    assert sm.image.topic("t") is None and "t" not in sm.image.topic_configs
    assert sm.apply(batch(1, TopicRecord(name="t", topic_id="y"))).ok  # the name is free again


def test_snapshot_restore_gives_an_equal_image_and_the_same_future():
    sm = booted()
    sm.apply(batch(1, TopicRecord(name="t", topic_id="x"),
                   PartitionRecord(topic_id="x", partition=0, replicas=(1, 2), isr=(1, 2), leader=1),
                   ConfigRecord(resource_type="topic", resource_name="t", name="retention.ms",
                                value="5"), request_id="r"))
    copy = MetadataStateMachine()
    copy.restore(orjson.loads(orjson.dumps(sm.snapshot())))
    assert copy.image == sm.image
    # dedupe state came along: a late duplicate is recognised on the restored copy too
    nxt = batch(1, BrokerRegistrationChange(broker_id=1, broker_epoch=2, fenced=False))
    dup = batch(1, TopicRecord(name="t", topic_id="x"), request_id="r")
    for machine in (sm, copy):
        assert machine.apply(dup).duplicate
        assert machine.apply(nxt).ok
    assert copy.image == sm.image


def test_image_codec_roundtrip():
    sm = booted()
    sm.apply(batch(1, TopicRecord(name="t", topic_id="x"),
                   PartitionRecord(topic_id="x", partition=0, replicas=(3, 1), isr=(3,), leader=3)))
    assert image_from_dict(orjson.loads(orjson.dumps(image_to_dict(sm.image)))) == sm.image


def test_followers_get_batches_after_an_offset_or_none_when_too_far_behind():
    sm = booted()
    assert [off for off, _ in sm.batches_after(0)] == [1, 2]
    assert sm.batches_after(2) == []
    follower = MetadataStateMachine()
    for _, text in sm.batches_after(0):
        follower.apply(text)
    assert follower.image == sm.image
    sm.restore(sm.snapshot())  # a restart from a snapshot keeps no batches
    assert sm.batches_after(0) is None
