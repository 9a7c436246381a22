"""What DeleteGroups and OffsetDelete may remove, decided as Kafka's coordinator does. Pure.

A group exists here while it has a member or an offset (kraft keeps no group record
beside the offsets, so a group that has neither is as gone as Kafka's Dead group).
It is deleted only without members, and then all its offsets go, committed ones and
those pending in open transactions alike.

OffsetDelete removes the offsets of partitions nobody in the group consumes. When the
members' subscriptions can be read (the consumer protocol, REST consumer instances), a
partition of a topic they subscribe to or own keeps its offset and answers
GROUP_SUBSCRIBED_TO_TOPIC; when they cannot (connect and other protocol types), a group
with members keeps every offset: NON_EMPTY_GROUP for the whole request. A partition
with no offset is answered as deleted: there is nothing left of it either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass

from kraft.errors import GroupIdNotFound, GroupSubscribedToTopic, KraftError, NonEmptyGroup

Key = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Membership:
    """The group's members as deletion sees them."""

    members: int = 0
    topics: frozenset[str] | None = frozenset()  # consumed now; None: not readable (not "consumer")


def check_group_deletable(group_id: str, membership: Membership, offsets: Set[Key]) -> None:
    """GroupIdNotFound or NonEmptyGroup when DeleteGroups must refuse the group."""
    if membership.members:
        raise NonEmptyGroup(f"NON_EMPTY_GROUP: group {group_id!r} has {membership.members} member(s); "
                            "a group is deleted once its members have left")
    if not offsets:
        raise GroupIdNotFound(f"GROUP_ID_NOT_FOUND: group {group_id!r} has no members and no offsets")


def offsets_to_delete(group_id: str, membership: Membership, offsets: Set[Key],
                      requested: Iterable[Key]) -> dict[Key, KraftError | None]:
    """Each requested partition's outcome: None (its offset goes, if it has one) or the
    error to answer for it. Raises GroupIdNotFound or NonEmptyGroup for the whole request."""
    if not membership.members and not offsets:
        raise GroupIdNotFound(f"GROUP_ID_NOT_FOUND: group {group_id!r} has no members and no offsets")
    if membership.members and membership.topics is None:
        raise NonEmptyGroup(f"NON_EMPTY_GROUP: group {group_id!r} has members whose subscriptions are not "
                            "readable (not the consumer protocol): its offsets stay until they leave")
    consumed = membership.topics or frozenset()
    out: dict[Key, KraftError | None] = {}
    for topic, partition in requested:
        if topic in consumed:
            out[(topic, partition)] = GroupSubscribedToTopic(
                f"GROUP_SUBSCRIBED_TO_TOPIC: group {group_id!r} consumes topic {topic!r}; its offsets stay")
        else:
            out[(topic, partition)] = None
    return out
