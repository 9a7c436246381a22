"""Taking a broker out for good, and bringing it back (Redpanda's decommission and
recommission, Kafka's UnregisterBroker). Pure.

Decommissioning writes a BrokerDecommission record: from then on placement skips the
broker, and the controller's duty (`advance`) moves its replicas to the other brokers
through the ordinary reassignment (the new replica catches up and joins the ISR before
the old one leaves), a bounded number at a time, taking leadership off it as each move
starts. When it holds no replica any more it is unregistered; a registration from it is
then refused until it is recommissioned. Recommissioning cancels the moves under way
(the partitions keep their replicas) and lets placement use the broker again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, TypedDict

from kraft.controller.result import ControllerResult
from kraft.controller import reassignment
from kraft.errors import BrokerDecommissioned, BrokerNotFound, DecommissionRefused
from kraft.metadata.image import MetadataImage, PartitionRegistration
from kraft.metadata.records import BrokerDecommission, MetadataRecord, UnregisterBroker

# Moves started and not finished, per decommissioning broker: enough to keep every
# other broker fetching, few enough that a recommission has little to undo.
MAX_MOVES_IN_FLIGHT = 8


def decommission(image: MetadataImage, broker_id: int, together: Iterable[int] = ()) -> ControllerResult:
    """Start taking `broker_id` out: refused when the others cannot hold its replicas.
    `together`: brokers leaving with it (a host's others), judged as takers of none of its
    replicas, so a host goes whole or not at all (one at a time, the first could move to
    the second and finish before the second is refused)."""
    if broker_id in image.decommissioning:
        return ControllerResult([], status(image, broker_id))  # already leaving (or gone): nothing to add
    broker = image.brokers.get(broker_id)
    if broker is None or "broker" not in broker.roles:
        raise BrokerNotFound(f"broker {broker_id} is not registered")
    leaving = set(together) | set(image.decommissioning)
    others = [b for b in _brokers(image) if b != broker_id and b not in leaving]
    if not others:
        raise DecommissionRefused(f"broker {broker_id} is the last broker of the cluster")
    takers = [b for b in others if image.takes_new_replicas(b)]
    held = [(topic, index, part) for topic, index, part in image.all_partitions() if broker_id in part.replicas]
    for topic, index, part in held:
        staying = _staying_hosts(image, part, broker_id)
        if not any(b not in part.replicas and image.host_of(b) not in staying for b in takers):
            raise DecommissionRefused(_refusal(image, broker_id, topic.name, index, part, takers))
    record = BrokerDecommission(broker_id=broker_id, decommissioning=True, partitions=len(held))
    return ControllerResult([record], {"broker_id": broker_id, "decommissioning": True})


def recommission(image: MetadataImage, broker_id: int) -> ControllerResult:
    """Stop a decommission: the moves under way are cancelled, placement may use it again."""
    if broker_id not in image.decommissioning:
        if broker_id not in image.brokers:
            raise BrokerNotFound(f"broker {broker_id} is not registered")
        raise DecommissionRefused(f"broker {broker_id} is not being decommissioned")
    records: list[MetadataRecord] = [BrokerDecommission(broker_id=broker_id, decommissioning=False)]
    for topic, index, part in image.all_partitions():
        if broker_id in part.removing:
            records += reassignment.reassign(image, topic.name, index, None)[0]
    return ControllerResult(records, {"broker_id": broker_id, "decommissioning": False,
                                      "moves_cancelled": len(records) - 1})


def refuse_decommissioned(image: MetadataImage, broker_id: int) -> None:
    """A decommissioned broker that is still running must not come back by registering."""
    if broker_id in image.decommissioning and broker_id not in image.brokers:
        raise BrokerDecommissioned(f"broker {broker_id} was decommissioned; recommission it "
                                   "(kraft broker recommission) before it may join again")


def advance(image: MetadataImage) -> list[MetadataRecord]:
    """The controller's duty: start further moves off each decommissioning broker, and
    unregister the ones that hold no replica any more."""
    leaving = [b for b in sorted(image.decommissioning) if b in image.brokers]
    if not leaving:
        return []
    load = Counter(b for _, _, part in image.all_partitions() for b in part.replicas)
    records: list[MetadataRecord] = []
    moved: set[tuple[str, int]] = set()  # one change per partition per batch (its epoch is checked)
    for broker_id in leaving:
        held = [(topic, index, part) for topic, index, part in image.all_partitions() if broker_id in part.replicas]
        if not held:
            records.append(UnregisterBroker(broker_id=broker_id,
                                            broker_epoch=image.brokers[broker_id].broker_epoch))
            continue
        in_flight = sum(1 for _, _, part in held if broker_id in part.removing)
        for topic, index, part in held:
            if in_flight >= MAX_MOVES_IN_FLIGHT:
                break
            if part.reassigning or (topic.topic_id, index) in moved:  # one move at a time: wait
                continue
            newcomer = _least_loaded(image, part, load, broker_id)
            if newcomer is None:
                continue  # no broker can take it now: reported by status()
            target = tuple(b for b in part.replicas if b != broker_id) + (newcomer,)
            records += _move(image, topic.name, index, part, broker_id, target)
            load[newcomer] += 1
            moved.add((topic.topic_id, index))
            in_flight += 1
    return records


class PartitionLeft(TypedDict):
    """A partition with a replica still on the broker."""

    topic: str
    partition: int
    moving_to: list[int]
    state: str  # "moving" (a reassignment is under way) or "waiting"


class AllocationFailure(TypedDict):
    topic: str
    partition: int
    reason: str


def status(image: MetadataImage, broker_id: int, must_exist: bool = True) -> dict[str, Any]:
    """Progress: the partitions still on the broker, those moving, those no broker can take.
    must_exist=False: a recommissioned broker not registered yet is "active" too."""
    leaving = broker_id in image.decommissioning
    if must_exist and broker_id not in image.brokers and not leaving:
        raise BrokerNotFound(f"broker {broker_id} is not registered")
    registered = broker_id in image.brokers
    load = Counter(b for _, _, part in image.all_partitions() for b in part.replicas)
    partitions: list[PartitionLeft] = []
    failures: list[AllocationFailure] = []
    for topic, index, part in image.all_partitions():
        if broker_id not in part.replicas:
            continue
        moving = broker_id in part.removing
        partitions.append({"topic": topic.name, "partition": index,
                           "moving_to": list(part.adding) if moving else [],
                           "state": "moving" if moving else "waiting"})
        if leaving and not part.reassigning and _least_loaded(image, part, load, broker_id) is None:
            failures.append({"topic": topic.name, "partition": index,
                             "reason": "no other live broker on a host apart from its other replicas "
                                       "can take a replica"})
    partitions.sort(key=lambda p: (p["topic"], p["partition"]))
    started_with = image.decommissioning.get(broker_id, 0)
    return {
        "broker_id": broker_id,
        "state": ("decommissioned" if not registered else "decommissioning") if leaving else "active",
        "finished": leaving and not registered,
        "registered": registered,
        "replicas_left": len(partitions),
        "moves_in_flight": sum(1 for p in partitions if p["state"] == "moving"),
        "partitions_done": max(0, started_with - len(partitions)) if leaving else 0,
        "allocation_failures": failures,
        "partitions": partitions,
    }


def _brokers(image: MetadataImage) -> list[int]:
    return sorted(b for b, reg in image.brokers.items() if "broker" in reg.roles)


def _refusal(image: MetadataImage, broker_id: int, topic: str, index: int, part: PartitionRegistration,
             takers: list[int]) -> str:
    """Why `part` keeps `broker_id`: too few brokers, or none on a host apart from its
    other replicas."""
    head = f"cannot decommission broker {broker_id}: topic {topic!r} has replication factor {len(part.target_replicas)}"
    free = [b for b in takers if b not in part.replicas]
    if not free:
        return (f"{head} and only {len(takers)} other live broker{'s' if len(takers) != 1 else ''} "
                f"({', '.join(map(str, takers)) or 'none'}) can hold its replicas")
    hosts = sorted({image.host_of(b).replace("=", " ") for b in free})
    return (f"{head} and partition {index} (replicas {list(part.replicas)}) needs a live broker on a host none of "
            f"its other replicas is on: brokers {', '.join(map(str, free))} are on hosts it uses "
            f"({', '.join(hosts)}), and a host holds one replica of a partition at most")


def _staying_hosts(image: MetadataImage, part: PartitionRegistration, leaving: int) -> set[str]:
    """The hosts of `part`'s replicas but `leaving`: its replacement goes on none of them
    (placement.py: a host holds one replica of a partition at most)."""
    return {image.host_of(b) for b in part.replicas if b != leaving}


def _least_loaded(image: MetadataImage, part: PartitionRegistration, load: Counter[int],
                  leaving: int) -> int | None:
    """The broker that may take `leaving`'s replica of `part` and holds the fewest replicas."""
    staying = _staying_hosts(image, part, leaving)
    candidates = [b for b in _brokers(image) if b not in part.replicas and image.takes_new_replicas(b)
                  and image.host_of(b) not in staying]
    return min(candidates, key=lambda b: (load[b], b), default=None)


def _move(image: MetadataImage, topic: str, index: int, part: PartitionRegistration,
          leaving: int, target: tuple[int, ...]) -> list[MetadataRecord]:
    """The reassignment to `target`; a leaving leader hands over to an in-sync target
    replica at once, so clients move while the new replica catches up."""
    records = list(reassignment.reassign(image, topic, index, target).records)
    if part.leader != leaving or not records:
        return records
    heir = next((b for b in target if b in part.isr and image.is_usable(b)), None)
    if heir is None:
        return records
    return [records[0].model_copy(update={"leader": heir})] + records[1:]
