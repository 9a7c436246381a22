"""One consumer group's membership state machine, after Kafka's ClassicGroup. Sans-IO:
`handle(event) -> list[effect]`; events carry `now_ms`, nothing here reads a clock, and
errors are values (ErrorResponse). Events and effects: group_events.py.

Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and back to
PreparingRebalance when a member joins, leaves, times out (session.timeout.ms), changes
its subscription or protocols, or (groups the coordinator assigns) a subscribed topic's
partition count changes. The join
phase ends when every member has rejoined or the rebalance timeout (the members'
largest) passes: those that did not rejoin are removed. Each ended join phase starts a
new generation; heartbeats, syncs and commits carrying another one get
ILLEGAL_GENERATION, which fences stale members' commits.

Who assigns partitions, chosen per group:
- relay=True (Kafka clients, as in Kafka): the leader's SyncGroup carries every member's
  assignment as opaque bytes, which the group stores and hands to each member's Sync.
  A follower's Sync waits (SyncPending) until the leader's arrives; then the group is
  Stable. A member the leader gave nothing gets empty bytes. Protocol types ("consumer",
  "connect", ...) and protocol names are the clients' business: the group only checks
  that its members share the type and at least one protocol. A leader rejoining a
  Stable group starts a rebalance (its way to act on metadata changes). As in Kafka,
  the coordinator itself never starts one for a topic that grows, appears or goes:
  the leader's client watches metadata and rejoins when its assignment must change
  (one more generation, started by the broker, costs members their partitions for
  nothing when the client rejoins anyway).
- relay=False (REST consumer instances): the coordinator computes the assignment with
  kraft.groups.assignors when the join phase ends, as a REST proxy does, and only
  knows its assignors' names. Each Sync is answered at once with the member's share;
  the group is Stable once all have synced. An unchanged rejoin, even the leader's,
  gets the current generation back: the coordinator sees topic changes itself, and a
  subscribed topic's new partition count (a topic grown, created or deleted) starts a
  rebalance, since no client watches metadata for these members.
Either way members that do not sync within the rebalance timeout are removed (Kafka's
pending-sync expiry); the chosen protocol is the one every member supports that most
members prefer (ties: by name); a rejoin with other protocols or metadata rebalances.

Static members (KIP-345, a join with a group.instance.id): a process that restarts joins
with its instance id and no member id; it takes its predecessor's place under a new
member id, with its assignment and leadership. In a Stable group with an unchanged
subscription that costs no rebalance: the member gets the current generation (a
leader: the members, and skip_assignment) and syncs the assignment it had. The
predecessor's requests then get FENCED_INSTANCE_ID, as does any request naming the
instance id with another member id. A static member leaves by its session timeout, or
by a LeaveGroup naming its instance id (an admin's removal); not by closing.

The initial rebalance delay (group.initial.rebalance.delay.ms, as Kafka's
InitialDelayedJoin): a join phase that starts in an Empty group does not end when every
member has joined, but when the delay has passed with no new member joining in the
last wait; each new member of a group at generation 0 extends it by one delay, up to
the rebalance timeout in all. Consumers started together thus form one generation
instead of rebalancing once per arrival. A delay of 0 ends the phase at once.

Size (group.max.size, GroupConfig.max_size): a join that would take the group past its
limit gets GROUP_MAX_SIZE_REACHED, as Kafka's acceptJoiningMember decides (_accepts); a
known member refused so, in a rebalance after the limit was lowered, is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kraft.groups import group_events as ev
from kraft.groups.assignors import STRATEGIES, TopicPartition
from kraft.groups.classic_membership import (COMMIT_IN, COMPLETING, DEAD, EMPTY, HEARTBEAT_IN, PREPARING, STABLE,
                                             SYNC_IN, TXN_COMMIT_IN, VALID_PREVIOUS, ClassicMembership)
from kraft.groups.group_events import Effect, ErrorResponse, Event, GroupError
from kraft.groups.group_member import GroupConfig, Member, common_protocols, next_initial_delay, select_protocol

__all__ = ["ClassicGroup", "GroupConfig", "VALID_PREVIOUS"]


class ClassicGroup(ClassicMembership):
    """The group's events (module docstring); its members and rebalance machinery:
    ClassicMembership (classic_membership.py)."""

    def handle(self, event: Event) -> list[Effect]:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"{type(event).__name__} is not a group event (caller's bug)")
        out: list[Effect] = []
        if self.state is DEAD:
            request = _REQUEST_NAMES.get(type(event))
            if request is not None:
                out.append(ErrorResponse(request, getattr(event, "member_id", None), GroupError.COORDINATOR_NOT_AVAILABLE,
                                         f"group {self.group_id!r} is dead here: find its coordinator again"))
            return out
        handler(self, event, out)
        return out

    def _on_join(self, e: ev.Join, out: list[Effect]) -> None:
        cfg = self.config
        fail: Callable[[GroupError, str], None] = (
            lambda error, msg: out.append(ErrorResponse("join", e.member_id, error, msg)))
        if not cfg.min_session_timeout_ms <= e.session_timeout_ms <= cfg.max_session_timeout_ms:
            return fail(GroupError.INVALID_SESSION_TIMEOUT,
                        f"session timeout {e.session_timeout_ms} ms is outside [{cfg.min_session_timeout_ms}, "
                        f"{cfg.max_session_timeout_ms}] (client's fault)")
        if not self._accepts(e.member_id):
            fail(GroupError.GROUP_MAX_SIZE_REACHED,
                 f"group {self.group_id!r} has reached its maximum size of {cfg.max_size} members "
                 f"(group.max.size)")
            if e.member_id in self._members:  # as Kafka: a member over the limit is out
                self._remove(e.member_id, "group_max_size", out)
                self._maybe_complete_join(e.now_ms, out)
            return None
        if self.relay:
            protocols = tuple(dict.fromkeys(e.protocols))
            if not e.protocol_type or not protocols:
                return fail(GroupError.INCONSISTENT_GROUP_PROTOCOL,
                            f"a join needs a protocol type and at least one protocol; got type {e.protocol_type!r} "
                            f"and protocols {list(e.protocols)} (client's fault)")
        else:
            protocols = tuple(dict.fromkeys(p for p in e.protocols if p in STRATEGIES))
            if not protocols:
                return fail(GroupError.INCONSISTENT_GROUP_PROTOCOL,
                            f"none of the protocols {list(e.protocols)} is a known assignor {list(STRATEGIES)} "
                            f"(client's fault)")
        others = [m for mid, m in self._members.items() if mid != e.member_id]
        if others and others[0].protocol_type != e.protocol_type:
            return fail(GroupError.INCONSISTENT_GROUP_PROTOCOL,
                        f"protocol type {e.protocol_type!r} is not the group's {others[0].protocol_type!r} "
                        f"(client's fault)")
        common = common_protocols(others)
        if common is not None and not common & set(protocols):
            return fail(GroupError.INCONSISTENT_GROUP_PROTOCOL,
                        f"protocols {list(protocols)} share none with the group's {sorted(common)} (client's fault)")
        topics = frozenset(e.topics)
        metadata: dict[str, bytes] = {}
        for name, data in zip(e.protocols, e.metadata):
            metadata.setdefault(name, bytes(data))  # a repeated name: its first entry counts
        metadata = {name: metadata[name] for name in protocols if name in metadata}
        if e.group_instance_id:
            owner = self._static.get(e.group_instance_id)
            if e.member_id and owner is not None and owner != e.member_id:
                return fail(GroupError.FENCED_INSTANCE_ID, self._fenced_message(e.group_instance_id, e.member_id))
            if not e.member_id and owner in self._members:
                return self._replace_static(e, owner, protocols, topics, metadata, out)
        if e.member_id:
            member = self._members.get(e.member_id)
            if member is None:
                return fail(GroupError.UNKNOWN_MEMBER_ID, self._unknown(e.member_id))
            changed = ((member.protocol_type, member.protocols, member.metadata, member.topics)
                       != (e.protocol_type, protocols, metadata, topics))
            member.client_id, member.protocols, member.topics = e.client_id, protocols, topics
            member.protocol_type, member.metadata = e.protocol_type, metadata
            member.session_timeout_ms, member.rebalance_timeout_ms = e.session_timeout_ms, e.rebalance_timeout_ms
            member.last_heartbeat_ms, member.group_instance_id = e.now_ms, e.group_instance_id
            # A relay group's leader rejoins a Stable group when its metadata shows something
            # the assignment must follow (new partitions, a pattern's new topics): rebalance.
            leader_asks = self.relay and self.state is STABLE and member.member_id == self.leader_id
            if self.state is not PREPARING and not changed and not leader_asks:
                out.append(self._join_response(member))  # nothing new: the current generation
                return
        else:
            member = Member(self._new_member_id(e.client_id), e.client_id, e.session_timeout_ms,
                            e.rebalance_timeout_ms, protocols, topics, e.now_ms, e.protocol_type, metadata,
                            group_instance_id=e.group_instance_id)
            self._members[member.member_id] = member
            if self.state is PREPARING and self.generation == 0:  # as Kafka: extends an initial wait
                self._new_member_added = True
        if e.group_instance_id:
            self._static[e.group_instance_id] = member.member_id
        member.awaiting_join = True
        out.append(ev.JoinPending(member.member_id))
        if self.state is not PREPARING:
            self._prepare_rebalance(e.now_ms, out)
        self._maybe_complete_join(e.now_ms, out)

    def _accepts(self, member_id: str | None) -> bool:
        """Kafka's acceptJoiningMember (group.max.size): while the group prepares a
        rebalance, a member that rejoined already, or any while fewer than the limit
        have; otherwise a known member, or any while the group has fewer members. The
        count of rejoined members decides in a rebalance, so that a lowered limit
        leaves out the last to rejoin."""
        known = self._members.get(member_id) if member_id else None
        if self.state is EMPTY:
            return True
        if self.state is PREPARING:
            awaiting = sum(1 for m in self._members.values() if m.awaiting_join)
            return (known is not None and known.awaiting_join) or awaiting < self.config.max_size
        return known is not None or len(self._members) < self.config.max_size

    def take_over(self, members: list[Member], assignment: Mapping[str, tuple[TopicPartition, ...]],
                  generation: int, now_ms: int) -> None:
        """Begin from a consumer group's classic members (it converts back, KIP-848): they
        keep their partitions and a rebalance starts, which they join as members already
        known; until it ends, each one's epoch there counts as its generation."""
        assert self.state is EMPTY and not self._members and members
        self.generation = generation
        for m in members:
            m.awaiting_join, m.synced, m.last_heartbeat_ms = False, True, now_ms
            self._members[m.member_id] = m
            if m.group_instance_id:
                self._static[m.group_instance_id] = m.member_id
        self._assignment = {mid: list(tps) for mid, tps in assignment.items() if mid in self._members}
        common = common_protocols(members)
        self.protocol = select_protocol(members) if common else members[0].protocols[0]
        self.leader_id = members[0].member_id
        self._prepare_rebalance(now_ms, [])

    def restore_stable(self, members: list[Member], assignment: Mapping[str, tuple[TopicPartition, ...]],
                       generation: int, protocol: str, leader_id: str) -> None:
        """Begin Stable from the group's record (a new coordinator loads it after a
        failover, classic_group_record.py): the members carry on in their generation with
        the assignment they synced; each one's session runs from its last_heartbeat_ms."""
        assert self.state is EMPTY and not self._members and members
        for m in members:
            self._members[m.member_id] = m
            if m.group_instance_id:
                self._static[m.group_instance_id] = m.member_id
        self._assignment = {mid: list(tps) for mid, tps in assignment.items() if mid in self._members}
        self.generation, self.protocol = generation, protocol
        self.leader_id = leader_id if leader_id in self._members else members[0].member_id
        self.state = STABLE  # restored, not a transition: the old coordinator made it

    def _replace_static(self, e: ev.Join, old_id: str, protocols: tuple[str, ...], topics: frozenset[str],
                        metadata: dict[str, bytes], out: list[Effect]) -> None:
        """A static member's new process takes its predecessor's place (module docstring)."""
        iid = e.group_instance_id
        assert iid is not None
        fenced = self._fenced_message(iid, old_id)
        later: list[Effect] = []  # the joiner is answered first (the adapter reads it there)
        if self.state is PREPARING and self._members[old_id].awaiting_join:
            later.append(ErrorResponse("join", old_id, GroupError.FENCED_INSTANCE_ID, fenced))
        if old_id in self._held_syncs():
            later.append(ErrorResponse("sync", old_id, GroupError.FENCED_INSTANCE_ID, fenced))
        new_id = self._new_member_id(e.client_id)
        member = self._members[old_id]
        # as Kafka: the new process's metadata may differ (it owns nothing yet); what would
        # need a new assignment is another protocol or another subscription
        changed = (member.protocol_type != e.protocol_type or self.protocol not in protocols
                   or member.topics != topics)
        self._members = {(new_id if mid == old_id else mid): m for mid, m in self._members.items()}
        if old_id in self._assignment:
            self._assignment[new_id] = self._assignment.pop(old_id)
        if self.leader_id == old_id:
            self.leader_id = new_id
        self._static[iid] = new_id
        member.member_id, member.client_id, member.protocols, member.topics = new_id, e.client_id, protocols, topics
        member.protocol_type, member.metadata = e.protocol_type, metadata
        member.session_timeout_ms, member.rebalance_timeout_ms = e.session_timeout_ms, e.rebalance_timeout_ms
        member.last_heartbeat_ms = e.now_ms
        later.append(ev.MemberReplaced(old_id, new_id, iid))
        if self.state is STABLE and not changed:  # nothing to reassign: no rebalance
            out.append(self._join_response(member, skip_assignment=member.member_id == self.leader_id))
            out.extend(later)
            return
        member.awaiting_join = True
        out.append(ev.JoinPending(new_id))
        out.extend(later)
        if self.state is not PREPARING:
            self._prepare_rebalance(e.now_ms, out)
        self._maybe_complete_join(e.now_ms, out)

    def _fenced(self, group_instance_id: str | None, member_id: str) -> bool:
        """Does this request come from a static member's replaced (or foreign) process?"""
        owner = self._static.get(group_instance_id) if group_instance_id else None
        return owner is not None and owner != member_id

    def _fenced_message(self, group_instance_id: str | None, member_id: str) -> str:
        return (f"member {member_id!r} is not the current process of static member {group_instance_id!r} in group "
                f"{self.group_id!r}: another process joined with that group.instance.id (client's fault)")

    def _refuse_fenced(self, request: str, e: ev.Sync | ev.Heartbeat | ev.Leave | ev.CommitCheck,
                       out: list[Effect]) -> bool:
        if not self._fenced(e.group_instance_id, e.member_id):
            return False
        out.append(ErrorResponse(request, e.member_id, GroupError.FENCED_INSTANCE_ID,
                                 self._fenced_message(e.group_instance_id, e.member_id)))
        return True

    def _on_sync(self, e: ev.Sync, out: list[Effect]) -> None:
        if self._refuse_fenced("sync", e, out):
            return
        if self._check(e.member_id, e.generation, SYNC_IN, "sync", out):
            return
        if ((e.protocol_type is not None and e.protocol_type != self.protocol_type)
                or (e.protocol_name is not None and e.protocol_name != self.protocol)):
            out.append(ErrorResponse("sync", e.member_id, GroupError.INCONSISTENT_GROUP_PROTOCOL,
                                     f"sync names protocol {e.protocol_type!r}/{e.protocol_name!r} but group "
                                     f"{self.group_id!r} uses {self.protocol_type!r}/{self.protocol!r} (client's fault)"))
            return
        member = self._members[e.member_id]
        member.last_heartbeat_ms = e.now_ms
        member.synced = True
        if not self.relay:
            out.append(self._sync_response(member))
            if self.state is COMPLETING and all(m.synced for m in self._members.values()):
                self._transition(STABLE, out)
        elif self.state is STABLE:
            out.append(self._sync_response(member))  # the leader's assignment is in
        elif member.member_id != self.leader_id:
            out.append(ev.SyncPending(member.member_id))
        else:
            self._relay_assignment(e, out)

    def _relay_assignment(self, e: ev.Sync, out: list[Effect]) -> None:
        """The leader's Sync in CompletingRebalance: store its assignment, answer every
        Sync held so far (the leader's too) and become Stable."""
        given = e.assignments or {}
        for mid, m in self._members.items():
            m.assignment = bytes(given.get(mid, b""))  # left out by the leader: nothing
        self._assignment = {mid: list(e.partitions.get(mid, ())) for mid in self._members}
        out.append(ev.AssignmentReceived(self.generation, {mid: m.assignment for mid, m in self._members.items()}))
        for m in self._members.values():
            if m.synced:  # answered now: its session runs from here
                m.last_heartbeat_ms = e.now_ms
                out.append(self._sync_response(m))
        self._transition(STABLE, out)

    def _sync_response(self, member: Member) -> ev.SyncResponse:
        return ev.SyncResponse(member.member_id, self.generation, self.assignment_of(member.member_id),
                               member.assignment)

    def _on_heartbeat(self, e: ev.Heartbeat, out: list[Effect]) -> None:
        if self._refuse_fenced("heartbeat", e, out):
            return
        member = self._members.get(e.member_id)
        if member is not None and e.generation in (self.generation, member.carried_generation):
            member.last_heartbeat_ms = e.now_ms  # also while rebalancing: it is alive
        if not self._check(e.member_id, e.generation, HEARTBEAT_IN, "heartbeat", out):
            out.append(ev.HeartbeatOk(e.member_id))

    def _on_leave(self, e: ev.Leave, out: list[Effect]) -> None:
        member_id = e.member_id
        if e.group_instance_id and not member_id:  # an admin removes a static member by its instance id
            member_id = self._static.get(e.group_instance_id, "")
        elif self._refuse_fenced("leave", e, out):
            return
        if member_id not in self._members:
            out.append(ErrorResponse("leave", e.member_id, GroupError.UNKNOWN_MEMBER_ID,
                                     self._unknown(member_id or str(e.group_instance_id))))
            return
        self._remove(member_id, "left", out)
        out.append(ev.LeaveOk(member_id))
        self._after_removal(e.now_ms, out)

    def _on_commit_check(self, e: ev.CommitCheck, out: list[Effect]) -> None:
        if self._refuse_fenced("commit", e, out):
            return
        if e.generation < 0 and self.state is EMPTY:
            out.append(ev.CommitOk(e.member_id, e.generation))  # the group only stores offsets
        elif not self._check(e.member_id, e.generation, TXN_COMMIT_IN if e.transactional else COMMIT_IN,
                             "commit", out):
            out.append(ev.CommitOk(e.member_id, e.generation))

    def _on_tick(self, e: ev.Tick, out: list[Effect]) -> None:
        now, removed = e.now_ms, False
        held = set(self._held_syncs())
        for mid, m in list(self._members.items()):
            if (self.state is PREPARING and m.awaiting_join) or mid in held:
                continue  # its join or sync request is parked here: that is its heartbeat
            if now >= m.last_heartbeat_ms + m.session_timeout_ms:
                removed = self._remove(mid, "session_timeout", out)
            elif self.state in (COMPLETING, STABLE) and now >= self._sync_deadline_ms and not m.synced:
                removed = self._remove(mid, "sync_timeout", out)
        if self._initial_wait is not None:
            self._end_initial_wait(now, out)
        elif self.state is PREPARING and now >= self._rebalance_deadline_ms:
            for mid in [mid for mid, m in self._members.items() if not m.awaiting_join]:
                removed = self._remove(mid, "rebalance_timeout", out)
        if removed:
            self._after_removal(now, out)

    def _end_initial_wait(self, now_ms: int, out: list[Effect]) -> None:
        """An initial wait is over: wait once more if a member joined during it and time
        remains, else end the join phase (as the rebalance timeout would)."""
        assert self._initial_wait is not None
        deadline, remaining = self._initial_wait
        if now_ms < deadline:
            return
        if self._new_member_added and remaining > 0:
            wait, remaining = next_initial_delay(self.config.initial_rebalance_delay_ms, remaining)
            self._initial_wait, self._new_member_added = (now_ms + wait, remaining), False
            return
        self._initial_wait = None
        removed = False
        for mid in [mid for mid, m in self._members.items() if not m.awaiting_join]:
            removed = self._remove(mid, "rebalance_timeout", out)
        if removed:
            self._after_removal(now_ms, out)
        else:
            self._maybe_complete_join(now_ms, out)

    def _on_topics_changed(self, e: ev.TopicsChanged, out: list[Effect]) -> None:
        old, self._partitions = self._partitions, dict(e.partitions)
        if self.relay:
            return  # as Kafka: the leader's client watches metadata and rejoins (module docstring)
        subscribed = set().union(*(m.topics for m in self._members.values()))
        if self.state in (STABLE, COMPLETING) and any(old.get(t, 0) != self._partitions.get(t, 0) for t in subscribed):
            self._prepare_rebalance(e.now_ms, out)
            self._maybe_complete_join(e.now_ms, out)

    def _on_delete(self, e: ev.DeleteGroup, out: list[Effect]) -> None:
        if self.state is not EMPTY:
            out.append(ErrorResponse("delete", None, GroupError.NON_EMPTY_GROUP,
                                     f"group {self.group_id!r} still has members {list(self._members)} (client's fault)"))
            return
        self._transition(DEAD, out)
        out.append(ev.DeleteOk())

    def _on_unload(self, e: ev.Unload, out: list[Effect]) -> None:
        gone = f"this node no longer coordinates group {self.group_id!r}: find it again"
        for mid, m in self._members.items():
            if self.state is PREPARING and m.awaiting_join:
                out.append(ErrorResponse("join", mid, GroupError.NOT_COORDINATOR, gone))
        for mid in self._held_syncs():
            out.append(ErrorResponse("sync", mid, GroupError.NOT_COORDINATOR, gone))
        self._members.clear()
        self._static.clear()
        self._initial_wait = None
        self._transition(DEAD, out)


_HANDLERS: dict[type, Callable[..., None]] = {
    ev.Join: ClassicGroup._on_join,
    ev.Sync: ClassicGroup._on_sync,
    ev.Heartbeat: ClassicGroup._on_heartbeat,
    ev.Leave: ClassicGroup._on_leave,
    ev.CommitCheck: ClassicGroup._on_commit_check,
    ev.Tick: ClassicGroup._on_tick,
    ev.TopicsChanged: ClassicGroup._on_topics_changed,
    ev.DeleteGroup: ClassicGroup._on_delete,
    ev.Unload: ClassicGroup._on_unload,
}
# Client requests: answered with COORDINATOR_NOT_AVAILABLE once the group is Dead.
_REQUEST_NAMES = {ev.Join: "join", ev.Sync: "sync", ev.Heartbeat: "heartbeat", ev.Leave: "leave",
                  ev.CommitCheck: "commit", ev.DeleteGroup: "delete"}
