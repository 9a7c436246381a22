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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from kraft.groups.assignors import TopicPartition
from kraft.groups.reconciliation import MemberState, Reconciled, reconcile
from kraft.groups.server_assignors import DEFAULT_ASSIGNOR, SERVER_ASSIGNORS, target_assignment
from kraft.groups.topic_pattern import TopicPattern

LEAVE_EPOCH, LEAVE_STATIC_EPOCH = -1, -2


class ConsumerGroupError(Enum):
    """Kafka's code for each refusal of a consumer group."""

    INVALID_REQUEST = 42
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    REBALANCE_IN_PROGRESS = 27
    UNKNOWN_MEMBER_ID = 25
    FENCED_INSTANCE_ID = 82
    FENCED_MEMBER_EPOCH = 110
    UNRELEASED_INSTANCE_ID = 111
    GROUP_MAX_SIZE_REACHED = 81
    UNSUPPORTED_ASSIGNOR = 112
    STALE_MEMBER_EPOCH = 113
    INVALID_REGULAR_EXPRESSION = 128

    @property
    def code(self) -> int:
        return self.value


class GroupState(Enum):
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"


@dataclass(frozen=True)
class Refusal:
    error: ConsumerGroupError
    message: str


@dataclass(frozen=True)
class GroupConfig:
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 5_000
    assignors: tuple[str, ...] = SERVER_ASSIGNORS  # the first is the default
    max_size: int = 2**31 - 1  # group.consumer.max.size (Kafka's default: no limit)


@dataclass(frozen=True)
class Heartbeat:
    """A ConsumerGroupHeartbeat, topics by name. None fields: unchanged since the last one."""
    member_id: str
    member_epoch: int
    now_ms: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    topic_names: tuple[str, ...] | None = None
    topic_regex: str | None = None
    assignor: str | None = None
    owned: frozenset[TopicPartition] | None = None
    client_id: str = ""
    client_host: str = ""
    # whether the member's principal may see a topic (DESCRIBE); None: anyone may
    topic_visible: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Answer:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: frozenset[TopicPartition] | None  # None: not sent (unchanged)


@dataclass(frozen=True)
class ClassicProtocol:
    """What a classic member joined with (JoinGroup): kept to answer and describe it, and
    to hand it back to a classic group if the group converts back."""
    session_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]  # (assignor name, subscription bytes), preferred first

    @property
    def protocol_name(self) -> str:
        return self.protocols[0][0] if self.protocols else ""


@dataclass(frozen=True)
class ClassicJoin:
    """A JoinGroup of the consumer protocol into a consumer group. owned: the partitions
    its subscription names as owned (empty for an eager client)."""
    member_id: str | None
    now_ms: int
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]
    topics: frozenset[str]
    owned: frozenset[TopicPartition] = frozenset()
    instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""


@dataclass(frozen=True)
class ClassicJoined:
    member_id: str
    generation: int  # the member's epoch
    protocol_name: str


@dataclass
class Member:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    topic_names: tuple[str, ...] = ()
    topic_regex: str | None = None
    assignor: str | None = None
    rebalance_timeout_ms: int = 300_000
    epoch: int = 0
    previous_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: frozenset[TopicPartition] = frozenset()
    pending_revocation: frozenset[TopicPartition] = frozenset()
    left_static: bool = False  # left with epoch -2: kept for its instance's return
    # The partitions last sent to it: its reports of what it owns count only once they
    # match them (before, it may still be applying an earlier assignment).
    last_sent: frozenset[TopicPartition] = frozenset()
    last_seen_ms: int = 0
    revoke_by_ms: int = 0  # set while partitions wait for its revocation
    classic: ClassicProtocol | None = None  # a JoinGroup client's member
    rejoin_by_ms: int = 0  # a classic member told to rejoin: removed if it has not by then
    # from its latest heartbeat (kept in memory only): its regex never resolves to a topic
    # its principal may not DESCRIBE, as Kafka's coordinator resolves regexes
    topic_visible: Callable[[str], bool] | None = field(default=None, repr=False, compare=False)

    def owns(self) -> frozenset[TopicPartition]:
        return self.assigned | self.pending_revocation


