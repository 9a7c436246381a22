"""Leader and ISR decisions for one partition, as records (cf. PartitionChangeBuilder).

Pure: image + partition + intent -> at most one PartitionChange record, or None when
nothing would change.
"""

from __future__ import annotations

from kraft.metadata.image import NO_LEADER, MetadataImage, PartitionRegistration
from kraft.metadata.records import PartitionChange


def build_partition_change(
    image: MetadataImage,
    topic_id: str,
    index: int,
    part: PartitionRegistration,
    *,
    unclean_allowed: bool,
    unusable: frozenset[int] = frozenset(),
    target_isr: tuple[int, ...] | None = None,
    prefer_first_replica: bool = False,
) -> PartitionChange | None:
    """Keep or pick a leader for `part`; `unusable` brokers may neither lead nor stay in ISR.

    Order of choice (Kafka's): the current leader if still usable; else the first
    replica in the ISR that is usable; else, only when unclean election is allowed,
    the first usable replica (the ISR becomes just that one, and it is recorded).
    An unusable broker leaves the ISR unless it is the last member: then the ISR
    keeps it, to say who holds the data, and the partition waits offline for it.
    """

    def usable(b: int) -> bool:
        return b not in unusable and image.is_usable(b)

    isr = tuple(target_isr) if target_isr is not None else part.isr
    shrunk = tuple(b for b in isr if usable(b))
    isr = shrunk if shrunk else isr

    leader, unclean = _choose_leader(part, isr, usable, unclean_allowed, prefer_first_replica)
    if unclean:
        isr = (leader,)
    if leader != NO_LEADER and leader not in isr:
        leader = NO_LEADER
    if leader == part.leader and isr == part.isr:
        return None
    return PartitionChange(
        topic_id=topic_id,
        partition=index,
        expected_partition_epoch=part.partition_epoch,
        leader=leader if leader != part.leader else None,
        isr=isr if isr != part.isr else None,
        unclean=unclean,
    )


def _choose_leader(part, isr, usable, unclean_allowed, prefer_first_replica):
    preferred = part.replicas[0]
    if prefer_first_replica and preferred in isr and usable(preferred):
        return preferred, False
    if part.leader != NO_LEADER and part.leader in isr and usable(part.leader):
        return part.leader, False
    for b in part.replicas:
        if b in isr and usable(b):
            return b, False
    if unclean_allowed:
        for b in part.replicas:
            if usable(b):
                return b, True
    return NO_LEADER, False
