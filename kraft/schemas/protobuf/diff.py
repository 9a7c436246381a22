"""Which Protobuf changes break a reader: Confluent's Protobuf compatibility rules.

Confluent compares the writer's file ("original") with the reader's ("update") and lists
typed differences at a path (`#/Message/oneof/tag`); some types are compatible (a field
added or removed, a name changed, an enum constant added, a message moved ...), the others
each make one message in its verbose style. Wire compatibility decides the scalar kinds:
int32/uint32/int64/uint64/bool (and enums) read one another, as do sint32/sint64,
fixed32/sfixed32, fixed64/sfixed64, and string/bytes; float and double stand alone.
Messages compare by name; a message field whose type comes from another file is also
compared member by member (a type of this file is compared where it is declared)."""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Mapping, Sequence

from google.protobuf.descriptor_pb2 import DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto

F = FieldDescriptorProto
COMPATIBLE = frozenset({
    "MESSAGE_ADDED", "MESSAGE_MOVED", "ENUM_ADDED", "ENUM_REMOVED", "ENUM_CONST_ADDED", "ENUM_CONST_CHANGED",
    "ENUM_CONST_REMOVED", "FIELD_ADDED", "FIELD_REMOVED", "FIELD_NAME_CHANGED", "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
    "ONEOF_ADDED", "ONEOF_REMOVED", "ONEOF_FIELD_ADDED", "ONEOF_FIELD_MOVED_TO_TOP_LEVEL"})
# Confluent's wording; the first %s is the reader's schema, the second the writer's
DESCRIPTIONS = {
    "PACKAGE_CHANGED": "The package at '{path}' in the {r} schema does not match the package in the {w} schema",
    "MESSAGE_REMOVED": "The {r} schema is missing a MESSAGE type at path '{path}' in the {w} schema",
    "FIELD_KIND_CHANGED": "The type of a field at path '{path}' in the {r} schema does not match the {w} schema",
    "FIELD_SCALAR_KIND_CHANGED": "The kind of a SCALAR field at path '{path}' in the {r} schema does not match "
                                 "its kind in the {w} schema",
    "FIELD_NAMED_TYPE_CHANGED": "The type of a MESSAGE field at path '{path}' in the {r} schema does not match "
                                "its type in the {w} schema",
    "FIELD_NUMERIC_LABEL_CHANGED": "The label for a NUMERIC field at path '{path}' in the {r} schema does not "
                                   "match its label in the {w} schema",
    "REQUIRED_FIELD_ADDED": "A required field  at path '{path}' in the {r} schema is missing in the {w} schema",
    "REQUIRED_FIELD_REMOVED": "The {r} schema is missing a required field at path: '{path}' in the {w} schema",
    "ONEOF_FIELD_REMOVED": "The {r} schema is missing a oneof field at path '{path}' in the {w} schema",
    "MULTIPLE_FIELDS_MOVED_TO_ONEOF": "Multiple fields in the oneof at path '{path}' in the {r} schema are "
                                      "outside a oneof in the {w} schema",
    "FIELD_MOVED_TO_EXISTING_ONEOF": "A field in the oneof at path '{path}' in the {r} schema is outside an "
                                     "existing oneof in the {w} schema",
}
SCALAR_KINDS = {
    F.TYPE_INT32: "GENERAL_NUMBER", F.TYPE_INT64: "GENERAL_NUMBER", F.TYPE_UINT32: "GENERAL_NUMBER",
    F.TYPE_UINT64: "GENERAL_NUMBER", F.TYPE_BOOL: "GENERAL_NUMBER", F.TYPE_ENUM: "GENERAL_NUMBER",
    F.TYPE_SINT32: "SIGNED_NUMBER", F.TYPE_SINT64: "SIGNED_NUMBER",
    F.TYPE_STRING: "STRING_OR_BYTES", F.TYPE_BYTES: "STRING_OR_BYTES",
    F.TYPE_FIXED32: "FIXED32", F.TYPE_SFIXED32: "FIXED32", F.TYPE_FIXED64: "FIXED64", F.TYPE_SFIXED64: "FIXED64",
    F.TYPE_FLOAT: "FLOAT", F.TYPE_DOUBLE: "DOUBLE"}


@dataclass(frozen=True)
class Side:
    """One schema: its file, and every message of it and its imports by full name (with
    the file declaring it, and its syntax)."""
    file: FileDescriptorProto
    messages: Mapping[str, tuple[DescriptorProto, FileDescriptorProto]]


def side(main: FileDescriptorProto, files: Mapping[str, FileDescriptorProto]) -> Side:
    messages: dict[str, tuple[DescriptorProto, FileDescriptorProto]] = {}

    def walk(prefix: str, found: Sequence[DescriptorProto], file: FileDescriptorProto) -> None:
        for message in found:
            name = f"{prefix}.{message.name}"
            messages[name] = (message, file)
            walk(name, message.nested_type, file)
    for file in [*(f for f in files.values() if f.name != main.name), main]:
        walk(f".{file.package}" if file.package else "", file.message_type, file)
    return Side(main, messages)


