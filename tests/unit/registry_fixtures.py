"""A record-type format for the registry's state-machine tests: a schema is a JSON object
{"record": name, "fields": {field: {"default": value} or {}}}; a reader reads a writer's
data when every reader field without a default is a writer field (Avro's rule for added
fields, enough to drive the registry's compatibility decisions)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from kraft.schemas.formats import InvalidSchema, ParsedSchema
from kraft.schemas.registry_parsing import Parser
from kraft.schemas.registry_requests import Register
from kraft.schemas.registry_state import RegistryState
from kraft.schemas.registry_writes import decide


class RecordSchema:
    schema_type = "AVRO"

    def __init__(self, obj: dict, refs: Mapping[str, str]):
        self.obj = obj
        self.refs = dict(refs)

    def canonical(self) -> str:
        return json.dumps(self.obj, sort_keys=True, separators=(",", ":"))

    def normalized(self) -> ParsedSchema:
        return self

    def read_errors(self, writer: ParsedSchema) -> list[str]:
        assert isinstance(writer, RecordSchema)
        return [f"reader field {name!r} has no default and the writer lacks it"
                for name, spec in self.obj["fields"].items()
                if "default" not in spec and name not in writer.obj["fields"]]


class RecordFormat:
    name = "AVRO"

    def parse(self, text: str, references: Mapping[str, str]) -> ParsedSchema:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise InvalidSchema(f"not JSON: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("fields"), dict):
            raise InvalidSchema("a record needs fields")
        for needed in obj.get("uses", []):
            if needed not in references:
                raise InvalidSchema(f"unknown type {needed}")
        return RecordSchema(obj, references)


def schema(*fields: str, defaults: tuple[str, ...] = (), uses: tuple[str, ...] = ()) -> str:
    spec = {f: {} for f in fields} | {f: {"default": None} for f in defaults}
    return json.dumps({"fields": spec, **({"uses": list(uses)} if uses else {})})


class Registry:
    """A state, fed by the records its own decisions produce, as the topic would."""

    def __init__(self, formats=None):
        self.state = RegistryState()
        self.parser = Parser(formats if formats is not None else {"AVRO": RecordFormat()})
        self.log: list[tuple[bytes, bytes | None]] = []

    def write(self, request):
        decision = decide(self.state, self.parser, request)
        for key, value in decision.records:
            self.state.apply(key, value, len(self.log))
            self.log.append((key, value))
        return decision.answer

    def register(self, subject: str, text: str, schema_type: str = "AVRO", **kw):
        return self.write(Register(subject, schema_type, text, **kw))

    def rebuilt(self) -> RegistryState:
        state = RegistryState()
        for offset, (key, value) in enumerate(self.log):
            state.apply(key, value, offset)
        return state
