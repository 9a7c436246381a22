"""The state of one KIP-848 consumer group: its members, epochs, target assignment and
reconciliation, and the whole group as a record. Sans-IO. The requests of both protocols
(heartbeats, a classic member's JoinGroup and the rest) are ConsumerGroup's
(consumer_group.py), built on this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Self

from kraft.groups.assignors import TopicPartition
from kraft.groups.consumer_group_types import (ConsumerGroupError, GroupConfig, GroupState, Heartbeat, Member,
                                               Refusal, member_from_record, member_record, partitions_of)
from kraft.groups.reconciliation import MemberState, Reconciled, reconcile
from kraft.groups.server_assignors import DEFAULT_ASSIGNOR, target_assignment
from kraft.groups.topic_pattern import TopicPattern


class ConsumerGroupMembers:
    """A consumer group's members, target assignment and reconciliation, and the group
    as a record; the protocols' requests are ConsumerGroup's (consumer_group.py)."""

    def __init__(self, group_id: str, config: GroupConfig, new_member_id: Callable[[], str]):
        self.group_id = group_id
        self.config = config
        self._new_member_id = new_member_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, Member] = {}
        self.target: dict[str, frozenset[TopicPartition]] = {}
        self.subscribed: dict[str, int] = {}  # topic -> partition count the group epoch saw
        # member -> its topics when last followed: one member's set can change while the
        # group's union does not (its rights to a topic changed)
        self._member_subs: dict[str, frozenset[str]] = {}
        self._patterns: dict[str, TopicPattern] = {}

    # -- views ----------------------------------------------------------------------------
    @property
    def state(self) -> GroupState:
        active = [m for m in self.members.values() if not m.left_static]
        if not self.members:
            return GroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return GroupState.ASSIGNING
        if any(m.epoch != self.assignment_epoch or m.state is not MemberState.STABLE for m in active):
            return GroupState.RECONCILING
        return GroupState.STABLE

    @property
    def empty(self) -> bool:
        return not self.members

    @property
    def assignor(self) -> str:
        """The members' most requested server assignor (ties by name), else the default."""
        asked: dict[str, int] = {}
        for m in self.members.values():
            if m.assignor:
                asked[m.assignor] = asked.get(m.assignor, 0) + 1
        if not asked:
            return self.config.assignors[0] if self.config.assignors else DEFAULT_ASSIGNOR
        return min(asked, key=lambda name: (-asked[name], name))

    @property
    def has_classic_members(self) -> bool:
        return any(m.classic is not None for m in self.members.values())

    @property
    def only_classic_members(self) -> bool:
        """Members left, all of them classic: the group may convert back to a classic one."""
        return bool(self.members) and all(m.classic is not None for m in self.members.values())

    def subscribed_topics(self, member: Member, topics: Mapping[str, int]) -> frozenset[str]:
        names = {t for t in member.topic_names if t in topics}
        if member.topic_regex:
            matched = self._pattern(member.topic_regex).matching(sorted(topics))
            visible = member.topic_visible
            names |= matched if visible is None else {t for t in matched if visible(t)}
        return frozenset(names)

    def commit_error(self, member_id: str, epoch: int) -> Refusal | None:
        """Why an OffsetCommit with this member id and epoch may not move the group's
        offsets (Kafka's ConsumerGroup.validateOffsetCommit): an empty group takes
        commits from outside it (epoch -1); otherwise the member must exist and commit
        with its current epoch."""
        if epoch < 0 and not self.members:
            return None
        member = self.members.get(member_id)
        if member is None or member.left_static:
            return Refusal(ConsumerGroupError.UNKNOWN_MEMBER_ID,
                           f"group {self.group_id!r} has no member {member_id!r}")
        if epoch != member.epoch and member.classic is not None:  # as a classic group answers it
            return Refusal(ConsumerGroupError.ILLEGAL_GENERATION,
                           f"member {member_id!r} is at generation {member.epoch}, the commit names {epoch}")
        if epoch != member.epoch:
            return Refusal(ConsumerGroupError.STALE_MEMBER_EPOCH,
                           f"member {member_id!r} is at epoch {member.epoch}, the commit names {epoch}")
        return None

    def _full(self, member_id: str | None) -> Refusal | None:
        """Kafka's throwIfConsumerGroupIsFull: at group.consumer.max.size members, only a
        member of the group may heartbeat or join; even a static member's new process
        (a member id the group does not know) is refused then, as in Kafka."""
        if len(self.members) < self.config.max_size or (member_id and member_id in self.members):
            return None
        return Refusal(ConsumerGroupError.GROUP_MAX_SIZE_REACHED,
                       f"group {self.group_id!r} has reached its maximum size of {self.config.max_size} members "
                       "(group.consumer.max.size)")

    def _named_member(self, member_id: str, instance_id: str | None) -> Member | Refusal:
        """The member a request names, as Kafka checks it (validateConsumerGroupMember):
        with an instance id, the static member holding it, which must be this member id;
        a process a restart replaced gets FENCED_INSTANCE_ID, not UNKNOWN_MEMBER_ID."""
        if instance_id is None:
            member = self.members.get(member_id)
            return member if member is not None else self._unknown(member_id)
        holder = self._static_member(instance_id)
        if holder is None:
            return Refusal(ConsumerGroupError.UNKNOWN_MEMBER_ID,
                           f"group {self.group_id!r} has no static member with instance id {instance_id!r}")
        if holder.member_id != member_id:
            return Refusal(ConsumerGroupError.FENCED_INSTANCE_ID,
                           f"instance id {instance_id!r} belongs to member {holder.member_id!r} now: member "
                           f"{member_id!r} was replaced by another process with that group.instance.id")
        return holder

    def _unknown(self, member_id: str) -> Refusal:
        return Refusal(ConsumerGroupError.UNKNOWN_MEMBER_ID, f"group {self.group_id!r} has no member {member_id!r}")

    def _add(self, member_id: str) -> Member:
        member = self.members[member_id] = Member(member_id)
        return member

    @staticmethod
    def _rejoin(member: Member) -> None:
        """A known member joins again (epoch 0) after losing its partitions (fenced, or its
        answer lost): it owns nothing now, so nothing waits for its revocation; it
        reconciles to the current target from scratch."""
        member.assigned = member.pending_revocation = member.last_sent = frozenset()
        member.epoch, member.previous_epoch = 0, -1
        member.state, member.revoke_by_ms = MemberState.STABLE, 0

    def _static_member(self, instance_id: str | None) -> Member | None:
        return next((m for m in self.members.values() if m.instance_id == instance_id), None)

    @staticmethod
    def _update(member: Member, hb: Heartbeat) -> bool:
        """Apply the heartbeat's member fields; True when the subscription changed."""
        changed = False
        if hb.topic_names is not None and tuple(sorted(set(hb.topic_names))) != member.topic_names:
            member.topic_names, changed = tuple(sorted(set(hb.topic_names))), True
        if hb.topic_regex is not None and (hb.topic_regex or None) != member.topic_regex:
            member.topic_regex, changed = hb.topic_regex or None, True
        if hb.assignor is not None and (hb.assignor or None) != member.assignor:
            member.assignor, changed = hb.assignor or None, True
        if hb.rebalance_timeout_ms != -1:
            member.rebalance_timeout_ms = hb.rebalance_timeout_ms
        if hb.rack_id is not None:
            member.rack_id = hb.rack_id
        member.client_id, member.client_host = hb.client_id, hb.client_host
        if hb.topic_visible is not None:
            member.topic_visible = hb.topic_visible
        return changed

    # -- removal, expiry, topic changes -----------------------------------------------------
    def remove(self, member_id: str) -> None:
        """The member is gone: its partitions are free, the group epoch moves on."""
        self.members.pop(member_id, None)
        self.target.pop(member_id, None)
        self.group_epoch += 1

    def expire(self, now_ms: int) -> list[tuple[str, str]]:
        """Remove members past their session timeout, or past their rebalance timeout
        with partitions still to revoke. Returns (member id, why) of each removed."""
        gone = []
        for mid, m in list(self.members.items()):
            session = m.classic.session_timeout_ms if m.classic is not None else self.config.session_timeout_ms
            if now_ms >= m.last_seen_ms + session:
                gone.append((mid, "session timeout"))
            elif m.rejoin_by_ms and now_ms >= m.rejoin_by_ms:
                gone.append((mid, "rebalance timeout (did not rejoin)"))
            elif m.state is MemberState.UNREVOKED_PARTITIONS and m.revoke_by_ms and now_ms >= m.revoke_by_ms:
                gone.append((mid, "rebalance timeout (partitions not revoked)"))
        for mid, _ in gone:
            self.remove(mid)
        return gone

    def _follow_topics(self, topics: Mapping[str, int]) -> None:
        """A subscribed topic created, deleted or grown: a new group epoch."""
        subs = {mid: self.subscribed_topics(m, topics) for mid, m in self.members.items()}
        moved = any(self._member_subs.get(mid, topics_of) != topics_of for mid, topics_of in subs.items())
        self._member_subs = subs
        now = {t: topics[t] for topics_of in subs.values() for t in topics_of}
        if now != self.subscribed or moved:
            self.subscribed = now
            self.group_epoch += 1

    def topics_changed(self, topics: Mapping[str, int]) -> bool:
        """Called on metadata changes; True when the group epoch moved."""
        epoch = self.group_epoch
        self._follow_topics(topics)
        return self.group_epoch != epoch

    # -- assignment ----------------------------------------------------------------------------
    def _compute_target(self, topics: Mapping[str, int]) -> None:
        subs = {mid: self.subscribed_topics(m, topics) for mid, m in self.members.items()}
        self.target = dict(target_assignment(self.assignor, subs, self.subscribed, self.target))
        self.assignment_epoch = self.group_epoch

    def _reconcile(self, member: Member, owned: frozenset[TopicPartition] | None, now_ms: int) -> None:
        held = self._held_by_others(member.member_id)
        step: Reconciled = reconcile(member.state, member.epoch, member.assigned, member.pending_revocation,
                                     self.assignment_epoch, self.target.get(member.member_id, frozenset()),
                                     owned, held)
        if step.epoch != member.epoch:
            member.previous_epoch = member.epoch
        if step.state is MemberState.UNREVOKED_PARTITIONS and member.state is not MemberState.UNREVOKED_PARTITIONS:
            member.revoke_by_ms = now_ms + member.rebalance_timeout_ms
        elif step.state is not MemberState.UNREVOKED_PARTITIONS:
            member.revoke_by_ms = 0
        member.state, member.epoch = step.state, step.epoch
        member.assigned, member.pending_revocation = step.assigned, step.pending_revocation

    def _held_by_others(self, member_id: str) -> frozenset[TopicPartition]:
        held: set[TopicPartition] = set()
        for mid, m in self.members.items():
            if mid != member_id:
                held |= m.owns()
        return frozenset(held)

    def _pattern(self, source: str) -> TopicPattern:
        pattern = self._patterns.get(source)
        if pattern is None:
            pattern = self._patterns[source] = TopicPattern(source)
        return pattern

    # -- as a record ------------------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        return {
            "group_epoch": self.group_epoch, "assignment_epoch": self.assignment_epoch,
            "subscribed": dict(sorted(self.subscribed.items())),
            "target": {mid: sorted(tps) for mid, tps in sorted(self.target.items())},
            "members": [member_record(m) for m in self.members.values()],
        }

    @classmethod
    def from_record(cls, group_id: str, record: dict[str, Any], config: GroupConfig, new_member_id: Callable[[], str],
                    now_ms: int) -> Self:
        """A group as loaded by a new coordinator: every member's session starts now."""
        group = cls(group_id, config, new_member_id)
        group.group_epoch, group.assignment_epoch = int(record["group_epoch"]), int(record["assignment_epoch"])
        group.subscribed = {str(t): int(n) for t, n in record["subscribed"].items()}
        group.target = {mid: partitions_of(tps) for mid, tps in record["target"].items()}
        for fields in record["members"]:
            member = member_from_record(fields)
            member.last_seen_ms = now_ms
            if member.state is MemberState.UNREVOKED_PARTITIONS:
                member.revoke_by_ms = now_ms + member.rebalance_timeout_ms
            group.members[member.member_id] = member
        return group


