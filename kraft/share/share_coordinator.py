"""The share coordinator (KIP-932): share-partitions' state, durable in
__share_group_state, on the coordinator runtime (kraft/coordinator/runtime.py) with one
shard per partition this broker leads.

A share-partition's leader reads its state here when it takes the partition over and
writes it after each change it must not lose (an acknowledgement, a session's records
given back), waiting for the write (acks=all) before it answers the client. Writes, and
a new leader's read that stores its epoch, are write operations of the runtime
(kraft/coordinator/writes.py): one partition's run one at a time in arrival order, each
checked against the state every earlier one left, and their records are replayed into
the shard by the replay a load uses (share_state.py). Reads and
writes name the state's key (share_state.state_key); the key's partition is Kafka's hash
placement, so the leader finds this node as a client finds a group's coordinator.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from kraft.config.cluster_tables import GroupSettings
from kraft.config.topic_names import SHARE_STATE_TOPIC
from kraft.coordinator.loader import LoadableReplica
from kraft.coordinator.runtime import (AppendLocal, ControllerCall, CoordinatorLinks, CoordinatorRuntime, InternalTopic,
                                       ReplicaLookup, WaitMetadata)
from kraft.errors import FencedLeaderEpoch, NotCoordinator
from kraft.metadata.image import MetadataImage
from kraft.storage.record import Record
from kraft.share.share_state import (FencedWrite, ShareSnapshot, ShareStateShard, check_fence, key_parts, load,
                                     state_record)

log = logging.getLogger(__name__)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def state_topic_configs(replication_factor: int) -> dict[str, str]:
    """Kafka's share coordinator topic configs: compacted, min.insync.replicas 2 (capped)."""
    return {"cleanup.policy": "compact", "compression.type": "uncompressed",
            "unclean.leader.election.enable": "false",
            "min.insync.replicas": str(max(1, min(2, replication_factor))), "segment.bytes": str(100 * 1024 * 1024)}


class ShareCoordinator:
    def __init__(self, node_id: int, settings: GroupSettings, image: Callable[[], MetadataImage],
                 replicas: ReplicaLookup | None, controller_call: ControllerCall, wait_metadata: WaitMetadata,
                 append_local: AppendLocal):
        topic = InternalTopic(SHARE_STATE_TOPIC, SHARE_STATE_TOPIC, SHARE_STATE_TOPIC + "-{}",
                              settings.share_state_topic_partitions, settings.share_state_topic_replication_factor,
                              state_topic_configs)
        links = CoordinatorLinks(image, replicas, controller_call, wait_metadata, append_local)
        self.node_id = node_id
        self.runtime: CoordinatorRuntime[ShareStateShard] = CoordinatorRuntime(
            node_id, "share coordinator", topic, self, links)

    # -- the runtime's shards ----------------------------------------------------------------
    def on_metadata(self) -> None:
        self.runtime.on_metadata()

    async def run(self) -> None:
        await self.runtime.run()

    def load(self, p: int, replica: LoadableReplica) -> ShareStateShard:
        shard = load(replica, replica.leader_epoch)
        log.info("share coordinator: loaded %s-%d (%d share-partitions%s)", SHARE_STATE_TOPIC, p, len(shard.states),
                 f", {shard.skipped} records skipped" if shard.skipped else "")
        return shard

    def unloaded(self, p: int, shard: ShareStateShard) -> None:
        log.info("share coordinator: unloaded %s-%d", SHARE_STATE_TOPIC, p)

    def new_image(self, image: MetadataImage) -> None:
        pass

    # -- reads and writes ----------------------------------------------------------------------
    async def locate(self, key: str, wait_s: float) -> int | None:
        """None when this node holds the key's state; else the node that does."""
        return await self.runtime.locate(key, create=True, wait_s=wait_s)

    def _shard(self, key: str) -> tuple[int, ShareStateShard]:
        p = self.runtime.partition_of(key)
        shard = self.runtime.take_over(p) if p is not None else None
        if p is None or shard is None:
            raise NotCoordinator(f"NOT_COORDINATOR: node {self.node_id} does not hold share state {key!r}")
        return p, shard

    def read(self, key: str) -> ShareSnapshot | None:
        return self._shard(key)[1].states.get(key)

    def group_ids(self) -> set[str]:
        """The groups with a share-partition state in the partitions loaded here."""
        return {parts[0] for shard in self.runtime.shards.values() for key in shard.states
                if (parts := key_parts(key)) is not None}

    def states_of(self, group_id: str) -> dict[str, ShareSnapshot]:
        """The group's share-partition states held in the partitions this node leads
        (CoordinatorLoadInProgress while one of them is being loaded)."""
        shards = [shard for p in range(self.runtime.partition_count() or 0)
                  if (shard := self.runtime.take_over(p)) is not None]
        return {key: snapshot for shard in shards for key, snapshot in shard.states.items()
                if (parts := key_parts(key)) is not None and parts[0] == group_id}

    async def write(self, key: str, snapshot: ShareSnapshot | None) -> None:
        """Store the state once every in-sync replica has it (None: delete it, Kafka's
        DeleteShareGroupState); FencedLeaderEpoch for a leader older than the one that
        wrote the stored state, or one that read it before an admin altered it."""
        p, _ = self._shard(key)
        now = wall_ms()

        def operation(shard: ShareStateShard) -> tuple[list[Record], None]:
            if snapshot is not None:
                try:
                    check_fence(shard.states.get(key), snapshot)
                except FencedWrite as exc:
                    raise FencedLeaderEpoch(f"FENCED_LEADER_EPOCH: {exc}") from None
            return [state_record(key, snapshot, now)], None

        await self.runtime.write(p, operation, name="share-state")

    async def read_for_leader(self, key: str, leader_epoch: int) -> ShareSnapshot | None:
        """A new leader's read (Kafka's ReadShareGroupState with its leader epoch): the
        stored state, now under that epoch, so a write from the leader before it (one
        still finishing an acknowledgement) is fenced from here on instead of landing
        after this read and being lost. FencedLeaderEpoch for a reader older than the state."""
        p, _ = self._shard(key)
        now = wall_ms()

        def operation(shard: ShareStateShard) -> tuple[list[Record], ShareSnapshot | None]:
            stored = shard.states.get(key)
            if stored is None or stored.leader_epoch == leader_epoch:
                return [], stored
            if stored.leader_epoch > leader_epoch:
                raise FencedLeaderEpoch(f"FENCED_LEADER_EPOCH: leader epoch {leader_epoch} is older than the stored "
                                        f"state's ({stored.leader_epoch})")
            taken = dataclasses.replace(stored, leader_epoch=leader_epoch)
            return [state_record(key, taken, now)], taken

        return await self.runtime.write(p, operation, name="share-state-read")
