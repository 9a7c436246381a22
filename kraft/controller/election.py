"""Leader elections an operator asks for (Kafka's ElectLeaders, KIP-460). Pure.

PREFERRED moves leadership to a partition's first replica when it is alive and in
sync, the same move the controller's own balancing makes (preferred_leader.py).
UNCLEAN gives a partition without a leader one: from the ISR or ELR when one of them
is alive, else the first live replica, recorded as unclean whatever the topic's
unclean.leader.election.enable says (the operator chose to risk the loss).

Per partition, as Kafka answers: ELECTION_NOT_NEEDED when it already has the leader
the election would give it (its preferred replica; any leader, for UNCLEAN),
PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE when nobody can be
elected, UNKNOWN_TOPIC_OR_PARTITION for what does not exist. A request that names no
partitions asks about every one, and its answer leaves out those that needed nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from kraft.controller.result import ControllerResult
from kraft.controller.partition_change import build_partition_change
from kraft.controller.partition_lookup import existing_partition
from kraft.errors import (
    ElectionNotNeeded,
    EligibleLeadersNotAvailable,
    KraftError,
    PreferredLeaderNotAvailable,
)
from kraft.metadata.effective_configs import min_isr
from kraft.metadata.image import NO_LEADER, MetadataImage, PartitionRegistration, TopicImage
from kraft.metadata.records import PartitionChange

PREFERRED, UNCLEAN = "PREFERRED", "UNCLEAN"


def elect_leaders(image: MetadataImage, defaults: dict[str, str], election: str,
                  partitions: Iterable[tuple[str, int]] | None) -> ControllerResult:
    """Records for the elections that happen, and per (topic, partition) the outcome:
    {"topic", "partition", "error": error class name or None, "message"}."""
    every = partitions is None
    wanted = _every_partition(image) if partitions is None else list(dict.fromkeys(partitions))
    records: list[PartitionChange] = []
    results = []
    for topic_name, index in wanted:
        try:
            change = _elect(image, defaults, election, topic_name, index)
            records.append(change)
            results.append({"topic": topic_name, "partition": index, "error": None, "message": None})
        except KraftError as exc:
            if every and isinstance(exc, ElectionNotNeeded):
                continue  # asked about everything: only what was acted on is told
            results.append({"topic": topic_name, "partition": index, "error": type(exc).__name__,
                            "message": exc.message})
    return ControllerResult(records, {"results": results})


def _every_partition(image: MetadataImage) -> list[tuple[str, int]]:
    return [(t.name, i) for t in sorted(image.topics.values(), key=lambda t: t.name)
            for i in range(len(t.partitions))]


def _elect(image: MetadataImage, defaults: dict[str, str], election: str, topic_name: str,
           index: int) -> PartitionChange:
    topic, part = existing_partition(image, topic_name, index)
    if election == PREFERRED:
        return _preferred(image, defaults, topic, index, part)
    return _unclean(image, defaults, topic, index, part)


def _preferred(image: MetadataImage, defaults: dict[str, str], topic: TopicImage, index: int,
               part: PartitionRegistration) -> PartitionChange:
    preferred = part.replicas[0]
    if part.leader == preferred:
        raise ElectionNotNeeded(f"{topic.name}-{index} is already led by its preferred replica {preferred}")
    change = build_partition_change(image, topic.topic_id, index, part, unclean_allowed=False,
                                    prefer_first_replica=True, min_isr=min_isr(image, defaults, topic.name))
    if change is None or change.leader != preferred:
        raise PreferredLeaderNotAvailable(
            f"the preferred replica {preferred} of {topic.name}-{index} is not alive and in sync "
            f"(ISR {list(part.isr)})")
    return change


def _unclean(image: MetadataImage, defaults: dict[str, str], topic: TopicImage, index: int,
             part: PartitionRegistration) -> PartitionChange:
    if part.leader != NO_LEADER:
        raise ElectionNotNeeded(f"{topic.name}-{index} has a leader ({part.leader})")
    change = build_partition_change(image, topic.topic_id, index, part, unclean_allowed=True,
                                    min_isr=min_isr(image, defaults, topic.name))
    if change is None or change.leader in (None, NO_LEADER):
        raise EligibleLeadersNotAvailable(f"no replica of {topic.name}-{index} ({list(part.replicas)}) is alive")
    return change
