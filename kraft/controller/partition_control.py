"""AlterPartition (a partition leader asks to change its ISR, one partition or a batch of
them) and a replica's report that its copy is damaged. Pure.

Compare-and-set on leader id, leader epoch and partition epoch, so a deposed leader
or a stale proposal is refused; a replica may join the ISR only while it is usable
(registered, unfenced, not shutting down), as in KIP-841.
"""

from __future__ import annotations

from typing import Any

from kraft.controller.result import ControllerResult
from kraft.errors import (
    KraftError,
    BadRequest,
    FencedLeaderEpoch,
    IneligibleReplica,
    InvalidUpdateVersion,
    StaleBrokerEpoch,
    UnknownTopicOrPartition,
)
from kraft.metadata.effective_configs import TopicSettings, min_isr
from kraft.controller.partition_change import build_partition_change, next_elr
from kraft.metadata.image import MetadataImage, PartitionRegistration
from kraft.metadata.records import MetadataRecord, PartitionChange


def alter_partition(image: MetadataImage, defaults: dict[str, str], topic_id: str, partition: int, leader_id: int,
                    broker_epoch: int, leader_epoch: int, partition_epoch: int,
                    new_isr: tuple[int, ...], min_insync: int | None = None,
                    new_isr_epochs: dict[int, int] | None = None) -> ControllerResult:
    """min_insync: the topic's min.insync.replicas, when the caller already has it;
    new_isr_epochs: the broker epoch each joining member fetched with (KIP-903): one that
    registered again since may have lost records, and is not taken."""
    topic = image.topics.get(topic_id)
    if topic is None or not 0 <= partition < len(topic.partitions):
        raise UnknownTopicOrPartition(f"unknown partition {topic_id}/{partition}")
    part = topic.partitions[partition]
    broker = image.brokers.get(leader_id)
    if broker is None or broker.broker_epoch != broker_epoch:
        raise StaleBrokerEpoch(f"stale broker epoch {broker_epoch} for broker {leader_id}")
    if part.leader != leader_id or part.leader_epoch != leader_epoch:
        raise FencedLeaderEpoch(f"fenced leader epoch: {leader_id}@{leader_epoch} is not the leader "
                        f"({part.leader}@{part.leader_epoch})")
    if part.partition_epoch != partition_epoch:
        raise InvalidUpdateVersion(f"stale partition epoch {partition_epoch} (now {part.partition_epoch})")
    isr = tuple(new_isr)
    if not isr or leader_id not in isr or not set(isr) <= set(part.replicas) \
            or len(set(isr)) != len(isr):
        raise BadRequest(f"invalid ISR {list(isr)} for replicas {list(part.replicas)}")
    joining = set(isr) - set(part.isr)
    unusable = sorted(b for b in joining if not image.is_usable(b))
    if unusable:
        raise IneligibleReplica(f"brokers {unusable} cannot join the ISR: fenced or shutting down",
                                brokers=unusable)
    epochs = new_isr_epochs or {}
    restarted = sorted(b for b in joining if epochs.get(b, -1) >= 0 and epochs[b] != image.brokers[b].broker_epoch)
    if restarted:
        raise IneligibleReplica(f"brokers {restarted} registered again since they fetched: their next "
                                "fetch says what they have", brokers=restarted)
    if isr == part.isr:
        return ControllerResult([], {"isr": list(isr), "partition_epoch": part.partition_epoch})
    elr = next_elr(part, isr, min_isr(image, defaults, topic.name) if min_insync is None else min_insync)
    change = PartitionChange(topic_id=topic_id, partition=partition,
                             expected_partition_epoch=partition_epoch, isr=isr,
                             elr=elr if elr != part.elr else None)
    return ControllerResult([change], {"isr": list(isr), "partition_epoch": partition_epoch + 1})


