"""The logs under this broker's partitions dir, and their upkeep (Kafka's LogManager).

Opens a replica's log in a worker thread, deletes the logs of removed replicas and
stray logs of deleted topics, hands topic config changes to open logs, applies
retention, writes the high-watermark checkpoint (periodically on the IO worker, last
at shutdown) and owns the compaction loop. Which replicas exist is decided by
replica_roles; this module only does what that means on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from kraft.metadata.image import MetadataImage
from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.hosted_replicas import HostedReplicas
from kraft.replication.io_worker import IoWorker
from kraft.replication.log_cleaner_loop import LogCleanerLoop
from kraft.replication.partition_replica import PartitionReplica
from kraft.storage import partition_dir
from kraft.storage.compaction import CleanerSettings
from kraft.storage.fs_sync import barrier_holds, sync_filesystem
from kraft.storage.hw_checkpoint import HighWatermarkCheckpoint
from kraft.storage.log_config import LogConfig
from kraft.storage.partition_log import PartitionLog
from kraft.storage.topic_log_config import log_config_for

log = logging.getLogger(__name__)

CHECKPOINT_PERIOD_S = 1.0
RETENTION_PERIOD_S = 5.0
# Logs opened side by side in worker threads (Kafka's recovery threads). Opening a log
# is file system calls and Python, no fsync (partition_dir.prepare): more threads than
# this only take the GIL from the event loop (16 made the CreateTopics answer for 10,000
# partitions take 23 s instead of 8).
OPEN_AT_ONCE = 4
OPEN_BATCH = 32  # logs one thread job opens at most (ReplicaRoles._open_missing)


def open_replica_log(root: Path, topic: str, index: int, topic_id: str, config: LogConfig,
                     previous_run_closed: bool | None) -> PartitionLog:
    """An opening thread's work (bench/open_fresh_logs.py runs it too): the replica's
    directory for this topic id, then its log; one just made has nothing to read."""
    prepared = partition_dir.prepare(root, topic, index, topic_id)
    return PartitionLog.open(prepared.path, config, unsynced_identity=prepared.unsynced,
                             previous_run_closed=previous_run_closed, fresh=prepared.fresh)


def _open_each(root: Path, jobs: list[tuple[str, int, str, LogConfig]],
               previous_run_closed: bool | None) -> list[PartitionLog | Exception]:
    """An opening thread's job: each log, or the exception its open raised."""
    out: list[PartitionLog | Exception] = []
    for topic, index, topic_id, config in jobs:
        try:
            out.append(open_replica_log(root, topic, index, topic_id, config, previous_run_closed))
        except Exception as exc:  # handed to the caller, which decides what it means
            out.append(exc)
    return out


