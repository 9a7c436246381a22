"""All partition replicas of this broker, driven by the metadata image.

After every metadata change the manager compares the image with its replicas: it
opens logs, makes replicas leaders or followers, starts and stops one fetcher per
source leader (Kafka's ReplicaFetcherThread), and removes logs of deleted topics.
Its periodic duties (ISR shrink, HW checkpoint, retention) and every fetcher and
AlterPartition call run in its own TaskGroup, so shutdown stops them all.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from metadata.image import MetadataImage
from replication import fetch_protocol as fp
from replication.change_signal import ChangeSignal, wait_any
from replication.hw_checkpoint import HighWatermarkCheckpoint
from replication.partition_log import PartitionLog
from replication.partition_replica import PartitionReplica, now_ms
from replication.replication_errors import NotLeader
from replication.topic_log_config import log_config_for

log = logging.getLogger(__name__)

DUTY_PERIOD_S = 0.5  # ISR shrink checks: fine-grained enough against a 5 s lag limit
CHECKPOINT_PERIOD_S = 1.0
RETENTION_PERIOD_S = 5.0


class ReplicaManager:
    def __init__(self, broker_id: int, data_dir: Path, topic_configs, lag_max_ms: int,
                 alter_partition, fetch_client):
        """topic_configs(name) -> effective config dict; alter_partition(payload) -> coroutine;
        fetch_client(leader_id, FetchRequest) -> coroutine returning list[PartitionData]."""
        self.broker_id = broker_id
        self.root = Path(data_dir) / "partitions"
        self.root.mkdir(parents=True, exist_ok=True)
        self._topic_configs = topic_configs
        self._lag_max_ms = lag_max_ms
        self._alter_partition = alter_partition
        self._fetch_client = fetch_client
        self.replicas: dict[tuple[str, int], PartitionReplica] = {}
        self._by_name: dict[tuple[str, int], PartitionReplica] = {}
        self._fetchers: dict[int, asyncio.Task] = {}
        self._checkpoint = HighWatermarkCheckpoint(Path(data_dir) / "replication-offset-checkpoint")
        self._tg: asyncio.TaskGroup | None = None
        self._metadata_changed = ChangeSignal()
        self.broker_epoch = -1
        self._image: MetadataImage | None = None

    # -- lookups ----------------------------------------------------------------------
    def replica(self, topic: str, partition: int) -> PartitionReplica | None:
        return self._by_name.get((topic, partition))

    def leader_replica(self, topic: str, partition: int) -> PartitionReplica:
        replica = self._by_name.get((topic, partition))
        if replica is None or not replica.is_leader:
            raise NotLeader(f"broker {self.broker_id} is not the leader of {topic}-{partition}")
        return replica

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self, ready: asyncio.Event) -> None:
        """Owned by the node's task group; returns when cancelled, logs closed cleanly."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._follow_metadata(), name="replicas-follow-metadata")
                ready.set()
                await self._duties()
        finally:
            self._tg = None
            self._checkpoint.write(self._hw_map())
            for replica in self.replicas.values():
                replica.log.close(clean=True)
            self.replicas.clear()
            self._by_name.clear()

    async def _duties(self) -> None:
        next_checkpoint = next_retention = 0.0
        while True:
            await asyncio.sleep(DUTY_PERIOD_S)
            now = now_ms()
            for replica in list(self.replicas.values()):
                if replica.leader is not None:
                    proposal = replica.leader.shrink_proposal(now, self._lag_max_ms)
                    if proposal is not None:
                        self._propose_isr(replica, proposal)
                    replica.log.maybe_flush()
            mono = time.monotonic()
            if mono >= next_checkpoint:
                next_checkpoint = mono + CHECKPOINT_PERIOD_S
                self._checkpoint.write(self._hw_map())
            if mono >= next_retention:
                next_retention = mono + RETENTION_PERIOD_S
                self._apply_retention()

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
            await self._apply_image(applied)

    async def _apply_image(self, image: MetadataImage) -> None:
        seen = set()
        for topic, index, reg in image.all_partitions():
            if self.broker_id not in reg.replicas:
                continue
            key = (topic.topic_id, index)
            seen.add(key)
            replica = self.replicas.get(key)
            if replica is None:
                replica = self._open(topic.name, topic.topic_id, index)
                await asyncio.sleep(0)  # opening a log fsyncs: let heartbeats through
            role = replica.apply_registration(reg, now_ms())
            if role is not None:
                await asyncio.sleep(0)
            if role == "leader":
                log.info("leader of %s-%d in epoch %d (isr %s)", topic.name, index,
                         reg.leader_epoch, list(reg.isr))
        for key in [k for k in self.replicas if k not in seen]:
            self._remove(key)
        self._sync_fetchers()

    def _open(self, topic: str, topic_id: str, index: int) -> PartitionReplica:
        path = self.root / f"{topic}-{index}-{topic_id}"
        plog = PartitionLog.open(path, log_config_for(self._topic_configs(topic)))
        hw = self._checkpoint.read().get(path.name, 0)
        replica = PartitionReplica(self.broker_id, topic, topic_id, index, plog, hw)
        self.replicas[(topic_id, index)] = replica
        self._by_name[(topic, index)] = replica
        return replica

    def _remove(self, key) -> None:
        replica = self.replicas.pop(key)
        self._by_name.pop((replica.topic, replica.partition), None)
        replica.leader = None
        replica.changed.pulse()
        replica.log.close(clean=False)
        shutil.rmtree(replica.log.directory.path, ignore_errors=True)
        log.info("removed replica %s-%d", replica.topic, replica.partition)

    def remove_stray_logs(self, image: MetadataImage) -> None:
        """Delete logs of topics the (caught-up) image no longer has."""
        keep = {r.log.directory.path.name for r in self.replicas.values()}
        live_ids = set(image.topics)
        for path in self.root.iterdir():
            topic_id = path.name.rsplit("-", 1)[-1]
            if path.name not in keep and topic_id not in live_ids:
                shutil.rmtree(path, ignore_errors=True)

    # -- fetchers ----------------------------------------------------------------------------
    def followed_from(self, leader_id: int) -> list[PartitionReplica]:
        return [r for r in self.replicas.values()
                if r.leader is None and r.leader_id == leader_id]

    def _sync_fetchers(self) -> None:
        wanted = {r.leader_id for r in self.replicas.values()
                  if r.leader is None and r.leader_id >= 0 and r.leader_id != self.broker_id}
        for leader_id in list(self._fetchers):
            if leader_id not in wanted or self._fetchers[leader_id].done():
                self._fetchers.pop(leader_id).cancel()
        for leader_id in wanted - set(self._fetchers):
            self._fetchers[leader_id] = self._tg.create_task(self._fetch_loop(leader_id),
                                                             name=f"fetcher-{leader_id}")

    async def _fetch_loop(self, leader_id: int) -> None:
        while True:
            parts = self.followed_from(leader_id)
            if not parts:
                return
            request = fp.FetchRequest(self.broker_id, self.broker_epoch, max_wait_ms=500,
                                      max_bytes=8 * 1024 * 1024,
                                      partitions=tuple(r.fetch_position() for r in parts))
            try:
                answers = await self._fetch_client(leader_id, request)
            except Exception as exc:  # leader down or restarting: metadata will move on
                log.debug("fetch from %d failed: %s", leader_id, exc)
                await asyncio.sleep(0.2)
                continue
            backoff = False
            for data in answers:
                replica = self.replicas.get((data.topic_id, data.partition))
                if replica is not None:
                    backoff |= replica.on_fetched(data)
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
        payload = {"topic_id": replica.topic_id, "partition": replica.partition,
                   "leader_id": self.broker_id, "broker_epoch": self.broker_epoch,
                   "leader_epoch": replica.leader_epoch,
                   "partition_epoch": replica.partition_epoch, "new_isr": list(isr)}
        self._tg.create_task(self._send_alter(replica, payload, replica.leader))

    async def _send_alter(self, replica: PartitionReplica, payload: dict, leader_state) -> None:
        try:
            result = await self._alter_partition(payload)
            log.info("ISR of %s-%d -> %s", replica.topic, replica.partition, payload["new_isr"])
            if result.get("partition_epoch") == payload["partition_epoch"] \
                    and replica.leader is leader_state:
                leader_state.on_proposal_failed()  # nothing changed, no metadata will come
        except Exception as exc:  # refused or no controller: the leader tries again later
            log.info("ISR change %s for %s-%d not made: %s", payload["new_isr"], replica.topic,
                     replica.partition, exc)
            if replica.leader is leader_state:
                leader_state.on_proposal_failed()

    def _apply_retention(self) -> None:
        now = int(time.time() * 1000)
        for replica in self.replicas.values():
            cfg = self._topic_configs(replica.topic)
            ms, size = int(cfg["retention.ms"]), int(cfg["retention.bytes"])
            replica.log.apply_retention(now, ms if ms >= 0 else None, size if size >= 0 else None,
                                        max_offset=replica.high_watermark)
