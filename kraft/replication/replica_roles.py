"""Making this broker's replicas what the metadata image says (Kafka's
ReplicaManager.applyDelta, with makeLeaders and makeFollowers).

Each metadata image comes with what changed since the last one offered
(kraft/metadata/changes.py); only those partitions are compared with the hosted replicas:
replicas no longer assigned here are removed (their logs deleted), new ones are opened,
and each takes the role its registration names (PartitionReplica.apply_registration);
then the fetchers are brought in line. A partition untouched by the changes is already
what the image says, so looking at it again would change nothing.

The whole image is applied instead when the changes cannot say what matters here: the
first image, a full-image jump, a change of this broker's registration, a cluster-wide
config (every topic's min ISR may follow it). An image not fully applied (a write
failed: out of descriptors, a leader-epoch checkpoint not written) is applied again,
whole, after APPLY_RETRY_S; what did apply is left as it is. A log that cannot be
opened at all (StorageError) is tried again with the next image, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from kraft.errors import StorageError
from kraft.metadata.changes import EVERYTHING, MetadataChanges
from kraft.metadata.image import MetadataImage, PartitionRegistration, TopicImage
from kraft.replication.change_signal import ChangeSignal
from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.hosted_replicas import HostedReplicas, Key
from kraft.replication.log_manager import OPEN_AT_ONCE, OPEN_BATCH, LogManager
from kraft.replication.partition_replica import PartitionReplica, now_ms
from kraft.replication.replica_repair import ReplicaRepairs
from kraft.storage.partition_log import PartitionLog

log = logging.getLogger(__name__)

Placed = tuple[TopicImage, int, PartitionRegistration]  # a partition as image.all_partitions() yields it

APPLY_RETRY_S = 1.0  # a metadata image not fully applied (a write failed) is applied again after this
SAY_OPENED_FROM = 1000  # logs opened at once from which the node log says how long it took (a start)


class ReplicaRoles:
    def __init__(self, broker_id: int, topic_configs, replicas: HostedReplicas, logs: LogManager,
                 repairs: ReplicaRepairs, trouble: DiskTrouble, sync_fetchers: Callable[..., None],
                 on_open: Callable[[PartitionReplica], None] = lambda replica: None):
        """topic_configs(name) -> the topic's effective config dict; sync_fetchers(keys)
        starts and stops fetchers once the roles of those partitions (None: of any) have
        changed; on_open(replica) is told of each replica opened, before it takes a role."""
        self._broker_id = broker_id
        self._topic_configs = topic_configs
        self._replicas = replicas
        self._logs = logs
        self._repairs = repairs
        self._trouble = trouble
        self._sync_fetchers = sync_fetchers
        self._on_open = on_open
        self.latest: MetadataImage | None = None  # the newest image offered
        # changes offered and not yet applied; the first image is applied whole
        self._unapplied: MetadataChanges | None = EVERYTHING
        self._unopened: set[Key] = set()  # logs that failed to open: tried with every image
        self._offered = ChangeSignal()

    def offer(self, changes: MetadataChanges, image: MetadataImage) -> None:
        """Called after metadata changes, with what changed since the previous offer;
        the work happens in run()."""
        self.latest = image
        self._unapplied = changes if self._unapplied is None else self._unapplied.merge(changes)
        self._offered.pulse()

    async def run(self) -> None:
        while True:
            complete = await self.apply_offered()
            if complete is None:
                await self._offered.wait(1.0)
            elif not complete:
                await asyncio.sleep(APPLY_RETRY_S)

    async def apply_offered(self) -> bool | None:
        """Apply the newest image offered where it changed since the last apply; None
        when nothing new was offered, else as apply()."""
        image, changes = self.latest, self._unapplied
        if image is None or changes is None:
            return None
        self._unapplied = None
        complete = await self.apply(image, changes)
        if not complete:  # applied again, whole: what did apply is left as it is
            self._unapplied = EVERYTHING
        return complete

    def _whole_image(self, changes: MetadataChanges) -> bool:
        return changes.everything or self._broker_id in changes.brokers or bool(changes.cluster_configs)

    async def apply(self, image: MetadataImage, changes: MetadataChanges = EVERYTHING) -> bool:
        """Bring the replicas the changes touch in line with the image. True when every
        one follows it; False when a write failed (a replica not yet made leader, say: it
        stays what it was until the retry)."""
        whole = self._whole_image(changes)
        self._unopened = {k for k in self._unopened if self._assigned_here(image, k)}
        looked_at = list(self._replicas.by_id) if whole else self._replicas.keys_of(changes.topics)
        removed = [k for k in looked_at if not self._assigned_here(image, k)]
        for key in removed:
            self._remove(key)  # first: a re-created topic of the same name reuses the dir
        self._logs.reconfigure(image)
        touched: Iterable[Placed] = image.all_partitions() if whole else self._touched(image, changes)
        mine = [(topic, index, reg) for topic, index, reg in touched if self._broker_id in reg.replicas]
        complete = await self._open_missing(mine)
        min_isrs: dict[str, int] = {}  # read only for partitions led here, once per topic
        for topic, index, reg in mine:
            replica = self._replicas.get((topic.topic_id, index))
            if replica is None:
                continue  # not opened: at the retry, or with the next image
            if reg.leader == self._broker_id and topic.name not in min_isrs:
                min_isrs[topic.name] = int(self._topic_configs(topic.name)["min.insync.replicas"])
            try:
                role = replica.apply_registration(reg, now_ms(), min_isrs.get(topic.name, 1))
            except OSError as exc:  # its leader-epoch checkpoint, written before the role changes
                self._trouble.contain(exc, f"taking the role of {topic.name}-{index}")
                complete = False
                continue
            if role is not None:
                await asyncio.sleep(0)
            if role == "leader":
                log.info("leader of %s-%d in epoch %d (isr %s)", topic.name, index,
                         reg.leader_epoch, list(reg.isr))
        # only the partitions looked at here can have changed whom they follow
        self._sync_fetchers(None if whole else [(t.topic_id, i) for t, i, _ in mine] + removed)
        return complete

    async def _open_missing(self, mine: list[Placed]) -> bool:
        """Open the logs of the replicas not hosted yet, OPEN_AT_ONCE threads side by side,
        up to OPEN_BATCH logs per thread job (a start opens every log this broker has:
        one after the other, thousands took minutes, most of it each log's own file
        system calls); False when one failed for now."""
        missing = [(topic, index) for topic, index, _ in mine if (topic.topic_id, index) not in self._replicas.by_id]
        for topic, index in missing:
            self._unopened.discard((topic.topic_id, index))
        if not missing:
            return True
        size = max(1, min(OPEN_BATCH, -(-len(missing) // OPEN_AT_ONCE)))

        async def some(part: list[tuple[TopicImage, int]]) -> bool:
            results = await self._logs.open_many([(topic.name, topic.topic_id, index) for topic, index in part])
            ok = True
            for (topic, index), opened in zip(part, results):
                if isinstance(opened, PartitionLog):
                    self._host(topic.name, topic.topic_id, index, opened)
                elif isinstance(opened, OSError):  # out of descriptors, say: opened at the retry
                    self._trouble.contain(opened, f"opening the log of {topic.name}-{index}")
                    ok = False
                elif isinstance(opened, StorageError):  # one bad log must not take the node down
                    log.error("cannot open the log of %s-%d: %s", topic.name, index, opened)
                    self._unopened.add((topic.topic_id, index))
                else:
                    raise opened
            return ok
        parts = [missing[at:at + size] for at in range(0, len(missing), size)]
        started = time.monotonic()
        complete = all(await asyncio.gather(*(some(part) for part in parts)))
        if len(missing) >= SAY_OPENED_FROM:
            log.info("%d logs opened in %.1f s", len(missing), time.monotonic() - started)
        return complete

    def _assigned_here(self, image: MetadataImage, key: Key) -> bool:
        topic = image.topics.get(key[0])
        return (topic is not None and key[1] < len(topic.partitions)
                and self._broker_id in topic.partitions[key[1]].replicas)

    def _touched(self, image: MetadataImage, changes: MetadataChanges) -> list[Placed]:
        """The partitions the changes may matter to, in a stable order: those changed,
        every one of a topic whose configs changed (min ISR), and logs still unopened."""
        keys = set(changes.partitions) | self._unopened
        for name in changes.topic_configs:
            topic = image.topic(name)
            if topic is not None:
                keys.update((topic.topic_id, index) for index in range(len(topic.partitions)))
        touched = []
        for topic_id, index in sorted(keys):
            topic = image.topics.get(topic_id)
            if topic is not None and index < len(topic.partitions):
                touched.append((topic, index, topic.partitions[index]))
        return touched

    async def open_replica(self, topic: str, topic_id: str, index: int) -> PartitionReplica:
        """Open the log (in a worker thread, see LogManager.open) and host its replica."""
        return self._host(topic, topic_id, index, await self._logs.open(topic, topic_id, index))

    def _host(self, topic: str, topic_id: str, index: int, plog: PartitionLog) -> PartitionReplica:
        replica = PartitionReplica(self._broker_id, topic, topic_id, index, plog,
                                   self._logs.checkpointed_hw(plog))
        replica.disk = self._trouble.disk
        self._on_open(replica)
        # damage found at open is a repair before the first fetch (see replica_fetcher_manager)
        self._repairs.notice((topic_id, index), topic, index, plog.damage)
        self._replicas.add(replica)
        return replica

    def _remove(self, key: Key) -> None:
        replica = self._replicas.pop(key)
        self._repairs.forget(key)
        replica.leader = None
        replica.signal_change()
        self._logs.delete(replica.log)
        log.info("removed replica %s-%d", replica.topic, replica.partition)
