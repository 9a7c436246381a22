"""The one place ids and versions are given: the leader of `_schemas` partition 0. One
write at a time; before deciding, the state has applied the whole local log (so a node
that just became leader knows every id its predecessors gave, committed or about to be),
and a write is answered only once the state holds it (so the next decision sees it)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from kraft.errors import LeaderNotAvailable
from kraft.registry.follower import SchemaLogFollower
from kraft.registry.schemas_topic import PARTITION, TOPIC
from kraft.schemas.registry_errors import OPERATION_TIMEOUT, RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import WriteRequest
from kraft.schemas.registry_writes import decide
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

APPEND_TIMEOUT_MS = 15_000
CATCH_UP_S = 15.0


class LeaderLog(Protocol):
    """The data plane, as the writer uses it (this node's leader replica; local appends)."""

    async def leader_replica(self, topic: str, partition: int) -> Any: ...

    async def append_batch(self, topic: str, partition: int, batch: bytes, acks: int, timeout_ms: int,
                           timestamp: int, local_only: bool = False) -> Any: ...


class SchemaWriter:
    def __init__(self, follower: SchemaLogFollower, parser: Parser, log: LeaderLog) -> None:
        self._follower = follower
        self._parser = parser
        self._log = log
        self._lock = asyncio.Lock()

    async def write(self, request: WriteRequest) -> tuple[Any, int]:
        """(the answer, the offset the state must hold to show it). Raises NotLeaderOrFollower
        when this node does not lead `_schemas` (the caller finds the leader and retries)."""
        async with self._lock:
            replica = await self._log.leader_replica(TOPIC, PARTITION)
            await self._caught_up(replica.log_end_offset - 1)
            state = self._follower.state
            applied = state.applied
            # decided beside the event loop (parsing and compatibility checks take seconds at worst)
            decision = await self._follower.beside_loop(lambda s: decide(s, self._parser, request))
            replica = await self._log.leader_replica(TOPIC, PARTITION)
            # From this check to the append nothing else runs (no await in between that
            # suspends while the replica is open): the decision covers every record of the log
            # it is appended to, even if leadership went elsewhere and came back meanwhile.
            if replica.log_end_offset != applied or self._follower.state is not state or state.applied != applied:
                raise LeaderNotAvailable(f"{TOPIC} grew while its writer decided; retry")
            if not decision.records:
                return decision.answer, self._follower.state.applied - 1
            now = int(time.time() * 1000)
            batch = encode_batch([Record(key, value, timestamp_ms=now) for key, value in decision.records], 0, -1)
            pending = await self._log.append_batch(TOPIC, PARTITION, batch, -1, APPEND_TIMEOUT_MS, now,
                                                   local_only=True)
            last = (await pending.committed()).offset + len(decision.records) - 1
            await self._caught_up(last)
            return decision.answer, last

    async def _caught_up(self, offset: int) -> None:
        if not await self._follower.wait_applied(offset, CATCH_UP_S):
            raise RegistryError(OPERATION_TIMEOUT, f"the registry's log was not read up to offset {offset} in "
                                f"{CATCH_UP_S:.0f}s; retry")
