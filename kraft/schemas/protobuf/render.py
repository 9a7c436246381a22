"""A FileDescriptorProto as .proto text: the schema text the registry stores (Confluent's
ProtobufSchema.canonicalString() re-renders its parsed file the same way), so whitespace,
comments and the spelling of type names do not make two schemas of one.

Type names are written fully qualified (`.pkg.Msg`), as the descriptor holds them, so the
text means the same wherever it is read. Messages keep their order (a record's message
indexes count it); with `normalize` (Confluent's normalize=true) fields, oneofs, enum
values, imports and options are put in a stable order, as Confluent's normalizer does."""

from __future__ import annotations

from itertools import groupby
from typing import Iterable, Sequence

from google.protobuf.descriptor_pb2 import (DescriptorProto, EnumDescriptorProto, FieldDescriptorProto,
                                            FileDescriptorProto, ServiceDescriptorProto)
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import Message

from kraft.schemas.formats import InvalidSchema
from kraft.schemas.protobuf.options import STUB_NAME, default_literal, ident, option_items, quote, type_name

F = FieldDescriptorProto
SCALARS = {F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64", F.TYPE_UINT64: "uint64",
           F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64", F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool",
           F.TYPE_STRING: "string", F.TYPE_BYTES: "bytes", F.TYPE_UINT32: "uint32", F.TYPE_SFIXED32: "sfixed32",
           F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32", F.TYPE_SINT64: "sint64"}
INDENT = "  "


def default_json_name(name: str) -> str:
    """protoc's JSON name for a field: underscores dropped, the letter after one upper-cased."""
    out, upper = [], False
    for char in name:
        if char == "_":
            upper = True
        else:
            out.append(char.upper() if upper else char)
            upper = False
    return "".join(out)


class _Renderer:
    def __init__(self, file: FileDescriptorProto, pool: DescriptorPool, normalize: bool) -> None:
        self.file = file
        self.pool = pool
        self.normalize = normalize
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def options(self, options: Message, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        items = option_items(options, self.pool, skip)
        return sorted(items) if self.normalize else items

    def option_lines(self, depth: int, options: Message, skip: tuple[str, ...] = ()) -> None:
        for name, value in self.options(options, skip):
            self.emit(depth, f"option {name} = {value};")

    def bracket(self, pairs: list[tuple[str, str]]) -> str:
        return " [" + ", ".join(f"{n} = {v}" for n, v in pairs) + "]" if pairs else ""

    def file_text(self) -> str:
        f = self.file
        if f.syntax == "editions":
            self.emit(0, f'edition = "{_edition_name(f.edition)}";')
        else:
            self.emit(0, f'syntax = "{f.syntax or "proto2"}";')
        if f.package:
            self.emit(0, f"package {type_name(f.package)};")
        imports = [(("public " if i in f.public_dependency else "weak " if i in f.weak_dependency else ""), d)
                   for i, d in enumerate(f.dependency) if d != STUB_NAME]
        for kind, dependency in sorted(imports, key=lambda x: (x[1], x[0])) if self.normalize else imports:
            self.emit(0, f"import {kind}{quote(dependency)};")
        self.option_lines(0, f.options)
        for message in f.message_type:
            self.message(0, message)
        for enum in f.enum_type:
            self.enum(0, enum)
        self.extends(0, f.extension, f.message_type)
        for service in f.service:
            self.service(service)
        return "\n".join(self.lines) + "\n"

    def label(self, field: FieldDescriptorProto, in_oneof: bool) -> str:
        if in_oneof:
            return ""
        if field.label == F.LABEL_REPEATED:
            return "repeated "
        if field.label == F.LABEL_REQUIRED:
            return "required "
        if self.file.syntax == "proto3":
            return "optional " if field.proto3_optional else ""
        return "" if self.file.syntax == "editions" else "optional "

    def field_type(self, field: FieldDescriptorProto) -> str:
        if field.type in SCALARS:
            return SCALARS[field.type]
        return type_name(field.type_name)

    def field(self, depth: int, field: FieldDescriptorProto, scope: Sequence[DescriptorProto],
              in_oneof: bool = False) -> None:
        nested = _nested_type(field, scope)
        if field.type == F.TYPE_GROUP and nested is not None:
            self.emit(depth, f"{self.label(field, in_oneof)}group {ident(nested.name)} = {field.number}"
                             f"{self.bracket(self.options(field.options))} {{")
            self.body(depth + 1, nested)
            self.emit(depth, "}")
            return
        extras = []
        if field.HasField("default_value"):
            extras.append(("default", default_literal(field.type, field.default_value)))
        if field.HasField("json_name") and field.json_name != default_json_name(field.name):
            extras.append(("json_name", quote(field.json_name)))
        pairs = extras + self.options(field.options)
        if nested is not None and nested.options.map_entry and len(nested.field) == 2:
            key, value = nested.field
            head = f"map<{self.field_type(key)}, {self.field_type(value)}>"
        else:
            head = self.label(field, in_oneof) + self.field_type(field)
        self.emit(depth, f"{head} {ident(field.name)} = {field.number}{self.bracket(pairs)};")

    def message(self, depth: int, message: DescriptorProto) -> None:
        self.emit(depth, f"message {ident(message.name)} {{")
        start = len(self.lines)
        self.body(depth + 1, message)
        if len(self.lines) == start:
            self.lines[-1] += "}"
        else:
            self.emit(depth, "}")

    def body(self, depth: int, message: DescriptorProto) -> None:
        self.option_lines(depth, message.options, skip=("map_entry",))
        nested = _NestedOrder(self, depth, message)
        real_oneofs = _real_oneofs(message)
        plain = [f for f in message.field if not (f.HasField("oneof_index") and f.oneof_index in real_oneofs)]
        for field in sorted(plain, key=lambda f: f.number) if self.normalize else plain:
            nested.before(field)
            self.field(depth, field, message.nested_type)
        oneofs = [(i, [f for f in message.field if f.HasField("oneof_index") and f.oneof_index == i])
                  for i in sorted(real_oneofs)]
        if self.normalize:
            oneofs = sorted(((i, sorted(fs, key=lambda f: f.number)) for i, fs in oneofs if fs),
                            key=lambda pair: pair[1][0].number)
        for index, fields in oneofs:
            for field in fields:
                nested.before(field)
            self.emit(depth, f"oneof {ident(message.oneof_decl[index].name)} {{")
            self.option_lines(depth + 1, message.oneof_decl[index].options)
            for field in fields:
                self.field(depth + 1, field, message.nested_type, in_oneof=True)
            self.emit(depth, "}")
        self.ranges(depth, "reserved", [(r.start, r.end - 1) for r in message.reserved_range],
                    message.reserved_name)
        plain_ranges = [r for r in message.extension_range if not self.options(r.options)]
        self.ranges(depth, "extensions", [(r.start, r.end - 1) for r in plain_ranges], [])
        for span in (r for r in message.extension_range if r not in plain_ranges):
            self.emit(depth, f"extensions {span.start} to {span.end - 1}{self.bracket(self.options(span.options))};")
        self.extends(depth, message.extension, message.nested_type)
        nested.rest()
        for enum in message.enum_type:
            self.enum(depth, enum)

    def ranges(self, depth: int, keyword: str, ranges: Iterable[tuple[int, int]], names: Sequence[str]) -> None:
        spans = sorted(ranges) if self.normalize else list(ranges)
        if spans:
            self.emit(depth, f"{keyword} " + ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in spans) + ";")
        if names:
            written = [ident(n) if self.file.syntax == "editions" else quote(ident(n))
                       for n in (sorted(names) if self.normalize else names)]
            self.emit(depth, f"{keyword} " + ", ".join(written) + ";")

    def extends(self, depth: int, fields: Sequence[FieldDescriptorProto], scope: Sequence[DescriptorProto]) -> None:
        for extendee, group in groupby(fields, key=lambda f: f.extendee):
            self.emit(depth, f"extend {type_name(extendee)} {{")
            members = list(group)
            for field in sorted(members, key=lambda f: f.number) if self.normalize else members:
                self.field(depth + 1, field, scope)
            self.emit(depth, "}")

    def enum(self, depth: int, enum: EnumDescriptorProto) -> None:
        self.emit(depth, f"enum {ident(enum.name)} {{")
        self.option_lines(depth + 1, enum.options)
        values = sorted(enum.value, key=lambda v: v.number) if self.normalize else list(enum.value)
        for value in values:
            self.emit(depth + 1, f"{ident(value.name)} = {value.number}{self.bracket(self.options(value.options))};")
        self.ranges(depth + 1, "reserved", [(r.start, r.end) for r in enum.reserved_range], enum.reserved_name)
        self.emit(depth, "}")

    def service(self, service: ServiceDescriptorProto) -> None:
        self.emit(0, f"service {ident(service.name)} {{")
        self.option_lines(1, service.options)
        for method in service.method:
            head = (f"rpc {ident(method.name)}({'stream ' if method.client_streaming else ''}"
                    f"{type_name(method.input_type)}) returns ({'stream ' if method.server_streaming else ''}"
                    f"{type_name(method.output_type)})")
            options = self.options(method.options)
            if not options:
                self.emit(1, head + ";")
                continue
            self.emit(1, head + " {")
            for name, value in options:
                self.emit(2, f"option {name} = {value};")
            self.emit(1, "}")
        self.emit(0, "}")


def _edition_name(edition: int) -> str:
    """EDITION_2023 -> "2023", as `edition = "2023";` spells it."""
    editions = FileDescriptorProto.DESCRIPTOR.fields_by_name["edition"].enum_type
    assert editions is not None
    known = editions.values_by_number.get(edition)
    if known is None or not known.name.removeprefix("EDITION_").isdigit():
        raise InvalidSchema(f"unknown edition {edition}")
    return known.name.removeprefix("EDITION_")


class _NestedOrder:
    """Writes a message's nested messages so that compiling the text gives them back in
    their order: protoc adds a map field's entry type (and a group's body) to the nested
    types where the field is, and a record's message indexes count that order."""

    def __init__(self, renderer: _Renderer, depth: int, message: DescriptorProto) -> None:
        self.renderer, self.depth, self.message = renderer, depth, message
        self.written = 0  # nested types before this one are written (or inlined)

    def before(self, field: FieldDescriptorProto) -> None:
        """Write the nested messages declared before `field`'s own (if it has one)."""
        inline = _nested_type(field, self.message.nested_type)
        if inline is not None:
            self.upto(list(self.message.nested_type).index(inline))
            self.written = max(self.written, list(self.message.nested_type).index(inline) + 1)

    def upto(self, end: int) -> None:
        for nested in self.message.nested_type[self.written:end]:
            if not _is_inline(nested, self.message):
                self.renderer.message(self.depth, nested)
        self.written = max(self.written, end)

    def rest(self) -> None:
        self.upto(len(self.message.nested_type))


def _is_inline(nested: DescriptorProto, message: DescriptorProto) -> bool:
    """A map entry, or a group's body: written with its field, not as a message."""
    return nested.options.map_entry or any(
        f.type == F.TYPE_GROUP and f.type_name.rpartition(".")[2] == nested.name for f in message.field)


def _real_oneofs(message: DescriptorProto) -> set[int]:
    """The oneofs a .proto declares (not proto3's synthetic one of an `optional` field)."""
    synthetic = {f.oneof_index for f in message.field if f.proto3_optional and f.HasField("oneof_index")}
    return set(range(len(message.oneof_decl))) - synthetic


def _nested_type(field: FieldDescriptorProto, scope: Sequence[DescriptorProto]) -> DescriptorProto | None:
    """The type declared in `scope` a map field's entry or a group field's body is."""
    if field.type not in (F.TYPE_MESSAGE, F.TYPE_GROUP):
        return None
    short = field.type_name.rpartition(".")[2]
    for nested in scope:
        if nested.name == short and (nested.options.map_entry or field.type == F.TYPE_GROUP):
            return nested
    return None


def render(file: FileDescriptorProto, pool: DescriptorPool, normalize: bool = False) -> str:
    """The .proto text of `file`; `pool` knows the extensions its custom options use."""
    return _Renderer(file, pool, normalize).file_text()
