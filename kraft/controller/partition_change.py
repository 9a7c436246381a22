"""Leader, ISR and ELR decisions for one partition, as records (cf. PartitionChangeBuilder).

Pure: image + partition + intent -> at most one PartitionChange record, or None when
nothing would change.

The rules are Kafka's with eligible leader replicas (KIP-966). The leader's high
watermark advances only while the ISR has at least min.insync.replicas members, so a
replica that leaves an ISR which is then below min ISR still holds every committed
record: it goes to the ELR and may lead when the ISR is empty. A broker that lost
what it had not fsynced (`lost_data`: it registered after an unclean shutdown) leaves
both. When that leaves both empty, the members they had become the last known ELR:
the best copies there are, but not proven to hold every committed record, so electing
one is recorded as unclean (Kafka elects its last known leader the same way).
"""

from __future__ import annotations

from kraft.metadata.image import NO_LEADER, MetadataImage, PartitionRegistration
from kraft.metadata.records import PartitionChange


def next_elr(part: PartitionRegistration, isr: tuple[int, ...], min_isr: int,
             lost_data: frozenset[int] = frozenset()) -> tuple[int, ...]:
    """The ELR once the ISR becomes `isr`: empty when the ISR reaches min ISR (the HW
    moves on without the others); else the previous ELR plus whoever leaves the ISR now,
    minus the new ISR and brokers that lost data. In replica order."""
    if len(isr) >= min_isr:
        return ()
    eligible = set(part.elr) | (set(part.isr) - set(isr))
    return tuple(b for b in part.replicas if b in eligible and b not in isr and b not in lost_data)


def build_partition_change(
    image: MetadataImage,
    topic_id: str,
    index: int,
    part: PartitionRegistration,
    *,
    unclean_allowed: bool,
    min_isr: int,
    unusable: frozenset[int] = frozenset(),
    lost_data: frozenset[int] = frozenset(),
    returning: frozenset[int] = frozenset(),
    target_isr: tuple[int, ...] | None = None,
    prefer_first_replica: bool = False,
) -> PartitionChange | None:
    """Keep or pick a leader for `part`. `unusable` brokers may neither lead nor stay in
    the ISR; `returning` ones count as usable although the image still fences them.

    Order of choice: the current leader if still in the ISR; else the first ISR member;
    else the first usable ELR member (it becomes the ISR); else the first usable member
    of the last known ELR (recorded as unclean); else, only when unclean election is
    allowed, the first usable replica (recorded as unclean); else none, and the
    partition waits offline for an ELR member.
    """

    def usable(b: int) -> bool:
        return b not in unusable and (b in returning or image.is_usable(b))

    wanted = tuple(target_isr) if target_isr is not None else part.isr
    isr = tuple(b for b in wanted if usable(b) and b not in lost_data)
    elr = next_elr(part, isr, min_isr, lost_data)
    last_known: tuple[int, ...] = ()
    if not isr and not elr:
        # everyone left lost data: who held the most is still known, not proven complete
        had = set(part.isr) | set(part.elr) | set(part.last_known_elr)
        last_known = tuple(b for b in part.replicas if b in had)

    leader, unclean = _choose_leader(part, isr, prefer_first_replica), False
    if leader == NO_LEADER:
        from_elr = next((b for b in elr if usable(b)), NO_LEADER)
        from_last_known = next((b for b in last_known if usable(b)), NO_LEADER)
        if from_elr != NO_LEADER:
            leader, isr = from_elr, (from_elr,)
            elr = tuple(b for b in elr if b != from_elr)
        elif from_last_known != NO_LEADER:
            leader, isr, last_known, unclean = from_last_known, (from_last_known,), (), True
        elif unclean_allowed:
            leader = next((b for b in part.replicas if usable(b)), NO_LEADER)
            if leader != NO_LEADER:
                isr, elr, last_known, unclean = (leader,), (), (), True
    if (leader, isr, elr, last_known) == (part.leader, part.isr, part.elr, part.last_known_elr):
        return None
    return PartitionChange(
        topic_id=topic_id,
        partition=index,
        expected_partition_epoch=part.partition_epoch,
        leader=leader if leader != part.leader else None,
        isr=isr if isr != part.isr else None,
        elr=elr if elr != part.elr else None,
        last_known_elr=last_known if last_known != part.last_known_elr else None,
        unclean=unclean,
    )


def _choose_leader(part: PartitionRegistration, isr: tuple[int, ...], prefer_first_replica: bool) -> int:
    """A leader from the ISR (every member of which is usable), or NO_LEADER."""
    if prefer_first_replica and part.replicas[0] in isr:
        return part.replicas[0]
    if part.leader != NO_LEADER and part.leader in isr:
        return part.leader
    return next((b for b in part.replicas if b in isr), NO_LEADER)
