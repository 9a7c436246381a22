"""Moving a partition's replicas (Kafka's AlterPartitionReassignments, KIP-455). Pure.

A reassignment adds the target replicas that are new (`adding`) and marks the ones
that go (`removing`); the new replicas fetch from the leader like any follower and
join the ISR once caught up. Only when every adding replica is in the ISR does the
partition take the target set: the removing replicas leave the replicas and the ISR,
and leadership moves to a target replica if the leader was leaving. So no
acknowledged record is ever held only by replicas on their way out.
"""

from __future__ import annotations

from kraft.controller.result import ControllerResult
from kraft.controller.partition_lookup import existing_partition
from kraft.controller.placement import shares_a_host
from kraft.errors import (InvalidReplicaAssignment, InvalidReplicationFactor, InvalidValue, NotFound,
                          ReplicationFactorChange)
from collections.abc import Iterable, Iterator
from typing import Any

from kraft.metadata.image import NO_LEADER, MetadataImage, PartitionRegistration
from kraft.metadata.records import PartitionChange


def reassign(image: MetadataImage, topic_name: str, partition: int,
             target: tuple[int, ...] | None, allow_rf_change: bool = True) -> ControllerResult:
    """Start moving `topic_name`-`partition` to `target`; None cancels the one in progress.
    Unless allow_rf_change, the target must keep the partition's replication factor."""
    topic, part = existing_partition(image, topic_name, partition)
    if target is None:
        if not part.reassigning:
            raise NotFound(f"no reassignment of {topic_name}-{partition} is in progress")
        original = tuple(r for r in part.replicas if r not in part.adding)
        records = [_settle(image, topic.topic_id, partition, part, original)]
        return ControllerResult(records, _view(topic_name, partition, original, (), ()))
    target = _checked(image, target)
    if part.reassigning:
        raise InvalidValue(f"a reassignment of {topic_name}-{partition} is in progress "
                           f"(to {list(part.target_replicas)}); cancel it first")
    if not allow_rf_change and len(target) != len(part.replicas):
        raise ReplicationFactorChange(f"the replication factor of {topic_name}-{partition} would change from "
                                       f"{len(part.replicas)} to {len(target)}, and the request allows no change")
    if target == part.replicas:
        return ControllerResult([], _view(topic_name, partition, target, (), ()))
    adding = tuple(b for b in target if b not in part.replicas)
    # only a new replica is held to it: a partition placed before its brokers named their
    # hosts may still be reordered, shrunk, or moved off a leaving broker
    if shared := shares_a_host(image, target, added=adding):
        raise InvalidReplicaAssignment(f"replicas {list(target)} put brokers {shared[0]} and {shared[1]} on one "
                                       f"host ({shared[2]}): a host holds one replica of a partition at most")
    if leaving := [b for b in adding if b in image.decommissioning]:
        raise InvalidReplicationFactor(f"brokers {leaving} are being decommissioned: they take no new replicas")
    removing = tuple(b for b in part.replicas if b not in target)
    if not adding:  # only leaving or reordering: nobody has to catch up
        records = [_settle(image, topic.topic_id, partition, part, target)]
        return ControllerResult(records, _view(topic_name, partition, target, (), ()))
    change = PartitionChange(topic_id=topic.topic_id, partition=partition,
                             expected_partition_epoch=part.partition_epoch,
                             replicas=target + removing, adding=adding, removing=removing)
    return ControllerResult([change], _view(topic_name, partition, target, adding, removing))


def finish_ready(image: MetadataImage) -> list[PartitionChange]:
    """The reassignments whose adding replicas are all in the ISR, completed."""
    out = []
    for topic in image.topics.values():
        for index, part in enumerate(topic.partitions):
            if part.adding and set(part.adding) <= set(part.isr):
                out.append(_settle(image, topic.topic_id, index, part, part.target_replicas))
    return out


def in_progress(image: MetadataImage,
                topic_name: str | None = None) -> Iterator[tuple[str, int, PartitionRegistration]]:
    """(topic name, partition, registration) of every reassignment under way."""
    for topic in sorted(image.topics.values(), key=lambda t: t.name):
        if topic_name is not None and topic.name != topic_name:
            continue
        for index, part in enumerate(topic.partitions):
            if part.reassigning:
                yield topic.name, index, part


def _settle(image: MetadataImage, topic_id: str, index: int, part: PartitionRegistration,
            replicas: tuple[int, ...]) -> PartitionChange:
    """The partition on exactly `replicas`: the others leave the ISR; a leader that leaves
    hands over to the first usable target replica in the ISR (none: offline until one
    returns, as after any clean election)."""
    isr = tuple(b for b in part.isr if b in replicas)
    leader = part.leader
    if leader not in replicas or leader not in isr:
        leader = next((b for b in replicas if b in isr and image.is_usable(b)), NO_LEADER)
    if not isr:  # keep who holds the data in the ISR, as an offline partition does
        isr = tuple(b for b in part.isr)[:1]
        replicas = replicas + tuple(b for b in isr if b not in replicas)
    return PartitionChange(topic_id=topic_id, partition=index, expected_partition_epoch=part.partition_epoch,
                           replicas=replicas, isr=isr if isr != part.isr else None,
                           leader=leader if leader != part.leader else None, adding=(), removing=())


def _checked(image: MetadataImage, target: object) -> tuple[int, ...]:
    if not isinstance(target, (list, tuple)) or not target \
            or not all(isinstance(b, int) and not isinstance(b, bool) for b in target):
        raise InvalidValue("replicas must be a non-empty list of broker ids")
    target = tuple(target)
    if len(set(target)) != len(target):
        raise InvalidValue(f"replicas {list(target)} name a broker twice")
    unknown = [b for b in target if b not in image.brokers]
    if unknown:
        raise InvalidReplicationFactor(f"brokers {unknown} are not registered")
    return target


def _view(topic: str, partition: int, target: Iterable[int], adding: Iterable[int],
          removing: Iterable[int]) -> dict[str, Any]:
    return {"topic_name": topic, "partition_id": partition, "replicas": list(target),
            "adding_replicas": list(adding), "removing_replicas": list(removing)}
