"""All partition replicas of this broker, driven by the metadata image: the façade the
rest of the node uses (lookups, metadata, serving follower fetches, storage health).

The work is done by its parts, each in its own module:
- hosted_replicas: the table of replicas, by topic id and by name;
- replica_roles: applies each metadata image, where it changed (open, remove, leader or follower);
- replica_fetcher_manager: one fetcher per source leader;
- alter_partition_manager: the leaders' ISR changes sent to the controller;
- replica_repair_duty: damaged replicas reported, then cut and refetched;
- log_manager (with log_cleaner_loop): logs on disk, retention, HW checkpoint, compaction;
- io_worker and disk_trouble: disk work off the loop, and containing its errors.
run() owns one TaskGroup for all of their tasks (fetchers and controller calls
included), so shutdown stops them all; its duty loop drives the periodic work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from kraft.config.data_dir import PARTITIONS_DIR
from kraft.errors import NotLeaderOrFollower
from kraft.metadata.changes import MetadataChanges
from kraft.metadata.image import MetadataImage
from kraft.replication import fetch_protocol as fp
from kraft.replication.alter_partition_manager import AlterPartitionManager
from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.fetch_session import Key, LeaderFetchSession, has_news
from kraft.replication.long_poll import long_poll
from kraft.replication.hosted_replicas import HostedReplicas
from kraft.replication.io_worker import IoWorker
from kraft.replication.log_dir_health import LogDirHealth
from kraft.replication.log_manager import LogManager
from kraft.replication.partition_replica import PartitionReplica, now_ms
from kraft.replication.replica_fetcher_manager import ReplicaFetcherManager
from kraft.replication.replica_repair import ReplicaRepairs
from kraft.replication.replica_repair_duty import ReplicaRepairDuty
from kraft.replication.replica_roles import ReplicaRoles
from kraft.replication.replication_throttle import ReplicationThrottle
from kraft.replication.scrubber import Scrubber
from kraft.storage.run_state import RunState

log = logging.getLogger(__name__)

DUTY_PERIOD_S = 0.5  # ISR shrink checks: fine-grained enough against a 5 s lag limit
DISK_PROBE_S = 1.0  # a failed data dir is probed this often


class ReplicaManager:
    def __init__(self, broker_id: int, data_dir: Path, topic_configs, lag_max_ms: int,
                 controller_call, fetch_channel, scrub_rate_mb_s: float = 0.0,
                 scrub_interval_s: float = 600.0):
        """topic_configs(name) -> effective config dict; controller_call(op, payload) ->
        coroutine; fetch_channel(leader_id) -> an async context manager whose
        fetch(FetchRequest) returns list[PartitionData] (one per leader fetched from)."""
        self.broker_id = broker_id
        self.broker_epoch = -1  # set by the node at each registration
        self.root = Path(data_dir) / PARTITIONS_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self._lag_max_ms = lag_max_ms
        self._tg: asyncio.TaskGroup | None = None
        self._stopping = False
        self.hosted = HostedReplicas()
        self.replicas = self.hosted.by_id  # (topic id, partition) -> replica
        self.repairs = ReplicaRepairs()
        self.throttle = ReplicationThrottle(broker_id)
        self.disk = LogDirHealth(self.root)
        # in the partitions dir, so that wiping the replicas wipes their claim too
        self.run_state = RunState(self.root)
        self.logs_intact: bool | None = None  # known once run() has begun
        self.scrubber = Scrubber(lambda: list(self.replicas.values()), scrub_rate_mb_s, scrub_interval_s)
        trouble = DiskTrouble(self.disk)
        self.io = IoWorker(trouble, self.root)
        self.logs = LogManager(self.root, Path(data_dir) / "replication-offset-checkpoint", topic_configs,
                               self.hosted, self.io, trouble)
        epoch = lambda: self.broker_epoch  # noqa: E731 - read at each use: it changes on re-registration
        self.fetchers = ReplicaFetcherManager(broker_id, epoch, self.hosted, self.repairs, trouble,
                                              fetch_channel, self._spawn, self.throttle)
        self.alter_partition = AlterPartitionManager(broker_id, epoch, controller_call, lambda: self.roles.latest)
        self.roles = ReplicaRoles(broker_id, topic_configs, self.hosted, self.logs, self.repairs, trouble,
                                  self.fetchers.sync, self._watch)
        # what the duties look at, instead of every hosted replica: leaders with an ISR
        # follower short of their end, logs with records waiting for their flush.ms, and
        # logs that found damage (each told by the replica, see _watch)
        self._lagging: set[PartitionReplica] = set()
        self._unflushed: set[PartitionReplica] = set()
        self._damaged: set[Key] = set()
        self.repair_duty = ReplicaRepairDuty(broker_id, epoch, self.repairs, lambda: self.roles.latest,
                                             controller_call, self._spawn, self.fetchers.sync)
        self._trouble = trouble

    # -- lookups ----------------------------------------------------------------------
    def replica(self, topic: str, partition: int) -> PartitionReplica | None:
        return self.hosted.named(topic, partition)

    def leader_replica(self, topic: str, partition: int) -> PartitionReplica:
        replica = self.hosted.named(topic, partition)
        if replica is None or not replica.is_leader:
            raise NotLeaderOrFollower(f"broker {self.broker_id} is not the leader of {topic}-{partition}")
        return replica

    # -- metadata -------------------------------------------------------------------------
    def on_metadata(self, changes: MetadataChanges, image: MetadataImage) -> None:
        """Called after metadata changes, with what changed since the previous call; the
        work happens in replica_roles."""
        self.throttle.on_metadata(image, changes)
        self.roles.offer(changes, image)
        self.alter_partition.on_brokers_changed(image.brokers if changes.everything else changes.brokers, image)

    def remove_stray_logs(self, image: MetadataImage) -> None:
        """Delete logs of topics the (caught-up) image no longer has."""
        self.logs.remove_stray_logs(image)

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self, ready: asyncio.Event) -> None:
        """Owned by the node's task group; returns when cancelled, logs closed cleanly."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self.roles.run(), name="replicas-follow-metadata")
                tg.create_task(self.logs.cleaner.run(), name="replicas-log-cleaner")
                tg.create_task(self.io.run(), name="replicas-io-worker")
                tg.create_task(self.scrubber.run(), name="replicas-scrubber")
                tg.create_task(self.alter_partition.run(), name="replicas-isr-changes")
                self.logs_intact = self.run_state.begin()  # before any log opens (tasks start below)
                self.logs.previous_run_closed = self.run_state.previous_closed
                ready.set()
                try:
                    await self._duties()
                finally:
                    self._stopping = True  # the group is shutting down: it takes no new task
                    self.alter_partition.stop()  # ends even if a cancellation is lost in its call
        finally:
            self._tg = None
            self.logs.write_last_checkpoint()
            for replica in self.hosted:
                if replica.leader is not None:
                    replica.follower_hw = replica.leader.hw
                    replica.leader = None  # acks=all waiters answer now, not at their timeout
                    replica.signal_change()
            failure = self.logs.close_all_cleanly(list(self.hosted))
            self.hosted.clear()
            if failure is not None:  # the node says so; the next start recovers the logs
                raise failure
            if self.logs_intact is not None:
                self.run_state.end_cleanly()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str | None = None) -> asyncio.Future:
        if self._tg is None:  # background work starts only while run() holds the task group
            coro.close()
            raise RuntimeError("the replica manager is not running")
        if self._stopping:  # a fetch or a metadata change during shutdown: nothing new starts
            coro.close()
            dropped: asyncio.Future = asyncio.get_running_loop().create_future()
            dropped.cancel()
            return dropped
        return self._tg.create_task(coro, name=name)

    def _watch(self, replica: PartitionReplica) -> None:
        """A replica just opened: it tells the duties when it writes or finds damage."""
        key = (replica.topic_id, replica.partition)
        replica.on_write = self._wrote
        replica.on_change = self.logs.note_hw
        self.logs.note_hw(replica)
        replica.log.on_damage = lambda: self._damaged.add(key)

    def _wrote(self, replica: PartitionReplica) -> None:
        if replica.leader is not None:
            self._lagging.add(replica)
        if replica.log.config.flush_ms is not None:
            self._unflushed.add(replica)

    async def _duties(self) -> None:
        next_probe = 0.0
        while True:
            await asyncio.sleep(DUTY_PERIOD_S)
            if self.disk.failed and time.monotonic() >= next_probe:
                next_probe = time.monotonic() + DISK_PROBE_S
                if await asyncio.to_thread(self.disk.probe):
                    self.fetchers.sync()
            self._duty_round(now_ms())
            self.logs.maintain()  # HW checkpoint and retention, each when due

    def _duty_round(self, now: int) -> None:
        """Repairs, ISR shrinks and flush.ms flushes, each for the replicas that need it."""
        for key in set(self.repairs.pending) | self._damaged:
            replica = self.hosted.get(key)
            if replica is not None:
                self._contained(replica, lambda r: self.repair_duty.step(r))
        if self._damaged:  # a replica under repair fetches nothing until it is cut
            self.fetchers.sync(list(self._damaged))
            self._damaged.clear()
        for replica in list(self._lagging):
            state = replica.leader
            if state is None or self.hosted.get((replica.topic_id, replica.partition)) is not replica:
                self._lagging.discard(replica)
                continue
            proposal = state.shrink_proposal(now, self._lag_max_ms)
            if proposal is not None:
                self.alter_partition.propose(replica, proposal)
            elif not state.lagging():
                self._lagging.discard(replica)
        for replica in list(self._unflushed):
            if self._contained(replica, lambda r: r.log.maybe_flush()) and not replica.log.unflushed \
                    or self.hosted.get((replica.topic_id, replica.partition)) is not replica:
                self._unflushed.discard(replica)

    def _contained(self, replica: PartitionReplica, duty) -> bool:
        try:
            duty(replica)
            return True
        except OSError as exc:  # the next round does it again
            self._trouble.contain(exc, f"duties of {replica.topic}-{replica.partition}")
            return False

    # -- serving a follower's fetch (as leader) ------------------------------------------------
    async def handle_fetch(self, request: fp.FetchRequest,
                           session: LeaderFetchSession | None = None) -> list[fp.PartitionData]:
        """A follower's fetch, long-polled up to its max_wait_ms. With its stream's
        session (fetch_session.py) only the partitions that may have news are examined
        and only those with news answered; without one, every partition is both."""
        if session is not None:
            return await self._serve_session(request, session)
        alone = LeaderFetchSession()  # this request alone: it names every partition
        try:
            return await self._serve_session(request, alone)
        finally:
            alone.close()

    async def _serve_session(self, request: fp.FetchRequest,
                             session: LeaderFetchSession) -> list[fp.PartitionData]:
        answers: dict[Key, fp.PartitionData] = {}
        named = session.apply(request) | session.rechecked()
        first = session.candidates(named)
        attempts = 0

        async def attempt() -> tuple[dict[Key, fp.PartitionData], bool]:
            nonlocal attempts
            # first what the request names, then only what the session's watch noted since
            keys = first if attempts == 0 else session.noted()
            start_moved = self._examine(request, session, keys, named if attempts == 0 else set(), answers)
            attempts += 1
            # a fetch of no partition at all is answered at once, as Kafka's is
            done = start_moved or not session.positions or any(has_news(a) for a in answers.values())
            return answers, done

        await long_poll(attempt, session.watch.wait, time.monotonic() + request.max_wait_ms / 1000)
        return session.to_answer(answers.values())  # what the follower is told: once, at the end

    def _examine(self, request: fp.FetchRequest, session: LeaderFetchSession, keys, named: set[Key],
                 answers: dict[Key, fp.PartitionData]) -> bool:
        """Serve the partitions of `keys` the session's watch says may have news, into
        `answers`; whether a follower's log start is behind this leader's."""
        budget, start_moved = request.max_bytes, False
        hosted, positions, now = self.hosted.by_id, session.positions, now_ms()
        for key in keys:
            p = positions.get(key)
            if p is None:
                continue
            replica = hosted.get(key)
            if replica is None:
                answers[key] = fp.PartitionData(p.topic_id, p.partition, fp.UNKNOWN_PARTITION)
                session.unhosted.add(key)
                continue
            session.unhosted.discard(key)
            session.follow(key, replica)
            if not session.must_examine(key, replica, replica.changed.version, named):
                continue
            limit = budget if p.max_bytes < 0 else min(budget, p.max_bytes)
            throttled = self.throttle.leader_throttles(key, request.replica_id)
            if throttled:  # a replica catching up in a reassignment: within the leader's rate
                allowance = self.throttle.leader.available()
                if allowance <= 0:
                    session.pending.add(key)  # left out of this answer: looked at next time
                    continue
                limit = min(limit, int(allowance))
            data, proposal = replica.serve_fetch(request.replica_id, p, max(limit, 1), now, request.broker_epoch)
            session.examined(key, replica, replica.changed.version, data)
            budget -= len(data.records)
            if throttled:
                self.throttle.leader.spend(len(data.records))
            if proposal is not None:
                self.alter_partition.propose(replica, proposal)
            answers[key] = data
            start_moved |= start_moved_past(p, data)
        return start_moved

    # -- storage health ------------------------------------------------------------------------
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


def start_moved_past(asked: fp.FetchPartition, answer: fp.PartitionData) -> bool:
    """A follower whose log starts below ours is told at once (DeleteRecords waits for
    it); -1 is a follower that does not say."""
    return 0 <= asked.log_start_offset < answer.log_start_offset
