"""Making this broker's replicas what the metadata image says (Kafka's
ReplicaManager.applyDelta, with makeLeaders and makeFollowers).

After every metadata change the whole image is compared with the hosted replicas:
replicas no longer assigned here are removed (their logs deleted), new ones are opened,
and each takes the role its registration names (PartitionReplica.apply_registration);
then the fetchers are brought in line. An image not fully applied (a write failed:
out of descriptors, a leader-epoch checkpoint not written) is applied again after
APPLY_RETRY_S; what did apply is left as it is. Kafka hands consumers a delta with the
image; this module still takes whole images (see docs/DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kraft.errors import StorageError
from kraft.metadata.image import MetadataImage
from kraft.replication.change_signal import ChangeSignal
from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.hosted_replicas import HostedReplicas, Key
from kraft.replication.log_manager import LogManager
from kraft.replication.partition_replica import PartitionReplica, now_ms
from kraft.replication.replica_repair import ReplicaRepairs

log = logging.getLogger(__name__)

APPLY_RETRY_S = 1.0  # a metadata image not fully applied (a write failed) is applied again after this


class ReplicaRoles:
    def __init__(self, broker_id: int, topic_configs, replicas: HostedReplicas, logs: LogManager,
                 repairs: ReplicaRepairs, trouble: DiskTrouble, sync_fetchers: Callable[[], None]):
        """topic_configs(name) -> the topic's effective config dict; sync_fetchers()
        starts and stops fetchers once roles have changed."""
        self._broker_id = broker_id
        self._topic_configs = topic_configs
        self._replicas = replicas
        self._logs = logs
        self._repairs = repairs
        self._trouble = trouble
        self._sync_fetchers = sync_fetchers
        self.latest: MetadataImage | None = None  # the newest image offered
        self._offered = ChangeSignal()

    def offer(self, image: MetadataImage) -> None:
        """Called after metadata changes; the work happens in run()."""
        self.latest = image
        self._offered.pulse()

    async def run(self) -> None:
        applied = None
        while True:
            if self.latest is applied:
                await self._offered.wait(1.0)
                continue
            applied = self.latest
            if applied is not None and not await self.apply(applied):
                await asyncio.sleep(APPLY_RETRY_S)
                applied = None  # applied again: what did apply is left as it is

    async def apply(self, image: MetadataImage) -> bool:
        """True when every replica follows the image; False when a write failed (a replica
        not yet made leader, say: it stays what it was until the retry)."""
        complete = True
        mine = [(topic, index, reg) for topic, index, reg in image.all_partitions()
                if self._broker_id in reg.replicas]
        seen = {(topic.topic_id, index) for topic, index, _ in mine}
        for key in [k for k in self._replicas.by_id if k not in seen]:
            self._remove(key)  # first: a re-created topic of the same name reuses the dir
        self._logs.reconfigure(image)
        min_isrs: dict[str, int] = {}  # read only for partitions led here, once per topic
        for topic, index, reg in mine:
            replica = self._replicas.get((topic.topic_id, index))
            if replica is None:
                try:
                    replica = await self.open_replica(topic.name, topic.topic_id, index)
                except OSError as exc:  # out of descriptors, say: opened at the retry
                    self._trouble.contain(exc, f"opening the log of {topic.name}-{index}")
                    complete = False
                    continue
                except StorageError as exc:  # one bad log must not take the node down
                    log.error("cannot open the log of %s-%d: %s", topic.name, index, exc)
                    continue
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
        self._sync_fetchers()
        return complete

    async def open_replica(self, topic: str, topic_id: str, index: int) -> PartitionReplica:
        """Open the log (in a worker thread, see LogManager.open) and host its replica."""
        plog = await self._logs.open(topic, topic_id, index)
        replica = PartitionReplica(self._broker_id, topic, topic_id, index, plog,
                                   self._logs.checkpointed_hw(plog))
        replica.disk = self._trouble.disk
        # damage found at open is a repair before the first fetch (see replica_fetcher_manager)
        self._repairs.notice((topic_id, index), topic, index, plog.damage)
        self._replicas.add(replica)
        return replica

    def _remove(self, key: Key) -> None:
        replica = self._replicas.pop(key)
        self._repairs.forget(key)
        replica.leader = None
        replica.changed.pulse()
        self._logs.delete(replica.log)
        log.info("removed replica %s-%d", replica.topic, replica.partition)
