"""Which registered schema a REST request names, as Confluent REST Proxy finds it: by id,
by a subject's version (or its latest), or by a schema's text (registered under its
subject when new). Subjects come from a given `subject` or a subject name strategy
(kraft/schemas/subject_names.py). The registry is this node's
(kraft/registry): reads from the state it follows, registrations through its writer.

Each schema's record codec is kept by id, checked against the id's text at each use."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from kraft.broker.access import Identity
from kraft.broker.acl_needs import ClientOperation
from kraft.errors import AuthorizationFailed, InvalidValue, SchemaNotFound, SchemaRefused, SchemaRegistryUnavailable
from kraft.registry.service import SchemaRegistry
from kraft.schemas.formats import ParsedSchema
from kraft.schemas.record_codec_table import codec_for
from kraft.schemas.record_codecs import RecordCodec
from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_parsing import resolved_texts
from kraft.schemas.registry_reads import find_version, lookup
from kraft.schemas.registry_requests import Register
from kraft.schemas.registry_state import RegistryState

# the REST formats by the registry's schema types
REST_FORMAT = {"AVRO": "AVRO", "JSON": "JSONSCHEMA", "PROTOBUF": "PROTOBUF"}
SCHEMA_TYPE = {rest: registry for registry, rest in REST_FORMAT.items()}
CACHE_SIZE = 1024
T = TypeVar("T")


@dataclass(frozen=True)
class RegisteredSchema:
    schema_id: int
    schema_type: str  # the registry's: AVRO, JSON, PROTOBUF
    parsed: ParsedSchema
    codec: RecordCodec
    subject: str | None = None
    version: int | None = None

    @property
    def rest_format(self) -> str:
        return REST_FORMAT[self.schema_type]


class SchemaDoor:
    """The node's registry as the HTTP door uses it. `who`: the caller, whose SUBJECT ACLs
    are asked as the registry's own port asks them (kraft/registry/access_table.py): a
    registration needs WRITE on its subject, a subject's version READ, a schema by id READ
    on one subject holding it; None with security off."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        # id -> (its text, what it holds)
        self._codecs: OrderedDict[int, tuple[str, tuple[str, ParsedSchema, RecordCodec]]] = OrderedDict()

    async def state(self, current: bool = False) -> RegistryState:
        """The node's registry state; current: once caught up with `_schemas`'s leader (a
        trip to it), for what another node may have registered a moment ago."""
        try:
            return await (self.registry.current_state() if current else self.registry.loaded_state())
        except RegistryError as e:
            raise SchemaRegistryUnavailable(f"the schema registry: {e.message}") from None

    async def _found(self, find: Callable[[RegistryState], T | None],
                     latest: bool = False) -> tuple[RegistryState, T | None]:
        """find(state) in the node's state and, when it finds nothing (registered through
        another node a moment ago?), once more after catching up; latest: caught up at
        once. Consumers ask per record, so only a miss costs the trip to the leader."""
        state = await self.state(current=latest)
        found = find(state)
        if found is None and not latest:
            state = await self.state(current=True)
            found = find(state)
        return state, found

    async def by_id(self, schema_id: int, who: Identity | None) -> RegisteredSchema:
        state, _ = await self._found(lambda s: s.schema_by_id(schema_id))
        self._require_schema_read(state, schema_id, who)
        return RegisteredSchema(schema_id, *await self._codec(state, schema_id))

    def _require(self, who: Identity | None, operation: ClientOperation, subject: str) -> None:
        if who is not None and self.registry.access.enabled:
            self.registry.access.require(who, operation, subject)

    def _require_schema_read(self, state: RegistryState, schema_id: int, who: Identity | None) -> None:
        """READ on one subject holding the id (none holds it: READ on every subject)."""
        if who is None or not self.registry.access.enabled:
            return
        holders = sorted({r.subject for r in state.records_with_id(schema_id, deleted=True)})
        if not any(self.registry.access.may(who, "read_subject", s) for s in holders):
            self.registry.access.require(who, "read_subject", holders[0] if holders else "")

    async def _codec(self, state: RegistryState, schema_id: int) -> tuple[str, ParsedSchema, RecordCodec]:
        record = state.schema_by_id(schema_id)
        if record is None:
            raise SchemaNotFound(f"schema {schema_id} not found in the schema registry")
        cached = self._codecs.get(schema_id)
        if cached is not None and cached[0] == record.schema:  # the text too: an id deleted for good may return
            self._codecs.move_to_end(schema_id)
            return cached[1]
        # parsing a schema (up to 512 Ki characters) is work for beside the loop
        found = await self.registry.follower.beside_loop(lambda s: self._built(s, schema_id))
        self._codecs[schema_id] = (found[3], found[:3])
        if len(self._codecs) > CACHE_SIZE:
            self._codecs.popitem(last=False)
        return found[:3]

    def _built(self, state: RegistryState, schema_id: int) -> tuple[str, ParsedSchema, RecordCodec, str]:
        """The id's schema parsed and its codec, with the text they came from."""
        record = state.schema_by_id(schema_id)
        if record is None:
            raise SchemaNotFound(f"schema {schema_id} not found in the schema registry")
        parsed = _registry_call(lambda: self.registry.parser.parse_record(state, record))
        texts = _registry_call(lambda: resolved_texts(state, record.references))
        try:
            codec = codec_for(record.schema_type, parsed, texts)
        except Exception as e:  # noqa: BLE001 - a schema the registry took and the codec's library does not
            raise SchemaRefused(f"schema {schema_id} cannot write or read records here: {type(e).__name__}: "
                                f"{str(e)[:300]}") from None
        return record.schema_type, parsed, codec, record.schema

    async def by_version(self, subject: str, version: int, who: Identity | None) -> RegisteredSchema:
        """`version`: a version number, or -1 for the latest."""
        self._require(who, "read_subject", subject)
        state, found = await self._found(lambda s: _version_or_none(s, subject, version), latest=version < 0)
        record = found or _registry_call(lambda: find_version(state, subject, version))  # its error
        return RegisteredSchema(record.id, *await self._codec(state, record.id), subject, record.version)

    async def parse(self, schema_type: str, text: str) -> ParsedSchema:
        await self.state()  # loaded
        return await self.registry.follower.beside_loop(
            lambda s: _registry_call(lambda: self.registry.parser.parse(s, schema_type, text, ())))

    async def register(self, subject: str, schema_type: str, text: str, who: Identity | None) -> RegisteredSchema:
        """The schema's id in the subject, registered there when it is new (as Confluent's
        serializers with auto.register.schemas)."""
        await self.state()  # loaded
        try:  # already there: answered from the state, without a trip to the writer (parsing: beside the loop)
            answer = await self.registry.follower.beside_loop(lambda s: lookup(
                s, self.registry.parser, subject, {"schema": text, "schemaType": schema_type},
                normalize=False, deleted=False))
            self._require(who, "write_subject", subject)  # a registration, as on the registry's port
        except RegistryError:
            try:  # the writer asks who's ACL where it decides
                answer = await self.registry.write(Register(subject, schema_type, text), who)
            except RegistryError as e:
                raise _translated(e) from None
        return await self.by_version(subject, int(answer["version"]), None)

    async def check_in_subject(self, schema: RegisteredSchema, subject: str,
                               who: Identity | None) -> RegisteredSchema:
        """The schema as a version of `subject`; 40403 when the subject does not hold it."""
        self._require(who, "read_subject", subject)
        _, record = await self._found(
            lambda s: next((r for r in s.versions(subject) if r.id == schema.schema_id), None))
        if record is not None:
            return RegisteredSchema(schema.schema_id, schema.schema_type, schema.parsed, schema.codec, subject,
                                    record.version)
        raise SchemaNotFound(f"schema {schema.schema_id} is not registered under subject {subject!r}")