class LogManager:
    def __init__(self, root: Path, checkpoint_path: Path, topic_configs, replicas: HostedReplicas,
                 io: IoWorker, trouble: DiskTrouble):
        """topic_configs(name) -> the topic's effective config dict."""
        self.root = root
        self._topic_configs = topic_configs
        self._replicas = replicas
        self._io = io
        self._trouble = trouble
        self._checkpoint = HighWatermarkCheckpoint(checkpoint_path)
        self._checkpoint_queued = False  # at most one HW checkpoint waits on the IO worker
        # the checkpoint's map, kept up to date from the replicas whose HW may have moved
        # (note_hw): an idle broker neither walks its replicas nor writes the file
        self._hws: dict[str, int] = {}
        self._hw_moved: set[PartitionReplica] = set()
        self._hws_dropped = False
        self._next_checkpoint = self._next_retention = 0.0
        self._opening: set[str] = set()  # directory names of logs being opened in a thread
        self.previous_run_closed: bool | None = None  # the run state's, once it has begun
        self._openers = ThreadPoolExecutor(OPEN_AT_ONCE, thread_name_prefix="log-open")
        # topic id -> the (topic overrides, cluster configs) maps its open logs were configured
        # from; the image replaces a map when it changes, so identity says "unchanged" cheaply
        self._configured_from: dict[str, tuple] = {}
        self._configs_seen: tuple | None = None  # the image's config maps at the last look
        self.cleaner = LogCleanerLoop(topic_configs, replicas)

    # -- opening and deleting ---------------------------------------------------------------
    async def open(self, topic: str, topic_id: str, index: int) -> PartitionLog:
        """One log, opened as open_many opens each."""
        opened = (await self.open_many([(topic, topic_id, index)]))[0]
        if isinstance(opened, Exception):
            raise opened
        return opened

    async def open_many(self, logs: list[tuple[str, str, int]]) -> list[PartitionLog | Exception]:
        """Open these replicas' logs, (topic, topic id, partition) each, one after the
        other in one worker thread: after a crash a newest segment is walked batch by
        batch (seconds for a large one), and meanwhile this node must go on heartbeating
        and serving fetches, or it is fenced and its followers fall out of the ISR while
        it starts. Each answer is the log or what its open raised; one thread job for
        many, as thousands of hand-backs to the loop (a wake-up and the interpreter lock
        each) were a tenth of a start's opening. The caller adopts each log before its
        next await, so none is ever seen as a stray log."""
        names = [partition_dir.partition_path(self.root, topic, index).name for topic, _, index in logs]
        configs: dict[str, LogConfig] = {}  # a topic's partitions mostly come together
        for topic, _, _ in logs:
            if topic not in configs:
                configs[topic] = log_config_for(self._topic_configs(topic))
        jobs = [(topic, index, topic_id, configs[topic]) for topic, topic_id, index in logs]
        self._opening.update(names)  # not stray logs while they open (remove_stray_logs)
        opened = asyncio.get_running_loop().run_in_executor(
            self._openers, _open_each, self.root, jobs, self.previous_run_closed)
        try:
            results = await asyncio.shield(opened)
        except asyncio.CancelledError:
            # stopping: the thread cannot be interrupted; let it finish and close its logs
            with contextlib.suppress(Exception):
                for plog in await opened:
                    if isinstance(plog, PartitionLog):
                        plog.close(clean=False)
            raise
        finally:
            self._opening.difference_update(names)
        for plog in results:
            if isinstance(plog, PartitionLog):
                self._adopt(plog)
        return results

    def _adopt(self, plog: PartitionLog) -> None:
        if plog.directory.identity_unsynced:
            self._io.sync_identity(plog.directory)
        plog.flush_rolls_with(self._io.fsync_rolled)
        plog.sync_epochs_with(self._io.sync_epochs)
        plog.drop_cold_pages_with(self._io.drop_cached)

    def checkpointed_hw(self, plog: PartitionLog) -> int:
        return self._checkpoint.read().get(plog.directory.path.name, 0)

    def delete(self, plog: PartitionLog) -> None:
        plog.close(clean=False)
        shutil.rmtree(plog.directory.path, ignore_errors=True)
        self._hws_dropped |= self._hws.pop(plog.directory.path.name, None) is not None

    def note_hw(self, replica: PartitionReplica) -> None:
        """This replica's HW may have moved (or it is new here): the next checkpoint has it."""
        self._hw_moved.add(replica)

    def remove_stray_logs(self, image: MetadataImage) -> None:
        """Delete logs of topics the (caught-up) image no longer has."""
        keep = {r.log.directory.path.name for r in self._replicas} | self._opening
        live_ids = set(image.topics)
        for path in self.root.iterdir():
            if path.name == partition_dir.STRAY_DIR or not path.is_dir():
                continue  # set aside for an operator, never deleted here; or not a log
            if path.name not in keep and partition_dir.topic_id_of(path) not in live_ids:
                shutil.rmtree(path, ignore_errors=True)

    # -- config changes -------------------------------------------------------------------
    def reconfigure(self, image: MetadataImage) -> None:
        """A topic config change reaches the open logs (segment.*, flush.*), as in Kafka; the
        next append rolls or flushes under the new values. Retention, cleanup, min ISR and
        the rest are read where they are used, so they need nothing here."""
        maps = (image.topic_configs, image.cluster_configs)
        if self._configs_seen is not None and maps[0] is self._configs_seen[0] \
                and maps[1] is self._configs_seen[1]:
            return  # no config changed anywhere: the common case, kept off the hot path
        self._configs_seen = maps
        by_topic: dict[str, list[PartitionReplica]] = {}
        for replica in self._replicas:
            by_topic.setdefault(replica.topic_id, []).append(replica)
        for topic_id in [t for t in self._configured_from if t not in by_topic]:
            del self._configured_from[topic_id]
        for topic_id, replicas in by_topic.items():
            name = replicas[0].topic
            source = (image.topic_configs.get(name), image.cluster_configs)
            seen = self._configured_from.get(topic_id)
            if seen is not None and seen[0] is source[0] and seen[1] is source[1]:
                continue
            self._configured_from[topic_id] = source
            config = log_config_for(self._topic_configs(name))
            for replica in replicas:
                if replica.log.config != config:
                    replica.log.reconfigure(config)
                    log.info("%s-%d log settings now %s", name, replica.partition, config)

    # -- periodic upkeep (called from the manager's duty loop) ------------------------------
    def maintain(self) -> None:
        mono = time.monotonic()
        if mono >= self._next_checkpoint and not self._checkpoint_queued and (self._hw_moved or self._hws_dropped):
            # its fsync (1-7 ms) runs on the IO worker, not on the loop
            self._next_checkpoint = mono + CHECKPOINT_PERIOD_S
            self._checkpoint_queued = True
            self._io.submit(partial(self._write_checkpoint, self._hw_map()))
        if mono >= self._next_retention:
            self._next_retention = mono + RETENTION_PERIOD_S
            try:
                self.apply_retention()
            except OSError as exc:
                self._trouble.contain(exc, "retention")

    def apply_retention(self) -> None:
        now = int(time.time() * 1000)
        # per topic, not per replica: working out the effective configs for each of
        # __consumer_offsets' 50 partitions held the loop a few ms every pass (more under load)
        limits: dict[str, tuple[int | None, int | None] | None] = {}
        for replica in self._replicas:
            if replica.topic not in limits:
                limits[replica.topic] = self._retention_limits(replica.topic)
            limit = limits[replica.topic]
            if limit is None:
                continue  # cleanup.policy=compact alone: only the cleaner removes records
            if replica.log.apply_retention(now, *limit, max_offset=replica.high_watermark):
                replica.signal_change()  # its log start moved: followers' sessions tell them

    def _retention_limits(self, topic: str) -> tuple[int | None, int | None] | None:
        """(retention.ms, retention.bytes), None for no limit; None when the topic's
        records are not deleted by age or size at all."""
        cfg = self._topic_configs(topic)
        if not CleanerSettings.from_topic_configs(cfg).delete:
            return None
        ms, size = int(cfg["retention.ms"]), int(cfg["retention.bytes"])
        return (ms if ms >= 0 else None, size if size >= 0 else None)

    async def _write_checkpoint(self, hws: dict[str, int]) -> None:
        try:
            await asyncio.to_thread(self._checkpoint.write, hws)
        except OSError as exc:  # only a hint (see hw_checkpoint): the next period retries
            self._trouble.contain(exc, "writing the HW checkpoint")
        finally:
            self._checkpoint_queued = False

    def _hw_map(self) -> dict[str, int]:
        for replica in self._hw_moved:
            if self._replicas.get((replica.topic_id, replica.partition)) is replica:
                self._hws[replica.log.directory.path.name] = replica.high_watermark
        self._hw_moved.clear()
        self._hws_dropped = False
        return dict(self._hws)

    # -- shutdown ---------------------------------------------------------------------------
    def write_last_checkpoint(self) -> None:
        try:
            self._checkpoint.close({r.log.directory.path.name: r.high_watermark for r in self._replicas})
        except OSError as exc:  # an older checkpoint is safe: the HW only lags (see hw_checkpoint)
            log.warning("last HW checkpoint not written: %s", exc)

    def close_all_cleanly(self, replicas: list[PartitionReplica]) -> OSError | None:
        """At shutdown, once no open is in flight: every log's last state written without
        a fsync (OPEN_AT_ONCE side by side), the file system made durable once, then each
        log marked clean (a few fsyncs per log took 30,000 logs past a stop's deadline).
        Where syncfs is no barrier (fs_sync), each log fsyncs its own. None when every log
        closed cleanly; else the first error (the broker's logs are then not intact)."""
        try:
            barrier = barrier_holds(self.root)
            started = time.monotonic()
            errors = list(self._openers.map(partial(self._write_out, sync=not barrier), replicas))
            closed = [r for r, error in zip(replicas, errors) if error is None]
            failure = next((e for e in errors if e is not None), None)
            written = time.monotonic()
            if not barrier:
                log.info("%d logs closed in %.1f s, each fsyncing its own", len(closed), written - started)
                return failure
            try:
                sync_filesystem(self.root)
            except OSError as exc:
                log.error("logs not closed cleanly, the file system did not sync (%s): "
                          "the next start recovers them", exc)
                return exc
            synced = time.monotonic()
            list(self._openers.map(self._mark_clean, closed))
            log.info("%d logs closed in %.1f s: written out %.1f s, file system synced %.1f s, marked "
                     "clean %.1f s", len(closed), time.monotonic() - started, written - started,
                     synced - written, time.monotonic() - synced)
            return failure
        finally:
            self._openers.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _write_out(replica: PartitionReplica, sync: bool) -> OSError | None:
        try:
            replica.log.close(clean=True, sync=sync)
            return None
        except OSError as exc:  # unclean then: the next start recovers this log
            log.error("log of %s-%d not closed cleanly: %s", replica.topic, replica.partition, exc)
            return exc

    @staticmethod
    def _mark_clean(replica: PartitionReplica) -> None:
        try:
            replica.log.directory.mark_clean_shutdown()
        except OSError as exc:  # its data is on disk; the next start only checks it again
            log.warning("log of %s-%d not marked clean: %s", replica.topic, replica.partition, exc)
