"""Helpers of the share-group tests: a topic with a share group reading it, records
produced one batch each, confluent-kafka ShareConsumers polled until a condition holds,
and raw ShareFetch / ShareAcknowledge requests."""

from __future__ import annotations

import datetime
import importlib
import time
import uuid

import pytest
from cluster_client import call, create_topic
from kafka_wire import wire_call

pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import Producer, ShareConsumer  # noqa: E402
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType  # noqa: E402

BOUND_S = 60.0  # what the cluster must reach (a delivery, a lock running out) on a busy machine


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def set_group_configs(c, group: str, **configs) -> None:
    """The group's own configs through IncrementalAlterConfigs (resource type GROUP)."""
    admin = AdminClient({"bootstrap.servers": c.bootstrap_servers})
    entries = [ConfigEntry(k.replace("_", "."), str(v), incremental_operation=AlterConfigOpType.SET)
               for k, v in configs.items()]
    for future in admin.incremental_alter_configs([ConfigResource(ResourceType.GROUP, group,
                                                                  incremental_configs=entries)]).values():
        future.result(15)


def share_group(c, topic: str, partitions: int = 1, **configs) -> str:
    """A topic and a share group reading it from its first record."""
    create_topic(c, topic, partitions)
    group = new_name(f"{topic}-g")
    set_group_configs(c, group, share_auto_offset_reset="earliest", **configs)
    return group


def produce(c, topic: str, values: list[str], partition: int | None = None) -> None:
    failed: list = []
    producer = Producer({"bootstrap.servers": c.bootstrap_servers, "acks": "all", "linger.ms": 0})
    for v in values:
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, value=v.encode(), on_delivery=lambda err, _m: failed.append(err) if err else None,
                         **extra)
        producer.flush(30)  # one record a batch: each can go to another consumer
    assert not failed, failed


def consumer(c, group: str, explicit: bool = False) -> ShareConsumer:
    return ShareConsumer({"bootstrap.servers": c.bootstrap_servers, "group.id": group,
                          "share.acknowledgement.mode": "explicit" if explicit else "implicit"})


def poll_until(share: ShareConsumer, done, bound_s: float = BOUND_S) -> list:
    """Poll until done(every message so far) holds; the messages."""
    got: list = []
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        for m in share.poll(0.5):
            assert m.error() is None, m.error()
            got.append(m)
        if done(got):
            return got
    raise AssertionError(f"not reached within {bound_s} s; got {[(m.value(), m.delivery_count()) for m in got]}")


def values(messages) -> list[str]:
    return [m.value().decode() for m in messages]


def topic_id(c, topic: str) -> uuid.UUID:
    status, body = call("GET", f"{c.v3(1)}/topics/{topic}")
    assert status == 200, body
    return uuid.UUID(body["topic_id"])


def share_fetch(s, group: str, member: str, epoch: int, tid: uuid.UUID, acks=(), max_records: int = 10,
                version: int = 1, **v2_fields):
    """A ShareFetch of partition 0; v2_fields: share_acquire_mode, is_renew_ack."""
    sf = importlib.import_module(f"kio.schema.share_fetch.v{version}.request")
    batches = tuple(sf.AcknowledgementBatch(first_offset=f, last_offset=l, acknowledge_types=(t,)) for f, l, t in acks)
    return wire_call(s, sf.ShareFetchRequest(
        group_id=group, member_id=member, share_session_epoch=epoch, max_wait=datetime.timedelta(seconds=5),
        min_bytes=1, max_bytes=1 << 20, max_records=max_records, batch_size=max_records, **v2_fields,
        topics=(sf.FetchTopic(topic_id=tid, partitions=(sf.FetchPartition(partition_index=0,
                                                                           acknowledgement_batches=batches),)),),
        forgotten_topics_data=()))


def share_acknowledge(s, group: str, member: str, epoch: int, tid: uuid.UUID, first: int, last: int, kind: int = 1,
                      version: int = 1):
    sa = importlib.import_module(f"kio.schema.share_acknowledge.v{version}.request")
    return wire_call(s, sa.ShareAcknowledgeRequest(
        group_id=group, member_id=member, share_session_epoch=epoch, topics=(sa.AcknowledgeTopic(
            topic_id=tid, partitions=(sa.AcknowledgePartition(partition_index=0, acknowledgement_batches=(
                sa.AcknowledgementBatch(first_offset=first, last_offset=last, acknowledge_types=(kind,)),)),)),)))


def code(value) -> int:
    return int(getattr(value, "value", value))
