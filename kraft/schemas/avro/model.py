"""An Avro schema as a tree of typed nodes, built from its JSON by Apache Avro's (Java)
parsing rules, which Confluent's registry applies: names resolved against the enclosing
namespace (falling back to the null namespace, as Java does), one definition per full
name, unions without nested unions or two branches of one type, and every attribute's
JSON kind checked so that hostile input is refused with a message, never a KeyError.

Named types are shared nodes: a reference by name is the defining node itself, so a
recursive type is a cycle. Field defaults are checked by avro/defaults.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Union

from kraft.schemas.formats import InvalidSchema

PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
# Java Avro's Schema.Type names: a short name equal to one of them is written in full
TYPE_NAMES = frozenset(PRIMITIVES + ("record", "enum", "array", "map", "union", "fixed"))
# attributes that are not a schema's own properties (Java's SCHEMA_RESERVED, ENUM_RESERVED)
SCHEMA_RESERVED = frozenset(("doc", "fields", "items", "name", "namespace", "size", "symbols",
                             "values", "type", "aliases"))
ENUM_RESERVED = SCHEMA_RESERVED | {"default"}
FIELD_RESERVED = frozenset(("default", "doc", "name", "order", "type", "aliases"))
ORDERS = ("ascending", "descending", "ignore")

Props = dict[str, object]


@dataclass(eq=False)
class Primitive:
    kind: str
    props: Props = field(default_factory=dict)


@dataclass(eq=False)
class ArrayOf:
    items: "AvroType"
    props: Props = field(default_factory=dict)
    kind: str = "array"


@dataclass(eq=False)
class MapOf:
    values: "AvroType"
    props: Props = field(default_factory=dict)
    kind: str = "map"


@dataclass(eq=False)
class UnionOf:
    branches: list["AvroType"]
    kind: str = "union"


@dataclass(eq=False)
class Named:
    """A record ("record" or "error"), enum or fixed: what the three share."""
    kind: str
    fullname: str
    doc: str | None
    aliases: list[str]  # full names
    props: Props

    @property
    def name(self) -> str:
        return self.fullname.rpartition(".")[2]

    @property
    def namespace(self) -> str | None:
        return self.fullname.rpartition(".")[0] or None


@dataclass(eq=False)
class Field:
    name: str
    type: "AvroType"
    doc: str | None
    has_default: bool
    default: object
    order: str
    aliases: list[str]
    props: Props


@dataclass(eq=False)
class Record(Named):
    fields: list[Field] = field(default_factory=list)
    by_name: dict[str, Field] = field(default_factory=dict)

    def add(self, f: Field) -> None:
        if f.name in self.by_name:
            raise InvalidSchema(f'the record "{self.fullname}" has two fields named "{f.name}"')
        self.fields.append(f)
        self.by_name[f.name] = f

    def field_named(self, name: str) -> Field | None:
        return self.by_name.get(name)


@dataclass(eq=False)
class Enum(Named):
    symbols: list[str] = field(default_factory=list)
    default: str | None = None


@dataclass(eq=False)
class Fixed(Named):
    size: int = 0


AvroType = Union[Primitive, ArrayOf, MapOf, UnionOf, Named]  # Named: a Record, Enum or Fixed


def type_key(t: AvroType) -> str:
    """What a union may hold only once: a named type's full name, else the type's kind."""
    return t.fullname if isinstance(t, Named) else t.kind


def short_json(value: object, limit: int = 120) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class Builder:
    """Builds schemas into one table of named types, so that a schema can use by name
    the types that the schemas before it (its references) defined."""

    def __init__(self) -> None:
        self.names: dict[str, Named] = {}

    def build(self, node: object, namespace: str | None = None) -> AvroType:
        if isinstance(node, str):
            return Primitive(node) if node in PRIMITIVES else self.lookup(node, namespace)
        if isinstance(node, list):
            return self._union(node, namespace)
        if not isinstance(node, dict):
            raise InvalidSchema(f"not an Avro schema: {short_json(node)} (a type name, an object or a union array)")
        kind = node.get("type")
        if not isinstance(kind, str):
            raise InvalidSchema(f'no "type" (a string) in {short_json(node)}')
        if kind in PRIMITIVES:
            return Primitive(kind, _props(node, SCHEMA_RESERVED))
        if kind in ("record", "error"):
            return self._record(node, kind, namespace)
        if kind == "enum":
            return self._enum(node, namespace)
        if kind == "fixed":
            return self._fixed(node, namespace)
        if kind == "array":
            return ArrayOf(self.build(_required(node, "items", "an array"), namespace), _props(node, SCHEMA_RESERVED))
        if kind == "map":
            return MapOf(self.build(_required(node, "values", "a map"), namespace), _props(node, SCHEMA_RESERVED))
        raise InvalidSchema(f'unknown type "{kind}": a "type" is a primitive type or one of "record", "error", '
                            '"enum", "fixed", "array" or "map" (a named type is used by its name alone)')

    def lookup(self, name: str, namespace: str | None) -> Named:
        candidates = [name] if "." in name else ([f"{namespace}.{name}"] if namespace else []) + [name]
        for candidate in candidates:
            if candidate in self.names:
                return self.names[candidate]
        raise InvalidSchema(f'unknown type "{name}": not a primitive type nor a name defined before '
                            f'(in this schema or the schemas it references)')

    def _define(self, named: Named) -> None:
        if named.fullname in self.names:
            raise InvalidSchema(f'the name "{named.fullname}" is defined twice')
        self.names[named.fullname] = named

    def _union(self, node: list[object], namespace: str | None) -> UnionOf:
        branches: list[AvroType] = []
        seen: set[str] = set()
        for item in node:
            if isinstance(item, list):
                raise InvalidSchema("a union may not hold a union directly")
            branch = self.build(item, namespace)
            key = type_key(branch)
            if key in seen:
                raise InvalidSchema(f"a union holds {key} twice")
            seen.add(key)
            branches.append(branch)
        return UnionOf(branches)

    def _record(self, node: dict[str, object], kind: str, namespace: str | None) -> Record:
        fullname = _fullname(node, namespace)
        raw_fields = node.get("fields")
        if not isinstance(raw_fields, list):
            raise InvalidSchema(f'the record "{fullname}" has no "fields" array')
        record = Record(kind, fullname, _doc(node), _aliases(node, fullname), _props(node, SCHEMA_RESERVED))
        self._define(record)  # before its fields: a field may refer to its own record
        space = record.namespace
        for raw in raw_fields:
            record.add(self._field(raw, space, fullname))
        return record

    def _field(self, raw: object, namespace: str | None, record: str) -> Field:
        if not isinstance(raw, dict):
            raise InvalidSchema(f'a field of "{record}" is not an object: {short_json(raw)}')
        name = raw.get("name")
        if not isinstance(name, str) or not valid_name(name):
            raise InvalidSchema(f'a field of "{record}" has no valid "name" (letters, digits and _, '
                                f'not starting with a digit): {short_json(name)}')
        if "type" not in raw:
            raise InvalidSchema(f'the field "{name}" of "{record}" has no "type"')
        order = raw.get("order", "ascending")
        if not isinstance(order, str) or order.lower() not in ORDERS:
            raise InvalidSchema(f'the field "{name}" has an invalid "order" {short_json(order)} '
                                '(ascending, descending or ignore)')
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidSchema(f'the "aliases" of the field "{name}" are not an array of names')
        return Field(name, self.build(raw["type"], namespace), _doc(raw), "default" in raw, raw.get("default"),
                     order.lower(), list(aliases), _props(raw, FIELD_RESERVED))

    def _enum(self, node: dict[str, object], namespace: str | None) -> Enum:
        fullname = _fullname(node, namespace)
        symbols = node.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise InvalidSchema(f'the enum "{fullname}" has no "symbols" array of strings')
        for symbol in symbols:
            if not valid_name(symbol):
                raise InvalidSchema(f'the enum "{fullname}" has an invalid symbol "{symbol}"')
        if len(set(symbols)) != len(symbols):
            raise InvalidSchema(f'the enum "{fullname}" has a symbol twice')
        default = node.get("default")
        default = default if isinstance(default, str) else None  # Java Avro ignores one that is not text
        if default is not None and default not in symbols:
            raise InvalidSchema(f'the default {short_json(default)} of the enum "{fullname}" is not one of its symbols')
        enum = Enum("enum", fullname, _doc(node), _aliases(node, fullname), _props(node, ENUM_RESERVED),
                    list(symbols), default)
        self._define(enum)
        return enum

    def _fixed(self, node: dict[str, object], namespace: str | None) -> Fixed:
        fullname = _fullname(node, namespace)
        size = node.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**31:
            raise InvalidSchema(f'the fixed "{fullname}" has no valid "size" (a non-negative integer)')
        fixed = Fixed("fixed", fullname, _doc(node), _aliases(node, fullname), _props(node, SCHEMA_RESERVED), size)
        self._define(fixed)
        return fixed


def _required(node: dict[str, object], key: str, what: str) -> object:
    if key not in node:
        raise InvalidSchema(f'{what} needs "{key}"')
    return node[key]


def _props(node: dict[str, object], reserved: frozenset[str]) -> Props:
    return {k: v for k, v in node.items() if k not in reserved}


def _doc(node: dict[str, object]) -> str | None:
    doc = node.get("doc")
    return doc if isinstance(doc, str) else None  # Java Avro ignores a doc that is not text


def _fullname(node: dict[str, object], namespace: str | None) -> str:
    name = node.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidSchema(f'a {node.get("type")} needs a "name" (a string): {short_json(node)}')
    space = node.get("namespace")
    if not isinstance(space, str):  # absent, or not text (which Java Avro ignores): the enclosing one
        space = namespace
    fullname = name if "." in name else (f"{space}.{name}" if space else name)
    space, _, short = fullname.rpartition(".")
    if not valid_name(short):
        raise InvalidSchema(f'"{fullname}" is not a valid name (letters, digits and _, not starting with a digit)')
    if space and not all(valid_name(part) for part in space.split(".")):  # as Java Avro 1.11's parser
        raise InvalidSchema(f'"{space}" is not a valid namespace (dotted names of letters, digits and _)')
    if fullname in PRIMITIVES:
        raise InvalidSchema(f'"{fullname}" is a primitive type: it cannot name a {node.get("type")}')
    return fullname


def valid_name(name: str) -> bool:
    """Java Avro's name rule: a letter or _, then letters, digits or _ (any script's)."""
    return bool(name) and (name[0].isalpha() or name[0] == "_") and \
        all(c.isalpha() or c.isdecimal() or c == "_" for c in name[1:])


def _aliases(node: dict[str, object], fullname: str) -> list[str]:
    aliases = node.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise InvalidSchema(f'the "aliases" of "{fullname}" are not an array of names')
    space = fullname.rpartition(".")[0]
    return [a if "." in a or not space else f"{space}.{a}" for a in aliases]
