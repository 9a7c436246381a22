"""The classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) at the
coordinator: the group of Kafka clients of a group id (kafka_client_group.py), or, when
the id is a KIP-848 consumer group with members, that group's classic members
(`classic_members_group` and the `classic_*` calls, as Kafka 4 hosts mixed groups).
"""

from __future__ import annotations

from typing import Any

from kraft.groups.classic_group_store import ClassicGroupStore
from kraft.groups.consumer_group import ClassicJoin, ClassicJoined, ConsumerGroup, Refusal
from kraft.groups.kafka_client_group import KafkaClientGroup
from kraft.groups.loaded_groups import LoadedGroups, mono_ms
from kraft.groups.rest_instances import RestInstances


class ClassicProtocol:
    def __init__(self, here: LoadedGroups, rest: RestInstances, store: ClassicGroupStore):
        self._here = here
        self._rest = rest
        self._store = store

    def kafka_client_group(self, group_id: str) -> KafkaClientGroup:
        """The group of Kafka protocol clients; a group has members of one door only."""
        here = self._here
        here.cache_of(group_id)  # only groups of a loaded partition
        here.refuse_deleting(group_id)
        self._rest.refuse_kafka_clients(group_id)
        here.refuse_consumer_group(group_id)
        group = here.clients.get(group_id)
        if group is None:
            group = here.clients[group_id] = self._store.new_group(group_id)
        return group

    def loaded_client_group(self, group_id: str) -> KafkaClientGroup | None:
        """The Kafka clients' group of that id, when it has members here now."""
        return self._here.clients.get(group_id)

    async def release_empty_consumer_group(self, group_id: str) -> None:
        """A classic member joins: an empty consumer group of that id becomes a classic
        one (its record is deleted; its offsets stay), as Kafka 4 converts it."""
        consumer_group = self._here.consumer_groups.get(group_id)
        if consumer_group is not None and consumer_group.empty:
            await self._here.consumer_groups.delete(group_id)

    def classic_members_group(self, group_id: str) -> ConsumerGroup | None:
        """The consumer group (with members) that a classic member's JoinGroup, SyncGroup,
        Heartbeat and LeaveGroup go to; None: they go to a classic group."""
        self._here.cache_of(group_id)
        self._here.refuse_deleting(group_id)
        group = self._here.consumer_group(group_id)
        return group if group is not None and not group.empty else None

    async def classic_join(self, group_id: str, join: ClassicJoin) -> ClassicJoined | Refusal | None:
        """None: the consumer group is gone (the member joins a classic group instead)."""
        counts = self._here.current_topic_counts()
        return await self._here.consumer_groups.apply(group_id, lambda g: g.classic_join(join, counts))

    async def classic_sync(self, group_id: str, member_id: str, generation: int, protocol_type: str | None,
                           protocol_name: str | None, now_ms: int, instance_id: str | None = None) -> Any:
        return await self._here.consumer_groups.apply(
            group_id, lambda g: g.classic_sync(member_id, generation, protocol_type, protocol_name, now_ms,
                                               instance_id))

    async def classic_heartbeat(self, group_id: str, member_id: str, generation: int, now_ms: int,
                                instance_id: str | None = None) -> Any:
        """True: carry on; a Refusal (REBALANCE_IN_PROGRESS: rejoin); None: no such group."""
        return await self._here.consumer_groups.apply(
            group_id, lambda g: g.classic_heartbeat(member_id, generation, now_ms, instance_id) or True)

    async def classic_leave(self, group_id: str, member_id: str, instance_id: str | None = None) -> Any:
        """True: it left; a Refusal; None: no such group."""
        return await self._here.consumer_groups.apply(
            group_id, lambda g: g.classic_leave(member_id, instance_id) or True)

    def tick(self) -> None:
        """Timeouts of the Kafka clients' groups; a group left empty is dropped."""
        now, clients = mono_ms(), self._here.clients
        for kafka_client_group in list(clients.values()):
            kafka_client_group.tick(now)
            if kafka_client_group.empty:
                del clients[kafka_client_group.group_id]
