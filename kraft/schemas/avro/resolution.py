"""Can a reader with one Avro schema read what another wrote? The Avro specification's
"Schema Resolution" rules, as Java Avro's SchemaCompatibility applies them for
Confluent's registry:

- the same primitive reads itself; int is promoted to long, float and double, long to
  float and double, float to double; string and bytes read each other;
- arrays by their items, maps by their values;
- records, enums and fixed by name (the unqualified name, or a reader alias naming the
  writer's full name); a record's fields by name or a reader field's alias; a reader
  field the writer lacks needs a default;
- an enum reader lacking some writer symbols needs its own enum default;
- fixed of one size;
- a writer union: every branch must be readable; a reader union: some branch must read
  the writer's type.

Each incompatibility is one message in Confluent's verbose shape, naming its type
(TYPE_MISMATCH, NAME_MISMATCH, FIXED_SIZE_MISMATCH, MISSING_ENUM_SYMBOLS,
MISSING_UNION_BRANCH, READER_FIELD_MISSING_DEFAULT_VALUE) and its JSON-pointer path in
the reader schema; "the reader schema" is the one asked to read (Confluent's new schema
for BACKWARD, old for FORWARD)."""

from __future__ import annotations

from dataclasses import dataclass

from kraft.schemas.avro.model import ArrayOf, AvroType, Enum, Field, Fixed, MapOf, Named, Record, UnionOf

_PROMOTIONS = {"long": ("int",), "float": ("int", "long"), "double": ("int", "long", "float"),
               "bytes": ("string",), "string": ("bytes",)}
_DESCRIPTIONS = {
    "FIXED_SIZE_MISMATCH": "The size of FIXED type field at path '{path}' in the reader schema does not match "
                           "with the writer schema",
    "TYPE_MISMATCH": "The type (path '{path}') of a field in the reader schema does not match with the writer schema",
    "NAME_MISMATCH": "The name of the schema has changed (path '{path}')",
    "MISSING_ENUM_SYMBOLS": "The reader schema is missing enum symbols '{info}' at path '{path}' in the writer schema",
    "MISSING_UNION_BRANCH": "The reader schema is missing a type inside a union field at path '{path}' in the "
                            "writer schema",
    "READER_FIELD_MISSING_DEFAULT_VALUE": "The field '{info}' at path '{path}' in the reader schema has no default "
                                          "value and is missing in the writer schema",
}


@dataclass(frozen=True)
class Incompatibility:
    error_type: str
    path: str
    info: str

    def message(self) -> str:
        description = _DESCRIPTIONS[self.error_type].format(path=self.path, info=self.info)
        return f"{{errorType:'{self.error_type}', description:'{description}', additionalInfo:'{self.info}'}}"


MAX_PAIRS = 200_000  # type pairs compared at most: hostile schemas cannot make a check run for long


class _TooLarge(Exception):
    pass


def read_errors(reader: AvroType, writer: AvroType) -> list[str]:
    try:
        found = _Checker().check(reader, writer, [])
    except _TooLarge:
        return [f"the schemas are too large to compare (more than {MAX_PAIRS} pairs of types)"]
    return list(dict.fromkeys(i.message() for i in found))  # one message per incompatibility, in order


def _type_name(t: AvroType) -> str:
    """The type as Java Avro names it in messages (an error is a RECORD)."""
    return _type_name_of_kind(t.kind)


def _same_kind(a: AvroType, b: AvroType) -> bool:
    return _type_name(a) == _type_name(b)


def _path(location: list[str]) -> str:
    return "/" + "/".join(token.replace("~", "~0").replace("/", "~1") for token in location)


