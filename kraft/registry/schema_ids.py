"""The node's registry as the source of schema ID validation's ids (broker/schema_id_cache.py):
an id's live subjects and record name, from the state this node follows."""

from __future__ import annotations

from collections.abc import Hashable

from kraft.broker.schema_ids import SchemaIdInfo
from kraft.registry.follower import SchemaLogFollower
from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.subject_names import record_name

CATCH_UP_S = 2.0  # the longest a produce naming an id new to this node waits for the registry


class RegistrySchemaIds:
    def __init__(self, follower: SchemaLogFollower, parser: Parser) -> None:
        self._follower = follower
        self._parser = parser

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
        await self._follower.catch_up(CATCH_UP_S)
