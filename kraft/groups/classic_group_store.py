"""Classic groups of Kafka clients kept in their offsets partition (classic_group_record.py).

Each change of what a group's record holds is written (acks=all) in the order the group
made it: a write of the coordinator runtime, which runs one offsets partition's writes
one at a time and replays each record into the partition's cache (offset_store.py); a
write that fails (the partition is moving) is logged and the next change writes the
group whole again. A coordinator that loads an
offsets partition takes up its classic groups from their records, Stable, so that their
members carry on where the last coordinator left them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kraft.groups.classic_group import ClassicGroup
from kraft.groups.classic_group_record import classic_record, group_from_value, group_value
from kraft.groups.group_events import GroupState
from kraft.groups.kafka_client_group import KafkaClientGroup
from kraft.groups.loaded_groups import LoadedGroups, mono_ms, wall_ms
from kraft.groups.offset_store import OffsetCache
from kraft.storage.record import Record

log = logging.getLogger(__name__)


class ClassicGroupStore:
    def __init__(self, here: LoadedGroups):
        self._here = here

    def new_group(self, group_id: str, coordinator: ClassicGroup | None = None) -> KafkaClientGroup:
        """A group of Kafka clients whose record changes are written here."""
        here = self._here
        return KafkaClientGroup(group_id, here.topic_counts, here.prefix, here.classic_config(), coordinator,
                                on_change=self.changed)

    def changed(self, group: KafkaClientGroup) -> asyncio.Future[bool] | None:
        """Write what the group's record holds now: the group when Stable, a tombstone when
        it has no members; nothing while it rebalances (its end writes)."""
        coordinator = group.coordinator
        if coordinator.members and coordinator.state is not GroupState.STABLE:
            return None
        return self.write_later(group.group_id, group_value(coordinator))

    def write_later(self, group_id: str, value: dict[str, Any] | None) -> asyncio.Future[bool] | None:
        """Write the group's record (None: its tombstone, when it has a record) after the
        writes of the group already started; the write (its result: done, or False when
        it failed), or None when none can start."""
        try:
            return self._here.runtime.spawn(self._write(group_id, value), name=f"classic-group-{group_id}")
        except Exception:  # the coordinator is shutting down
            return None

    async def _write(self, group_id: str, value: dict[str, Any] | None) -> bool:
        def operation(cache: OffsetCache) -> tuple[list[Record], bool]:
            if value is None and group_id not in cache.classic_groups:
                return [], True
            return [classic_record(group_id, value, wall_ms())], True

        try:
            return await self._here.write_group(group_id, operation)
        except Exception as exc:  # the partition moved: its next coordinator has the last record written
            log.warning("classic group %s: its record was not written (%s)", group_id, exc)
            return False

    def take_up(self, cache: OffsetCache) -> None:
        """The classic groups of an offsets partition just loaded, from their records:
        Stable, each member's session starting now (a member that died with the last
        coordinator leaves by its session timeout, as in Kafka)."""
        here = self._here
        for group_id, value in cache.classic_groups.items():
            if group_id in here.clients or group_id in here.rest or group_id in cache.consumer_groups:
                continue  # a record the group's later kind replaced (its tombstone may be in flight)
            coordinator = group_from_value(group_id, value, here.topic_counts, here.prefix, here.classic_config(),
                                           mono_ms())
            if coordinator is not None:
                here.clients[group_id] = self.new_group(group_id, coordinator)
