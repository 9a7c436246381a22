"""The KIP-848 consumer groups a coordinator has loaded: each heartbeat's change is
written to the group's offsets partition (acks=all) before it is answered, so a new
coordinator (after a failover) loads the same epochs and assignments from the log and
the members carry on with theirs. A write that fails before reaching the log leaves the
group as its last record says (the member retries, maybe on another coordinator).

Every change is a write operation of the coordinator runtime (kraft/coordinator/writes.py),
which runs one offsets partition's writes one at a time, each after the previous one's
record is in the log, and replays each record into the partition's cache with the replay
a load uses; so a group's records are in the log in the order of its changes. The
coordinator's tick expires members (session and rebalance timeouts) and follows topic
changes, writing the same way.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from kraft.errors import NotCoordinator
from kraft.groups.consumer_group import Answer, ConsumerGroup, GroupConfig, Heartbeat, Refusal
from kraft.groups.consumer_group_record import group_record
from kraft.groups.offset_store import OffsetCache
from kraft.storage.record import Record

log = logging.getLogger(__name__)

T = TypeVar("T")


class WriteGroup(Protocol):
    """A write of the runtime to the group's offsets partition: the operation gets that
    partition's cache in its turn and returns (records, answer); settle=False: an
    operation that writes nothing returns without waiting for what it read to commit."""

    def __call__(self, group_id: str, operation: Callable[[OffsetCache], tuple[list[Record], T]], /,
                 settle: bool = True) -> Awaitable[T]:
        ...


def new_member_id() -> str:
    return uuid.uuid4().hex


class ConsumerGroupHost:
    def __init__(self, config: Callable[[], GroupConfig], cache_of: Callable[[str], OffsetCache],
                 write: WriteGroup, now_ms: Callable[[], int], wall_ms: Callable[[], int]):
        """cache_of(group): the loaded offsets partition's cache (raises NotCoordinator
        when not loaded here); write(group, operation): a write of the runtime."""
        self._config = config
        self._cache_of = cache_of
        self._write = write
        self._now_ms = now_ms
        self._wall_ms = wall_ms
        # group id -> (the offsets partition's cache it was loaded from, the group): a group
        # of an earlier term of this node's leadership is never used again
        self._groups: dict[str, tuple[OffsetCache, ConsumerGroup]] = {}

    def get(self, group_id: str) -> ConsumerGroup | None:
        """The group, loaded from its record on first use; None when there is none.
        Raises NotCoordinator when its offsets partition is not loaded here."""
        return self._in(self._cache_of(group_id), group_id)

    def _in(self, cache: OffsetCache, group_id: str) -> ConsumerGroup | None:
        entry = self._groups.get(group_id)
        if entry is not None and entry[0] is cache:
            return entry[1]
        self._groups.pop(group_id, None)
        record = cache.consumer_groups.get(group_id)
        if record is None:
            return None
        group = ConsumerGroup.from_record(group_id, record, self._config(), new_member_id, self._now_ms())
        self._groups[group_id] = (cache, group)
        return group

    async def heartbeat(self, group_id: str, hb: Heartbeat, topics: Mapping[str, int],
                        start: ConsumerGroup | None = None) -> Answer | Refusal | None:
        """None: there is no such group and the heartbeat does not create one (epoch != 0).
        start: the group to begin from (a classic group converted for this heartbeat)."""
        def operation(cache: OffsetCache) -> tuple[list[Record], Answer | Refusal | None]:
            group = start if start is not None else self._in(cache, group_id)
            if group is None:
                if hb.member_epoch != 0:
                    return [], None
                group = ConsumerGroup(group_id, self._config(), new_member_id)
            before = group.to_record()
            answer = group.heartbeat(hb, topics)
            if group_id not in cache.consumer_groups and group.empty:
                return [], answer  # refused: no group came of it
            self._groups[group_id] = (cache, group)
            return self._changed(group, before), answer

        return await self._written(group_id, operation)

    async def apply(self, group_id: str, change: Callable[[ConsumerGroup], T], settle: bool = True) -> T | None:
        """Run `change` on the group in its write's turn and write what it changed; None
        when there is no such group (a classic member's request, for one). settle=False:
        a change of nothing answers at once (no client waits on it)."""
        def operation(cache: OffsetCache) -> tuple[list[Record], T | None]:
            group = self._in(cache, group_id)
            if group is None:
                return [], None
            before = group.to_record()
            result = change(group)
            return self._changed(group, before), result

        return await self._written(group_id, operation, settle)

    async def tick(self, topics: Mapping[str, int], group_ids: Iterable[str]) -> None:
        """Expire members and follow topic changes in every group of the loaded offsets
        partitions (group_ids), also those no member has heartbeated to since this node
        loaded them (their members may all have died with the last coordinator)."""
        now = self._now_ms()

        def expire(group: ConsumerGroup) -> None:
            for member_id, why in group.expire(now):
                log.info("consumer group %s: member %s removed (%s)", group.group_id, member_id, why)
            group.topics_changed(topics)

        ids = list(group_ids)
        # a group the tick does not change answers no one: it never waits for its
        # partition's commits (a follower behind would hold the runtime's tick, and with it
        # every partition's leadership changes)
        outcomes = await asyncio.gather(*(self.apply(group_id, expire, settle=False) for group_id in ids),
                                        return_exceptions=True)
        for group_id, outcome in zip(ids, outcomes):
            # NotCoordinator: its partition is no longer led here; else the coordinator is
            # moving, or the next tick retries
            if isinstance(outcome, Exception) and not isinstance(outcome, NotCoordinator):
                log.warning("consumer group %s: could not write its change (%r)", group_id, outcome)

    def _changed(self, group: ConsumerGroup, before: dict[str, Any]) -> list[Record]:
        """The group's record when the operation changed it."""
        after = group.to_record()
        return [] if after == before else [group_record(group.group_id, after, self._wall_ms())]

    async def _written(self, group_id: str, operation: Callable[[OffsetCache], tuple[list[Record], T]],
                       settle: bool = True) -> T:
        """A failed write forgets the group here: the next use loads it from the record
        its partition holds."""
        self._cache_of(group_id)  # NotCoordinator when its partition is not loaded here
        try:
            return await self._write(group_id, operation, settle=settle)
        except BaseException:
            self._groups.pop(group_id, None)
            raise

    async def delete(self, group_id: str,
                     when: Callable[[ConsumerGroup], bool] = lambda group: group.empty,
                     settle: bool = True) -> ConsumerGroup | None:
        """A tombstone for the group, when `when` holds for it in the write's turn (by
        default: it has no members; a member may have joined meanwhile): it is gone here
        and after a load. Returns the group deleted, if it was. settle=False: a duty's,
        which answers no one when nothing is deleted."""
        def operation(cache: OffsetCache) -> tuple[list[Record], ConsumerGroup | None]:
            group = self._in(cache, group_id)
            if group_id not in cache.consumer_groups or (group is not None and not when(group)):
                return [], None
            self._groups.pop(group_id, None)
            return [group_record(group_id, None, self._wall_ms())], group

        return await self._written(group_id, operation, settle)

    def unload(self, belongs: Callable[[str], bool]) -> None:
        """Drop the groups of an offsets partition this node no longer leads."""
        for group_id in [g for g in self._groups if belongs(g)]:
            del self._groups[group_id]
