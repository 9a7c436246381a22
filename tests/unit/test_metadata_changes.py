"""What the state machine says changed: real records replayed, changes accumulated across
batches until taken with the image they lead to; a full-image jump is everything."""

from __future__ import annotations

from kraft.metadata.changes import EVERYTHING, NOTHING, MetadataChanges
from kraft.metadata.records import (
    AccessControlEntry,
    BecomeController,
    BrokerRegistrationChange,
    ConfigRecord,
    MetadataBatch,
    PartitionChange,
    PartitionRecord,
    RegisterBroker,
    RemoveTopic,
    TopicRecord,
    UserScramCredential,
    encode_batch,
)
from kraft.metadata import state_machine
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.security.scram import make_credential


def batch(*records, epoch=1):
    return encode_batch(MetadataBatch(controller_epoch=epoch, request_id=None, records=tuple(records)))


def register(b):
    return RegisterBroker(broker_id=b, incarnation_id=f"i{b}", host="127.0.0.1", http_port=8080 + b)


def create(name, topic_id, partitions=2):
    return [TopicRecord(name=name, topic_id=topic_id)] + [
        PartitionRecord(topic_id=topic_id, partition=p, replicas=(1, 2), isr=(1, 2), leader=1)
        for p in range(partitions)]


def booted_and_taken() -> MetadataStateMachine:
    """Brokers 1-3 registered, topic "a" created, and everything so far taken."""
    sm = MetadataStateMachine()
    assert sm.apply(batch(BecomeController(controller_id=1, controller_epoch=1))).ok
    assert sm.apply(batch(register(1), register(2), register(3))).ok
    assert sm.apply(batch(*create("a", "id-a"))).ok
    sm.take_changes()
    return sm


def test_a_consumer_that_took_nothing_yet_gets_everything():
    sm = MetadataStateMachine()
    assert sm.apply(batch(BecomeController(controller_id=1, controller_epoch=1))).ok
    changes, image = sm.take_changes()
    assert changes is EVERYTHING and image is sm.image
    assert sm.take_changes()[0] == NOTHING  # taken: nothing new since


def test_a_created_topic_names_its_id_and_every_partition():
    sm = booted_and_taken()
    assert sm.apply(batch(*create("b", "id-b", partitions=3))).ok
    changes, image = sm.take_changes()
    assert changes == MetadataChanges(topics=frozenset({"id-b"}),
                                      partitions=frozenset({("id-b", 0), ("id-b", 1), ("id-b", 2)}))
    assert image.topic("b") is not None and image is sm.image


def test_changes_accumulate_across_batches_until_taken():
    sm = booted_and_taken()
    assert sm.apply(batch(PartitionChange(topic_id="id-a", partition=1,
                                          expected_partition_epoch=0, isr=(1,)))).ok
    assert sm.apply(batch(ConfigRecord(resource_type="topic", resource_name="a",
                                       name="min.insync.replicas", value="2"))).ok
    assert sm.apply(batch(ConfigRecord(resource_type="cluster", resource_name="",
                                       name="retention.ms", value="1000"))).ok
    fence = BrokerRegistrationChange(broker_id=3, broker_epoch=sm.image.brokers[3].broker_epoch,
                                     fenced=False)
    assert sm.apply(batch(fence)).ok
    changes, image = sm.take_changes()
    assert changes.partitions == {("id-a", 1)} and changes.topics == {"id-a"}
    assert changes.topic_configs == {"a"} and changes.cluster_configs == {"retention.ms"}
    assert changes.brokers == {3} and not changes.everything
    assert image.offset == sm.image.offset  # the image holding all of them


def test_a_rejected_batch_changes_nothing():
    sm = booted_and_taken()
    assert not sm.apply(batch(PartitionChange(topic_id="id-a", partition=0,
                                              expected_partition_epoch=7, isr=(1,)))).ok
    assert sm.take_changes()[0] == NOTHING


def test_removing_a_topic_names_it_and_its_configs():
    sm = booted_and_taken()
    assert sm.apply(batch(ConfigRecord(resource_type="topic", resource_name="a",
                                       name="retention.ms", value="1"))).ok
    sm.take_changes()
    assert sm.apply(batch(RemoveTopic(topic_id="id-a"))).ok
    changes, _ = sm.take_changes()
    assert changes.topics == {"id-a"} and changes.topic_configs == {"a"}


def test_security_and_controller_changes_are_noted():
    sm = booted_and_taken()
    cred = make_credential("a long enough password")
    assert sm.apply(batch(
        AccessControlEntry(resource_type="TOPIC", resource_name="a", pattern_type="LITERAL",
                           principal="User:alice", host="*", operation="READ", permission="ALLOW"),
        UserScramCredential(name="alice", **cred.to_record_fields()),
    )).ok
    assert sm.apply(batch(BecomeController(controller_id=2, controller_epoch=2), epoch=2)).ok
    changes, _ = sm.take_changes()
    assert changes.acls and changes.users == {"alice"} and changes.controller
    assert not changes.topics and not changes.brokers


def test_a_snapshot_restore_and_an_installed_image_are_everything():
    sm = booted_and_taken()
    copy = MetadataStateMachine()
    copy.restore(sm.snapshot())
    copy.take_changes()
    assert copy.apply(batch(*create("b", "id-b"))).ok
    copy.restore(sm.snapshot())  # back to an image without "b": nothing lists what went
    assert copy.take_changes() == (EVERYTHING, copy.image)
    copy.install_image(sm.image)
    assert copy.apply(batch(*create("c", "id-c"))).ok  # what follows a jump adds nothing to it
    assert copy.take_changes()[0] is EVERYTHING


def test_too_many_untaken_changes_become_everything(monkeypatch):
    monkeypatch.setattr(state_machine, "UNTAKEN_CHANGES_MAX", 5)
    sm = booted_and_taken()
    assert sm.apply(batch(*create("b", "id-b", partitions=1))).ok  # 2 names
    assert sm.apply(batch(*create("c", "id-c", partitions=3))).ok  # 4 more
    assert sm.take_changes()[0] is EVERYTHING


def test_merge_is_the_union_and_everything_absorbs():
    one = MetadataChanges(topics=frozenset({"x"}), brokers=frozenset({1}), acls=True)
    two = MetadataChanges(topics=frozenset({"y"}), cluster_configs=frozenset({"k"}))
    both = one.merge(two)
    assert both.topics == {"x", "y"} and both.brokers == {1} and both.acls
    assert both.cluster_configs == {"k"}
    assert one.merge(EVERYTHING) is EVERYTHING and EVERYTHING.merge(one) is EVERYTHING