class ConsumerGroup:
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
        bad = lambda msg: Refusal(ConsumerGroupError.INVALID_REQUEST, msg)
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
    def to_record(self) -> dict:
        return {
            "group_epoch": self.group_epoch, "assignment_epoch": self.assignment_epoch,
            "subscribed": dict(sorted(self.subscribed.items())),
            "target": {mid: sorted(tps) for mid, tps in sorted(self.target.items())},
            "members": [_member_record(m) for m in self.members.values()],
        }

    @classmethod
    def from_record(cls, group_id: str, record: dict, config: GroupConfig, new_member_id: Callable[[], str],
                    now_ms: int) -> ConsumerGroup:
        """A group as loaded by a new coordinator: every member's session starts now."""
        group = cls(group_id, config, new_member_id)
        group.group_epoch, group.assignment_epoch = int(record["group_epoch"]), int(record["assignment_epoch"])
        group.subscribed = {str(t): int(n) for t, n in record["subscribed"].items()}
        group.target = {mid: _partitions(tps) for mid, tps in record["target"].items()}
        for fields in record["members"]:
            member = _member_from(fields)
            member.last_seen_ms = now_ms
            if member.state is MemberState.UNREVOKED_PARTITIONS:
                member.revoke_by_ms = now_ms + member.rebalance_timeout_ms
            group.members[member.member_id] = member
        return group


def _partitions(items) -> frozenset[TopicPartition]:
    return frozenset((str(t), int(p)) for t, p in items)


def _member_record(m: Member) -> dict:
    return {"member_id": m.member_id, "instance_id": m.instance_id, "rack_id": m.rack_id,
            "client_id": m.client_id, "client_host": m.client_host, "topic_names": list(m.topic_names),
            "topic_regex": m.topic_regex, "assignor": m.assignor, "rebalance_timeout_ms": m.rebalance_timeout_ms,
            "epoch": m.epoch, "previous_epoch": m.previous_epoch, "state": m.state.value,
            "assigned": sorted(m.assigned), "pending_revocation": sorted(m.pending_revocation),
            "left_static": m.left_static, "last_sent": sorted(m.last_sent),
            "classic": None if m.classic is None else {
                "session_timeout_ms": m.classic.session_timeout_ms,
                "protocols": [[name, metadata.hex()] for name, metadata in m.classic.protocols]}}


def _member_from(f: dict) -> Member:
    return Member(member_id=str(f["member_id"]), instance_id=f.get("instance_id"), rack_id=f.get("rack_id"),
                  client_id=str(f.get("client_id", "")), client_host=str(f.get("client_host", "")),
                  topic_names=tuple(f.get("topic_names", ())), topic_regex=f.get("topic_regex"),
                  assignor=f.get("assignor"), rebalance_timeout_ms=int(f.get("rebalance_timeout_ms", 300_000)),
                  epoch=int(f["epoch"]), previous_epoch=int(f.get("previous_epoch", -1)),
                  state=MemberState(f.get("state", MemberState.STABLE.value)),
                  assigned=_partitions(f.get("assigned", ())),
                  pending_revocation=_partitions(f.get("pending_revocation", ())),
                  left_static=bool(f.get("left_static", False)),
                  last_sent=_partitions(f.get("last_sent", f.get("assigned", ()))),
                  classic=_classic_from(f.get("classic")))


def _classic_from(f: dict | None) -> ClassicProtocol | None:
    if not f:
        return None
    return ClassicProtocol(int(f["session_timeout_ms"]),
                           tuple((str(name), bytes.fromhex(data)) for name, data in f.get("protocols", ())))
