"""The consumer group protocol (KIP-848: ConsumerGroupHeartbeat) at the coordinator, and
the conversions between a classic group and a consumer group (group_conversion.py) that
the migration policy allows: a classic group of Kafka consumers becomes a consumer group
when a KIP-848 member joins it; a consumer group whose members are all classic becomes a
classic group again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kraft.errors import CoordinatorNotAvailable, GroupIdNotFound
from kraft.groups.classic_group_store import ClassicGroupStore
from kraft.groups.consumer_group import Answer, ConsumerGroup, Heartbeat, Refusal
from kraft.groups.consumer_group_host import new_member_id
from kraft.groups.group_conversion import (MigrationPolicy, classic_group_from_consumer, consumer_group_from_classic,
                                          upgrade_refusal)
from kraft.groups.group_events import GroupState
from kraft.groups.loaded_groups import LoadedGroups, mono_ms

log = logging.getLogger(__name__)


class ConsumerProtocol:
    def __init__(self, here: LoadedGroups, store: ClassicGroupStore):
        self._here = here
        self._store = store  # the classic groups' records

    def _migration_policy(self) -> MigrationPolicy:
        return MigrationPolicy(self._here.settings.consumer_migration_policy)

    async def consumer_heartbeat(self, group_id: str, hb: Heartbeat) -> Answer | Refusal:
        """ConsumerGroupHeartbeat. A joining member (epoch 0) of a classic group of Kafka
        consumers converts it into a consumer group when the migration policy allows
        (group_conversion.py). Raises GroupIdNotFound for a classic group that cannot
        convert or, when the heartbeat does not join, a group that does not exist;
        CoordinatorNotAvailable (retriable) while such a classic group rebalances;
        NotCoordinator as commits do. When the last KIP-848 member leaves a group of
        classic members, it converts back."""
        here = self._here
        here.cache_of(group_id)
        here.refuse_deleting(group_id)
        counts = here.current_topic_counts()
        start = self._upgraded(group_id, hb, counts) if here.classic_members(group_id) else None
        if isinstance(start, Refusal):
            return start
        answer = await here.consumer_groups.heartbeat(group_id, hb, counts, start)
        if answer is None:
            raise GroupIdNotFound(f"GROUP_ID_NOT_FOUND: consumer group {group_id!r} does not exist")
        await self.maybe_downgrade(group_id)
        return answer

    def _upgraded(self, group_id: str, hb: Heartbeat, counts: dict[str, int]) -> ConsumerGroup | Refusal:
        """The consumer group the classic group of this id becomes for this heartbeat; the
        classic group is gone here from then on."""
        here = self._here
        clients = here.clients.get(group_id)
        not_consumer = f"GROUP_ID_NOT_FOUND: group {group_id!r} is a classic group with members, not a consumer group"
        if clients is None or hb.member_epoch != 0 or not self._migration_policy().upgrades:
            raise GroupIdNotFound(not_consumer)
        refused = upgrade_refusal(clients.coordinator, here.settings.consumer_max_size)
        if refused is not None and clients.coordinator.state is not GroupState.STABLE \
                and clients.coordinator.protocol_type == "consumer":
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: classic group {group_id!r} converts to a "
                                          f"consumer group once its rebalance is over; {refused}")
        if refused is not None:
            raise GroupIdNotFound(f"{not_consumer}: {refused}")
        group = consumer_group_from_classic(clients.coordinator, here.consumer_group_config(), new_member_id,
                                            counts, mono_ms())
        if (check := group.check_request(hb)) is not None:
            return check  # refused before anything changed: it stays classic
        del here.clients[group_id]
        clients.hand_over()
        self._store.write_later(group_id, None)  # its consumer group's record replaces the classic one
        log.info("group %s: a classic group of %d member(s) converts to a consumer group", group_id,
                 len(group.members))
        return group

    async def maybe_downgrade(self, group_id: str) -> None:
        """A consumer group whose members are all classic becomes a classic group again
        (its record deleted; its offsets stay), when the migration policy allows."""
        if not self._migration_policy().downgrades:
            return
        here = self._here
        try:
            fits: Callable[[ConsumerGroup], bool] = (  # noqa: E731
                lambda g: g.only_classic_members and len(g.members) <= here.settings.classic_max_size)
            group = here.consumer_groups.get(group_id)
            if group is None or not fits(group):
                return
            group = await here.consumer_groups.delete(group_id, fits, settle=False)  # the tick's
        except Exception:  # its partition moved, or the write failed: the next tick retries
            log.warning("group %s: could not convert back to a classic group yet", group_id)
            return
        if group is None:
            return
        classic = classic_group_from_consumer(group, here.topic_counts, here.prefix, mono_ms(), here.classic_config())
        here.clients[group_id] = self._store.new_group(group_id, classic)
        log.info("group %s: a consumer group of %d classic member(s) converts back to a classic group", group_id,
                 len(group.members))

    async def tick(self, group_ids: list[str]) -> None:
        """Session timeouts and assignments of the consumer groups; a group whose last
        KIP-848 member expired may convert back."""
        await self._here.consumer_groups.tick(self._here.current_topic_counts(), group_ids)
        for group_id in group_ids:
            await self.maybe_downgrade(group_id)
