"""One group whose members are Kafka protocol clients (JoinGroup, SyncGroup, Heartbeat,
LeaveGroup), over the same ClassicGroup state machine as REST groups.

The clients drive the protocol themselves; this adapter turns the machine's effects
into answers: a JoinGroup is parked until the join phase ends and a follower's
SyncGroup until the leader's brings the assignment (a future per member); everything
else is answered at once. Assignment is the leader's, as in Kafka (ClassicGroup with
relay=True): any protocol type and protocol name, the leader's bytes relayed as sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kraft.groups import group_events as ev
from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import GroupError, GroupState
from kraft.groups.group_member import GroupConfig


@dataclass(frozen=True)
class Joined:
    member_id: str
    generation: int
    protocol: str
    leader_id: str
    members: tuple[tuple[str, bytes], ...]  # (member id, its metadata): the leader's only
    protocol_type: str
    skip_assignment: bool = False  # a static leader back in a Stable group: it must not assign


@dataclass(frozen=True)
class Synced:
    assignment: bytes  # as the leader sent it for this member
    protocol_type: str
    protocol: str


@dataclass(frozen=True)
class Refused:
    error: GroupError
    message: str
    member_id: str | None = None


# what a parked join or sync is answered with
Reply = TypeVar("Reply", "Joined | Refused", "Synced | Refused")
Parked = asyncio.Future[Joined | Refused] | asyncio.Future[Synced | Refused]  # a parked join or sync


class KafkaClientGroup:
    def __init__(self, group_id: str, partitions: Mapping[str, int], member_id_prefix: str,
                 config: GroupConfig | None = None, coordinator: ClassicGroup | None = None,
                 on_change: Callable[[KafkaClientGroup], asyncio.Future[bool] | None] | None = None):
        """coordinator: the state to begin from (a consumer group converted back, or the
        group's record loaded); on_change(group): what the group's record holds changed
        (a generation's assignment in, a static member replaced, the group left empty);
        it returns the record's write, if one started (its result: written): syncs are
        answered once it is done, as Kafka answers them once the group is stored; when it
        could not be (this node no longer leads the partition), NOT_COORDINATOR, so that
        the members find the group's coordinator again."""
        self.group_id = group_id
        self.coordinator = coordinator or ClassicGroup(group_id, partitions, config, member_id_prefix=member_id_prefix,
                                                       relay=True)
        self._on_change = on_change
        self._joins: dict[str, asyncio.Future[Joined | Refused]] = {}
        self._syncs: dict[str, asyncio.Future[Synced | Refused]] = {}

    @property
    def state(self) -> GroupState:
        return self.coordinator.state

    @property
    def empty(self) -> bool:
        return not self.coordinator.members and not self._joins and not self._syncs

    def instance_id_of(self, member_id: str) -> str | None:
        """The member's group.instance.id, if it gave one (None once it has gone)."""
        return self.coordinator.member(member_id).group_instance_id if member_id in self.coordinator.members else None

    def members(self) -> list[dict[str, Any]]:
        """Each member as DescribeGroups shows it: its id, client id, the metadata it joined
        with for the chosen protocol, the leader's bytes for it and, when they could be
        read (consumer protocol), the partitions they name."""
        protocol = self.coordinator.protocol or ""
        out: list[dict[str, Any]] = []
        for member_id in self.coordinator.members:
            member = self.coordinator.member(member_id)
            out.append({"member_id": member_id, "client_id": member.client_id,
                        "group_instance_id": member.group_instance_id,
                        "metadata": member.metadata.get(protocol, b""),
                        "member_assignment": member.assignment,
                        "assignment": [tuple(tp) for tp in self.coordinator.assignment_of(member_id)]})
        return out

    # -- requests ------------------------------------------------------------------------
    async def join(self, member_id: str | None, client_id: str, session_timeout_ms: int,
                   rebalance_timeout_ms: int, protocol_type: str, protocols: list[tuple[str, bytes]],
                   topics: frozenset[str], now_ms: int, group_instance_id: str | None = None) -> Joined | Refused:
        """protocols: (name, opaque metadata), most preferred first; topics: the
        subscription when the caller could read it (consumer protocol), else empty."""
        event = ev.Join(member_id or None, client_id, session_timeout_ms, rebalance_timeout_ms,
                        tuple(name for name, _ in protocols), topics, now_ms, protocol_type,
                        tuple(metadata for _, metadata in protocols), group_instance_id or None)
        effects = self.coordinator.handle(event)
        first = effects[0]  # the machine answers the joiner first
        if isinstance(first, ev.ErrorResponse):
            self._settle(effects[1:])
            return Refused(first.error, first.message, member_id)
        assert isinstance(first, (ev.JoinPending, ev.JoinResponse)), first
        return await self._await(self._joins, first.member_id, effects)

    async def sync(self, member_id: str, generation: int, now_ms: int,
                   assignments: Mapping[str, bytes] | None = None,
                   partitions: Mapping[str, tuple[tuple[str, int], ...]] | None = None,
                   protocol_type: str | None = None, protocol_name: str | None = None,
                   group_instance_id: str | None = None) -> Synced | Refused:
        """assignments: the leader's (member id -> bytes); partitions: what they name, when
        the caller could read them. A follower's sync waits for the leader's."""
        event = ev.Sync(member_id, generation, now_ms, assignments, dict(partitions or {}), protocol_type,
                        protocol_name, group_instance_id or None)
        # The machine answers every sync (SyncResponse, SyncPending or an error): settling
        # the effects resolves this one's future now, or the leader's sync will.
        return await self._await(self._syncs, member_id, self.coordinator.handle(event))

    def heartbeat(self, member_id: str, generation: int, now_ms: int,
                  group_instance_id: str | None = None) -> Refused | None:
        for effect in self._run(ev.Heartbeat(member_id, generation, now_ms, group_instance_id or None), now_ms):
            if isinstance(effect, ev.ErrorResponse) and effect.request == "heartbeat":
                return Refused(effect.error, effect.message, member_id)
        return None

    def leave(self, member_id: str, now_ms: int, group_instance_id: str | None = None) -> Refused | None:
        for effect in self._run(ev.Leave(member_id, now_ms, group_instance_id or None), now_ms):
            if isinstance(effect, ev.ErrorResponse) and effect.request == "leave":
                return Refused(effect.error, effect.message, member_id)
        return None

    def commit_error(self, member_id: str, generation: int, transactional: bool = False,
                     group_instance_id: str | None = None) -> Refused | None:
        """Why this member may not commit (a stale generation must not move offsets);
        transactional: a TxnOffsetCommit's check (KIP-447)."""
        for effect in self.coordinator.handle(ev.CommitCheck(member_id, generation, transactional,
                                                             group_instance_id or None)):
            if isinstance(effect, ev.ErrorResponse):
                return Refused(effect.error, effect.message, member_id)
        return None

    # -- the coordinator's duties ----------------------------------------------------------
    def tick(self, now_ms: int) -> None:
        self._run(ev.Tick(now_ms), now_ms)

    def topics_changed(self, partitions: Mapping[str, int], now_ms: int) -> None:
        self._run(ev.TopicsChanged(dict(partitions), now_ms), now_ms)

    def unload(self) -> None:
        self._settle(self.coordinator.handle(ev.Unload()))
        parked: list[Parked] = [*self._joins.values(), *self._syncs.values()]
        for future in parked:
            if not future.done():
                future.set_result(Refused(GroupError.NOT_COORDINATOR, "the coordinator moved: find it again"))
        self._joins.clear()
        self._syncs.clear()

    def hand_over(self) -> None:
        """The group converts into a consumer group: requests parked here are answered
        REBALANCE_IN_PROGRESS, so that their members rejoin it."""
        parked: list[Parked] = [*self._joins.values(), *self._syncs.values()]
        for future in parked:
            if not future.done():
                future.set_result(Refused(GroupError.REBALANCE_IN_PROGRESS, "the group converted: rejoin"))
        self._joins.clear()
        self._syncs.clear()

    # -- effects -----------------------------------------------------------------------------
    def _run(self, event: ev.Event, now_ms: int) -> list[ev.Effect]:
        effects = self.coordinator.handle(event)
        self._settle(effects)
        return effects

    async def _await(self, waiting: dict[str, asyncio.Future[Reply]], member_id: str,
                     effects: list[ev.Effect]) -> Reply:
        """Park this member's request, settle the effects (which may answer it at once)
        and wait for its answer."""
        previous = waiting.pop(member_id, None)
        if previous is not None and not previous.done():  # the same member asked twice
            previous.set_result(Refused(GroupError.REBALANCE_IN_PROGRESS, "a newer request of this member replaced it"))
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        waiting[member_id] = future
        self._settle(effects)
        try:
            return await future
        finally:
            if waiting.get(member_id) is future:
                del waiting[member_id]

    def _settle(self, effects: list[ev.Effect]) -> None:
        protocol_type = self.coordinator.protocol_type or ""
        write = None
        if self._on_change is not None and any(_changes_record(e) for e in effects):
            write = self._on_change(self)
        held: list[tuple[str, Synced]] = []  # answered once the record is written
        for effect in effects:
            if isinstance(effect, ev.JoinResponse):
                self._answer(self._joins, effect.member_id, Joined(
                    effect.member_id, effect.generation, effect.protocol, effect.leader_id, effect.metadata,
                    effect.protocol_type, effect.skip_assignment))
            elif isinstance(effect, ev.SyncResponse):
                synced = Synced(effect.member_assignment, protocol_type, self.coordinator.protocol or "")
                if write is not None and not write.done():
                    held.append((effect.member_id, synced))
                else:
                    self._answer(self._syncs, effect.member_id, synced)
            elif isinstance(effect, ev.ErrorResponse) and effect.request in ("join", "sync") and effect.member_id:
                waiting = self._joins if effect.request == "join" else self._syncs
                self._answer(waiting, effect.member_id, Refused(effect.error, effect.message, effect.member_id))
            elif isinstance(effect, ev.MemberRemoved):
                removed = Refused(GroupError.UNKNOWN_MEMBER_ID, f"removed from the group ({effect.reason})",
                                  effect.member_id)
                self._answer(self._joins, effect.member_id, removed)
                self._answer(self._syncs, effect.member_id, removed)
        if held and write is not None:
            write.add_done_callback(lambda done: self._answer_stored(done, held))

    def _answer_stored(self, write: asyncio.Future[bool], held: list[tuple[str, Synced]]) -> None:
        stored = not write.cancelled() and write.exception() is None and write.result()
        for member_id, synced in held:
            self._answer(self._syncs, member_id, synced if stored else Refused(
                GroupError.NOT_COORDINATOR, "the group could not be stored here: find its coordinator again", member_id))

    @staticmethod
    def _answer(waiting: Mapping[str, asyncio.Future[Any]], member_id: str, result: Joined | Synced | Refused) -> None:
        """waiting: the parked joins or the parked syncs (a Refused answers either)."""
        future = waiting.get(member_id)
        if future is not None and not future.done():
            future.set_result(result)


def _changes_record(effect: ev.Effect) -> bool:
    """Does this effect change what the group's record holds (classic_group_record.py)?"""
    return (isinstance(effect, (ev.AssignmentReceived, ev.MemberReplaced))
            or (isinstance(effect, ev.StateChanged) and effect.new is GroupState.EMPTY))