@dataclass
class _Diff:
    writer: Side
    reader: Side
    path: list[str] = dataclass_field(default_factory=list)
    found: list[tuple[str, str]] = dataclass_field(default_factory=list)
    visiting: set[str] = dataclass_field(default_factory=set)  # messages compared on this path (recursion)
    syntax: tuple[str, str] = ("", "")  # of the files declaring the messages compared

    def add(self, kind: str, *extra: str) -> None:
        self.found.append((kind, "#/" + "/".join([*self.path, *extra])))

    def types(self, prefix: str, writer: Sequence[DescriptorProto], reader: Sequence[DescriptorProto],
              writer_enums: Sequence[EnumDescriptorProto], reader_enums: Sequence[EnumDescriptorProto]) -> None:
        old = {m.name: (i, m) for i, m in enumerate(m for m in writer if not m.options.map_entry)}
        new = {m.name: (i, m) for i, m in enumerate(m for m in reader if not m.options.map_entry)}
        for name in [*old, *(n for n in new if n not in old)]:
            self.path.append(name)
            if name not in new:
                self.add("MESSAGE_REMOVED")
            elif name not in old:
                self.add("MESSAGE_ADDED")
            else:
                self.message(f"{prefix}.{name}", old[name][1], new[name][1])
                if old[name][0] != new[name][0]:
                    self.add("MESSAGE_MOVED")
            self.path.pop()
        old_enums, new_enums = {e.name for e in writer_enums}, {e.name for e in reader_enums}
        for name in sorted(old_enums ^ new_enums):  # constants' changes are all compatible
            self.add("ENUM_REMOVED" if name in old_enums else "ENUM_ADDED", name)

    def message(self, name: str, writer: DescriptorProto, reader: DescriptorProto) -> None:
        if name in self.visiting:
            return
        self.visiting.add(name)
        self.fields(writer, reader)
        self.types(name, writer.nested_type, reader.nested_type, writer.enum_type, reader.enum_type)

    def fields(self, writer: DescriptorProto, reader: DescriptorProto) -> None:
        old, old_oneof = _fields(writer)
        new, new_oneof = _fields(reader)
        gone_oneofs = {o for o in set(old_oneof.values()) - set(new_oneof.values())
                       if not any(tag in new for tag, of in old_oneof.items() if of == o)}
        for oneof in dict.fromkeys(new_oneof.values()):
            origins = {f"oneof:{old_oneof[t]}" if t in old_oneof else f"field:{t}"
                       for t, o in new_oneof.items() if o == oneof and t in old}
            moved_in = sum(1 for t, o in new_oneof.items() if o == oneof and t in old and t not in old_oneof)
            if len(origins) > 1:
                self.add("MULTIPLE_FIELDS_MOVED_TO_ONEOF" if moved_in > 1 else "FIELD_MOVED_TO_EXISTING_ONEOF", oneof)
        for oneof in sorted(set(old_oneof.values()) ^ set(new_oneof.values())):
            self.add("ONEOF_REMOVED" if oneof in old_oneof.values() else "ONEOF_ADDED", oneof)
        for tag in sorted(old.keys() | new.keys()):
            self.field(tag, old.get(tag), new.get(tag), old_oneof.get(tag), new_oneof.get(tag), gone_oneofs)

    def field(self, tag: int, writer: FieldDescriptorProto | None, reader: FieldDescriptorProto | None,
              writer_oneof: str | None, reader_oneof: str | None, gone_oneofs: set[str]) -> None:
        if reader is None:
            assert writer is not None
            if writer_oneof is not None:
                if writer_oneof not in gone_oneofs:
                    self.add("ONEOF_FIELD_REMOVED", writer_oneof, str(tag))
            else:
                self.add("REQUIRED_FIELD_REMOVED" if writer.label == F.LABEL_REQUIRED else "FIELD_REMOVED", str(tag))
            return
        if writer is None:
            if reader_oneof is not None:
                self.add("ONEOF_FIELD_ADDED", reader_oneof, str(tag))
            else:
                self.add("REQUIRED_FIELD_ADDED" if reader.label == F.LABEL_REQUIRED else "FIELD_ADDED", str(tag))
            return
        if writer_oneof is not None and reader_oneof is None:
            self.add("ONEOF_FIELD_MOVED_TO_TOP_LEVEL", str(tag))
        where = [reader_oneof, str(tag)] if reader_oneof is not None else [str(tag)]
        self.path.extend(where)
        if writer.name != reader.name:
            self.add("FIELD_NAME_CHANGED")
        self.types_of(writer, reader, _label(writer, writer_oneof, self.syntax[0]),
                      _label(reader, reader_oneof, self.syntax[1]))
        del self.path[-len(where):]

    def types_of(self, writer: FieldDescriptorProto, reader: FieldDescriptorProto,
                 writer_label: str | None, reader_label: str | None) -> None:
        old_map, new_map = _map_entry(writer, self.writer), _map_entry(reader, self.reader)
        old_kind, new_kind = _kind(writer, old_map), _kind(reader, new_map)
        if old_kind != new_kind:
            self.add("FIELD_KIND_CHANGED")
        elif old_kind == "MAP":
            assert old_map is not None and new_map is not None
            for old_part, new_part in zip(old_map.field, new_map.field):
                self.types_of(old_part, new_part, None, None)
        elif old_kind == "SCALAR":
            if SCALAR_KINDS[writer.type] != SCALAR_KINDS[reader.type]:
                self.add("FIELD_SCALAR_KIND_CHANGED")
            elif writer_label is not None and reader_label is not None and writer_label != reader_label:
                self.add("FIELD_STRING_OR_BYTES_LABEL_CHANGED" if SCALAR_KINDS[writer.type] == "STRING_OR_BYTES"
                         else "FIELD_NUMERIC_LABEL_CHANGED")
        else:
            self.message_types(writer.type_name, reader.type_name)

    def message_types(self, writer_type: str, reader_type: str) -> None:
        old, new = self.writer.messages.get(writer_type), self.reader.messages.get(reader_type)
        if old is None or new is None:
            if writer_type != reader_type:
                self.add("FIELD_NAMED_TYPE_CHANGED")
            return
        (old_message, old_file), (new_message, new_file) = old, new
        if _local(writer_type, old_file) != _local(reader_type, new_file):
            self.add("FIELD_NAMED_TYPE_CHANGED")
            return
        if old_file is self.writer.file and new_file is self.reader.file:
            return  # compared where it is declared
        if old_file.name == new_file.name and old_file == new_file:
            return  # one reference, unchanged
        # a copy: each field of that type is compared (and reported), a recursion only once
        sub = _Diff(self.writer, self.reader, list(self.path), [], set(self.visiting),
                    (old_file.syntax, new_file.syntax))
        sub.message(reader_type, old_message, new_message)
        self.found += sub.found
        if any(kind not in COMPATIBLE for kind, _ in sub.found):
            self.add("FIELD_NAMED_TYPE_CHANGED")