class _Checker:
    def __init__(self) -> None:
        # (reader, writer) -> its incompatibilities; None while being checked (a recursive type)
        self.memo: dict[tuple[int, int], list[Incompatibility] | None] = {}
        self.indexes: dict[int, _UnionIndex] = {}

    def check(self, reader: AvroType, writer: AvroType, location: list[str]) -> list[Incompatibility]:
        pair = (id(reader), id(writer))
        if pair in self.memo:
            return self.memo[pair] or []  # in progress: compatible unless shown otherwise
        self.memo[pair] = None
        if len(self.memo) > MAX_PAIRS:
            raise _TooLarge()
        found = self._calculate(reader, writer, location)
        self.memo[pair] = found
        return found

    def _index(self, union: UnionOf) -> _UnionIndex:
        if id(union) not in self.indexes:
            self.indexes[id(union)] = _UnionIndex(union)
        return self.indexes[id(union)]

    def _calculate(self, reader: AvroType, writer: AvroType, location: list[str]) -> list[Incompatibility]:
        if _same_kind(reader, writer):
            return self._same_kinds(reader, writer, location)
        if isinstance(writer, UnionOf):
            found: list[Incompatibility] = []
            for i, branch in enumerate(writer.branches):
                found += self.check(reader, branch, location + [str(i)])
            return found
        if isinstance(reader, UnionOf):
            if any(not self.check(branch, writer, []) for branch in self._index(reader).candidates(writer)):
                return []
            return [Incompatibility("MISSING_UNION_BRANCH", _path(location),
                                    f"reader union lacking writer type: {_type_name(writer)}")]
        if writer.kind in _PROMOTIONS.get(reader.kind, ()):
            return []
        return [Incompatibility("TYPE_MISMATCH", _path(location), f"reader type: {_type_name(reader)} not compatible "
                                                                  f"with writer type: {_type_name(writer)}")]

    def _same_kinds(self, reader: AvroType, writer: AvroType, location: list[str]) -> list[Incompatibility]:
        if isinstance(reader, ArrayOf) and isinstance(writer, ArrayOf):
            return self.check(reader.items, writer.items, location + ["items"])
        if isinstance(reader, MapOf) and isinstance(writer, MapOf):
            return self.check(reader.values, writer.values, location + ["values"])
        if isinstance(reader, UnionOf) and isinstance(writer, UnionOf):
            return [Incompatibility("MISSING_UNION_BRANCH", _path(location + [str(i)]),
                                    f"reader union lacking writer type: {_type_name(branch)}")
                    for i, branch in enumerate(writer.branches) if self.check(reader, branch, [])]
        if not (isinstance(reader, Named) and isinstance(writer, Named)):
            return []  # one primitive type
        found = _names(reader, writer, location)
        if isinstance(reader, Fixed) and isinstance(writer, Fixed) and reader.size != writer.size:
            found.append(Incompatibility("FIXED_SIZE_MISMATCH", _path(location + ["size"]),
                                         f"expected: {writer.size}, found: {reader.size}"))
        if isinstance(reader, Enum) and isinstance(writer, Enum):
            found += _symbols(reader, writer, location)
        if isinstance(reader, Record) and isinstance(writer, Record):
            found += self._fields(reader, writer, location)
        return found

    def _fields(self, reader: Record, writer: Record, location: list[str]) -> list[Incompatibility]:
        found: list[Incompatibility] = []
        for position, field in enumerate(reader.fields):
            here = location + ["fields", str(position)]
            matches = _writer_fields(writer, field)
            if len(matches) > 1:
                found.append(Incompatibility("TYPE_MISMATCH", _path(here), f"reader field {field.name} matches "
                                             f"{len(matches)} fields of the writer record {writer.fullname}"))
            elif matches:
                found += self.check(field.type, matches[0].type, here + ["type"])
            elif not field.has_default:
                found.append(Incompatibility("READER_FIELD_MISSING_DEFAULT_VALUE", _path(here), field.name))
        return found


class _UnionIndex:
    """A reader union's branches by what they can read: its kind (and a named type's
    unqualified name, or an alias), so that a union of many named types is searched
    without comparing every pair."""

    def __init__(self, union: UnionOf) -> None:
        self.by_key: dict[tuple[str, str], list[tuple[int, AvroType]]] = {}
        for position, branch in enumerate(union.branches):
            keys = [(_type_name(branch), branch.name if isinstance(branch, Named) else "")]
            if isinstance(branch, Named):
                keys += [(_type_name(branch), "alias:" + alias) for alias in branch.aliases]
            for key in keys:
                self.by_key.setdefault(key, []).append((position, branch))

    def candidates(self, writer: AvroType) -> list[AvroType]:
        """The branches that may read the writer's type, in the union's order."""
        if isinstance(writer, Named):
            keys = [(_type_name(writer), writer.name), (_type_name(writer), "alias:" + writer.fullname)]
        else:
            kinds = [writer.kind] + [k for k, froms in _PROMOTIONS.items() if writer.kind in froms]
            keys = [(_type_name_of_kind(k), "") for k in kinds]
        found = {position: branch for key in keys for position, branch in self.by_key.get(key, [])}
        return [found[p] for p in sorted(found)]


def _type_name_of_kind(kind: str) -> str:
    return "RECORD" if kind == "error" else kind.upper()


def _writer_fields(writer: Record, reader_field: Field) -> list[Field]:
    """The writer's fields that the reader's field reads: by its name, then its aliases."""
    names = [reader_field.name] + reader_field.aliases
    return list({id(f): f for n in names if (f := writer.field_named(n)) is not None}.values())


def _names(reader: Named, writer: Named, location: list[str]) -> list[Incompatibility]:
    if reader.name == writer.name or writer.fullname in reader.aliases:
        return []
    return [Incompatibility("NAME_MISMATCH", _path(location + ["name"]), f"expected: {writer.fullname}")]


def _symbols(reader: Enum, writer: Enum, location: list[str]) -> list[Incompatibility]:
    missing = sorted(set(writer.symbols) - set(reader.symbols))
    if not missing or (reader.default is not None and reader.default in reader.symbols):
        return []
    return [Incompatibility("MISSING_ENUM_SYMBOLS", _path(location + ["symbols"]), "[" + ", ".join(missing) + "]")]
