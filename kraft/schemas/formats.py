"""The interface every schema format implements, and the table of formats by name.

A format parses a schema's text (with the texts of the schemas it references, already
resolved by the registry) into a ParsedSchema, or raises InvalidSchema with a message fit
for a user (Confluent answers it as 42201). A ParsedSchema knows its canonical text (what
the registry stores and compares: two registrations of one canonical text are one schema),
its normalized form (the registry's `normalize=true`), and which of another schema's data
it can read (`read_errors`, empty when compatible), from which the registry's
compatibility levels are built (kraft/schemas/compatibility.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol


class InvalidSchema(ValueError):
    """The text is not a schema of the format named (Confluent's 42201)."""


@dataclass(frozen=True)
class SchemaReference:
    """A reference as Confluent's API carries it: the name the schema uses for the other
    (an Avro full name, a JSON Schema $ref URL, a .proto import path), and which subject
    and version hold it."""
    name: str
    subject: str
    version: int


class ParsedSchema(Protocol):
    schema_type: str  # "AVRO", "JSON" or "PROTOBUF", as Confluent's API names them

    def canonical(self) -> str:
        """The text the registry stores and returns for this schema."""
        ...

    def normalized(self) -> "ParsedSchema":
        """The schema as `normalize=true` registers it (e.g. Avro's parsing canonical form
        with defaults kept, JSON's keys sorted, Protobuf's declarations in a stable order)."""
        ...

    def read_errors(self, writer: "ParsedSchema") -> list[str]:
        """Why a reader with this schema cannot read data written with `writer` of the same
        format, one message per incompatibility (Confluent's `verbose=true` messages);
        empty when it can."""
        ...


class SchemaFormat(Protocol):
    name: str  # as ParsedSchema.schema_type

    def parse(self, text: str, references: Mapping[str, str]) -> ParsedSchema:
        """`references`: each referenced name -> that schema's text. InvalidSchema if the
        text (or a reference it needs and was not given) does not make a schema."""
        ...
