"""The KIP-848 consumer groups a coordinator has loaded: each heartbeat's change is
written to the group's offsets partition (acks=all) before it is answered, so a new
coordinator (after a failover) loads the same epochs and assignments from the log and
the members carry on with theirs. A write that fails leaves the group as it was before
the heartbeat (the member retries, maybe on another coordinator).

Heartbeats of one group run one at a time (the group's lock), which keeps its records
in the log in the order of its changes. The coordinator's tick expires members (session
and rebalance timeouts) and follows topic changes, writing the same way.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from kraft.errors import NotCoordinator
from kraft.groups.consumer_group import Answer, ConsumerGroup, GroupConfig, Heartbeat, Refusal
from kraft.groups.consumer_group_record import group_record
from kraft.groups.offset_store import OffsetCache
from kraft.storage.record_batch import encode_batch

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteGroup = Callable[[str, bytes, int], Awaitable[int]]  # (group id, batch, timestamp) -> base offset


def new_member_id() -> str:
    return uuid.uuid4().hex


class ConsumerGroupHost:
    def __init__(self, config: Callable[[], GroupConfig], cache_of: Callable[[str], OffsetCache],
                 write: WriteGroup, now_ms: Callable[[], int], wall_ms: Callable[[], int]):
        """cache_of(group): the loaded offsets partition's cache (raises NotCoordinator
        when not loaded here); write(group, batch, ts): an acks=all append to the group's
        offsets partition."""
        self._config = config
        self._cache_of = cache_of
        self._write = write
        self._now_ms = now_ms
        self._wall_ms = wall_ms
        # group id -> (the offsets partition's cache it was loaded from, the group): a group
        # of an earlier term of this node's leadership is never used again
        self._groups: dict[str, tuple[OffsetCache, ConsumerGroup]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, group_id: str) -> ConsumerGroup | None:
        """The group, loaded from its record on first use; None when there is none.
        Raises NotCoordinator when its offsets partition is not loaded here."""
        cache = self._cache_of(group_id)
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
        async with self._locks.setdefault(group_id, asyncio.Lock()):
            cache = self._cache_of(group_id)
            group = start if start is not None else self.get(group_id)
            if group is None:
                if hb.member_epoch != 0:
                    return None
                group = ConsumerGroup(group_id, self._config(), new_member_id)
            before = group.to_record()
            answer = group.heartbeat(hb, topics)
            if group_id not in cache.consumer_groups and group.empty:
                return answer  # refused: no group came of it
            self._groups[group_id] = (cache, group)
            await self._persist(cache, group, before)
            return answer

    async def apply(self, group_id: str, change: Callable[[ConsumerGroup], T]) -> T | None:
        """Run `change` on the group under its lock and write what it changed; None when
        there is no such group (a classic member's request, for one)."""
        async with self._locks.setdefault(group_id, asyncio.Lock()):
            cache = self._cache_of(group_id)
            group = self.get(group_id)
            if group is None:
                return None
            before = group.to_record()
            result = change(group)
            await self._persist(cache, group, before)
            return result

    async def tick(self, topics: Mapping[str, int], group_ids: Iterable[str]) -> None:
        """Expire members and follow topic changes in every group of the loaded offsets
        partitions (group_ids), also those no member has heartbeated to since this node
        loaded them (their members may all have died with the last coordinator); groups
        busy with a heartbeat wait for the next tick."""
        now = self._now_ms()
        for group_id in list(group_ids):
            lock = self._locks.setdefault(group_id, asyncio.Lock())
            if lock.locked():
                continue
            try:
                group = self.get(group_id)
                cache = self._cache_of(group_id)
            except NotCoordinator:
                continue  # its partition is no longer led here
            if group is None:
                continue
            async with lock:
                before = group.to_record()
                for member_id, why in group.expire(now):
                    log.info("consumer group %s: member %s removed (%s)", group_id, member_id, why)
                group.topics_changed(topics)
                try:
                    await self._persist(cache, group, before)
                except Exception:  # the coordinator is moving, or the next tick retries
                    log.warning("consumer group %s: could not write its change", group_id)

    async def _persist(self, cache: OffsetCache, group: ConsumerGroup, before: dict[str, Any]) -> None:
        """Write the group if the call changed it. A failed write forgets it here: the
        next use loads it from its last record, which is what `before` was."""
        after = group.to_record()
        if after == before:
            return
        now = self._wall_ms()
        try:
            await self._write(group.group_id, encode_batch([group_record(group.group_id, after, now)], 0, -1), now)
        except BaseException:
            if self._groups.get(group.group_id, (None, None))[1] is group:
                del self._groups[group.group_id]
            raise
        cache.consumer_groups[group.group_id] = after

    async def delete(self, group_id: str,
                     when: Callable[[ConsumerGroup], bool] = lambda group: group.empty) -> ConsumerGroup | None:
        """A tombstone for the group, when `when` holds for it (by default: it has no
        members; checked under its lock, a member may have joined meanwhile): it is gone
        here and after a load. Returns the group deleted, if it was."""
        async with self._locks.setdefault(group_id, asyncio.Lock()):
            cache = self._cache_of(group_id)
            group = self.get(group_id)
            if group_id not in cache.consumer_groups or (group is not None and not when(group)):
                return None
            now = self._wall_ms()
            await self._write(group_id, encode_batch([group_record(group_id, None, now)], 0, -1), now)
            cache.consumer_groups.pop(group_id, None)
            self._groups.pop(group_id, None)
            return group

    def unload(self, belongs: Callable[[str], bool]) -> None:
        """Drop the groups of an offsets partition this node no longer leads."""
        for group_id in [g for g in self._groups if belongs(g)]:
            del self._groups[group_id]
            self._locks.pop(group_id, None)
