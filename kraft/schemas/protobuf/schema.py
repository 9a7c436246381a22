"""PROTOBUF: .proto schemas as Confluent's registry knows them.

A schema is .proto text (proto2, proto3 or editions) or a base64 FileDescriptorProto (as
confluent-kafka's ProtobufSerializer registers it), with its imports given as references
(import path -> text); well-known imports need none. protoc compiles it
(kraft/schemas/protobuf/compile.py); its canonical text is rendered back from the
descriptor (protobuf/render.py); compatibility is Confluent's (protobuf/diff.py); a record's
message indexes are in protobuf/indexes.py.

The parsed schema keeps its descriptors: `file` (its FileDescriptorProto), `pool` (a
DescriptorPool with it and its imports) and `message_class(full_name)`, for encoding and
decoding its messages."""

from __future__ import annotations

import base64
from functools import cached_property, lru_cache
from typing import Iterable, Mapping

from google.protobuf import (any_pb2, api_pb2, descriptor_pb2, duration_pb2, empty_pb2, field_mask_pb2,
                            source_context_pb2, struct_pb2, timestamp_pb2, type_pb2, wrappers_pb2)
from google.protobuf.descriptor_pb2 import DescriptorProto, FileDescriptorProto
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from kraft.schemas.protobuf import diff as protobuf_diff

from kraft.schemas.protobuf import indexes as protobuf_indexes
from kraft.schemas.formats import InvalidSchema, ParsedSchema
from kraft.schemas.protobuf.compile import compile_schema, stub_descriptor
from kraft.schemas.protobuf.lenient import without_stub
from kraft.schemas.protobuf.options import STUB_NAME
from kraft.schemas.protobuf.render import render

# what a bug or a hostile descriptor can raise inside the libraries, answered as 42201
_LIBRARY_ERRORS = (ValueError, TypeError, KeyError, IndexError, RecursionError, UnicodeError, OSError, DecodeError)


def build_pool(files: Mapping[str, FileDescriptorProto], best_effort: bool = False) -> DescriptorPool:
    """A pool of `files`, each added after the files it imports. With `best_effort`, a file
    the pool refuses is left out (for reading options only)."""
    pool = DescriptorPool()
    added: set[str] = set()

    def add(name: str, depth: int) -> None:
        if name in added or name not in files or depth > len(files):
            return
        added.add(name)
        for dependency in files[name].dependency:
            add(dependency, depth + 1)
        try:
            pool.Add(files[name])
        except _LIBRARY_ERRORS as e:
            if not best_effort:
                raise InvalidSchema(f"the descriptor of {name!r} is invalid: {e}") from None
    for name in files:
        add(name, 0)
    return pool


@lru_cache(maxsize=1)
def _well_known_files() -> dict[str, FileDescriptorProto]:
    """google/protobuf's files as the protobuf runtime ships them."""
    modules = (any_pb2, api_pb2, descriptor_pb2, duration_pb2, empty_pb2, field_mask_pb2, source_context_pb2,
               struct_pb2, timestamp_pb2, type_pb2, wrappers_pb2)
    files = [FileDescriptorProto.FromString(m.DESCRIPTOR.serialized_pb) for m in modules]
    return {f.name: f for f in files}


def _render_decoded(file: FileDescriptorProto, decoded: Mapping[str, FileDescriptorProto]) -> str:
    """A base64-registered descriptor as text; its custom options are read with the other
    descriptors given so (their extensions may be declared there) and the well-known ones."""
    stub = {STUB_NAME: stub_descriptor()}  # options no file declared, as placeholders (protobuf/lenient.py)
    return render(file, build_pool({**_well_known_files(), **stub, **decoded}, best_effort=True))


class ProtobufSchema:
    schema_type = "PROTOBUF"

    def __init__(self, main: str, files: Mapping[str, FileDescriptorProto], references: Mapping[str, str]) -> None:
        self.main = main
        self.files = dict(files)  # the schema's file and every file it imports, by name
        self.references = dict(references)
        self.file = self.files[main]

    @cached_property
    def pool(self) -> DescriptorPool:
        return build_pool(self.files)

    @cached_property
    def _canonical(self) -> str:
        return render(self.file, self.pool)

    def canonical(self) -> str:
        return self._canonical

    def normalized(self) -> ParsedSchema:
        return PROTOBUF.parse(render(self.file, self.pool, normalize=True), self.references)

    def read_errors(self, writer: ParsedSchema) -> list[str]:
        if not isinstance(writer, ProtobufSchema):
            return [f"the schema type changed from {writer.schema_type} to {self.schema_type}"]
        return protobuf_diff.read_errors(writer._side, self._side)

    @cached_property
    def _side(self) -> protobuf_diff.Side:
        return protobuf_diff.side(self.file, self.files)

    def serialized(self) -> str:
        """The schema as a base64 FileDescriptorProto (Confluent's `format=serialized`)."""
        return base64.standard_b64encode(without_stub(self.file).SerializeToString()).decode("ascii")

    def message_names(self) -> list[str]:
        """The full names of the file's messages, nested ones after their parent."""
        names: list[str] = []

        def walk(prefix: str, messages: Iterable[DescriptorProto]) -> None:
            for message in messages:
                if not message.options.map_entry:
                    names.append(f"{prefix}{message.name}")
                    walk(f"{prefix}{message.name}.", message.nested_type)
        walk(f"{self.file.package}." if self.file.package else "", self.file.message_type)
        return names

    def message_class(self, full_name: str) -> type[Message]:
        """The generated class of the message `full_name` (without a leading dot)."""
        try:
            return GetMessageClass(self.pool.FindMessageTypeByName(full_name.lstrip(".")))
        except KeyError:
            raise InvalidSchema(f"no message {full_name!r} in the schema") from None

    def message_name(self, indexes: list[int]) -> str:
        return protobuf_indexes.message_name(self.file, indexes)

    def message_indexes(self, full_name: str) -> list[int]:
        return protobuf_indexes.message_indexes(self.file, full_name)

    def __repr__(self) -> str:
        return f"ProtobufSchema({self.canonical()!r})"


class _ProtobufFormat:
    name = "PROTOBUF"

    def parse(self, text: str, references: Mapping[str, str]) -> ProtobufSchema:
        try:
            main, files = compile_schema(text, references, _render_decoded)
            schema = ProtobufSchema(main, files, references)
            schema.canonical()  # builds the pool: a descriptor protoc made but the runtime refuses fails here
            return schema
        except InvalidSchema:
            raise
        except _LIBRARY_ERRORS as e:
            raise InvalidSchema(f"invalid Protobuf schema: {e}") from None


PROTOBUF = _ProtobufFormat()
