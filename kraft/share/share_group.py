"""A share group's membership and assignment (ShareGroupHeartbeat), without I/O.

The server assigns: every member gets every partition of the topics it subscribes to
(KIP-932 lets members share partitions; the share-partition hands each record to one
member at a time, so more members than partitions all get work). The group epoch
moves when a member joins, leaves or changes its subscription, or a subscribed topic
gains partitions; a member's epoch follows the group's at its next heartbeat, which
then carries its new assignment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kraft.errors.kafka_codes import FENCED_MEMBER_EPOCH, GROUP_MAX_SIZE_REACHED, INVALID_REQUEST, UNKNOWN_MEMBER_ID

JOIN = 0
LEAVE = -1

# a topic's partition count in the current metadata, None when it does not exist
PartitionCount = Callable[[str], int | None]


@dataclass
class ShareMember:
    member_id: str
    epoch: int
    topics: tuple[str, ...]
    client_id: str
    rack_id: str | None
    last_seen_ms: int
    assigned: frozenset[tuple[str, int]] = frozenset()


@dataclass(frozen=True)
class Refusal:
    code: int
    message: str


@dataclass(frozen=True)
class HeartbeatAnswer:
    member_id: str
    member_epoch: int
    assignment: frozenset[tuple[str, int]] | None  # None: unchanged since the member last heard it


@dataclass
class ShareGroup:
    group_id: str
    max_size: int = 2**31 - 1
    epoch: int = 0
    members: dict[str, ShareMember] = field(default_factory=dict)
    _shape: tuple[tuple[str, int], ...] = ()  # the subscribed topics' partition counts at the last epoch

    def heartbeat(self, member_id: str, member_epoch: int, topics: tuple[str, ...] | None, client_id: str,
                  rack_id: str | None, now_ms: int, partitions: PartitionCount) -> HeartbeatAnswer | Refusal:
        if member_epoch == LEAVE:
            if self.members.pop(member_id, None) is not None:
                self._bump(partitions)
            return HeartbeatAnswer(member_id, LEAVE, None)
        if member_epoch == JOIN:
            if topics is None:
                return Refusal(INVALID_REQUEST, "a joining member names the topics it subscribes to")
            if member_id not in self.members and len(self.members) >= self.max_size:
                return Refusal(GROUP_MAX_SIZE_REACHED, f"the group has {len(self.members)} members, its limit")
            member_id = member_id or str(uuid.uuid4())
            self.members[member_id] = ShareMember(member_id, 0, tuple(topics), client_id, rack_id, now_ms)
            self._bump(partitions)
        else:
            member = self.members.get(member_id)
            if member is None:
                return Refusal(UNKNOWN_MEMBER_ID, "the member is not in the group (its session may have expired)")
            if member_epoch != member.epoch:
                return Refusal(FENCED_MEMBER_EPOCH, f"member epoch {member_epoch} is not the member's ({member.epoch})")
            member.last_seen_ms = now_ms
            if topics is not None and tuple(topics) != member.topics:
                member.topics = tuple(topics)
                self._bump(partitions)
            elif self._shape != self._topics_shape(partitions):  # a topic created, deleted or grown
                self._bump(partitions)
        member = self.members[member_id]
        member.last_seen_ms = now_ms
        changed = member.epoch != self.epoch
        if changed:
            member.epoch = self.epoch
            member.assigned = self._assignment(member, partitions)
        full = changed or member_epoch == JOIN
        return HeartbeatAnswer(member_id, member.epoch, member.assigned if full else None)

    def expire(self, now_ms: int, session_timeout_ms: int, partitions: PartitionCount) -> list[str]:
        """Members not heard from within the session timeout leave; their ids."""
        gone = [m for m, member in self.members.items() if now_ms - member.last_seen_ms > session_timeout_ms]
        for member_id in gone:
            del self.members[member_id]
        if gone:
            self._bump(partitions)
        return gone

    def subscribed_topics(self) -> set[str]:
        return {t for m in self.members.values() for t in m.topics}

    def _topics_shape(self, partitions: PartitionCount) -> tuple[tuple[str, int], ...]:
        return tuple((t, partitions(t) or 0) for t in sorted(self.subscribed_topics()))

    def _bump(self, partitions: PartitionCount) -> None:
        self.epoch += 1
        self._shape = self._topics_shape(partitions)

    @staticmethod
    def _assignment(member: ShareMember, partitions: PartitionCount) -> frozenset[tuple[str, int]]:
        return frozenset((t, p) for t in member.topics for p in range(partitions(t) or 0))
