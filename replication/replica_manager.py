"""All partition replicas of this broker, driven by the metadata image.

After every metadata change the manager compares the image with its replicas: it
opens logs, makes replicas leaders or followers, starts and stops one fetcher per
source leader (Kafka's ReplicaFetcherThread), and removes logs of deleted topics.
Its periodic duties (ISR shrink, HW checkpoint, retention) and every fetcher and
AlterPartition call run in its own TaskGroup, so shutdown stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from kraft.errors import CorruptBatchError, KraftError, NoActiveController, NotLeaderOrFollower, OutcomeUnknown, StorageError
from kraft.metadata.image import MetadataImage
from kraft.storage import cleaned_swap
from kraft.storage import log_cleaner
from kraft.storage import partition_dir
from kraft.replication import fetch_protocol as fp
from kraft.replication.leader_state import LeaderState
from kraft.storage.run_state import RunState
from kraft.replication.change_signal import ChangeSignal, wait_any
from kraft.storage.compaction import CleanerSettings
from kraft.storage.hw_checkpoint import HighWatermarkCheckpoint
from kraft.storage.log_file import LogFile
from kraft.storage.partition_log import PartitionLog
from kraft.replication.partition_replica import PartitionReplica, now_ms
from kraft.replication.replica_repair import ReplicaRepairs, next_step
from kraft.replication.scrubber import Scrubber
from kraft.replication.log_dir_health import LogDirHealth, is_dir_failure
from kraft.storage.segment import Segment
from kraft.storage.topic_log_config import log_config_for

log = logging.getLogger(__name__)

DUTY_PERIOD_S = 0.5  # ISR shrink checks: fine-grained enough against a 5 s lag limit
CHECKPOINT_PERIOD_S = 1.0
DISK_PROBE_S = 1.0  # a failed data dir is probed this often
RETENTION_PERIOD_S = 5.0
CLEANER_PERIOD_S = 5.0  # compacted partitions: how often the dirty ratio is looked at
ALTER_RESEND_S = 1.0  # an ISR proposal with an unknown outcome is sent again after this
APPLY_RETRY_S = 1.0  # a metadata image not fully applied (a write failed) is applied again after this
TROUBLE_LOG_S = 10.0  # the same kind of failed disk work is logged at most this often


def _definitely_refused(exc: Exception) -> bool:
    """The controller judged the proposal and wrote nothing (a compare-and-set miss, a
    refused member): safe to forget. Timeouts and unreachable controllers are not."""
    return isinstance(exc, KraftError) and not isinstance(exc, (OutcomeUnknown, NoActiveController))


class ReplicaManager:
    def __init__(self, broker_id: int, data_dir: Path, topic_configs, lag_max_ms: int,
                 controller_call, fetch_channel, scrub_rate_mb_s: float = 0.0,
                 scrub_interval_s: float = 600.0):
        """topic_configs(name) -> effective config dict; controller_call(op, payload) ->
        coroutine; fetch_channel(leader_id) -> an async context manager whose
        fetch(FetchRequest) returns list[PartitionData] (one per leader fetched from)."""
        self.broker_id = broker_id
        self.root = Path(data_dir) / "partitions"
        self.root.mkdir(parents=True, exist_ok=True)
        self._topic_configs = topic_configs
        self._lag_max_ms = lag_max_ms
        self._controller_call = controller_call
        self.repairs = ReplicaRepairs()
        self.disk = LogDirHealth(self.root)
        # in the partitions dir, so that wiping the replicas wipes their claim too
        self.run_state = RunState(self.root)
        self.logs_intact: bool | None = None  # known once run() has begun
        self.scrubber = Scrubber(lambda: list(self.replicas.values()), scrub_rate_mb_s, scrub_interval_s)
        self._fetch_channel = fetch_channel
        self.replicas: dict[tuple[str, int], PartitionReplica] = {}
        self._by_name: dict[tuple[str, int], PartitionReplica] = {}
        self._fetchers: dict[int, asyncio.Task] = {}
        self._checkpoint = HighWatermarkCheckpoint(Path(data_dir) / "replication-offset-checkpoint")
        self._tg: asyncio.TaskGroup | None = None
        self._metadata_changed = ChangeSignal()
        self._alter_inflight: set[tuple[str, int]] = set()
        self._alter_sent: dict[tuple[str, int], float] = {}
        self.broker_epoch = -1
        self._image: MetadataImage | None = None
        # the IO worker's jobs, run one at a time in order (see _run_io_jobs)
        self._io_jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._checkpoint_queued = False  # at most one HW checkpoint waits in _io_jobs
        self._trouble_logged: dict[str, float] = {}  # what -> when last logged (_disk_trouble)
        # topic id -> the (topic overrides, cluster configs) maps its open logs were configured
        # from; the image replaces a map when it changes, so identity says "unchanged" cheaply
        self._configured_from: dict[str, tuple] = {}
        self._configs_seen: tuple | None = None  # the image's config maps at the last look
        self._opening: set[str] = set()  # directory names of logs being opened in a thread

    # -- lookups ----------------------------------------------------------------------
    def replica(self, topic: str, partition: int) -> PartitionReplica | None:
        return self._by_name.get((topic, partition))

    def leader_replica(self, topic: str, partition: int) -> PartitionReplica:
        replica = self._by_name.get((topic, partition))
        if replica is None or not replica.is_leader:
            raise NotLeaderOrFollower(f"broker {self.broker_id} is not the leader of {topic}-{partition}")
        return replica

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self, ready: asyncio.Event) -> None:
        """Owned by the node's task group; returns when cancelled, logs closed cleanly."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._follow_metadata(), name="replicas-follow-metadata")
                tg.create_task(self._clean_logs(), name="replicas-log-cleaner")
                tg.create_task(self._run_io_jobs(), name="replicas-io-worker")
                tg.create_task(self.scrubber.run(), name="replicas-scrubber")
                self.logs_intact = self.run_state.begin()
                ready.set()
                await self._duties()
        finally:
            self._tg = None
            try:
                self._checkpoint.close(self._hw_map())
            except OSError as exc:  # an older checkpoint is safe: the HW only lags (see hw_checkpoint)
                log.warning("last HW checkpoint not written: %s", exc)
            for replica in self.replicas.values():
                if replica.leader is not None:
                    replica.follower_hw = replica.leader.hw
                    replica.leader = None  # acks=all waiters answer now, not at their timeout
                    replica.changed.pulse()
                try:
                    replica.log.close(clean=True)
                except OSError as exc:  # unclean then: the next start recovers this log
                    log.error("log of %s-%d not closed cleanly: %s", replica.topic, replica.partition, exc)
            self.replicas.clear()
            self._by_name.clear()
            if self.logs_intact is not None:
                self.run_state.end_cleanly()

    async def _duties(self) -> None:
        next_checkpoint = next_retention = next_probe = 0.0
        while True:
            await asyncio.sleep(DUTY_PERIOD_S)
            if self.disk.failed and time.monotonic() >= next_probe:
                next_probe = time.monotonic() + DISK_PROBE_S
                if await asyncio.to_thread(self.disk.probe):
                    self._sync_fetchers()
            now = now_ms()
            for key, replica in list(self.replicas.items()):
                try:
                    self._repair(key, replica)
                    if replica.leader is not None:
                        proposal = replica.leader.shrink_proposal(now, self._lag_max_ms)
                        if proposal is not None:
                            self._propose_isr(replica, proposal)
                        self._resend_pending_isr(replica)
                        replica.log.maybe_flush()
                except OSError as exc:  # the next round does it again
                    self._disk_trouble(exc, f"duties of {replica.topic}-{replica.partition}")
            mono = time.monotonic()
            if mono >= next_checkpoint and not self._checkpoint_queued:
                # its fsync (1-7 ms) runs on the IO worker, not on the loop
                next_checkpoint = mono + CHECKPOINT_PERIOD_S
                self._checkpoint_queued = True
                self._io_jobs.put_nowait(partial(self._write_checkpoint, self._hw_map()))
            if mono >= next_retention:
                next_retention = mono + RETENTION_PERIOD_S
                try:
                    self._apply_retention()
                except OSError as exc:
                    self._disk_trouble(exc, "retention")

    async def _run_io_jobs(self) -> None:
        """Disk work that may wait for the device, one job at a time in a worker thread,
        so the event loop keeps serving: fsyncs of rolled segments (in roll order),
        page-cache drops behind the logs' newest bytes and the HW checkpoint. At
        shutdown the logs' clean close fsyncs what is still queued and the last
        checkpoint is written by run(); a skipped drop is only advice."""
        while True:
            job = await self._io_jobs.get()
            try:
                await job()
            except OSError as exc:  # each job is redone later or only advice (see above)
                self._disk_trouble(exc, "background disk work")

    def _disk_trouble(self, exc: OSError, what: str) -> None:
        """An OSError in the manager's own work must not end its task: that would end the
        task group, and the node with it. A failing device fails the data dir (see
        log_dir_health); anything else, such as no file descriptor left, is logged and
        the work is done again on its next round."""
        if is_dir_failure(exc):
            self.disk.fail(exc)
            return
        now = time.monotonic()
        if now - self._trouble_logged.get(what, -TROUBLE_LOG_S) >= TROUBLE_LOG_S:
            self._trouble_logged[what] = now
            log.error("%s failed, to be retried: %s", what, exc)

    async def _write_checkpoint(self, hws: dict[str, int]) -> None:
        try:
            await asyncio.to_thread(self._checkpoint.write, hws)
        except OSError as exc:  # only a hint (see hw_checkpoint): the next period retries
            if is_dir_failure(exc):
                self.disk.fail(exc)
            else:
                log.warning("HW checkpoint not written: %s", exc)
        finally:
            self._checkpoint_queued = False

    def _schedule_roll_fsync(self, plog: PartitionLog, segment: Segment) -> None:
        async def fsync_rolled():
            ok = await asyncio.to_thread(plog.fsync_sealed, segment)
            if plog.sealed_fsynced(segment, ok):
                await asyncio.to_thread(plog.write_recovery_point)
        self._io_jobs.put_nowait(fsync_rolled)

    def _schedule_cache_drop(self, log_file: LogFile, start: int, end: int) -> None:
        self._io_jobs.put_nowait(partial(asyncio.to_thread, log_file.drop_cached, start, end))

    def _hw_map(self) -> dict[str, int]:
        return {r.log.directory.path.name: r.high_watermark for r in self.replicas.values()}

    # -- following the metadata image -------------------------------------------------------
    def on_metadata(self, image: MetadataImage) -> None:
        """Called after metadata changes; the work happens in _follow_metadata."""
        self._image = image
        self._metadata_changed.pulse()

    async def _follow_metadata(self) -> None:
        applied = None
        while True:
            if self._image is applied:
                await self._metadata_changed.wait(1.0)
                continue
            applied = self._image
            if applied is not None and not await self._apply_image(applied):
                await asyncio.sleep(APPLY_RETRY_S)
                applied = None  # applied again: what did apply is left as it is

    async def _apply_image(self, image: MetadataImage) -> bool:
        """True when every replica follows the image; False when a write failed (a replica
        not yet made leader, say: it stays what it was until the retry)."""
        complete = True
        mine = [(topic, index, reg) for topic, index, reg in image.all_partitions()
                if self.broker_id in reg.replicas]
        seen = {(topic.topic_id, index) for topic, index, _ in mine}
        for key in [k for k in self.replicas if k not in seen]:
            self._remove(key)  # first: a re-created topic of the same name reuses the dir
        self._reconfigure_open_logs(image)
        min_isrs: dict[str, int] = {}  # read only for partitions led here, once per topic
        for topic, index, reg in mine:
            key = (topic.topic_id, index)
            replica = self.replicas.get(key)
            if replica is None:
                try:
                    replica = await self._open(topic.name, topic.topic_id, index)
                except OSError as exc:  # out of descriptors, say: opened at the retry
                    self._disk_trouble(exc, f"opening the log of {topic.name}-{index}")
                    complete = False
                    continue
                except StorageError as exc:  # one bad log must not take the node down
                    log.error("cannot open the log of %s-%d: %s", topic.name, index, exc)
                    continue
            if reg.leader == self.broker_id and topic.name not in min_isrs:
                min_isrs[topic.name] = int(self._topic_configs(topic.name)["min.insync.replicas"])
            try:
                role = replica.apply_registration(reg, now_ms(), min_isrs.get(topic.name, 1))
            except OSError as exc:  # its leader-epoch checkpoint, written before the role changes
                self._disk_trouble(exc, f"taking the role of {topic.name}-{index}")
                complete = False
                continue
            if role is not None:
                await asyncio.sleep(0)
            if role == "leader":
                log.info("leader of %s-%d in epoch %d (isr %s)", topic.name, index,
                         reg.leader_epoch, list(reg.isr))
        self._sync_fetchers()
        return complete

    def _reconfigure_open_logs(self, image: MetadataImage) -> None:
        """A topic config change reaches the open logs (segment.*, flush.*), as in Kafka; the
        next append rolls or flushes under the new values. Retention, cleanup, min ISR and
        the rest are read where they are used, so they need nothing here."""
        maps = (image.topic_configs, image.cluster_configs)
        if self._configs_seen is not None and maps[0] is self._configs_seen[0] \
                and maps[1] is self._configs_seen[1]:
            return  # no config changed anywhere: the common case, kept off the hot path
        self._configs_seen = maps
        by_topic: dict[str, list[PartitionReplica]] = {}
        for replica in self.replicas.values():
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

    async def _open(self, topic: str, topic_id: str, index: int) -> PartitionReplica:
        """Open a replica's log in a worker thread: after a crash its newest segment is
        walked batch by batch (seconds for a large one), and meanwhile this node must go
        on heartbeating and serving fetches, or it is fenced and its followers fall out
        of the ISR while it starts."""
        name = partition_dir.partition_path(self.root, topic, index).name
        config = log_config_for(self._topic_configs(topic))

        def open_log() -> PartitionLog:
            return PartitionLog.open(partition_dir.prepare(self.root, topic, index, topic_id), config)

        self._opening.add(name)  # not a stray log while it opens (remove_stray_logs)
        opened = asyncio.ensure_future(asyncio.to_thread(open_log))
        try:
            plog = await asyncio.shield(opened)
        except asyncio.CancelledError:
            # stopping: the thread cannot be interrupted; let it finish and close its log
            with contextlib.suppress(Exception):
                (await opened).close(clean=False)
            raise
        finally:
            self._opening.discard(name)
        return self._adopt(topic, topic_id, index, plog)

    def _adopt(self, topic: str, topic_id: str, index: int, plog: PartitionLog) -> PartitionReplica:
        path = plog.directory.path
        plog.flush_rolls_with(self._schedule_roll_fsync)
        plog.drop_cold_pages_with(self._schedule_cache_drop)
        hw = self._checkpoint.read().get(path.name, 0)
        replica = PartitionReplica(self.broker_id, topic, topic_id, index, plog, hw)
        replica.disk = self.disk
        # damage found at open is a repair before the first fetch (see followed_from)
        self.repairs.notice((topic_id, index), topic, index, plog.damage)
        self.replicas[(topic_id, index)] = replica
        self._by_name[(topic, index)] = replica
        return replica

    def _remove(self, key) -> None:
        replica = self.replicas.pop(key)
        self.repairs.forget(key)
        if self._by_name.get((replica.topic, replica.partition)) is replica:
            del self._by_name[(replica.topic, replica.partition)]
        replica.leader = None
        replica.changed.pulse()
        replica.log.close(clean=False)
        shutil.rmtree(replica.log.directory.path, ignore_errors=True)
        log.info("removed replica %s-%d", replica.topic, replica.partition)

    def remove_stray_logs(self, image: MetadataImage) -> None:
        """Delete logs of topics the (caught-up) image no longer has."""
        keep = {r.log.directory.path.name for r in self.replicas.values()} | self._opening
        live_ids = set(image.topics)
        for path in self.root.iterdir():
            if path.name == partition_dir.STRAY_DIR or not path.is_dir():
                continue  # set aside for an operator, never deleted here; or not a log
            if path.name not in keep and partition_dir.topic_id_of(path) not in live_ids:
                shutil.rmtree(path, ignore_errors=True)

    # -- fetchers ----------------------------------------------------------------------------
    def followed_from(self, leader_id: int) -> list[PartitionReplica]:
        # a damaged replica does not fetch until it is cut: caught up at its end, it
        # would be taken back into the ISR with the damage still inside
        if self.disk.failed:
            return []  # nothing can be appended here: fetching would only fail
        return [r for key, r in self.replicas.items()
                if r.leader is None and r.leader_id == leader_id and key not in self.repairs.pending]

    def _sync_fetchers(self) -> None:
        wanted = {r.leader_id for key, r in self.replicas.items()
                  if r.leader is None and r.leader_id >= 0 and r.leader_id != self.broker_id
                  and key not in self.repairs.pending and not self.disk.failed}
        for leader_id in list(self._fetchers):
            if leader_id not in wanted or self._fetchers[leader_id].done():
                self._fetchers.pop(leader_id).cancel()
        for leader_id in wanted - set(self._fetchers):
            assert self._tg is not None  # fetchers start only while run() holds the task group
            self._fetchers[leader_id] = self._tg.create_task(self._fetch_loop(leader_id),
                                                             name=f"fetcher-{leader_id}")

    async def _fetch_loop(self, leader_id: int) -> None:
        async with self._fetch_channel(leader_id) as channel:  # closed when this fetcher ends
            await self._fetch_through(leader_id, channel)

    async def _fetch_through(self, leader_id: int, channel) -> None:
        while True:
            parts = self.followed_from(leader_id)
            if not parts:
                return
            request = fp.FetchRequest(self.broker_id, self.broker_epoch, max_wait_ms=500,
                                      max_bytes=8 * 1024 * 1024,
                                      partitions=tuple(r.fetch_position() for r in parts))
            try:
                answers = await channel.fetch(request)
            except Exception as exc:  # leader down or restarting: metadata will move on
                log.debug("fetch from %d failed: %s", leader_id, exc)
                await asyncio.sleep(0.2)
                continue
            backoff = False
            asked = {(p.topic_id, p.partition): p for p in request.partitions}
            for data in answers:
                key = (data.topic_id, data.partition)
                replica = self.replicas.get(key)
                if replica is None or key not in asked:
                    continue
                try:
                    backoff |= replica.on_fetched(data, asked[key], leader_id)
                except OSError as exc:  # contained: this partition retries
                    if is_dir_failure(exc):
                        self.disk.fail(exc)  # logged once; the fetchers stop (followed_from)
                        return
                    self._disk_trouble(exc, f"appending fetched data of {replica.topic}-{replica.partition}")
                    backoff = True
                except StorageError as exc:
                    log.error("fetched data for %s-%d not applied: %s", replica.topic,
                              replica.partition, exc)
                    backoff = True
            if backoff:
                await asyncio.sleep(0.05)

    # -- serving a follower's fetch (as leader) ------------------------------------------------
    async def handle_fetch(self, request: fp.FetchRequest) -> list[fp.PartitionData]:
        deadline = time.monotonic() + request.max_wait_ms / 1000
        while True:
            answers, budget, waiting = [], request.max_bytes, []
            now = now_ms()
            for p in request.partitions:
                replica = self.replicas.get((p.topic_id, p.partition))
                if replica is None:
                    answers.append(fp.PartitionData(p.topic_id, p.partition, fp.UNKNOWN_PARTITION))
                    continue
                data, proposal = replica.serve_fetch(request.replica_id, p, max(budget, 1), now)
                budget -= len(data.records)
                if proposal is not None:
                    self._propose_isr(replica, proposal)
                answers.append(data)
                waiting.append(replica.changed)
            left = deadline - time.monotonic()
            if any(a.records or a.error or a.diverging_end_offset >= 0 for a in answers) or left <= 0:
                return answers
            await wait_any(waiting, left)

    # -- ISR changes -------------------------------------------------------------------------
    def _propose_isr(self, replica: PartitionReplica, isr) -> None:
        key = (replica.topic_id, replica.partition)
        leader_state = replica.leader
        if key in self._alter_inflight or leader_state is None:  # only a leader proposes
            return
        payload = {"topic_id": replica.topic_id, "partition": replica.partition,
                   "leader_id": self.broker_id, "broker_epoch": self.broker_epoch,
                   "leader_epoch": replica.leader_epoch,
                   "partition_epoch": replica.partition_epoch, "new_isr": list(isr)}
        self._alter_inflight.add(key)
        self._alter_sent[key] = time.monotonic()
        assert self._tg is not None  # ISR changes come only while run() holds the task group
        self._tg.create_task(self._send_alter(replica, payload, leader_state))

    async def _send_alter(self, replica: PartitionReplica, payload: dict, leader_state: LeaderState) -> None:
        key = (replica.topic_id, replica.partition)
        isr, base = tuple(payload["new_isr"]), payload["partition_epoch"]

        def still_ours() -> bool:
            return (replica.leader is leader_state and leader_state.pending_isr == isr
                    and leader_state.partition_epoch == base)

        try:
            result = await self._controller_call("alter_partition", payload)
            log.info("ISR of %s-%d -> %s", replica.topic, replica.partition, list(isr))
            if result.get("partition_epoch") == base and still_ours():
                leader_state.on_proposal_failed()  # nothing changed, no metadata will come
        except Exception as exc:
            if _definitely_refused(exc) and still_ours():
                log.info("ISR change %s for %s-%d refused: %s", list(isr), replica.topic,
                         replica.partition, exc)
                leader_state.on_proposal_failed()
            # else: the outcome is unknown; the proposal stays pending (the HW keeps
            # counting the maximal ISR) and _resend_pending_isr sends it again
        finally:
            self._alter_inflight.discard(key)

    def storage_view(self) -> dict:
        """This broker's storage health: replicas under repair, and the scrubber."""
        damaged = []
        for key, repair in sorted(self.repairs.pending.items(), key=lambda kv: (kv[1].topic, kv[1].partition)):
            damaged.append({"topic": repair.topic, "partition": repair.partition,
                            "damaged_from": repair.start, "reason": repair.reason,
                            "healthy_copy": repair.healthy_copy})
        return {"log_dir": self.disk.view(), "damaged_replicas": damaged, "damaged_ranges_found": self.repairs.found,
                "repairs_done": self.repairs.repaired,
                "scrubber": {"rate_mb_s": self.scrubber.rate_bytes_s / 1e6,
                             "interval_s": self.scrubber.interval_s, **self.scrubber.progress.view()}}

    # -- damaged replicas (see replica_repair) ------------------------------------------------
    def _repair(self, key: tuple[str, int], replica: PartitionReplica) -> None:
        repair = self.repairs.notice(key, replica.topic, replica.partition, replica.log.damage)
        if repair is None or self._image is None:
            return
        step = next_step(self._image, self.broker_id, replica.topic_id, replica.partition)
        if step == "cut" and replica.leader is None and replica.leader_id not in (-1, self.broker_id):
            self.repairs.done(key, replica.repair_from(repair.start))
            self._sync_fetchers()
        elif step == "report" and self.repairs.due(repair):
            repair.in_flight, repair.sent_at = True, time.monotonic()
            assert self._tg is not None  # duties run only while run() holds the task group
            self._tg.create_task(self._report_damage(replica, repair))

    async def _report_damage(self, replica: PartitionReplica, repair) -> None:
        payload = {"broker_id": self.broker_id, "broker_epoch": self.broker_epoch,
                   "topic_id": replica.topic_id, "partition": replica.partition}
        try:
            answer = await self._controller_call("report_damaged_replica", payload)
            self.repairs.answered(repair, bool(answer.get("healthy_copy", True)))
        except Exception as exc:  # controller away or our epoch stale: the next duty resends
            log.info("report of damaged %s-%d not taken: %s", replica.topic, replica.partition, exc)
        finally:
            repair.in_flight = False

    def _resend_pending_isr(self, replica: PartitionReplica) -> None:
        key = (replica.topic_id, replica.partition)
        state = replica.leader
        if state is None or state.pending_isr is None or key in self._alter_inflight:
            return
        if time.monotonic() - self._alter_sent.get(key, 0.0) >= ALTER_RESEND_S:
            self._propose_isr(replica, state.pending_isr)  # compare-and-set makes it safe

    def _apply_retention(self) -> None:
        now = int(time.time() * 1000)
        for replica in self.replicas.values():
            cfg = self._topic_configs(replica.topic)
            if not CleanerSettings.from_topic_configs(cfg).delete:
                continue  # cleanup.policy=compact alone: only the cleaner removes records
            ms, size = int(cfg["retention.ms"]), int(cfg["retention.bytes"])
            replica.log.apply_retention(now, ms if ms >= 0 else None, size if size >= 0 else None,
                                        max_offset=replica.high_watermark)

    # -- log compaction ------------------------------------------------------------------------
    async def _clean_logs(self) -> None:
        """Compacted partitions (leaders and followers alike, each its own log, as in
        Kafka) are cleaned one at a time; the reading and writing runs in a worker
        thread, the swap back on the loop (see log_cleaner)."""
        stop = threading.Event()
        try:
            while True:
                await asyncio.sleep(CLEANER_PERIOD_S)
                for replica in list(self.replicas.values()):
                    await self._clean_one(replica, stop)
        finally:
            stop.set()  # a pass still running in its thread gives up at its next batch

    async def _clean_one(self, replica: PartitionReplica, stop: threading.Event) -> None:
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
            if self.replicas.get((replica.topic_id, replica.partition)) is not replica:
                return  # removed meanwhile; its directory went with it
            result = log_cleaner.install(plog, job, staged)
        except Exception as exc:  # contained (a raising task would stop the node): the next pass starts over
            log.warning("compaction of %s-%d failed: %s", replica.topic, replica.partition, exc,
                        exc_info=not isinstance(exc, (OSError, StorageError)))
            cleaned_swap.discard_staging(plog.directory.path)
            if isinstance(exc, CorruptBatchError) and not plog.closed:
                plog.map_damage()  # what the cleaner met becomes a repair (see _repair)
            return
        if result.installed:
            log.info("compacted %s-%d: %d segments -> %d, %d -> %d bytes, %d records removed",
                     replica.topic, replica.partition, result.segments_before, result.segments_after,
                     result.bytes_before, result.bytes_after, result.records_removed)