def alter_partitions(image: MetadataImage, defaults: dict[str, str], leader_id: int, broker_epoch: int,
                     items: list[dict[str, Any]]) -> ControllerResult:
    """Every ISR change a leader has pending, in one request (Kafka's AlterPartition
    carries them all): each is judged on its own, the accepted ones are written together,
    and each answer names the partition's state as it will be (the leader takes it at
    once), or the refusal with the state now, so a stale epoch is settled by the answer.
    items: {topic_id, partition, leader_epoch, partition_epoch, new_isr}; a partition
    named twice is judged by its last change."""
    broker = image.brokers.get(leader_id)
    if broker is None or broker.broker_epoch != broker_epoch:
        raise StaleBrokerEpoch(f"stale broker epoch {broker_epoch} for broker {leader_id}")
    latest = {(item["topic_id"], item["partition"]): item for item in items}
    records: list[MetadataRecord] = []
    answers: list[dict[str, Any]] = []
    settings = TopicSettings(image, defaults)
    for (topic_id, partition), item in latest.items():
        answer = {"topic_id": topic_id, "partition": partition}
        topic = image.topics.get(topic_id)
        try:
            result = alter_partition(image, defaults, topic_id, partition, leader_id, broker_epoch,
                                     item["leader_epoch"], item["partition_epoch"], tuple(item["new_isr"]),
                                     settings.min_isr(topic.name) if topic is not None else None,
                                     item.get("new_isr_epochs"))
        except KraftError as exc:
            answers.append({**answer, "error": exc.kafka_name, "message": exc.message,
                            **({"ineligible": exc.brokers} if isinstance(exc, IneligibleReplica) else {}),
                            **_state(image, topic_id, partition)})
            continue
        records += result.records
        part = image.topics[topic_id].partitions[partition]
        answers.append({**answer, "leader_epoch": part.leader_epoch, "replicas": list(part.replicas),
                        "isr": result.answer["isr"], "partition_epoch": result.answer["partition_epoch"]})
    return ControllerResult(records, {"partitions": answers})


def _state(image: MetadataImage, topic_id: str, partition: int) -> dict[str, Any]:
    topic = image.topics.get(topic_id)
    if topic is None or not 0 <= partition < len(topic.partitions):
        return {}
    part: PartitionRegistration = topic.partitions[partition]
    return {"leader": part.leader, "leader_epoch": part.leader_epoch, "partition_epoch": part.partition_epoch,
            "isr": list(part.isr), "replicas": list(part.replicas)}


def report_damaged_replica(image: MetadataImage, defaults: dict[str, str], broker_id: int, broker_epoch: int,
                           topic_id: str, partition: int) -> ControllerResult:
    """A broker found its copy of a partition damaged: it leaves the ISR, and leadership
    moves to another usable ISR member. When no other ISR member is usable the partition
    is left as it is (the damaged copy is the best there is) and the answer says so."""
    topic = image.topics.get(topic_id)
    if topic is None or not 0 <= partition < len(topic.partitions):
        raise UnknownTopicOrPartition(f"unknown partition {topic_id}/{partition}")
    broker = image.brokers.get(broker_id)
    if broker is None or broker.broker_epoch != broker_epoch:
        raise StaleBrokerEpoch(f"stale broker epoch {broker_epoch} for broker {broker_id}")
    part = topic.partitions[partition]
    if broker_id not in part.isr and part.leader != broker_id:
        return ControllerResult([], {"in_sync": False, "healthy_copy": True})
    if not any(b != broker_id and image.is_usable(b) for b in part.isr):
        return ControllerResult([], {"in_sync": True, "healthy_copy": False})
    change = build_partition_change(image, topic_id, partition, part, unclean_allowed=False,
                                    unusable=frozenset({broker_id}),
                                    lost_data=frozenset({broker_id}),
                                    min_isr=min_isr(image, defaults, topic.name))
    return ControllerResult([change] if change is not None else [], {"in_sync": False, "healthy_copy": True})
