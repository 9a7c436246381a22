"""One group whose members are Kafka protocol clients (JoinGroup, SyncGroup, Heartbeat,
LeaveGroup), over the same ClassicGroup state machine and assignors as REST groups.

The clients drive the protocol themselves; this adapter turns the machine's effects
into answers: a JoinGroup is parked until the join phase ends (a future per member),
everything else is answered at once. Assignment is the coordinator's, as for REST
groups: the leader's SyncGroup proposal is not needed, every member gets its share
from the coordinator's assignor of the chosen protocol name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from kraft.groups import group_events as ev
from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import GroupError, GroupState


@dataclass(frozen=True)
class Joined:
    member_id: str
    generation: int
    protocol: str
    leader_id: str
    members: tuple[tuple[str, bytes], ...]  # (member id, its metadata): the leader's only


@dataclass(frozen=True)
class Refused:
    error: GroupError
    message: str
    member_id: str | None = None


class KafkaClientGroup:
    def __init__(self, group_id: str, partitions: Mapping[str, int], member_id_prefix: str):
        self.group_id = group_id
        self.coordinator = ClassicGroup(group_id, partitions, member_id_prefix=member_id_prefix)
        self._metadata: dict[str, dict[str, bytes]] = {}  # member id -> protocol -> metadata
        self._joins: dict[str, asyncio.Future] = {}

    @property
    def state(self) -> GroupState:
        return self.coordinator.state

    @property
    def empty(self) -> bool:
        return not self.coordinator.members and not self._joins

    def members(self) -> list[dict]:
        """Each member as DescribeGroups shows it: its id, client id, the metadata it joined
        with for the chosen protocol, and the partitions it was given."""
        protocol = self.coordinator.protocol or ""
        out = []
        for member_id in self.coordinator.members:
            member = self.coordinator.member(member_id)
            out.append({"member_id": member_id, "client_id": member.client_id,
                        "metadata": self._metadata.get(member_id, {}).get(protocol, b""),
                        "assignment": [tuple(tp) for tp in self.coordinator.assignment_of(member_id)]})
        return out

    # -- requests ------------------------------------------------------------------------
    async def join(self, member_id: str | None, client_id: str, session_timeout_ms: int,
                   rebalance_timeout_ms: int, protocols: list[tuple[str, bytes]], topics: frozenset[str],
                   now_ms: int) -> Joined | Refused:
        event = ev.Join(member_id or None, client_id, session_timeout_ms, rebalance_timeout_ms,
                        tuple(name for name, _ in protocols), topics, now_ms)
        effects = self.coordinator.handle(event)
        first = effects[0]  # the machine answers the joiner first
        if isinstance(first, ev.ErrorResponse):
            self._settle(effects[1:])
            return Refused(first.error, first.message, member_id)
        assert isinstance(first, (ev.JoinPending, ev.JoinResponse)), first
        mine = first.member_id
        self._metadata[mine] = dict(protocols)
        previous = self._joins.pop(mine, None)
        if previous is not None and not previous.done():  # the same member joined twice
            previous.set_result(Refused(GroupError.REBALANCE_IN_PROGRESS, "a newer join of this member replaced it"))
        future = self._joins[mine] = asyncio.get_running_loop().create_future()
        self._settle(effects)
        try:
            return await future
        finally:
            if self._joins.get(mine) is future:
                del self._joins[mine]

    def sync(self, member_id: str, generation: int, now_ms: int):
        """(assignment as (topic, partition) pairs, None) or (None, Refused)."""
        for effect in self._run(ev.Sync(member_id, generation, now_ms), now_ms):
            if isinstance(effect, ev.SyncResponse) and effect.member_id == member_id:
                return tuple(effect.assignment), None
            if isinstance(effect, ev.ErrorResponse) and effect.request == "sync":
                return None, Refused(effect.error, effect.message, member_id)
        return None, Refused(GroupError.UNKNOWN_MEMBER_ID, "no answer to the sync", member_id)

    def heartbeat(self, member_id: str, generation: int, now_ms: int) -> Refused | None:
        for effect in self._run(ev.Heartbeat(member_id, generation, now_ms), now_ms):
            if isinstance(effect, ev.ErrorResponse) and effect.request == "heartbeat":
                return Refused(effect.error, effect.message, member_id)
        return None

    def leave(self, member_id: str, now_ms: int) -> Refused | None:
        for effect in self._run(ev.Leave(member_id, now_ms), now_ms):
            if isinstance(effect, ev.ErrorResponse) and effect.request == "leave":
                return Refused(effect.error, effect.message, member_id)
        return None

    def commit_error(self, member_id: str, generation: int) -> Refused | None:
        """Why this member may not commit (a stale generation must not move offsets)."""
        for effect in self.coordinator.handle(ev.CommitCheck(member_id, generation)):
            if isinstance(effect, ev.ErrorResponse):
                return Refused(effect.error, effect.message, member_id)
        return None

    # -- the coordinator's duties ----------------------------------------------------------
    def tick(self, now_ms: int) -> None:
        self._run(ev.Tick(now_ms), now_ms)

    def topics_changed(self, partitions: Mapping[str, int], now_ms: int) -> None:
        self._run(ev.TopicsChanged(dict(partitions), now_ms), now_ms)

    def unload(self) -> None:
        self.coordinator.handle(ev.Unload())
        for future in self._joins.values():
            if not future.done():
                future.set_result(Refused(GroupError.NOT_COORDINATOR, "the coordinator moved: find it again"))
        self._joins.clear()

    # -- effects -----------------------------------------------------------------------------
    def _run(self, event: ev.Event, now_ms: int) -> list[ev.Effect]:
        effects = self.coordinator.handle(event)
        self._settle(effects)
        return effects

    def _settle(self, effects: list[ev.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ev.JoinResponse):
                members = tuple((mid, self._metadata.get(mid, {}).get(effect.protocol, b""))
                                for mid, _ in effect.members)
                self._answer(effect.member_id, Joined(effect.member_id, effect.generation, effect.protocol,
                                                      effect.leader_id, members))
            elif isinstance(effect, ev.ErrorResponse) and effect.request == "join" and effect.member_id:
                self._answer(effect.member_id, Refused(effect.error, effect.message, effect.member_id))
            elif isinstance(effect, ev.MemberRemoved):
                self._metadata.pop(effect.member_id, None)
                self._answer(effect.member_id, Refused(GroupError.UNKNOWN_MEMBER_ID,
                                                       f"removed from the group ({effect.reason})", effect.member_id))

    def _answer(self, member_id: str, result) -> None:
        future = self._joins.get(member_id)
        if future is not None and not future.done():
            future.set_result(result)
