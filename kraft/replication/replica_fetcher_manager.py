"""The follower fetchers: one per source leader (Kafka's ReplicaFetcherManager).

A fetcher runs while this broker follows at least one fetchable replica of that leader,
and fetches for all of them in one request. A replica under repair does not fetch until
it is cut (caught up at its end, it would be taken back into the ISR with the damage
still inside), and nothing fetches while the data dir takes no writes. sync() starts
and stops fetchers after every change of roles, repairs or disk state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any

from kraft.errors import StorageError
from kraft.replication import fetch_protocol as fp
from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.hosted_replicas import HostedReplicas, Key
from kraft.replication.log_dir_health import is_dir_failure
from kraft.replication.partition_replica import PartitionReplica
from kraft.replication.replica_repair import ReplicaRepairs
from kraft.replication.replication_throttle import ReplicationThrottle

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 500
FETCH_MAX_BYTES = 8 * 1024 * 1024
RETRY_S = 0.2  # after a failed fetch (leader down or restarting)
THROTTLED_WAIT_S = 0.1  # only throttled replicas to fetch and their budget spent: wait for it
BACKOFF_S = 0.05  # after fetched data that could not be applied

SpawnNamed = Callable[[Coroutine[Any, Any, None], str], asyncio.Future]


class FollowedStream:
    """The replicas this broker follows from one leader, and the positions it has sent.
    A position is looked at again only when it may have moved (the leader's answer named
    its partition, or the replica is new here), so a round costs what moved, not what is
    followed."""

    def __init__(self) -> None:
        self.replicas: dict[Key, PartitionReplica] = {}
        self.sent: dict[Key, fp.FetchPartition] = {}
        self.moved: set[Key] = set()
        self.removed: set[Key] = set()

    def set_replicas(self, replicas: dict[Key, PartitionReplica]) -> None:
        """Follow exactly these: the others are forgotten, new ones (or re-created) added."""
        for key in self.replicas.keys() - replicas.keys():
            self.remove(key)
        for key, replica in replicas.items():
            if self.replicas.get(key) is not replica:
                self.add(key, replica)

    def add(self, key: Key, replica: PartitionReplica) -> None:
        """A partition followed from here, new or with its role changed (a new leader
        epoch moves its position)."""
        self.replicas[key] = replica
        self.moved.add(key)
        self.removed.discard(key)

    def remove(self, key: Key) -> None:
        if self.replicas.pop(key, None) is not None:
            self.sent.pop(key, None)
            self.moved.discard(key)
            self.removed.add(key)

    def positions(self, full: bool) -> tuple[tuple[fp.FetchPartition, ...], tuple[Key, ...]]:
        """(positions, forgotten) for the next request: every position for a full fetch,
        else those that moved and the partitions no longer followed."""
        changed = []
        for key in self.moved:
            replica = self.replicas.get(key)
            if replica is None:
                continue
            position = replica.fetch_position()
            if self.sent.get(key) is not position:
                self.sent[key] = position
                changed.append(position)
        self.moved.clear()
        forgotten, self.removed = tuple(self.removed), set()
        if full:
            for key in self.replicas.keys() - self.sent.keys():  # none, unless a round was cut short
                self.sent[key] = self.replicas[key].fetch_position()
            return tuple(self.sent[k] for k in self.replicas), ()
        return tuple(changed), forgotten


class ReplicaFetcherManager:
    def __init__(self, broker_id: int, broker_epoch: Callable[[], int], replicas: HostedReplicas,
                 repairs: ReplicaRepairs, trouble: DiskTrouble, fetch_channel, spawn: SpawnNamed,
                 throttle: ReplicationThrottle | None = None):
        """fetch_channel(leader_id) -> an async context manager whose wants_full says
        whether the next request must name every partition and whose fetch(FetchRequest)
        returns list[PartitionData]; spawn(coroutine, name) runs it in the manager's
        task group."""
        self._broker_id = broker_id
        self._broker_epoch = broker_epoch
        self._replicas = replicas
        self._repairs = repairs
        self._trouble = trouble
        self._disk = trouble.disk
        self._fetch_channel = fetch_channel
        self._spawn = spawn
        self._fetchers: dict[int, asyncio.Future] = {}
        self._streams: dict[int, FollowedStream] = {}
        self._leader_of: dict[Key, int] = {}  # each followed partition's leader (its stream)
        self._throttle = throttle if throttle is not None else ReplicationThrottle(broker_id)

    def sync(self, keys: Iterable[Key] | None = None) -> None:
        """After a change of roles (of these partitions; None: of any), repairs or disk
        state: who is followed from where."""
        if keys is None or self._disk.failed:
            self._sync_all()
        else:
            for key in keys:
                self._place(key, self._leader_to_follow(key, self._replicas.get(key)))
        for leader_id in list(self._fetchers):
            stream = self._streams.get(leader_id)
            if stream is None or not stream.replicas or self._fetchers[leader_id].done():
                self._fetchers.pop(leader_id).cancel()
        for leader_id in [b for b, stream in self._streams.items() if not stream.replicas]:
            del self._streams[leader_id]
        for leader_id, stream in self._streams.items():
            if leader_id not in self._fetchers:
                self._fetchers[leader_id] = self._spawn(self._fetch_loop(leader_id), f"fetcher-{leader_id}")

    def _leader_to_follow(self, key: Key, r: PartitionReplica | None) -> int | None:
        if r is None or r.leader is not None or r.leader_id < 0 or r.leader_id == self._broker_id \
                or key in self._repairs.pending or self._disk.failed:
            return None
        return r.leader_id

    def _place(self, key: Key, leader_id: int | None) -> None:
        old = self._leader_of.get(key)
        if old is not None and old != leader_id and old in self._streams:
            self._streams[old].remove(key)
        if leader_id is None:
            self._leader_of.pop(key, None)
            return
        self._leader_of[key] = leader_id
        self._streams.setdefault(leader_id, FollowedStream()).add(key, self._replicas.by_id[key])

    def _sync_all(self) -> None:
        wanted: dict[int, dict[Key, PartitionReplica]] = {}
        for key, r in self._replicas.by_id.items():
            leader_id = self._leader_to_follow(key, r)
            if leader_id is not None:
                wanted.setdefault(leader_id, {})[key] = r
        self._leader_of = {key: b for b, replicas in wanted.items() for key in replicas}
        for leader_id in list(self._streams):
            if leader_id not in wanted:
                self._streams[leader_id].set_replicas({})
        for leader_id, replicas in wanted.items():
            self._streams.setdefault(leader_id, FollowedStream()).set_replicas(replicas)

    def _throttled(self, stream: FollowedStream, positions: tuple[fp.FetchPartition, ...]):
        """Replicas being added by a reassignment fetch within the follower throttle's
        budget (shared between them), none while it is spent; they are sent every round."""
        throttled = {k for k in self._throttle.follower_throttled() if k in stream.replicas}
        if not throttled:
            return positions
        allowance = self._throttle.follower.available()
        share = max(1, int(allowance / len(throttled))) if allowance > 0 else 0
        out = [p for p in positions if (p.topic_id, p.partition) not in throttled]
        for key in throttled:
            stream.moved.add(key)  # its share changes: asked again next round
            if share:
                out.append(replace(stream.replicas[key].fetch_position(), max_bytes=share))
        return tuple(out)

    async def _fetch_loop(self, leader_id: int) -> None:
        async with self._fetch_channel(leader_id) as channel:  # closed when this fetcher ends
            await self._fetch_through(leader_id, channel)

    async def _fetch_through(self, leader_id: int, channel) -> None:
        while True:
            stream = self._streams.get(leader_id)
            if stream is None or not stream.replicas or self._disk.failed:
                return
            full = channel.wants_full
            positions, forgotten = stream.positions(full)
            positions = self._throttled(stream, positions)
            if full and not positions:  # every replica here is throttled and the budget is spent
                await asyncio.sleep(THROTTLED_WAIT_S)
                continue
            request = fp.FetchRequest(self._broker_id, self._broker_epoch(), max_wait_ms=FETCH_MAX_WAIT_MS,
                                      max_bytes=FETCH_MAX_BYTES, partitions=positions, forgotten=forgotten,
                                      incremental=not full)
            try:
                answers = await channel.fetch(request)
            except Exception as exc:  # leader down or restarting: metadata will move on
                log.debug("fetch from %d failed: %s", leader_id, exc)
                await asyncio.sleep(RETRY_S)
                continue
            if await self._apply(leader_id, stream, answers):
                return

    async def _apply(self, leader_id: int, stream: FollowedStream, answers: list[fp.PartitionData]) -> bool:
        """Apply an answer; True when this fetcher must stop (the data dir failed)."""
        backoff = False
        self._throttle.follower.spend(sum(len(d.records) for d in answers
                                          if self._throttle.follower_throttles((d.topic_id, d.partition))))
        for data in answers:
            key = (data.topic_id, data.partition)
            replica = stream.replicas.get(key)
            asked = stream.sent.get(key)
            if replica is None or asked is None:
                continue
            stream.moved.add(key)  # its position may have moved
            try:
                backoff |= replica.on_fetched(data, asked, leader_id)
            except OSError as exc:  # contained: this partition retries
                if is_dir_failure(exc):
                    self._disk.fail(exc)  # logged once; the fetchers stop (sync)
                    return True
                self._trouble.contain(exc, f"appending fetched data of {replica.topic}-{replica.partition}")
                backoff = True
            except StorageError as exc:
                log.error("fetched data for %s-%d not applied: %s", replica.topic,
                          replica.partition, exc)
                backoff = True
        if backoff:
            await asyncio.sleep(BACKOFF_S)
        return False
