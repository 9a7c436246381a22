"""An Avro schema's text as Confluent's registry stores it (AvroSchema.canonicalString:
Java Avro's compact JSON writer) and as `normalize=true` registers it.

The stored text keeps the schema as given but in one layout: attributes in a fixed order
("type", "name", "namespace", "doc", then "fields" / "symbols" + "default" / "size",
then the schema's other properties in their order, then "aliases"; a field as "name",
"type", "doc", "default", "order" (when not ascending), "aliases", properties), a
primitive without properties as its bare name, "namespace" only where it differs from
the enclosing one, a named type written once and then by name (relative to the enclosing
namespace), and the named types of referenced schemas by name. Whitespace and attribute
order of the input do not matter; numbers are written as Java writes doubles.

Normalized (Confluent's AvroSchema.normalize) is that text with: properties sorted by
key (a valid logical type's own attributes first), aliases sorted, nested objects in
properties and defaults sorted by key, an empty named-type doc dropped, and a float or
double default written as a floating number."""

from __future__ import annotations

import json
import math
from decimal import Decimal

from kraft.schemas.avro.defaults import is_valid_default
from kraft.schemas.avro.model import TYPE_NAMES, ArrayOf, AvroType, Enum, Field, Fixed, MapOf, Named, Primitive, \
    Props, Record, UnionOf

_LONG_LOGICAL = ("time-micros", "timestamp-millis", "timestamp-micros", "timestamp-nanos",
                 "local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos")


def schema_text(t: AvroType, known: set[str], normalize: bool) -> str:
    """`known`: full names written by name (the referenced schemas' types)."""
    return json_text(_Writer(set(known), normalize).schema(t, None))


class _Writer:
    def __init__(self, known: set[str], normalize: bool) -> None:
        self.known = known
        self.normalize = normalize

    def schema(self, t: AvroType, space: str | None) -> object:
        if isinstance(t, UnionOf):
            return [self.schema(b, space) for b in t.branches]
        if isinstance(t, Named):
            return self._named(t, space)
        out: dict[str, object] = {"type": t.kind}
        if isinstance(t, ArrayOf):
            out["items"] = self.schema(t.items, space)
        elif isinstance(t, MapOf):
            out["values"] = self.schema(t.values, space)
        out.update(self._props(t.props, t))
        return t.kind if isinstance(t, Primitive) and len(out) == 1 else out

    def _named(self, t: Named, space: str | None) -> object:
        if t.fullname in self.known:
            return qualified(t.fullname, space)
        self.known.add(t.fullname)
        out: dict[str, object] = {"type": t.kind, "name": t.name}
        if t.namespace != space:
            out["namespace"] = t.namespace or ""
        if t.doc is not None and (t.doc or not self.normalize):
            out["doc"] = t.doc
        if isinstance(t, Record):
            out["fields"] = [self._field(f, t.namespace) for f in t.fields]
        elif isinstance(t, Enum):
            out["symbols"] = list(t.symbols)
            if t.default is not None:
                out["default"] = t.default
        elif isinstance(t, Fixed):
            out["size"] = t.size
        out.update(self._props(t.props, t))
        if t.aliases:
            aliases = sorted(t.aliases) if self.normalize else t.aliases
            out["aliases"] = [qualified(a, t.namespace) for a in aliases]
        return out

    def _field(self, f: Field, space: str | None) -> dict[str, object]:
        out: dict[str, object] = {"name": f.name, "type": self.schema(f.type, space)}
        if f.doc is not None:
            out["doc"] = f.doc
        if f.has_default:
            out["default"] = sorted_keys(typed_numbers(f.default, f.type)) if self.normalize else f.default
        if f.order != "ascending":
            out["order"] = f.order
        if f.aliases:
            out["aliases"] = sorted(f.aliases) if self.normalize else list(f.aliases)
        out.update(self._props(f.props, None))
        return out

    def _props(self, props: Props, owner: AvroType | None) -> Props:
        if not self.normalize:
            return props
        out: Props = dict(logical_props(owner)) if owner is not None else {}
        for key in sorted(props):
            out[key] = sorted_keys(props[key])
        return out


def qualified(fullname: str, space: str | None) -> str:
    """A name as written where `space` is the enclosing namespace (Java's getQualified)."""
    namespace, _, name = fullname.rpartition(".")
    if namespace and namespace == space and name not in TYPE_NAMES:
        return name
    return fullname


def logical_props(t: AvroType) -> Props:
    """A valid logical type's attributes as Java Avro reads them; {} when it ignores it."""
    props = getattr(t, "props", {})
    logical = props.get("logicalType")
    kind = t.kind
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return _decimal_props(props, t.size if isinstance(t, Fixed) else None)
    valid = ((logical in ("date", "time-millis") and kind == "int")
             or (logical in _LONG_LOGICAL and kind == "long")
             or (logical == "uuid" and (kind == "string" or (isinstance(t, Fixed) and t.size == 16)))
             or (logical == "duration" and isinstance(t, Fixed) and t.size == 12)
             or (logical == "big-decimal" and kind == "bytes"))
    return {"logicalType": logical} if valid else {}


def _decimal_props(props: Props, fixed_size: int | None) -> Props:
    precision, scale = props.get("precision"), props.get("scale", 0)
    if not (_is_int(precision) and _is_int(scale)):
        return {}
    assert isinstance(precision, int) and isinstance(scale, int)
    if precision <= 0 or not 0 <= scale <= precision:
        return {}
    if fixed_size is not None and precision > math.floor(math.log10(2) * (8 * fixed_size - 1)):
        return {}
    out: Props = {"logicalType": "decimal", "precision": precision}
    if scale:
        out["scale"] = scale
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def typed_numbers(value: object, t: AvroType) -> object:
    """A default as Java Avro reads it for its type: an integer for a float or double is
    a floating number (a union takes its first non-null branch the value fits)."""
    if isinstance(t, UnionOf):
        fits = [b for b in t.branches if b.kind != "null" and is_valid_default(b, value)]
        return typed_numbers(value, fits[0]) if fits else value
    if isinstance(t, Primitive) and t.kind in ("float", "double") and _is_int(value):
        assert isinstance(value, int)
        return float(value)
    if isinstance(t, ArrayOf) and isinstance(value, list):
        return [typed_numbers(v, t.items) for v in value]
    if isinstance(t, MapOf) and isinstance(value, dict):
        return {k: typed_numbers(v, t.values) for k, v in value.items()}
    if isinstance(t, Record) and isinstance(value, dict):
        types = {f.name: f.type for f in t.fields}
        return {k: typed_numbers(v, types[k]) if k in types else v for k, v in value.items()}
    return value


def sorted_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def json_text(value: object) -> str:
    """Compact JSON as Java's Jackson writes it (numbers as Java's Double.toString)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: object, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append("," if i else "")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _write(item, out)
        out.append("]")
    elif isinstance(value, float):
        out.append(java_double(value))
    else:
        out.append(json.dumps(value, ensure_ascii=False))


def java_double(x: float) -> str:
    if math.isnan(x):
        return '"NaN"'  # Jackson quotes the non-numbers
    if math.isinf(x):
        return '"Infinity"' if x > 0 else '"-Infinity"'
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # the decimal point sits after this many digits
    if 1e-3 <= abs(x) < 1e7:
        if point <= 0:
            body = "0." + "0" * -point + text
        elif point >= len(text):
            body = text + "0" * (point - len(text)) + ".0"
        else:
            body = text[:point] + "." + text[point:]
    else:
        body = f"{text[0]}.{text[1:] or '0'}E{point - 1}"
    return ("-" if sign else "") + body
