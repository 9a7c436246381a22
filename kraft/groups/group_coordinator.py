"""The group coordinator of one node: the groups of the offsets partitions it leads.

Which node coordinates group g: the leader of partition hash(g) % N of
__consumer_offsets (groups/coordinator_placement.py). It runs on the coordinator runtime
(kraft/coordinator/runtime.py) with one shard per offsets partition this node leads
(`OffsetsShard`: its committed offsets, loaded by replaying the partition's local log).
When this node stops leading one, the groups there are unloaded and their consumer
instances are gone (clients get 40403 and recreate them; committed offsets live in the
log, not here).

The work is split by concept, each a module of its own over the groups loaded here
(loaded_groups.py): the classic protocol (classic_protocol.py), KIP-848 consumer groups
(consumer_protocol.py), REST consumer instances (rest_instances.py) and committed
offsets, transactional ones included (group_offsets.py). This class wires them to the
runtime and names the entry points the doors call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from kraft.config.cluster import GroupSettings
from kraft.coordinator.loader import LoadableReplica, replay_log
from kraft.coordinator.runtime import (LOCATE_WAIT_S, AppendLocal, ControllerCall, CoordinatorLinks,
                                       CoordinatorRuntime, InternalTopic, ReplicaLookup, WaitMetadata)
from kraft.errors import NotFound
from kraft.groups.classic_group_store import ClassicGroupStore
from kraft.groups.classic_protocol import ClassicProtocol
from kraft.groups.consumer_protocol import ConsumerProtocol
from kraft.groups.coordinator_placement import OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIGS
from kraft.groups.group_offsets import GroupOffsets
from kraft.groups.group_views import describe_group
from kraft.groups.loaded_groups import LoadedGroups, OffsetsShard, client_topic_counts
from kraft.groups.offset_store import OffsetCache, replay_batch
from kraft.groups.rest_instances import RestInstances
from kraft.metadata.image import MetadataImage

log = logging.getLogger(__name__)


class GroupCoordinator:
    def __init__(self, node_id: int, settings: GroupSettings, image: Callable[[], MetadataImage],
                 replicas: ReplicaLookup | None, controller_call: ControllerCall,
                 wait_metadata: WaitMetadata, append_local: AppendLocal):
        """replicas: this broker's replicas (None on a controller-only node, which only
        forwards); append_local(topic, partition, batch, timeout_ms, timestamp) appends
        with acks=all on this node, never forwarding, and returns the base offset."""
        self.node_id = node_id
        self.settings = settings
        topic = InternalTopic(OFFSETS_TOPIC, f"the offsets topic {OFFSETS_TOPIC}", "offsets partition {}",
                              settings.offsets_topic_partitions, settings.offsets_topic_replication_factor,
                              lambda rf: dict(OFFSETS_TOPIC_CONFIGS))
        links = CoordinatorLinks(image, replicas, controller_call, wait_metadata, append_local)
        self.runtime: CoordinatorRuntime[OffsetsShard] = CoordinatorRuntime(node_id, "group coordinator", topic,
                                                                            self, links)
        self.loaded = here = LoadedGroups(node_id, settings, image, self.runtime)
        self.rest_instances = rest = RestInstances(here)
        self.classic_store = store = ClassicGroupStore(here)
        self.classic = classic = ClassicProtocol(here, rest, store)
        self.consumer = consumer = ConsumerProtocol(here, store)
        self.offsets = offsets = GroupOffsets(here)
        self.consumer_groups = here.consumer_groups
        self._consumer_tick: asyncio.Task[None] | None = None
        self.runtime.every(0, self._tick)
        # the entry points, by concept
        self.group, self.create_instance, self.instance = rest.group, rest.create_instance, rest.instance
        self.delete_instance, self.lock, self.reads_committed = rest.delete_instance, rest.lock, rest.reads_committed
        self.kafka_client_group, self.loaded_client_group = classic.kafka_client_group, classic.loaded_client_group
        self.release_empty_consumer_group = classic.release_empty_consumer_group
        self.classic_members_group, self.classic_join = classic.classic_members_group, classic.classic_join
        self.classic_sync, self.classic_heartbeat = classic.classic_sync, classic.classic_heartbeat
        self.classic_leave = classic.classic_leave
        self.consumer_heartbeat, self.consumer_group = consumer.consumer_heartbeat, here.consumer_group
        self.topic_counts, self.membership = here.current_topic_counts, here.membership
        self.committed, self.committed_of_group = offsets.committed, offsets.committed_of_group
        self.commit = offsets.commit
        self.txn_offset_commit, self.complete_transaction = offsets.txn_offset_commit, offsets.complete_transaction
        self.unstable_offsets, self.alter_offsets = offsets.unstable_offsets, offsets.alter_offsets
        self.delete_group, self.delete_offsets = offsets.delete_group, offsets.delete_offsets

    # -- the runtime's shards: loading, unloading, ticks ------------------------------------
    def on_metadata(self) -> None:
        self.runtime.on_metadata()

    async def run(self) -> None:
        await self.runtime.run()

    def load(self, p: int, replica: LoadableReplica) -> OffsetsShard:
        cache = OffsetCache()
        started = time.monotonic()
        replay_log(replica, lambda header, records, position: replay_batch(cache, header, records, position))
        log.info("coordinator: loaded offsets partition %d (%d groups, up to offset %d) in %.3fs",
                 p, len(cache.groups()), replica.log_end_offset, time.monotonic() - started)
        self.classic_store.take_up(cache)  # their members carry on here
        return OffsetsShard(replica.leader_epoch, cache)

    def unloaded(self, p: int, shard: OffsetsShard) -> None:
        self.rest_instances.forget(self.loaded.unload(self.loaded.of_partition(p)))
        log.info("coordinator: unloaded offsets partition %d", p)

    def new_image(self, image: MetadataImage) -> None:
        self.loaded.topics_changed(client_topic_counts(image))

    async def _tick(self) -> None:
        self.rest_instances.expire()
        self.classic.tick()
        # the consumer groups' duties write what they change (an expired member) and wait
        # for its commit: in a task of their own, one at a time, so a follower behind never
        # holds the runtime's tick, and with it the shards' loading and unloading
        if self._consumer_tick is None or self._consumer_tick.done():
            group_ids = [g for shard in self.runtime.shards.values() for g in shard.cache.consumer_groups]
            self._consumer_tick = self.runtime.spawn(self.consumer.tick(group_ids), name="consumer-groups-tick")

    # -- where a group lives ------------------------------------------------------------
    async def locate(self, group_id: str, create: bool = True, wait_s: float = LOCATE_WAIT_S) -> int | None:
        """None when this node coordinates the group and has loaded it; else the node id
        to forward to. Creates the offsets topic on first use, as Kafka does. While the
        coordinator is being created, elected or loaded, waits (up to wait_s) as a Kafka
        client retries FindCoordinator, so a first consumer on a fresh cluster succeeds.
        With create=False and no offsets topic yet: NotFound."""
        def absent() -> NotFound:
            return NotFound(f"consumer group {group_id!r} not found (no group has been used yet)")
        return await self.runtime.locate(group_id, create, wait_s, absent)

    # -- views -------------------------------------------------------------------------------
    def local_group_ids(self) -> list[str]:
        ids = set(self.loaded.rest) | set(self.loaded.clients)
        for shard in self.runtime.shards.values():
            ids.update(shard.cache.groups())
            ids.update(shard.cache.consumer_groups)
        return sorted(ids)

    def summaries(self) -> list[dict[str, Any]]:
        return [self.describe(g) for g in self.local_group_ids()]

    def describe(self, group_id: str) -> dict[str, Any]:
        committed = self.committed_of_group(group_id)
        return describe_group(group_id, self.node_id, committed, self.loaded.rest.get(group_id),
                              self.loaded.clients.get(group_id), self.loaded.consumer_group(group_id))
