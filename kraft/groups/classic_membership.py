"""A classic group's members and the rebalance machinery its handlers share, after
Kafka's ClassicGroup: the state transitions, the end of a join phase (a new generation,
its protocol, leader and, for groups the coordinator assigns, its assignment), removing
a member, and the generation checks of a request. Sans-IO. The events themselves are
handled by ClassicGroup (classic_group.py), built on this.
"""

from __future__ import annotations

from collections.abc import Mapping

from kraft.groups import group_events as ev
from kraft.groups.assignors import TopicPartition, assign
from kraft.groups.group_events import Effect, ErrorResponse, GroupError, GroupState
from kraft.groups.group_member import GroupConfig, Member, select_protocol

EMPTY, PREPARING, COMPLETING, STABLE, DEAD = (GroupState.EMPTY, GroupState.PREPARING_REBALANCE,
                                              GroupState.COMPLETING_REBALANCE, GroupState.STABLE, GroupState.DEAD)

# The transition table: new state -> the states it may be entered from.
VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    PREPARING: frozenset({EMPTY, STABLE, COMPLETING}),
    COMPLETING: frozenset({PREPARING}),
    STABLE: frozenset({COMPLETING}),
    EMPTY: frozenset({PREPARING}),
    DEAD: frozenset({EMPTY, PREPARING, COMPLETING, STABLE}),
}

# What a known member with the current generation gets, per state (None: accepted).
# Empty has no members, and every request to a Dead group gets COORDINATOR_NOT_AVAILABLE.
HEARTBEAT_IN = {PREPARING: GroupError.REBALANCE_IN_PROGRESS, COMPLETING: None, STABLE: None}
SYNC_IN = {PREPARING: GroupError.REBALANCE_IN_PROGRESS, COMPLETING: None, STABLE: None}
COMMIT_IN = {PREPARING: None, COMPLETING: GroupError.REBALANCE_IN_PROGRESS, STABLE: None}
# A transactional commit (KIP-447) is fenced by member and generation alone, as in Kafka.
TXN_COMMIT_IN: dict[GroupState, GroupError | None] = {PREPARING: None, COMPLETING: None, STABLE: None}


