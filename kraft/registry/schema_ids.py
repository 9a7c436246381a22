"""The node's registry as the source of schema ID validation's ids (broker/schema_id_cache.py):
an id's live subjects and record name, from the state this node follows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

from kraft.broker.schema_ids import SchemaIdInfo
from kraft.errors import KraftError
from kraft.internode.peers import PeerUnreachable
from kraft.registry.schemas_topic import PARTITION, TOPIC
from kraft.registry.follower import SchemaLogFollower
from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.subject_names import record_name

log = logging.getLogger(__name__)

CATCH_UP_S = 2.0  # the longest a produce naming an id new to this node waits for the registry

# (topic, partition) -> (log start offset, high watermark), as its leader tells them
Offsets = Callable[[str, int], Awaitable[tuple[int, int]]]


class RegistrySchemaIds:
    def __init__(self, follower: SchemaLogFollower, parser: Parser, offsets: Offsets) -> None:
        self._follower = follower
        self._parser = parser
        self._offsets = offsets

    def version(self) -> Hashable:
        state = self._follower.state  # replaced when the state is rebuilt from the topic
        return id(state), state.applied

    def info(self, schema_id: int) -> SchemaIdInfo | None:
        state = self._follower.state
        holders = state.records_with_id(schema_id, deleted=False)
        if not holders:
            return None
        return SchemaIdInfo(frozenset(r.subject for r in holders), self._record_name(holders[0]))

    def _record_name(self, record: SchemaRecord) -> str | None:
        """The name Confluent's record name strategies give the schema: Avro's top-level
        record, Protobuf's first message, JSON Schema's title."""
        try:
            parsed = self._parser.parse_record(self._follower.state, record)
        except RegistryError:  # a reference since deleted: no name, so no record-named subject
            return None
        return record_name(parsed)

    async def catch_up(self) -> None:
        deadline = time.monotonic() + CATCH_UP_S
        try:
            async with asyncio.timeout(CATCH_UP_S):
                _, high_watermark = await self._offsets(TOPIC, PARTITION)
        except (KraftError, PeerUnreachable, TimeoutError) as exc:  # no _schemas yet, or its leader
            log.debug("schema validation could not read %s's end: %s", TOPIC, exc)  # is moving
            return
        if high_watermark > 0:
            await self._follower.wait_applied(high_watermark - 1, max(0.0, deadline - time.monotonic()))
