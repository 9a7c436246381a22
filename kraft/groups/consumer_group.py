"""One KIP-848 consumer group (ConsumerGroupHeartbeat), after Kafka 4's ConsumerGroup
and GroupMetadataManager. Sans-IO: every call carries `now_ms` and the topics'
partition counts; nothing here reads a clock or does I/O; refusals are values.

Three epochs:
- the group epoch moves when the membership or a subscription changes (a member joins,
  leaves or is removed; its topic names, regex or assignor change; a subscribed topic
  gains partitions, appears or goes);
- the target assignment epoch: the group epoch the target assignment (the server-side
  assignor's answer, server_assignors.py) was computed for; a heartbeat that finds the
  group epoch ahead computes a new target first;
- each member's epoch: the target epoch it has reconciled to (reconciliation.py).

Reconciliation is incremental: a partition leaves its member (which answers with the
partitions it still owns) before any other member is given it, so no partition is ever
owned by two members. A member that does not revoke within its rebalance timeout, or
does not heartbeat within the session timeout, is removed and its partitions freed.

Static members (group.instance.id): leaving with epoch -2 keeps the member and its
partitions for the session timeout, so that the same instance rejoining (with a new
member id) takes them over without a rebalance; a second live KIP-848 member with the
same instance id is refused (UNRELEASED_INSTANCE_ID). Across protocols, as in Kafka, the
new process replaces the holder at once (a classic JoinGroup replaces any holder, a
KIP-848 join a classic one). A replaced process that names its instance id gets
FENCED_INSTANCE_ID from then on.

Size: a group of group.consumer.max.size members takes no other (GROUP_MAX_SIZE_REACHED
to a heartbeat or JoinGroup from a member id it does not know, as Kafka answers).

Classic members (KIP-848's mixed groups): a JoinGroup client of the consumer protocol
may be a member too. It is reconciled when it (re)joins, with the partitions its
subscription says it owns (none for an eager client, which revoked them all before
rejoining), and its JoinGroup answers its member epoch as the generation; SyncGroup
hands it its assigned partitions. Its Heartbeat answers REBALANCE_IN_PROGRESS when it
must rejoin (the group epoch moved past its epoch, it must revoke, or partitions it
waits for are free now), so partitions leave it only once it rejoined; a member that
does not rejoin within its rebalance timeout, or does not heartbeat within its own
session timeout, is removed.

The whole group is a value (to_record / from_record): the coordinator writes it to the
offsets topic after every change, so a new coordinator loads the same epochs and
assignments and members carry on.

The requests of both protocols are here; the group's state (members, target assignment,
reconciliation, the record) is in consumer_group_members.py, the values it takes and
answers in consumer_group_types.py.
"""


from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from kraft.groups.assignors import TopicPartition
from kraft.groups.consumer_group_members import ConsumerGroupMembers
from kraft.groups.consumer_group_types import (LEAVE_EPOCH, LEAVE_STATIC_EPOCH, Answer, ClassicJoin, ClassicJoined,
                                               ClassicProtocol, ConsumerGroupError, GroupConfig, GroupState, Heartbeat,
                                               Member, Refusal)
from kraft.groups.reconciliation import MemberState

__all__ = ["Answer", "ClassicJoin", "ClassicJoined", "ClassicProtocol", "ConsumerGroup", "ConsumerGroupError",
           "GroupConfig", "GroupState", "Heartbeat", "Member", "Refusal"]


