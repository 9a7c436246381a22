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
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from kraft.errors import StorageError
from kraft.replication import fetch_protocol as fp
from kraft.replication.disk_trouble import DiskTrouble
from kraft.replication.hosted_replicas import HostedReplicas
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


class ReplicaFetcherManager:
    def __init__(self, broker_id: int, broker_epoch: Callable[[], int], replicas: HostedReplicas,
                 repairs: ReplicaRepairs, trouble: DiskTrouble, fetch_channel, spawn: SpawnNamed,
                 throttle: ReplicationThrottle | None = None):
        """fetch_channel(leader_id) -> an async context manager whose fetch(FetchRequest)
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
        self._throttle = throttle if throttle is not None else ReplicationThrottle(broker_id)

    def followed_from(self, leader_id: int) -> list[PartitionReplica]:
        if self._disk.failed:
            return []  # nothing can be appended here: fetching would only fail
        # the table itself, not a snapshot: nothing awaits in between
        return [r for r in self._replicas.by_id.values()
                if r.leader_id == leader_id and r.leader is None and self._fetchable(r)]

    def sync(self) -> None:
        wanted = {r.leader_id for r in self._replicas
                  if r.leader is None and r.leader_id >= 0 and r.leader_id != self._broker_id
                  and self._fetchable(r) and not self._disk.failed}
        for leader_id in list(self._fetchers):
            if leader_id not in wanted or self._fetchers[leader_id].done():
                self._fetchers.pop(leader_id).cancel()
        for leader_id in wanted - set(self._fetchers):
            self._fetchers[leader_id] = self._spawn(self._fetch_loop(leader_id), f"fetcher-{leader_id}")

    def _positions(self, parts: list[PartitionReplica]) -> tuple[fp.FetchPartition, ...]:
        """What to fetch: every replica, but those being added by a reassignment only
        within the follower throttle's budget (shared between them), none while it is spent."""
        throttled = {(r.topic_id, r.partition) for r in parts
                     if self._throttle.follower_throttles((r.topic_id, r.partition))}
        if not throttled:
            return tuple(r.fetch_position() for r in parts)
        allowance = self._throttle.follower.available()
        share = max(1, int(allowance / len(throttled))) if allowance > 0 else 0
        out = []
        for r in parts:
            position = r.fetch_position()
            if (r.topic_id, r.partition) in throttled:
                if share == 0:
                    continue
                position = replace(position, max_bytes=share)
            out.append(position)
        return tuple(out)

    def _fetchable(self, replica: PartitionReplica) -> bool:
        return (replica.topic_id, replica.partition) not in self._repairs.pending

    async def _fetch_loop(self, leader_id: int) -> None:
        async with self._fetch_channel(leader_id) as channel:  # closed when this fetcher ends
            await self._fetch_through(leader_id, channel)

    async def _fetch_through(self, leader_id: int, channel) -> None:
        while True:
            parts = self.followed_from(leader_id)
            if not parts:
                return
            positions = self._positions(parts)
            if not positions:  # every replica here is throttled and the budget is spent
                await asyncio.sleep(THROTTLED_WAIT_S)
                continue
            request = fp.FetchRequest(self._broker_id, self._broker_epoch(), max_wait_ms=FETCH_MAX_WAIT_MS,
                                      max_bytes=FETCH_MAX_BYTES, partitions=positions)
            try:
                answers = await channel.fetch(request)
            except Exception as exc:  # leader down or restarting: metadata will move on
                log.debug("fetch from %d failed: %s", leader_id, exc)
                await asyncio.sleep(RETRY_S)
                continue
            backoff = False
            asked = {(p.topic_id, p.partition): p for p in request.partitions}
            self._throttle.follower.spend(sum(len(d.records) for d in answers
                                              if self._throttle.follower_throttles((d.topic_id, d.partition))))
            for data in answers:
                key = (data.topic_id, data.partition)
                replica = self._replicas.get(key)
                if replica is None or key not in asked:
                    continue
                try:
                    backoff |= replica.on_fetched(data, asked[key], leader_id)
                except OSError as exc:  # contained: this partition retries
                    if is_dir_failure(exc):
                        self._disk.fail(exc)  # logged once; the fetchers stop (followed_from)
                        return
                    self._trouble.contain(exc, f"appending fetched data of {replica.topic}-{replica.partition}")
                    backoff = True
                except StorageError as exc:
                    log.error("fetched data for %s-%d not applied: %s", replica.topic,
                              replica.partition, exc)
                    backoff = True
            if backoff:
                await asyncio.sleep(BACKOFF_S)