class ClassicMembership:
    def __init__(self, group_id: str, partitions: Mapping[str, int] | None = None,
                 config: GroupConfig | None = None, member_id_prefix: str = "", relay: bool = False):
        """member_id_prefix: something unique per coordinator incarnation (the adapter may
        draw a uuid) so that member ids are never reused across coordinator failovers.
        relay: the leader assigns and the group relays its assignment (module docstring)."""
        self.group_id = group_id
        self.config = config or GroupConfig()
        self.relay = relay
        self.state, self.generation = EMPTY, 0
        self.protocol: str | None = None
        self.leader_id: str | None = None
        self._partitions = dict(partitions or {})
        self._members: dict[str, Member] = {}  # in join order
        self._assignment: dict[str, list[TopicPartition]] = {}
        self._rebalance_deadline_ms = self._sync_deadline_ms = 0
        self._prefix, self._next_seq = member_id_prefix, 1
        self._static: dict[str, str] = {}  # group.instance.id -> its member id
        # the initial delay of a join phase begun in Empty: (its deadline, what remains after it)
        self._initial_wait: tuple[int, int] | None = None
        self._new_member_added = False  # a member joined during the current initial wait

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self._members)

    @property
    def protocol_type(self) -> str | None:
        """The members' protocol type ("consumer", "connect", ...); None when empty."""
        return next((m.protocol_type for m in self._members.values()), None)

    def assignment_of(self, member_id: str) -> tuple[TopicPartition, ...]:
        """The member's partitions: the coordinator's assignment, or in a relay group what
        the leader's bytes meant when the caller could read them (else empty)."""
        return tuple(self._assignment.get(member_id, ()))

    def member_assignment(self, member_id: str) -> bytes:
        """Relay groups: the leader's bytes for this member in this generation."""
        return self._members[member_id].assignment

    def member(self, member_id: str) -> Member:
        return self._members[member_id]


    def _held_syncs(self) -> list[str]:
        """Members whose Sync waits for the leader's assignment."""
        if not self.relay or self.state is not COMPLETING:
            return []
        return [mid for mid, m in self._members.items() if m.synced]

    def _check(self, member_id: str, generation: int, table: Mapping[GroupState, GroupError | None], request: str,
               out: list[Effect]) -> bool:
        """Append the error a request deserves, if any; True if there was one."""
        error: GroupError | None
        if member_id not in self._members:
            error, msg = GroupError.UNKNOWN_MEMBER_ID, self._unknown(member_id)
        elif generation not in (self.generation, self._members[member_id].carried_generation):
            error, msg = GroupError.ILLEGAL_GENERATION, (
                f"member {member_id!r} sent generation {generation} but group {self.group_id!r} is at generation "
                f"{self.generation}: the member is stale and must rejoin (client's fault)")
        else:
            error, msg = table[self.state], f"group {self.group_id!r} is rebalancing: rejoin"
        if error is not None:
            out.append(ErrorResponse(request, member_id, error, msg))
        return error is not None

    def _unknown(self, member_id: str) -> str:
        return (f"member {member_id!r} is not in group {self.group_id!r} (it left, timed out or never joined): "
                f"rejoin with no member id (client's fault)")

    def _new_member_id(self, client_id: str) -> str:
        while True:
            member_id = f"{client_id or 'member'}-{self._prefix}{self._next_seq}"
            self._next_seq += 1
            if member_id not in self._members:
                return member_id

    def _transition(self, new: GroupState, out: list[Effect]) -> None:
        if self.state not in VALID_PREVIOUS[new]:
            raise AssertionError(f"group {self.group_id!r}: {self.state.value} -> {new.value} is not a transition (bug)")
        out.append(ev.StateChanged(self.state, new, self.generation))
        self.state = new

    def _prepare_rebalance(self, now_ms: int, out: list[Effect]) -> None:
        for mid in self._held_syncs():  # the assignment they wait for will not come
            out.append(ErrorResponse("sync", mid, GroupError.REBALANCE_IN_PROGRESS,
                                     f"group {self.group_id!r} is rebalancing: rejoin"))
        initial = self.state is EMPTY and self.config.initial_rebalance_delay_ms > 0
        self._transition(PREPARING, out)
        timeout = max((m.rebalance_timeout_ms for m in self._members.values()), default=0)
        self._rebalance_deadline_ms = now_ms + timeout
        if initial:
            delay = self.config.initial_rebalance_delay_ms
            self._initial_wait, self._new_member_added = (now_ms + delay, max(timeout - delay, 0)), False

    def _remove(self, member_id: str, reason: str, out: list[Effect]) -> bool:
        removed = f"member {member_id!r} was removed from group {self.group_id!r} ({reason})"
        if member_id in self._held_syncs():
            out.append(ErrorResponse("sync", member_id, GroupError.UNKNOWN_MEMBER_ID, removed))
        member = self._members.pop(member_id)
        self._assignment.pop(member_id, None)
        if member.group_instance_id and self._static.get(member.group_instance_id) == member_id:
            del self._static[member.group_instance_id]
        if self.state is PREPARING and member.awaiting_join:
            out.append(ErrorResponse("join", member_id, GroupError.UNKNOWN_MEMBER_ID, removed))
        if member_id == self.leader_id:  # as in Kafka: the next member leads from now on
            self.leader_id = next(iter(self._members), None)
        out.append(ev.MemberRemoved(member_id, reason))
        return True

    def _after_removal(self, now_ms: int, out: list[Effect]) -> None:
        if self.state in (STABLE, COMPLETING):
            self._prepare_rebalance(now_ms, out)
        self._maybe_complete_join(now_ms, out)

    def _maybe_complete_join(self, now_ms: int, out: list[Effect]) -> None:
        if self._initial_wait is not None:
            return  # an initial wait ends the phase by the clock alone (_end_initial_wait)
        if self.state is PREPARING and all(m.awaiting_join for m in self._members.values()):
            self._complete_join(now_ms, out)

    def _complete_join(self, now_ms: int, out: list[Effect]) -> None:
        self.generation += 1
        if not self._members:
            self.protocol, self.leader_id, self._assignment = None, None, {}
            out.append(ev.GenerationStarted(self.generation, None, None))
            self._transition(EMPTY, out)
            return
        self.protocol = select_protocol(self._members.values())
        if self.leader_id not in self._members:
            self.leader_id = next(iter(self._members))
        if self.relay:  # the leader's Sync brings this generation's assignment
            self._assignment = {}
            for m in self._members.values():
                m.assignment = b""
        else:
            subscriptions = {mid: m.topics for mid, m in self._members.items()}
            self._assignment = assign(self.protocol, subscriptions, self._partitions, self._assignment)
        out.append(ev.GenerationStarted(self.generation, self.protocol, self.leader_id,
                                        {mid: tuple(tps) for mid, tps in self._assignment.items()}))
        self._transition(COMPLETING, out)
        self._sync_deadline_ms = now_ms + max(m.rebalance_timeout_ms for m in self._members.values())
        for m in self._members.values():
            m.awaiting_join, m.synced, m.last_heartbeat_ms = False, False, now_ms
            m.carried_generation = None
            out.append(self._join_response(m))

    def _join_response(self, member: Member, skip_assignment: bool = False) -> ev.JoinResponse:
        members: tuple[tuple[str, tuple[str, ...]], ...] = ()
        metadata: tuple[tuple[str, bytes], ...] = ()
        if member.member_id == self.leader_id:
            members = tuple((mid, tuple(sorted(m.topics))) for mid, m in self._members.items())
            metadata = tuple((mid, m.metadata.get(self.protocol or "", b"")) for mid, m in self._members.items())
        return ev.JoinResponse(member.member_id, self.generation, self.protocol or "", self.leader_id or "", members,
                               metadata, member.protocol_type, skip_assignment)


# each handler takes its own event class: the table is keyed by that class
