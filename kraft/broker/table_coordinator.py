"""The table coordinator (docs/ICEBERG.md): which node commits an Iceberg topic's table.

It runs on the coordinator runtime (kraft/coordinator/runtime.py) over its own internal
topic, __iceberg_coordinator: a table is committed by the leader of the partition its
topic's name hashes to (Kafka's placement of a group or a transactional id), so tables'
commits spread over the brokers, apart from where their partitions are led, and move by
the controller's leader election when that node fails. The runtime loads a shard when
this broker starts leading a partition and unloads it when the leadership leaves or
changes epoch; the translators (broker/iceberg_tables.py) run a table's commits while its
shard is loaded here.

A shard holds no records. A table's state is the table itself (each partition's
translated offset is in its current snapshot's summary, its pointer in the metadata
log) and the rounds staged in the warehouse, so a new coordinator resumes from exactly
there, and a stale one's commit is refused by the pointer's compare-and-set.

The topic is made by the first broker that sees an Iceberg topic without it, as a
coordinator's topic is made at its first use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from kraft.config.cluster_tables import IcebergSettings
from kraft.config.topic_names import ICEBERG_COORDINATOR_TOPIC
from kraft.coordinator.loader import LoadableReplica
from kraft.coordinator.placement import key_partition
from kraft.coordinator.runtime import (AppendLocal, ControllerCall, CoordinatorLinks, CoordinatorRuntime, InternalTopic,
                                       ReplicaLookup, WaitMetadata)
from kraft.errors import KraftError
from kraft.metadata.image import MetadataImage
from kraft.storage.record import Record

log = logging.getLogger(__name__)

CREATE_WAIT_S = 15.0  # one try at making the topic; the next image or tick tries again
ENSURE_EVERY_MS = 1000


def coordinator_topic_configs(replication_factor: int) -> dict[str, str]:
    """As the share coordinator's topic: compacted, min.insync.replicas 2 (capped)."""
    return {"cleanup.policy": "compact", "unclean.leader.election.enable": "false",
            "min.insync.replicas": str(max(1, min(2, replication_factor)))}


def table_coordinator(image: MetadataImage, topic: str) -> int | None:
    """The node that commits `topic`'s table: the leader of its partition of
    __iceberg_coordinator; None while that topic does not exist or the partition has no
    leader. Pure."""
    described = image.topic(ICEBERG_COORDINATOR_TOPIC)
    if described is None or not described.partitions:
        return None
    leader = described.partitions[key_partition(topic, len(described.partitions))].leader
    return leader if leader >= 0 else None


def stand_in(image: MetadataImage, topic: str) -> int | None:
    """Who commits `topic`'s table while it has no coordinator (__iceberg_coordinator not
    made yet, or the topic's partition of it without a leader: its replicas down, or made
    with one replica while hosts were down): the leader of the topic's first partition that
    has one. The coordinator keeps no state, so nothing is lost by standing in, and two
    committers for a moment race harmlessly (every commit is a compare-and-set). None when
    the table has a coordinator, or the topic no led partition. Pure."""
    if table_coordinator(image, topic) is not None:
        return None
    described = image.topic(topic)
    if described is None:
        return None
    return next((p.leader for p in described.partitions if p.leader >= 0), None)


@dataclass
class TableShard:
    """A loaded partition: only the leader epoch it was loaded at (no state is recorded)."""

    leader_epoch: int

    def replay(self, record: Record, producer_id: int, /) -> None:
        pass  # nothing is written to the topic; anything there is passed over


class TableCoordinator:
    def __init__(self, node_id: int, settings: IcebergSettings, image: Callable[[], MetadataImage],
                 replicas: ReplicaLookup | None, controller_call: ControllerCall, wait_metadata: WaitMetadata,
                 append_local: AppendLocal, has_tables: Callable[[MetadataImage], bool],
                 on_change: Callable[[], None]):
        """has_tables(image): whether any topic is an Iceberg topic (the topic is made
        then); on_change(): called when a partition is loaded or unloaded here."""
        topic = InternalTopic(ICEBERG_COORDINATOR_TOPIC, ICEBERG_COORDINATOR_TOPIC, ICEBERG_COORDINATOR_TOPIC + "-{}",
                              settings.coordinator_topic_partitions, settings.coordinator_topic_replication_factor,
                              coordinator_topic_configs)
        self.runtime: CoordinatorRuntime[TableShard] = CoordinatorRuntime(
            node_id, "table coordinator", topic, self, CoordinatorLinks(image, replicas, controller_call,
                                                                      wait_metadata, append_local))
        self._has_tables, self._on_change = has_tables, on_change
        self._wanted = False  # the last image held an Iceberg topic
        self._configs_seen: object = None
        self._creating: asyncio.Task[None] | None = None
        self.runtime.every(ENSURE_EVERY_MS, self._ensure_topic)

    # -- the runtime's shards ----------------------------------------------------------------
    def on_metadata(self) -> None:
        self.runtime.on_metadata()

    async def run(self) -> None:
        await self.runtime.run()

    def load(self, p: int, replica: LoadableReplica) -> TableShard:
        log.info("table coordinator: loaded %s-%d", ICEBERG_COORDINATOR_TOPIC, p)
        self._on_change()
        return TableShard(replica.leader_epoch)

    def unloaded(self, p: int, shard: TableShard) -> None:
        log.info("table coordinator: unloaded %s-%d", ICEBERG_COORDINATOR_TOPIC, p)
        self._on_change()

    def new_image(self, image: MetadataImage) -> None:
        if image.topic_configs is not self._configs_seen:  # iceberg.mode is a topic config
            self._configs_seen = image.topic_configs
            self._wanted = self._has_tables(image)
        self._ensure_topic()

    # -- which tables are committed here ---------------------------------------------------------
    def coordinates(self, topic: str) -> bool:
        """Whether this node commits `topic`'s table: it leads the topic's partition of
        __iceberg_coordinator and has loaded it."""
        return self.runtime.loaded(topic) is not None

    def loaded(self) -> frozenset[tuple[int, int]]:
        """The partitions loaded here, with their epochs: what `coordinates` answers from."""
        return frozenset((p, shard.leader_epoch) for p, shard in self.runtime.shards.items())

    def _ensure_topic(self) -> None:
        if not self._wanted or self.runtime.partition_count() is not None or self.runtime.links.replicas is None:
            return
        if self._creating is None or self._creating.done():
            self._creating = self.runtime.spawn(self._create(), name=f"create-{ICEBERG_COORDINATOR_TOPIC}")

    async def _create(self) -> None:
        try:  # locating any key makes the topic and waits for its leaders
            await self.runtime.locate(ICEBERG_COORDINATOR_TOPIC, create=True, wait_s=CREATE_WAIT_S)
        except KraftError as exc:  # the controller moving: the next tick tries again
            log.debug("table coordinator: %s not made yet: %s", ICEBERG_COORDINATOR_TOPIC, exc)