DOOR_KEY = web.AppKey("schema_door", SchemaDoor)


def attach_registry(app: web.Application, registry: SchemaRegistry | None) -> None:
    """Give the HTTP door the node's registry (a node without one answers the schema
    formats with 42206)."""
    if registry is not None:
        app[DOOR_KEY] = SchemaDoor(registry)


def door_of(request: web.Request) -> SchemaDoor:
    door = request.app.get(DOOR_KEY)
    if door is None:
        raise InvalidValue("the avro, jsonschema and protobuf formats need the node's schema registry, and this "
                           "node serves none (schema_registry_port in cluster.toml)")
    return door


def _translated(error: RegistryError) -> Exception:
    if error.error_code in (40401, 40402, 40403):
        return SchemaNotFound(error.message)
    if error.status == 403:  # the writer asked the caller's ACL on the subject
        return AuthorizationFailed(error.message)
    if error.status >= 500:
        return SchemaRegistryUnavailable(f"the schema registry: {error.message}")
    return SchemaRefused(f"the schema registry refused the schema ({error.error_code}): {error.message}")


def _version_or_none(state: RegistryState, subject: str, version: int) -> SchemaRecord | None:
    try:
        return find_version(state, subject, version)
    except RegistryError:
        return None


def _registry_call(call: Callable[[], T]) -> T:
    """The registry's answer, its errors as the HTTP door's."""
    try:
        return call()
    except RegistryError as e:
        raise _translated(e) from None