def _fields(message: DescriptorProto) -> tuple[dict[int, FieldDescriptorProto], dict[int, str]]:
    """The fields by number, and the (declared) oneof of each field in one."""
    by_tag = {f.number: f for f in message.field}
    oneof_of = {f.number: message.oneof_decl[f.oneof_index].name for f in message.field
                if f.HasField("oneof_index") and not f.proto3_optional}
    return by_tag, oneof_of


def _label(field: FieldDescriptorProto, oneof: str | None, syntax: str) -> str | None:
    """The label as the .proto spells it: none for proto3's plain fields and oneof members."""
    if oneof is not None:
        return None
    if field.label == F.LABEL_REPEATED:
        return "REPEATED"
    if field.label == F.LABEL_REQUIRED:
        return "REQUIRED"
    if syntax in ("", "proto2") or field.proto3_optional:
        return "OPTIONAL"
    return None


def _map_entry(field: FieldDescriptorProto, where: Side) -> DescriptorProto | None:
    found = where.messages.get(field.type_name) if field.type == F.TYPE_MESSAGE else None
    return found[0] if found is not None and found[0].options.map_entry else None


def _kind(field: FieldDescriptorProto, map_entry: DescriptorProto | None) -> str:
    if field.type in SCALAR_KINDS:
        return "SCALAR"
    return "MAP" if map_entry is not None else "MESSAGE"


def _local(full_name: str, file: FileDescriptorProto) -> str:
    prefix = f".{file.package}." if file.package else "."
    return full_name[len(prefix):] if full_name.startswith(prefix) else full_name


def differences(writer: Side, reader: Side) -> list[tuple[str, str]]:
    """Every difference (type, path) from the writer's file to the reader's."""
    diff = _Diff(writer, reader, syntax=(writer.file.syntax, reader.file.syntax))
    if writer.file.package != reader.file.package:
        diff.add("PACKAGE_CHANGED")
    prefix = f".{reader.file.package}" if reader.file.package else ""
    diff.types(prefix, writer.file.message_type, reader.file.message_type,
               writer.file.enum_type, reader.file.enum_type)
    return diff.found


def read_errors(writer: Side, reader: Side, reader_word: str = "reader", writer_word: str = "writer") -> list[str]:
    """One message per incompatible difference, in Confluent's verbose form."""
    return ['{errorType:"%s", description:"%s"}' % (kind, DESCRIPTIONS[kind].format(path=path, r=reader_word,
                                                                                       w=writer_word))
            for kind, path in differences(writer, reader) if kind not in COMPATIBLE]
