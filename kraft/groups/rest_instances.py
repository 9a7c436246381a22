"""REST consumer instances (Confluent REST Proxy v2) at their group's coordinator.

Every node forwards a group's instance requests to its coordinator
(kraft/api/consumer_routes.py), so joins, heartbeats and commits are local calls here. An
instance's requests run one at a time (`lock`: positions are its state); an instance
not heard from within its timeout expires (`expire`), unless a request of it (a long
poll) is in flight. A group whose last instance left is dropped; its committed offsets
stay in the offsets partition. Why an instance left (expired, deleted, its coordinator
moved) is remembered a while (rest_departures.py): a later request of it is told.
"""

from __future__ import annotations

import asyncio
import logging

from kraft.errors import ConsumerConflict, ConsumerInstanceExists, ConsumerInstanceNotFound
from kraft.groups.consumer_instance import READ_COMMITTED, ConsumerInstance, InstanceConfig
from kraft.groups.loaded_groups import LoadedGroups, mono_ms, wall_ms
from kraft.groups.rest_departures import DELETED, EXPIRED, MOVED, Departure, Departures, not_found_message
from kraft.groups.rest_instance_group import RestInstanceGroup

log = logging.getLogger(__name__)


class RestInstances:
    def __init__(self, here: LoadedGroups):
        self._here = here
        # one per instance from its creation: the names of a group's instances when it leaves
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.departures = Departures()

    def group(self, group_id: str) -> RestInstanceGroup:
        here = self._here
        here.cache_of(group_id)  # only groups of a loaded partition
        here.refuse_deleting(group_id)
        here.refuse_consumer_group(group_id)
        group = here.rest.get(group_id)
        if group is None:
            group = here.rest[group_id] = RestInstanceGroup(group_id, here.topic_counts, here.prefix,
                                                            here.classic_config())
        return group

    def create_instance(self, group_id: str, name: str, config: InstanceConfig) -> ConsumerInstance:
        group = self.group(group_id)
        if name in group.instances:
            raise ConsumerInstanceExists(f"consumer instance {name!r} already exists in group {group_id!r}")
        instance = ConsumerInstance(group_id, name, config, mono_ms())
        group.add(instance)
        self.lock(group_id, name)
        self.departures.returned(group_id, name)
        return instance

    def instance(self, group_id: str, name: str) -> tuple[RestInstanceGroup, ConsumerInstance]:
        group = self._here.rest.get(group_id)
        instance = group.instances.get(name) if group is not None else None
        if group is None or instance is None:
            raise ConsumerInstanceNotFound(self.not_found(group_id, name))
        return group, instance

    def not_found(self, group_id: str, name: str) -> str:
        """The 40403's message: what became of it, when this node remembers."""
        departure = self.departures.of(group_id, name, wall_ms())
        return departure.message() if departure is not None else not_found_message(group_id, name)

    def delete_instance(self, group_id: str, name: str) -> None:
        group, _ = self.instance(group_id, name)
        group.remove(name, mono_ms())
        self._left(group_id, name, DELETED)

    def _left(self, group_id: str, name: str, reason: str, timeout_ms: int | None = None) -> None:
        self._locks.pop((group_id, name), None)
        self.departures.note(Departure(group_id, name, reason, wall_ms(), self._here.node_id, timeout_ms))

    def lock(self, group_id: str, name: str) -> asyncio.Lock:
        """Requests of one instance run one at a time (positions are its state)."""
        return self._locks.setdefault((group_id, name), asyncio.Lock())

    def reads_committed(self, group_id: str) -> bool:
        """A group of REST instances that all read at read_committed: its lag is measured
        to the last stable offset. (A Kafka client's isolation level never reaches the
        broker's group, so such a group's lag is to the high watermark, as Kafka's tools
        measure it by default.)"""
        group = self._here.rest.get(group_id)
        return group is not None and bool(group.instances) and all(
            i.config.isolation_level == READ_COMMITTED for i in group.instances.values())

    def refuse_kafka_clients(self, group_id: str) -> None:
        """A group has members of one door only."""
        if group_id in self._here.rest and self._here.rest[group_id].instances:
            raise ConsumerConflict(f"group {group_id!r} has REST consumer instances: Kafka clients "
                                   "cannot join it (use another group id)")

    def expire(self) -> None:
        """Instances past their timeout leave their group; a group left empty is dropped."""
        now, rest = mono_ms(), self._here.rest
        for group in list(rest.values()):
            for instance in list(group.instances.values()):
                lock = self._locks.get((group.group_id, instance.instance_id))
                if lock is not None and lock.locked():  # a request in flight (a long poll) is alive
                    group.touch(instance, now)
                elif now - instance.last_seen_ms >= instance.config.instance_timeout_ms:
                    log.info("consumer instance %s/%s expired", group.group_id, instance.instance_id)
                    group.remove(instance.instance_id, now)
                    self._left(group.group_id, instance.instance_id, EXPIRED, instance.config.instance_timeout_ms)
            group.tick(now)
            if not group.instances:  # its committed offsets stay in the cache and the log
                del rest[group.group_id]

    def forget(self, group_ids: list[str]) -> None:
        """Those groups left this node (their coordinator moved): their instances go too."""
        gone = set(group_ids)
        for group_id, name in [k for k in self._locks if k[0] in gone]:
            self._left(group_id, name, MOVED)
