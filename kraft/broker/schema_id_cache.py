"""The schema ids this node knows, for schema ID validation (schema_ids.py).

Filled from the node's own registry state (every node follows `_schemas`), so a check
never leaves the node. An id the state does not hold may be one just registered through
another node that this node has not read yet: such an id is looked up once more after
the state has caught up with `_schemas` (bounded), then remembered as unknown until the
state changes again, so a stream of unknown ids costs one catch-up, not one per record.
Everything here is forgotten whenever the registry's state moves (a schema registered,
deleted): registrations are rare, produces are not.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Protocol

from kraft.broker.schema_ids import SchemaIdInfo

MAX_REMEMBERED = 10_000  # ids (known and unknown) kept between two changes of the state


class SchemaIdSource(Protocol):
    def version(self) -> Hashable:
        """Changes whenever the registry's state does."""
        ...

    def info(self, schema_id: int) -> SchemaIdInfo | None:
        """The id as the state holds it now; None when no live version holds it."""
        ...

    async def catch_up(self) -> None:
        """Returns once the state has read `_schemas` as far as it goes now, or after a
        bound (a registry that cannot be read must not hold produces for long)."""
        ...


class SchemaIdCache:
    def __init__(self, source: SchemaIdSource | None = None) -> None:
        """source: the node's registry; None on a node that serves none (every id unknown)."""
        self._source = source
        self._version: Hashable = None
        self._known: dict[int, SchemaIdInfo | None] = {}

    def _current(self) -> SchemaIdSource | None:
        source = self._source
        if source is not None and (version := source.version()) != self._version:
            self._version, self._known = version, {}
        if len(self._known) > MAX_REMEMBERED:
            self._known = {}
        return source

    def _look_up(self, source: SchemaIdSource, ids: Iterable[int]) -> tuple[dict[int, SchemaIdInfo | None], bool]:
        """Each id's info (remembered, else asked of the state and remembered), and whether
        an id the state was asked about just now is unknown to it."""
        found: dict[int, SchemaIdInfo | None] = {}
        newly_unknown = False
        for schema_id in ids:
            if schema_id in self._known:
                found[schema_id] = self._known[schema_id]
            else:
                found[schema_id] = self._known[schema_id] = info = source.info(schema_id)
                newly_unknown = newly_unknown or info is None
        return found, newly_unknown

    async def resolve(self, ids: set[int]) -> dict[int, SchemaIdInfo | None]:
        """Each id's info, None for an id the registry does not hold."""
        source = self._current()
        if source is None or not ids:
            return dict.fromkeys(ids)
        found, newly_unknown = self._look_up(source, ids)
        if newly_unknown:  # maybe registered through another node and not read here yet
            await source.catch_up()
            self._current()
            found, _ = self._look_up(source, ids)
        return found
