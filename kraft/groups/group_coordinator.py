"""The group coordinator of one node: the groups of the offsets partitions it leads.

Which node coordinates group g: the leader of partition hash(g) % N of
__consumer_offsets (groups/coordinator_placement.py). This node follows the leadership
of its replicas: when it becomes leader of an offsets partition it loads that
partition's committed offsets by replaying its local log; when it stops leading one,
the groups there are unloaded and their consumer instances are gone (clients get 40403
and recreate them; committed offsets live in the log, not here). Commits are appended
to the offsets partition with acks=all, here and only here, so the cache of a loaded
partition always holds what its log holds.

REST consumer instances live with their group's coordinator: every node forwards a
group's requests there (kraft/api/consumer_routes.py), so joins, heartbeats and
commits are local calls.

Transactional commits (TxnOffsetCommit) are appended the same way, as one
transactional batch of the producer, and stay pending (offset_store.py) until the
wiring reports the transaction's marker on that offsets partition
(complete_transaction); a load replays markers from the log the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kraft.groups.kafka_client_group import KafkaClientGroup
from kraft.groups.consumer_group import (Answer, ClassicJoin, ClassicJoined, ConsumerGroup, ConsumerGroupError,
                                         GroupConfig, Heartbeat, Refusal)
from kraft.groups.consumer_group_host import ConsumerGroupHost, new_member_id
from kraft.groups.group_conversion import (MigrationPolicy, classic_group_from_consumer, consumer_group_from_classic,
                                          upgrade_refusal)
from kraft.groups.consumer_instance import READ_COMMITTED, ConsumerInstance, InstanceConfig
from kraft.groups.coordinator_placement import OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIGS, coordinator_partition
from kraft.groups.rest_instance_group import RestInstanceGroup
from kraft.groups.partition_leadership import follow_partitions
from kraft.groups.offset_store import CommittedOffset, OffsetCache, commit_record, marker_is_commit, tombstone_record
from kraft.groups.group_deletion import Key, Membership, check_group_deletable, offsets_to_delete
from kraft.config.cluster import GroupSettings
from kraft.errors import (
    NonEmptyGroup,
    ConsumerConflict,
    ConsumerInstanceExists,
    ConsumerInstanceNotFound,
    FencedInstanceId,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    GroupIdNotFound,
    InconsistentGroupProtocol,
    InvalidProducerIdMapping,
    KraftError,
    NotCoordinator,
    NotFound,
    PartitionNotFound,
    TopicAlreadyExists,
    TopicNotFound,
)
from kraft.groups.group_events import GroupError, GroupState
from kraft.groups.group_member import GroupConfig as ClassicGroupConfig
from kraft.storage.record import Record
from kraft.storage.record_batch import NO_SEQUENCE, BatchHeader, decode_records, encode_batch, iter_batches
from kraft.metadata.image import MetadataImage

log = logging.getLogger(__name__)

TICK_S = 0.25
LOAD_CHUNK_BYTES = 1024 * 1024
COMMIT_TIMEOUT_MS = 30_000
LOCATE_WAIT_S = 15.0  # the offsets topic's creation and leader elections fit well inside
LOCATE_RETRY_S = 0.1


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000


ControllerCall = Callable[[str, dict], Awaitable[dict]]
AppendLocal = Callable[[str, int, bytes, int, int], Awaitable[int]]


class ReplicaLookup(Protocol):
    def replica(self, topic: str, partition: int) -> Any: ...


@dataclass
class LoadedPartition:
    leader_epoch: int
    cache: OffsetCache


class GroupCoordinator:
    def __init__(self, node_id: int, settings: GroupSettings, image: Callable[[], MetadataImage],
                 replicas: ReplicaLookup | None, controller_call: ControllerCall,
                 wait_metadata: Callable[[int, float], Awaitable[bool]], append_local: AppendLocal):
        """replicas: this broker's replicas (None on a controller-only node, which only
        forwards); append_local(topic, partition, batch, timeout_ms, timestamp) appends
        with acks=all on this node, never forwarding, and returns the base offset."""
        self.node_id = node_id
        self.settings = settings
        self._image = image
        self._replicas = replicas
        self._controller_call = controller_call
        self._wait_metadata = wait_metadata
        self._append_local = append_local
        self._loaded: dict[int, LoadedPartition] = {}
        self._damaged_seen: dict[int, int] = {}  # offsets partition -> leader epoch of its last damaged load
        self._groups: dict[str, RestInstanceGroup] = {}
        self._client_groups: dict[str, KafkaClientGroup] = {}  # groups of Kafka protocol clients
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._wake = asyncio.Event()
        self._topic_counts: dict[str, int] = {}
        self._counted_at = -1  # the image offset _topic_counts was taken at
        self._creating: asyncio.Task | None = None
        self._prefix = uuid.uuid4().hex[:8] + "."  # member ids never repeat across incarnations
        # (group, topic, partition) of plain commits appended and not yet acknowledged:
        # unstable for a require_stable fetch, as Kafka's pending offset commits are
        self._commits_in_flight: Counter[tuple[str, str, int]] = Counter()
        # groups being deleted: no member may join them until their tombstones are written
        self._deleting: set[str] = set()
        self.consumer_groups = ConsumerGroupHost(self._consumer_group_config, self._cache_of, self._write_group,
                                                 mono_ms, wall_ms)

    # -- background: follow leadership, tick groups ------------------------------------
    def on_metadata(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    async with asyncio.timeout(TICK_S):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    self._follow_leadership()
                    self._tick()
                    group_ids = [g for loaded in self._loaded.values() for g in loaded.cache.consumer_groups]
                    await self.consumer_groups.tick(self.topic_counts(), group_ids)
                    for group_id in group_ids:  # the last KIP-848 member may have expired
                        await self._maybe_downgrade(group_id)
                except Exception:  # a bug or a damaged offsets log must not stop the node
                    log.exception("group coordinator duty failed; retrying")
        finally:
            if self._creating is not None:
                self._creating.cancel()
            for p in list(self._loaded):
                self._unload(p)

    def _follow_leadership(self) -> None:
        image, rm = self._image(), self._replicas
        if rm is None:
            return  # not a broker: it leads nothing, it only forwards
        follow_partitions(OFFSETS_TOPIC, image, rm,
                          lambda p: self._loaded[p].leader_epoch if p in self._loaded else None,
                          self._load, self._unload, lambda: list(self._loaded), self._damaged_seen,
                          "group coordinator")
        if image.offset == self._counted_at:
            return  # topics change only with the image: no pass over them every tick
        self._counted_at = image.offset
        counts = {t.name: len(t.partitions) for t in image.topics.values() if not t.name.startswith("__")}
        if counts != self._topic_counts:
            self._topic_counts = counts
            now = mono_ms()
            for group in self._groups.values():
                group.topics_changed(counts, now)
            for kafka_client_group in self._client_groups.values():
                kafka_client_group.topics_changed(counts, now)

    def _load(self, p: int, replica) -> None:
        cache, plog = OffsetCache(), replica.log
        position, end = plog.log_start_offset, plog.log_end_offset
        started = time.monotonic()
        while position < end:
            data = plog.read(position, LOAD_CHUNK_BYTES)
            next_position = position
            for pos, header in iter_batches(data):
                if header.next_offset > position:  # the first batch may hold records already replayed
                    _replay_batch(cache, header, decode_records(data, pos, verify=False), position)
                next_position = header.next_offset
            if next_position <= position:
                break  # nothing readable: never spin
            position = next_position
        self._loaded[p] = LoadedPartition(replica.leader_epoch, cache)
        log.info("coordinator: loaded offsets partition %d (%d groups, up to offset %d) in %.3fs",
                 p, len(cache.groups()), end, time.monotonic() - started)

    def _unload(self, p: int) -> None:
        self._loaded.pop(p, None)
        count = self._offsets_partitions()
        for gid in [g for g in self._groups if count is None or coordinator_partition(g, count) == p]:
            self._groups.pop(gid).unload()
            for key in [k for k in self._locks if k[0] == gid]:
                del self._locks[key]
        for gid in [g for g in self._client_groups if count is None or coordinator_partition(g, count) == p]:
            self._client_groups.pop(gid).unload()
        self.consumer_groups.unload(lambda g: count is None or coordinator_partition(g, count) == p)
        log.info("coordinator: unloaded offsets partition %d", p)

    def _tick(self) -> None:
        now = mono_ms()
        for group in list(self._groups.values()):
            for instance in list(group.instances.values()):
                lock = self._locks.get((group.group_id, instance.instance_id))
                if lock is not None and lock.locked():  # a request in flight (a long poll) is alive
                    group.touch(instance, now)
                elif now - instance.last_seen_ms >= instance.config.instance_timeout_ms:
                    log.info("consumer instance %s/%s expired", group.group_id, instance.instance_id)
                    group.remove(instance.instance_id, now)
                    self._locks.pop((group.group_id, instance.instance_id), None)
            group.tick(now)
            if not group.instances:  # its committed offsets stay in the cache and the log
                del self._groups[group.group_id]
        for kafka_client_group in list(self._client_groups.values()):
            kafka_client_group.tick(now)
            if kafka_client_group.empty:
                del self._client_groups[kafka_client_group.group_id]

    # -- where a group lives ------------------------------------------------------------
    def _offsets_partitions(self) -> int | None:
        topic = self._image().topic(OFFSETS_TOPIC)
        return len(topic.partitions) if topic is not None else None

    async def locate(self, group_id: str, create: bool = True,
                     wait_s: float = LOCATE_WAIT_S) -> int | None:
        """None when this node coordinates the group and has loaded it; else the node id
        to forward to. Creates the offsets topic on first use, as Kafka does. While the
        coordinator is being created, elected or loaded, waits (up to wait_s) as a Kafka
        client retries FindCoordinator, so a first consumer on a fresh cluster succeeds."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return await self._locate_once(group_id, create)
            except (CoordinatorNotAvailable, CoordinatorLoadInProgress):
                if time.monotonic() + LOCATE_RETRY_S >= deadline:
                    raise
            await asyncio.sleep(LOCATE_RETRY_S)

    async def _locate_once(self, group_id: str, create: bool) -> int | None:
        count = self._offsets_partitions()
        if count is None and not create:
            raise NotFound(f"consumer group {group_id!r} not found (no group has been used yet)")
        if count is None:
            await self._create_offsets_topic()
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: the offsets topic {OFFSETS_TOPIC} is being created; retry")
        p = coordinator_partition(group_id, count)
        topic = self._image().topic(OFFSETS_TOPIC)
        if topic is None:  # deleted since it was counted: it is created again on next use
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: the offsets topic {OFFSETS_TOPIC} is gone; retry")
        leader = topic.partitions[p].leader
        if leader < 0:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: offsets partition {p} has no leader; retry")
        if leader != self.node_id:
            return leader
        if p not in self._loaded:
            self._follow_leadership()
            if p not in self._loaded:
                raise CoordinatorLoadInProgress(f"COORDINATOR_LOAD_IN_PROGRESS: node {self.node_id} is taking over "
                                f"offsets partition {p}; retry")
        return None

    async def _create_offsets_topic(self) -> None:
        """One creation at a time per node; a concurrent creation elsewhere is fine."""
        if self._creating is None or self._creating.done():
            self._creating = asyncio.create_task(self._create(), name="create-offsets-topic")
        try:
            await asyncio.shield(self._creating)
        except TopicAlreadyExists:
            pass

    async def _create(self) -> None:
        live = [b for b in self._image().brokers.values() if not b.fenced]
        rf = max(1, min(self.settings.offsets_topic_replication_factor, len(live)))
        result = await self._controller_call("create_topic", {
            "name": OFFSETS_TOPIC, "by_cluster": True, "partitions": self.settings.offsets_topic_partitions,
            "replication_factor": rf, "configs": dict(OFFSETS_TOPIC_CONFIGS)})
        await self._wait_metadata(result.get("metadata_offset", 0), 5.0)

    def _cache_of(self, group_id: str) -> OffsetCache:
        count = self._offsets_partitions()
        loaded = self._loaded.get(coordinator_partition(group_id, count)) if count else None
        if loaded is None:
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} no longer coordinates group "
                            f"{group_id!r}; retry")
        return loaded.cache

    # -- groups and instances ---------------------------------------------------------------
    def group(self, group_id: str) -> RestInstanceGroup:
        self._cache_of(group_id)  # only groups of a loaded partition
        self._refuse_deleting(group_id)
        self._refuse_consumer_group(group_id)
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = RestInstanceGroup(group_id, self._topic_counts, self._prefix,
                                                               self._classic_config())
        return group

    def kafka_client_group(self, group_id: str) -> KafkaClientGroup:
        """The group of Kafka protocol clients; a group has members of one door only."""
        self._cache_of(group_id)  # only groups of a loaded partition
        self._refuse_deleting(group_id)
        if group_id in self._groups and self._groups[group_id].instances:
            raise ConsumerConflict(f"group {group_id!r} has REST consumer instances: Kafka clients "
                                   "cannot join it (use another group id)")
        self._refuse_consumer_group(group_id)
        group = self._client_groups.get(group_id)
        if group is None:
            group = self._client_groups[group_id] = KafkaClientGroup(group_id, self._topic_counts, self._prefix,
                                                                     self._classic_config())
        return group

    def _classic_config(self) -> ClassicGroupConfig:
        return ClassicGroupConfig(initial_rebalance_delay_ms=self.settings.initial_rebalance_delay_ms,
                                  max_size=self.settings.classic_max_size)

    def _refuse_consumer_group(self, group_id: str) -> None:
        """REST instances may not join a consumer group that has members (JoinGroup
        members join it through classic_join instead); an empty one becomes a classic group."""
        consumer_group = self.consumer_groups.get(group_id)
        if consumer_group is not None and not consumer_group.empty:
            raise InconsistentGroupProtocol(f"INCONSISTENT_GROUP_PROTOCOL: group {group_id!r} is a consumer group "
                                            "(KIP-848) with members: classic members cannot join it")

    async def release_empty_consumer_group(self, group_id: str) -> None:
        """A classic member joins: an empty consumer group of that id becomes a classic
        one (its record is deleted; its offsets stay), as Kafka 4 converts it."""
        consumer_group = self.consumer_groups.get(group_id)
        if consumer_group is not None and consumer_group.empty:
            await self.consumer_groups.delete(group_id)

    def _classic_members(self, group_id: str) -> bool:
        rest, clients = self._groups.get(group_id), self._client_groups.get(group_id)
        return bool((rest is not None and rest.instances) or (clients is not None and not clients.empty))

    # -- KIP-848 consumer groups ------------------------------------------------------------
    def _consumer_group_config(self) -> GroupConfig:
        session, interval, assignors = self.settings.consumer_group_config()
        return GroupConfig(session, interval, assignors, self.settings.consumer_max_size)

    async def _write_group(self, group_id: str, batch: bytes, timestamp: int) -> int:
        return await self._append_local(OFFSETS_TOPIC, self._offsets_partition_of(group_id), batch,
                                        COMMIT_TIMEOUT_MS, timestamp)

    def topic_counts(self) -> dict[str, int]:
        """Every client topic's partition count, as the image shows it now."""
        return {t.name: len(t.partitions) for t in self._image().topics.values() if not t.name.startswith("__")}

    def consumer_group(self, group_id: str) -> ConsumerGroup | None:
        """The KIP-848 group of that id loaded here; None when it is not one now (an empty
        consumer group whose id classic members use is theirs)."""
        if self._classic_members(group_id):
            return None
        return self.consumer_groups.get(group_id)

    def _migration_policy(self) -> MigrationPolicy:
        return MigrationPolicy(self.settings.consumer_migration_policy)

    async def consumer_heartbeat(self, group_id: str, hb: Heartbeat) -> Answer | Refusal:
        """ConsumerGroupHeartbeat. A joining member (epoch 0) of a classic group of Kafka
        consumers converts it into a consumer group when the migration policy allows
        (group_conversion.py). Raises GroupIdNotFound for a classic group that cannot
        convert or, when the heartbeat does not join, a group that does not exist;
        CoordinatorNotAvailable (retriable) while such a classic group rebalances;
        NotCoordinator as commits do. When the last KIP-848 member leaves a group of
        classic members, it converts back."""
        self._cache_of(group_id)
        self._refuse_deleting(group_id)
        counts = self.topic_counts()
        start = self._upgraded(group_id, hb, counts) if self._classic_members(group_id) else None
        if isinstance(start, Refusal):
            return start
        answer = await self.consumer_groups.heartbeat(group_id, hb, counts, start)
        if answer is None:
            raise GroupIdNotFound(f"GROUP_ID_NOT_FOUND: consumer group {group_id!r} does not exist")
        await self._maybe_downgrade(group_id)
        return answer

    def _upgraded(self, group_id: str, hb: Heartbeat, counts: dict[str, int]) -> ConsumerGroup | Refusal:
        """The consumer group the classic group of this id becomes for this heartbeat; the
        classic group is gone here from then on."""
        clients = self._client_groups.get(group_id)
        not_consumer = f"GROUP_ID_NOT_FOUND: group {group_id!r} is a classic group with members, not a consumer group"
        if clients is None or hb.member_epoch != 0 or not self._migration_policy().upgrades:
            raise GroupIdNotFound(not_consumer)
        refused = upgrade_refusal(clients.coordinator, self.settings.consumer_max_size)
        if refused is not None and clients.coordinator.state is not GroupState.STABLE \
                and clients.coordinator.protocol_type == "consumer":
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: classic group {group_id!r} converts to a "
                                          f"consumer group once its rebalance is over; {refused}")
        if refused is not None:
            raise GroupIdNotFound(f"{not_consumer}: {refused}")
        group = consumer_group_from_classic(clients.coordinator, self._consumer_group_config(), new_member_id,
                                            counts, mono_ms())
        if (check := group.check_request(hb)) is not None:
            return check  # refused before anything changed: it stays classic
        del self._client_groups[group_id]
        clients.hand_over()
        log.info("group %s: a classic group of %d member(s) converts to a consumer group", group_id,
                 len(group.members))
        return group

    async def _maybe_downgrade(self, group_id: str) -> None:
        """A consumer group whose members are all classic becomes a classic group again
        (its record deleted; its offsets stay), when the migration policy allows."""
        if not self._migration_policy().downgrades:
            return
        try:
            fits = lambda g: g.only_classic_members and len(g.members) <= self.settings.classic_max_size
            group = self.consumer_groups.get(group_id)
            if group is None or not fits(group):
                return
            group = await self.consumer_groups.delete(group_id, fits)
        except Exception:  # its partition moved, or the write failed: the next tick retries
            log.warning("group %s: could not convert back to a classic group yet", group_id)
            return
        if group is None:
            return
        classic = classic_group_from_consumer(group, self._topic_counts, self._prefix, mono_ms(), self._classic_config())
        self._client_groups[group_id] = KafkaClientGroup(group_id, self._topic_counts, self._prefix,
                                                         coordinator=classic)
        log.info("group %s: a consumer group of %d classic member(s) converts back to a classic group", group_id,
                 len(group.members))

    def classic_members_group(self, group_id: str) -> ConsumerGroup | None:
        """The consumer group (with members) that a classic member's JoinGroup, SyncGroup,
        Heartbeat and LeaveGroup go to; None: they go to a classic group."""
        self._cache_of(group_id)
        self._refuse_deleting(group_id)
        group = self.consumer_group(group_id)
        return group if group is not None and not group.empty else None

    async def classic_join(self, group_id: str, join: ClassicJoin) -> ClassicJoined | Refusal | None:
        """None: the consumer group is gone (the member joins a classic group instead)."""
        counts = self.topic_counts()
        return await self.consumer_groups.apply(group_id, lambda g: g.classic_join(join, counts))

    async def classic_sync(self, group_id: str, member_id: str, generation: int, protocol_type: str | None,
                           protocol_name: str | None, now_ms: int, instance_id: str | None = None):
        return await self.consumer_groups.apply(
            group_id, lambda g: g.classic_sync(member_id, generation, protocol_type, protocol_name, now_ms,
                                               instance_id))

    async def classic_heartbeat(self, group_id: str, member_id: str, generation: int, now_ms: int,
                                instance_id: str | None = None):
        """True: carry on; a Refusal (REBALANCE_IN_PROGRESS: rejoin); None: no such group."""
        return await self.consumer_groups.apply(
            group_id, lambda g: g.classic_heartbeat(member_id, generation, now_ms, instance_id) or True)

    async def classic_leave(self, group_id: str, member_id: str, instance_id: str | None = None):
        """True: it left; a Refusal; None: no such group."""
        return await self.consumer_groups.apply(group_id, lambda g: g.classic_leave(member_id, instance_id) or True)

    def _refuse_deleting(self, group_id: str) -> None:
        if group_id in self._deleting:  # as Kafka answers a join to a group turning Dead
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: group {group_id!r} is being deleted; retry")

    def create_instance(self, group_id: str, name: str, config: InstanceConfig) -> ConsumerInstance:
        group = self.group(group_id)
        if name in group.instances:
            raise ConsumerInstanceExists(f"consumer instance {name!r} already exists in group {group_id!r}")
        instance = ConsumerInstance(group_id, name, config, mono_ms())
        group.add(instance)
        return instance

    def instance(self, group_id: str, name: str) -> tuple[RestInstanceGroup, ConsumerInstance]:
        group = self._groups.get(group_id)
        instance = group.instances.get(name) if group is not None else None
        if group is None or instance is None:
            raise ConsumerInstanceNotFound(
                f"consumer instance {name!r} not found in group {group_id!r} (deleted, expired, or its "
                f"coordinator moved: create it again)")
        return group, instance

    def delete_instance(self, group_id: str, name: str) -> None:
        group, _ = self.instance(group_id, name)
        group.remove(name, mono_ms())
        self._locks.pop((group_id, name), None)

    def lock(self, group_id: str, name: str) -> asyncio.Lock:
        """Requests of one instance run one at a time (positions are its state)."""
        return self._locks.setdefault((group_id, name), asyncio.Lock())

    # -- committed offsets ----------------------------------------------------------------
    def committed(self, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        committed = self._cache_of(group_id).get(group_id, topic, partition)
        return committed if committed is not None and self._current(topic, committed) else None

    def committed_of_group(self, group_id: str) -> dict:
        return {tp: c for tp, c in self._cache_of(group_id).of_group(group_id).items() if self._current(tp[0], c)}

    def _current(self, topic: str, committed: CommittedOffset) -> bool:
        """Committed for the topic that exists now, not a deleted one of the same name."""
        t = self._image().topic(topic)
        return t is not None and committed.topic_id in ("", t.topic_id)

    def _offsets_partition_of(self, group_id: str) -> int:
        count = self._offsets_partitions()
        if count is None:  # _cache_of found the partition loaded, so the topic exists
            raise NotCoordinator("NOT_COORDINATOR: the offsets topic is gone; retry")
        return coordinator_partition(group_id, count)

    async def commit(self, group_id: str, offsets: dict[tuple[str, int], tuple[int, str]],
                     leader_epochs: dict[tuple[str, int], int] | None = None) -> None:
        """Append the commits to the group's offsets partition (acks=all), then cache them.
        leader_epochs: the consumer's committed leader epoch per partition (OffsetCommit v6+)."""
        epochs = leader_epochs or {}
        cache = self._cache_of(group_id)
        p = self._offsets_partition_of(group_id)
        now = wall_ms()
        items = sorted(offsets.items())
        ids = {t: topic.topic_id for t, _ in offsets if (topic := self._image().topic(t)) is not None}
        records = [commit_record(group_id, t, part, off, md, now, ids.get(t, ""), epochs.get((t, part), -1))
                   for (t, part), (off, md) in items]
        keys = [(group_id, t, part) for (t, part), _ in items]
        self._commits_in_flight.update(keys)
        try:
            base = await self._append_local(OFFSETS_TOPIC, p, encode_batch(records, 0, -1), COMMIT_TIMEOUT_MS, now)
        finally:
            self._commits_in_flight.subtract(keys)
            for key in keys:
                if self._commits_in_flight[key] <= 0:
                    del self._commits_in_flight[key]
        for i, ((t, part), (off, md)) in enumerate(items):
            cache.put(group_id, t, part, CommittedOffset(off, md, now, base + i, ids.get(t, ""),
                                                         epochs.get((t, part), -1)))

    # -- transactional commits (KIP-98, KIP-447) ------------------------------------------
    async def txn_offset_commit(self, group_id: str, producer_id: int, producer_epoch: int, generation_id: int,
                                member_id: str, group_instance_id: str | None,
                                offsets: dict[tuple[str, int], tuple[int, str]],
                                leader_epochs: dict[tuple[str, int], int] | None = None,
                                ) -> dict[tuple[str, int], KraftError]:
        """A TxnOffsetCommit: append the offsets ((topic, partition) -> (offset,
        metadata), with leader_epochs, as commit() takes them) to the group's offsets partition as ONE
        transactional batch of the producer (acks=all). They stay pending, unseen by
        committed() and OffsetFetch, until complete_transaction reports the
        transaction's marker on that partition.

        Returns the partitions left out, each with its error (UnknownTopicOrPartition:
        no such topic or partition now, checked first as Kafka's handler does); the
        others were written. Raises, nothing written: NotCoordinator /
        CoordinatorLoadInProgress as commit() does; InvalidProducerIdMapping for a
        negative producer id or epoch; when a generation or member is given and does
        not match the group of Kafka clients (KIP-447), ConsumerConflict
        (ILLEGAL_GENERATION) or ConsumerInstanceNotFound (UNKNOWN_MEMBER_ID), and
        CoordinatorNotAvailable / NotCoordinator for a group being unloaded. Raises
        what the append raises: the offsets are then not pending here (as in Kafka),
        though the batch may be in the log (a later load finds it pending)."""
        cache = self._cache_of(group_id)
        p = self._offsets_partition_of(group_id)
        if producer_id < 0 or producer_epoch < 0:
            raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: a transactional offset commit needs a "
                                           f"producer id and epoch, got {producer_id}/{producer_epoch}")
        image = self._image()
        refused: dict[tuple[str, int], KraftError] = {}
        accepted: list[tuple[tuple[str, int], tuple[int, str], str]] = []
        for (t, part), value in sorted(offsets.items()):
            topic = image.topic(t)
            if topic is None:
                refused[(t, part)] = TopicNotFound(f"UNKNOWN_TOPIC_OR_PARTITION: topic {t!r} not found")
            elif not 0 <= part < len(topic.partitions):
                refused[(t, part)] = PartitionNotFound(f"UNKNOWN_TOPIC_OR_PARTITION: partition {part} of topic "
                                                       f"{t!r} not found")
            else:
                accepted.append(((t, part), value, topic.topic_id))
        if not accepted:
            return refused
        self._check_txn_member(group_id, cache, generation_id, member_id, group_instance_id)
        now = wall_ms()
        epochs = leader_epochs or {}
        records = [commit_record(group_id, t, part, off, md, now, tid, epochs.get((t, part), -1))
                   for (t, part), (off, md), tid in accepted]
        batch = encode_batch(records, 0, -1, producer_id, producer_epoch, NO_SEQUENCE, is_transactional=True)
        write = cache.begin_txn_write(producer_id, group_id, {
            key: CommittedOffset(off, md, now, -1, tid, epochs.get(key, -1)) for key, (off, md), tid in accepted})
        try:
            base = await self._append_local(OFFSETS_TOPIC, p, batch, COMMIT_TIMEOUT_MS, now)
        except BaseException:
            cache.txn_write_failed(write)
            raise
        cache.txn_write_appended(write, base)
        return refused

    def _check_txn_member(self, group_id: str, cache: OffsetCache, generation_id: int, member_id: str,
                          group_instance_id: str | None) -> None:
        """KIP-447's fencing, as Kafka's ClassicGroup.validateOffsetCommit does it for a
        transactional commit. An old client's commit (generation -1, no member, no
        instance id) is not checked. A classic group's static member replaced by a new
        process gets FENCED_INSTANCE_ID when the commit names its instance id; a
        consumer group checks the member id alone (Kafka's ConsumerGroup)."""
        if generation_id < 0 and not member_id and group_instance_id is None:
            return
        rest = self._groups.get(group_id)
        if rest is not None and rest.instances:  # as kafka_client_group refuses it
            raise ConsumerConflict(f"ILLEGAL_GENERATION: group {group_id!r} has REST consumer instances, "
                                   "not Kafka client members")
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            stale = consumer_group.commit_error(member_id, generation_id)
            if stale is not None and stale.error is ConsumerGroupError.UNKNOWN_MEMBER_ID:
                raise ConsumerInstanceNotFound(f"UNKNOWN_MEMBER_ID: {stale.message}")
            if stale is not None:  # a stale member epoch, answered as Kafka's TxnOffsetCommit does
                raise ConsumerConflict(f"ILLEGAL_GENERATION: {stale.message}")
            return
        group = self._client_groups.get(group_id)
        if group is None:
            if generation_id < 0:
                return  # an empty group that only stores offsets, as Kafka accepts it
            if cache.of_group(group_id) or cache.pending_of_group(group_id):
                raise ConsumerInstanceNotFound(f"UNKNOWN_MEMBER_ID: group {group_id!r} has no member "
                                               f"{member_id!r} (it has no members)")
            raise ConsumerConflict(f"ILLEGAL_GENERATION: group {group_id!r} does not exist, so generation "
                                   f"{generation_id} is not its")
        refused = group.commit_error(member_id, generation_id, transactional=True,
                                     group_instance_id=group_instance_id)
        if refused is None:
            return
        if refused.error is GroupError.FENCED_INSTANCE_ID:
            raise FencedInstanceId(f"FENCED_INSTANCE_ID: {refused.message}")
        if refused.error is GroupError.UNKNOWN_MEMBER_ID:
            raise ConsumerInstanceNotFound(f"UNKNOWN_MEMBER_ID: {refused.message}")
        if refused.error is GroupError.ILLEGAL_GENERATION:
            raise ConsumerConflict(f"ILLEGAL_GENERATION: {refused.message}")
        if refused.error is GroupError.NOT_COORDINATOR:
            raise NotCoordinator(f"NOT_COORDINATOR: {refused.message}")
        raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: {refused.message}")

    def complete_transaction(self, offsets_partition: int, producer_id: int, commit: bool) -> None:
        """The transaction's marker is in offsets partition ``offsets_partition`` (the
        wiring calls this after appending it on this node, its leader): the producer's
        pending offsets there become visible (commit; a commit later in the log keeps
        precedence) or are dropped (abort). Offsets of an append still in flight follow
        the outcome when it returns. Not loaded here: nothing to do, a load replays the
        marker from the log."""
        loaded = self._loaded.get(offsets_partition)
        if loaded is not None:
            loaded.cache.complete(producer_id, commit)

    def unstable_offsets(self, group_id: str) -> frozenset[tuple[str, int]]:
        """(topic, partition) of the group whose offset may still change without a new
        request: a transaction's pending offset, or a plain commit appended and not yet
        acknowledged (Kafka's pending offset commits). OffsetFetch with require_stable
        answers UNSTABLE_OFFSET_COMMIT for these."""
        keys = set(self._cache_of(group_id).pending_of_group(group_id))
        keys.update((t, part) for (g, t, part) in self._commits_in_flight if g == group_id)
        return frozenset(keys)

    # -- deleting groups and offsets (DeleteGroups, OffsetDelete) ---------------------------
    def membership(self, group_id: str) -> Membership:
        """Its members and the topics they consume, as deletion decides on them."""
        consumer_group = self.consumer_groups.get(group_id)
        if consumer_group is not None and not consumer_group.empty:
            counts = self.topic_counts()
            topics = {t for m in consumer_group.members.values() for t in consumer_group.subscribed_topics(m, counts)}
            topics |= {t for m in consumer_group.members.values() for t, _ in m.owns()}
            return Membership(len(consumer_group.members), frozenset(topics))
        rest = self._groups.get(group_id)
        if rest is not None and rest.instances:
            existing = list(self._topic_counts)
            topics = {t for i in rest.instances.values() for t in i.wanted_topics(existing)}
            topics |= {t for i in rest.instances.values() for t, _ in i.owned}
            return Membership(len(rest.instances), frozenset(topics))
        clients = self._client_groups.get(group_id)
        if clients is None or clients.empty:
            return Membership()
        members = clients.members()
        if clients.coordinator.protocol_type not in (None, "consumer"):
            return Membership(max(1, len(members)), None)
        topics = {t for mid in clients.coordinator.members for t in clients.coordinator.member(mid).topics}
        topics |= {t for m in members for t, _ in m["assignment"]}
        return Membership(max(1, len(members)), frozenset(topics))

    async def delete_group(self, group_id: str) -> None:
        """DeleteGroups: tombstones for every offset of the group, which must have no
        members. Raises NonEmptyGroup, GroupIdNotFound, NotCoordinator. No member may join
        while the tombstones are written (a join answers COORDINATOR_NOT_AVAILABLE)."""
        check_group_deletable(group_id, self.membership(group_id), self._cache_of(group_id).keys_of_group(group_id))
        self._deleting.add(group_id)
        try:
            await self._settle_commits(group_id)
            await self._tombstone(group_id, self._cache_of(group_id).keys_of_group(group_id))
            await self.consumer_groups.delete(group_id)
            for groups in (self._groups, self._client_groups):
                groups.pop(group_id, None)  # empty: nothing of the group is left
        finally:
            self._deleting.discard(group_id)

    async def alter_offsets(self, group_id: str, offsets: dict[Key, tuple[int, str]],
                            leader_epochs: dict[Key, int] | None = None) -> None:
        """A commit from outside the group (Kafka's admin client, kafka-consumer-groups
        --reset-offsets, a consumer without group management): (offset, metadata) per
        partition, taken only while the group has no members, who would commit over it.
        Raises NonEmptyGroup, NotCoordinator."""
        members = self.membership(group_id).members
        if members:
            raise NonEmptyGroup(f"NON_EMPTY_GROUP: group {group_id!r} has {members} member(s); "
                                "its offsets are set once its members have left")
        await self.commit(group_id, offsets, leader_epochs)

    async def delete_offsets(self, group_id: str, partitions: list[Key]) -> dict[Key, KraftError | None]:
        """OffsetDelete: tombstones for the offsets of `partitions` nobody in the group
        consumes (group_deletion.py); per partition None or the error to answer."""
        offsets = self._cache_of(group_id).keys_of_group(group_id)
        outcome = offsets_to_delete(group_id, self.membership(group_id), offsets, partitions)
        doomed = {key for key, error in outcome.items() if error is None and key in offsets}
        await self._settle_commits(group_id, doomed)
        await self._tombstone(group_id, doomed & self._cache_of(group_id).keys_of_group(group_id))
        return outcome

    async def _settle_commits(self, group_id: str, keys: set[Key] | None = None) -> None:
        """Wait until the group's commits already appended (of `keys`, or all) are
        acknowledged: a tombstone must follow them in the cache as it does in the log.
        Each such commit ends within its own timeout, so this loop does too."""
        deadline = time.monotonic() + COMMIT_TIMEOUT_MS / 1000

        def in_flight() -> bool:
            return any(g == group_id and (keys is None or (t, part) in keys) for g, t, part in self._commits_in_flight)

        while in_flight() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _tombstone(self, group_id: str, keys: set[Key]) -> None:
        if not keys:
            return
        p = self._offsets_partition_of(group_id)
        now = wall_ms()
        items = sorted(keys)
        batch = encode_batch([tombstone_record(group_id, t, part, now) for t, part in items], 0, -1)
        base = await self._append_local(OFFSETS_TOPIC, p, batch, COMMIT_TIMEOUT_MS, now)
        cache = self._cache_of(group_id)
        for i, (t, part) in enumerate(items):
            cache.forget(group_id, t, part, base + i)

    # -- views -------------------------------------------------------------------------------
    def local_group_ids(self) -> list[str]:
        ids = set(self._groups) | set(self._client_groups)
        for loaded in self._loaded.values():
            ids.update(loaded.cache.groups())
            ids.update(loaded.cache.consumer_groups)
        return sorted(ids)

    def summaries(self) -> list[dict]:
        return [self.describe(g) for g in self.local_group_ids()]

    def loaded_client_group(self, group_id: str) -> KafkaClientGroup | None:
        """The Kafka clients' group of that id, when it has members here now."""
        return self._client_groups.get(group_id)

    def reads_committed(self, group_id: str) -> bool:
        """A group of REST instances that all read at read_committed: its lag is measured
        to the last stable offset. (A Kafka client's isolation level never reaches the
        broker's group, so such a group's lag is to the high watermark, as Kafka's tools
        measure it by default.)"""
        group = self._groups.get(group_id)
        return group is not None and bool(group.instances) and all(
            i.config.isolation_level == READ_COMMITTED for i in group.instances.values())

    def describe(self, group_id: str) -> dict:
        group = self._groups.get(group_id)
        committed = self.committed_of_group(group_id)
        kafka_client_group = self._client_groups.get(group_id)
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            return self._describe_consumer_group(consumer_group, committed)
        if kafka_client_group is not None and group is None:
            return self._describe_clients(kafka_client_group, committed)
        if group is None and not committed:
            return {}
        members = []
        if group is not None:
            for instance in group.instances.values():
                members.append({"instance_id": instance.instance_id, "consumer_id": instance.member_id or "",
                                "client_id": instance.instance_id,
                                "assignments": [list(tp) for tp in instance.owned]})
        state = group.state.value if group is not None and group.instances else "Empty"
        return {
            "group_id": group_id, "coordinator_id": self.node_id, "state": state,
            "generation": group.coordinator.generation if group is not None else 0,
            "partition_assignor": (group.coordinator.protocol or "") if group is not None else "",
            "protocol_type": "consumer",  # REST instances, or a group that only stores offsets
            "is_simple": group is None or not any(i.subscribed for i in group.instances.values()),
            "members": members,
            "committed": [{"topic": t, "partition": p, "offset": c.offset, "metadata": c.metadata}
                          for (t, p), c in sorted(committed.items())],
        }

    def _describe_consumer_group(self, group: ConsumerGroup, committed: dict) -> dict:
        return consumer_group_summary(group, self.node_id, committed)

    def _describe_clients(self, group: KafkaClientGroup, committed: dict) -> dict:
        members = [{"instance_id": m["member_id"], "consumer_id": m["member_id"], "client_id": m["client_id"],
                    "assignments": [list(tp) for tp in m["assignment"]]} for m in group.members()]
        return {
            "group_id": group.group_id, "coordinator_id": self.node_id,
            "state": group.state.value if members else "Empty",
            "generation": group.coordinator.generation,
            "partition_assignor": group.coordinator.protocol or "",
            "protocol_type": group.coordinator.protocol_type or "consumer",
            "is_simple": False, "members": members,
            "committed": [{"topic": t, "partition": p, "offset": c.offset, "metadata": c.metadata}
                          for (t, p), c in sorted(committed.items())],
        }