class ConsumerGroup(ConsumerGroupMembers):
    # -- the heartbeat ----------------------------------------------------------------------
    def heartbeat(self, hb: Heartbeat, topics: Mapping[str, int]) -> Answer | Refusal:
        """topics: every existing topic -> its partition count, as the image shows it now."""
        if (refused := self._check_request(hb)) is not None:
            return refused
        if hb.member_epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH):
            return self._leave(hb, topics)
        if (too_many := self._full(hb.member_id)) is not None:
            return too_many
        found = self._member_for(hb)
        if isinstance(found, Refusal):
            return found
        member, joined = found
        before = member.assigned
        if self._update(member, hb) or joined:
            self.group_epoch += 1
            self._member_subs.pop(member.member_id, None)  # counted already: one new epoch
        member.last_seen_ms = hb.now_ms
        self._follow_topics(topics)
        if self.group_epoch > self.assignment_epoch:
            self._compute_target(topics)
        # A report that does not match the last assignment sent may predate the member's
        # applying it (it may yet take partitions it was sent): it is taken as owning
        # everything still, as an absent report is.
        owned = hb.owned if hb.owned is not None and hb.owned == member.last_sent else None
        self._reconcile(member, owned, hb.now_ms)
        full = hb.member_epoch == 0 or (hb.rebalance_timeout_ms != -1 and hb.topic_names is not None
                                        and hb.owned is not None)
        sent = member.assigned if full or joined or member.assigned != before else None
        if sent is not None:
            member.last_sent = sent
        return Answer(member.member_id, member.epoch, self.config.heartbeat_interval_ms, sent)

    def check_request(self, hb: Heartbeat) -> Refusal | None:
        """Why the heartbeat is refused before it changes anything; None: it is not."""
        if (refused := self._check_request(hb)) is not None:
            return refused
        return None if hb.member_epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH) else self._full(hb.member_id)

    def _check_request(self, hb: Heartbeat) -> Refusal | None:
        bad: Callable[[str], Refusal] = lambda msg: Refusal(ConsumerGroupError.INVALID_REQUEST, msg)
        if hb.member_epoch < LEAVE_STATIC_EPOCH:
            return bad(f"member epoch {hb.member_epoch} is not valid")
        if hb.member_epoch != 0 and not hb.member_id:
            return bad("a member id is required unless the member joins (epoch 0)")
        if hb.member_epoch == LEAVE_STATIC_EPOCH and not hb.instance_id:
            return bad("leaving with epoch -2 is for static members: the instance id is missing")
        if hb.member_epoch == 0:
            if hb.rebalance_timeout_ms == -1:
                return bad("a joining member gives its rebalance timeout")
            if hb.topic_names is None and hb.topic_regex is None:
                return bad("a joining member gives its subscribed topic names or regex")
            if hb.owned:
                return bad("a joining member owns no partitions")
        if hb.assignor and hb.assignor not in self.config.assignors:
            return Refusal(ConsumerGroupError.UNSUPPORTED_ASSIGNOR,
                           f"server assignor {hb.assignor!r} is not one of {', '.join(self.config.assignors)}")
        if hb.topic_regex:
            try:
                self._pattern(hb.topic_regex)
            except Exception as exc:  # regex.error: the client's pattern
                return Refusal(ConsumerGroupError.INVALID_REGULAR_EXPRESSION,
                               f"subscribed topic regex {hb.topic_regex[:100]!r} is not valid: {exc}")
        return None

    def _member_for(self, hb: Heartbeat) -> tuple[Member, bool] | Refusal:
        """The member the heartbeat is from, and whether it joined now."""
        if hb.instance_id is not None:
            return self._static_member_for(hb)
        member = self.members.get(hb.member_id) if hb.member_id else None
        if member is not None and member.classic is not None:  # it speaks JoinGroup, not this
            return self._unknown(hb.member_id)
        if hb.member_epoch == 0:
            if member is None:
                member = self._add(hb.member_id or self._new_member_id())
                return member, True
            self._rejoin(member)
            return member, False
        if member is None:
            return self._unknown(hb.member_id)
        return self._check_epoch(member, hb)

    def _static_member_for(self, hb: Heartbeat) -> tuple[Member, bool] | Refusal:
        holder = self._static_member(hb.instance_id)
        if hb.member_epoch == 0:
            if holder is None:
                member = self._add(hb.member_id or self._new_member_id())
                member.instance_id = hb.instance_id
                return member, True
            if holder.member_id == hb.member_id:
                self._rejoin(holder)
                return holder, False
            if not holder.left_static and holder.classic is None:
                return Refusal(ConsumerGroupError.UNRELEASED_INSTANCE_ID,
                               f"instance id {hb.instance_id!r} is held by member {holder.member_id!r}, which "
                               "has not left")
            # The instance is back under a new member id: it takes over the old member's
            # epoch and partitions, without a rebalance (a classic holder at once, as in
            # Kafka: only a KIP-848 holder must have left with epoch -2 first).
            del self.members[holder.member_id]
            member = replace(holder, member_id=hb.member_id or self._new_member_id(), left_static=False,
                             classic=None, rejoin_by_ms=0)
            self.members[member.member_id] = member
            self.target[member.member_id] = self.target.pop(holder.member_id, frozenset())
            return member, False
        named = self._named_member(hb.member_id, hb.instance_id)
        return named if isinstance(named, Refusal) else self._check_epoch(named, hb)

    def _check_epoch(self, member: Member, hb: Heartbeat) -> tuple[Member, bool] | Refusal:
        """Kafka's rule: an epoch ahead of the member's, or behind it other than the
        previous epoch with a subset of the current assignment (its answer was lost),
        fences the member: it must give up its partitions and rejoin."""
        epoch = hb.member_epoch
        lost_answer = (epoch == member.previous_epoch and hb.owned is not None and hb.owned <= member.assigned)
        if epoch > member.epoch or (epoch < member.epoch and not lost_answer):
            return Refusal(ConsumerGroupError.FENCED_MEMBER_EPOCH,
                           f"member {member.member_id!r} sent epoch {epoch}, the coordinator has {member.epoch}: "
                           "it must give up its partitions and rejoin")
        return member, False

    # -- classic members (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) -----------------------
    def classic_join(self, join: ClassicJoin, topics: Mapping[str, int]) -> ClassicJoined | Refusal:
        """A classic member joins or rejoins: it is reconciled now, with what it owns. A
        static member (instance id) joining without a member id takes its predecessor's
        place, epoch and partitions, as in a classic group (KIP-345)."""
        if (too_many := self._full(join.member_id)) is not None:
            return too_many
        names = {name for name, _ in join.protocols}
        others = [m.classic for mid, m in self.members.items() if m.classic is not None and mid != join.member_id]
        if not names or any(not names & {name for name, _ in c.protocols} for c in others):
            return Refusal(ConsumerGroupError.INCONSISTENT_GROUP_PROTOCOL,
                           f"protocols {sorted(names)} share none with every classic member of the group")
        holder = self._static_member(join.instance_id) if join.instance_id else None
        if join.member_id:
            found = self._named_member(join.member_id, join.instance_id)
            if isinstance(found, Refusal):
                return found
            if found.classic is None:
                return self._unknown(join.member_id)
            member, joined = found, False
        elif holder is not None:  # as Kafka: a classic process replaces any holder of its instance id
            del self.members[holder.member_id]
            member = replace(holder, member_id=self._new_member_id(), left_static=False)
            self.members[member.member_id] = member
            self.target[member.member_id] = self.target.pop(holder.member_id, frozenset())
            joined = False
        else:
            member, joined = self._add(self._new_member_id()), True
            member.instance_id = join.instance_id
        changed = tuple(sorted(join.topics)) != member.topic_names
        member.topic_names = tuple(sorted(join.topics))
        member.classic = ClassicProtocol(join.session_timeout_ms, join.protocols)
        member.rebalance_timeout_ms = join.rebalance_timeout_ms
        member.client_id, member.client_host = join.client_id, join.client_host
        member.last_seen_ms, member.rejoin_by_ms = join.now_ms, 0
        if changed or joined:
            self.group_epoch += 1
        self._follow_topics(topics)
        if self.group_epoch > self.assignment_epoch:
            self._compute_target(topics)
        # It owns what its subscription says; partitions it was told to revoke and no
        # longer names are revoked by this rejoin.
        self._reconcile(member, join.owned & member.owns(), join.now_ms)
        member.last_sent = member.assigned
        return ClassicJoined(member.member_id, member.epoch, member.classic.protocol_name)

    def _classic_member(self, member_id: str, generation: int, instance_id: str | None = None) -> Member | Refusal:
        member = self._named_member(member_id, instance_id)
        if isinstance(member, Refusal):
            return member
        if member.classic is None:
            return self._unknown(member_id)
        if generation != member.epoch:
            return Refusal(ConsumerGroupError.ILLEGAL_GENERATION,
                           f"member {member_id!r} sent generation {generation}, its epoch is {member.epoch}: rejoin")
        return member

    def classic_sync(self, member_id: str, generation: int, protocol_type: str | None, protocol_name: str | None,
                     now_ms: int, instance_id: str | None = None) -> frozenset[TopicPartition] | Refusal:
        """SyncGroup: the member's assigned partitions."""
        member = self._classic_member(member_id, generation, instance_id)
        if isinstance(member, Refusal):
            return member
        assert member.classic is not None
        if (protocol_type not in (None, "consumer")
                or (protocol_name is not None and protocol_name != member.classic.protocol_name)):
            return Refusal(ConsumerGroupError.INCONSISTENT_GROUP_PROTOCOL,
                           f"sync names protocol {protocol_type!r}/{protocol_name!r}, the member joined with "
                           f"'consumer'/{member.classic.protocol_name!r}")
        member.last_seen_ms = now_ms
        return member.assigned

    def classic_heartbeat(self, member_id: str, generation: int, now_ms: int,
                          instance_id: str | None = None) -> Refusal | None:
        """None: carry on. REBALANCE_IN_PROGRESS: rejoin (within the rebalance timeout)."""
        member = self._classic_member(member_id, generation, instance_id)
        if isinstance(member, Refusal):
            return member
        member.last_seen_ms = now_ms
        held = self._held_by_others(member.member_id)
        waiting_freed = member.state is MemberState.UNRELEASED_PARTITIONS and bool(
            self.target.get(member.member_id, frozenset()) - member.assigned - held)
        if member.epoch < self.group_epoch or member.state is MemberState.UNREVOKED_PARTITIONS or waiting_freed:
            if not member.rejoin_by_ms:
                member.rejoin_by_ms = now_ms + member.rebalance_timeout_ms
            return Refusal(ConsumerGroupError.REBALANCE_IN_PROGRESS,
                           f"group {self.group_id!r} has a new assignment for member {member_id!r}: rejoin")
        return None

    def classic_leave(self, member_id: str, instance_id: str | None = None) -> Refusal | None:
        """LeaveGroup; an admin removes a static member by its instance id alone."""
        if not member_id and instance_id:
            member_id = getattr(self._static_member(instance_id), "member_id", "")
        member = self._named_member(member_id, instance_id)
        if isinstance(member, Refusal):
            return member
        if member.classic is None:
            return self._unknown(member_id)
        self.remove(member.member_id)
        return None

    # -- leaving, expiry, topic changes -----------------------------------------------------
    def _leave(self, hb: Heartbeat, topics: Mapping[str, int]) -> Answer | Refusal:
        if hb.member_epoch == LEAVE_STATIC_EPOCH:
            member = self._named_member(hb.member_id, hb.instance_id)
            if isinstance(member, Refusal):
                return member
            member.left_static, member.last_seen_ms = True, hb.now_ms
            return Answer(member.member_id, LEAVE_STATIC_EPOCH, self.config.heartbeat_interval_ms, None)
        member = self._named_member(hb.member_id, hb.instance_id)
        if isinstance(member, Refusal):
            return member
        self.remove(member.member_id)
        return Answer(hb.member_id, LEAVE_EPOCH, self.config.heartbeat_interval_ms, None)
