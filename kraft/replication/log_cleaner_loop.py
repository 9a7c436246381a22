"""When compacted logs are cleaned: every CLEANER_PERIOD_S, one partition at a time.

Compacted partitions (leaders and followers alike, each its own log, as in Kafka's
LogCleaner) are looked at in turn; the reading and writing of a pass runs in a worker
thread, the swap back on the loop (see kraft/storage/log_cleaner). A failed pass is
contained: the next one starts over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from kraft.errors import CorruptBatchError, StorageError
from kraft.replication.hosted_replicas import HostedReplicas
from kraft.replication.partition_replica import PartitionReplica
from kraft.storage import cleaned_swap
from kraft.storage import log_cleaner
from kraft.storage.compaction import CleanerSettings

log = logging.getLogger(__name__)

CLEANER_PERIOD_S = 5.0  # compacted partitions: how often the dirty ratio is looked at


class LogCleanerLoop:
    def __init__(self, topic_configs, replicas: HostedReplicas):
        self._topic_configs = topic_configs
        self._replicas = replicas

    async def run(self) -> None:
        stop = threading.Event()
        try:
            while True:
                await asyncio.sleep(CLEANER_PERIOD_S)
                compacted: dict[str, bool] = {}  # per topic, not per replica: most are not
                for replica in self._replicas:
                    if replica.topic not in compacted:
                        policy = self._topic_configs(replica.topic).get("cleanup.policy", "delete")
                        compacted[replica.topic] = "compact" in policy
                    if compacted[replica.topic]:
                        await self.clean_one(replica, stop)
        finally:
            stop.set()  # a pass still running in its thread gives up at its next batch

    async def clean_one(self, replica: PartitionReplica, stop: threading.Event) -> None:
        configs = self._topic_configs(replica.topic)
        if "compact" not in configs.get("cleanup.policy", "delete"):
            return  # the common case: one lookup, nothing read
        settings = CleanerSettings.from_topic_configs(configs)
        plog = replica.log
        if plog.damage:
            return  # never compact damage into new segments: the repair comes first
        try:
            job = log_cleaner.select(plog, replica.high_watermark, settings, int(time.time() * 1000))
            if job is None:
                return
            staged = await asyncio.to_thread(log_cleaner.prepare, job, stop.is_set)
            if self._replicas.get((replica.topic_id, replica.partition)) is not replica:
                return  # removed meanwhile; its directory went with it
            result = log_cleaner.install(plog, job, staged)
        except Exception as exc:  # contained (a raising task would stop the node): the next pass starts over
            log.warning("compaction of %s-%d failed: %s", replica.topic, replica.partition, exc,
                        exc_info=not isinstance(exc, (OSError, StorageError)))
            cleaned_swap.discard_staging(plog.directory.path)
            if isinstance(exc, CorruptBatchError) and not plog.closed:
                plog.map_damage()  # what the cleaner met becomes a repair (see replica_repair_duty)
            return
        if result.installed:
            log.info("compacted %s-%d: %d segments -> %d, %d -> %d bytes, %d records removed",
                     replica.topic, replica.partition, result.segments_before, result.segments_after,
                     result.bytes_before, result.bytes_after, result.records_removed)