def consumer_group_summary(group: ConsumerGroup, node_id: int, committed: dict) -> dict:
    """A KIP-848 group as describe() shows every group (REST views, ListGroups)."""
    members = [{"instance_id": m.instance_id or m.member_id, "consumer_id": m.member_id, "client_id": m.client_id,
                "member_epoch": m.epoch, "member_type": "classic" if m.classic is not None else "consumer",
                "assignments": [list(tp) for tp in sorted(m.assigned)],
                "target_assignment": [list(tp) for tp in sorted(group.target.get(mid, ()))]}
               for mid, m in group.members.items() if not m.left_static]
    return {
        "group_id": group.group_id, "coordinator_id": node_id, "state": group.state.value,
        "generation": group.group_epoch, "assignment_epoch": group.assignment_epoch,
        "partition_assignor": group.assignor, "protocol_type": "consumer", "group_type": "consumer",
        "is_simple": False, "is_mixed": group.has_classic_members, "members": members,
        "committed": [{"topic": t, "partition": p, "offset": c.offset, "metadata": c.metadata}
                      for (t, p), c in sorted(committed.items())],
    }


def _replay_batch(cache: OffsetCache, header: BatchHeader, records: list[Record], position: int) -> None:
    """One batch of an offsets partition's log, in log order: plain commits, a
    transaction's commits (pending) or its marker. Records before ``position`` were
    replayed already."""
    if header.is_control:
        if header.base_offset >= position:
            for record in records:  # one record: the marker
                commit = marker_is_commit(record.key)
                if commit is not None:
                    cache.replay_marker(header.producer_id, commit)
        return
    for record in records:
        assert record.offset is not None  # records read back from a log carry offsets
        if record.offset < position:
            continue
        if header.is_transactional and header.producer_id >= 0:
            cache.replay_transactional(header.producer_id, record)
        else:
            cache.replay(record)
