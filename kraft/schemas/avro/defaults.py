"""Field defaults checked against their types, as Java Avro does for a schema being
registered (Confluent's parser validates defaults of new schemas): a string for string,
bytes, enum and fixed; an integer in range for int and long; any number for float and
double (or a number spelled as text, "NaN" and "Infinity" among them, which becomes that
number); an array, a map or a record of valid values; for a union, a value of any branch."""

from __future__ import annotations

from kraft.schemas.avro.model import ArrayOf, AvroType, Enum, Field, Fixed, MapOf, Primitive, Record, UnionOf, \
    short_json
from kraft.schemas.formats import InvalidSchema

_INT_RANGE = {"int": 2**31, "long": 2**63}
_MISSING = object()


MAX_STEPS = 1_000_000  # values checked against types at most, for all the defaults of one schema


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise InvalidSchema(f"the field defaults are too large to check (over {MAX_STEPS} values and types)")


def check_defaults(records: list[Record]) -> None:
    """Refuse the first field whose default its type cannot hold; turn a float or double
    default given as text into its number first (what Java Avro keeps)."""
    budget = _Budget(MAX_STEPS)
    for record in records:
        for f in record.fields:
            if not f.has_default:
                continue
            _number_from_text(f, record)
            if not is_valid_default(f.type, f.default, budget):
                raise InvalidSchema(f"Invalid default for field {f.name} of {record.fullname}: "
                                    f"{short_json(f.default)} is not a {_shortened(describe(f.type))}")


def is_valid_default(t: AvroType, value: object, budget: _Budget | None = None) -> bool:
    if budget is not None:
        budget.spend()
    if isinstance(t, UnionOf):
        return any(is_valid_default(branch, value, budget) for branch in t.branches)
    if isinstance(t, (Enum, Fixed)):
        return isinstance(value, str)
    if isinstance(t, ArrayOf):
        return isinstance(value, list) and all(is_valid_default(t.items, v, budget) for v in value)
    if isinstance(t, MapOf):
        return isinstance(value, dict) and all(is_valid_default(t.values, v, budget) for v in value.values())
    if isinstance(t, Record):
        return isinstance(value, dict) and all(
            is_valid_default(f.type, value.get(f.name, f.default if f.has_default else _MISSING), budget)
            for f in t.fields)
    return isinstance(t, Primitive) and _is_valid_primitive(t, value)


def _is_valid_primitive(t: Primitive, value: object) -> bool:
    if t.kind in ("string", "bytes"):
        return isinstance(value, str)
    if t.kind in _INT_RANGE:
        bound = _INT_RANGE[t.kind]
        return isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    if t.kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t.kind == "boolean":
        return isinstance(value, bool)
    return t.kind == "null" and value is None


def _number_from_text(f: Field, record: Record) -> None:
    if isinstance(f.type, Primitive) and f.type.kind in ("float", "double") and isinstance(f.default, str):
        try:
            f.default = float(f.default)
        except ValueError:
            raise InvalidSchema(f"Invalid default for field {f.name} of {record.fullname}: "
                                f"{short_json(f.default)} is not a number") from None


def _shortened(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def describe(t: AvroType) -> str:
    if isinstance(t, UnionOf):
        return "union of " + ", ".join(describe(b) for b in t.branches)
    if isinstance(t, (Record, Enum, Fixed)):
        return f"{t.kind} {t.fullname}"
    if isinstance(t, ArrayOf):
        return f"array of {describe(t.items)}"
    if isinstance(t, MapOf):
        return f"map of {describe(t.values)}"
    return t.kind

