"""The text form of an Iceberg topic's partition spec (the topic config
`iceberg.partition.spec`, Redpanda's form: `(hour(kafka.timestamp), bucket(4, kafka.key))`):
its terms, checked for their syntax and bounds, and against the metadata columns every
Iceberg topic has. Pure, with no Iceberg library: kraft/iceberg/layout.py makes the terms a
pyiceberg PartitionSpec over a table's actual schema (whose value columns only the
registry's schema knows)."""

from __future__ import annotations

import string

DEFAULT_PARTITION_SPEC = "(hour(kafka.timestamp))"
MAX_SPEC_CHARS = 1000
MAX_SPEC_TERMS = 16
_MAX_ARG = 2**31 - 1  # Iceberg stores bucket counts and widths as ints
_WORD = frozenset(string.ascii_letters + string.digits + "_.")
_EXPECTED = "expected hour(col), day(col), month(col), year(col), bucket(N, col) or truncate(N, col)"
_END = ("end", "", -1)
TIME_TRANSFORMS = ("hour", "day", "month", "year")  # layout.py maps the names to pyiceberg's transforms
# the metadata columns every Iceberg topic's table has (layout.KEY_VALUE_SCHEMA's `kafka`),
# by the transforms each takes; the value's columns depend on the mode and the schema
_METADATA_COLUMNS = {
    "kafka.partition": ("identity", "bucket", "truncate"),
    "kafka.offset": ("identity", "bucket", "truncate"),
    "kafka.timestamp": ("identity", "bucket", *TIME_TRANSFORMS),
    "kafka.key": ("identity", "bucket", "truncate"),
}
Term = tuple[str, int, str]  # (transform, its N or 0, column path)


class SpecError(ValueError):
    """A partition spec that can't be used; the message is one line, for the user."""


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) for each token; kind is a punctuation mark or "word"."""
    tokens: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            tokens.append((c, c, i))
            i += 1
        elif c in _WORD:
            j = i
            while j < n and text[j] in _WORD:
                j += 1
            tokens.append(("word", text[i:j], i))
            i = j
        else:
            raise SpecError(f"unexpected character {c!r} at position {i}: a partition spec holds column names, "
                            "numbers, commas and parentheses")
    return tokens


def _unbalanced() -> SpecError:
    return SpecError("unbalanced parentheses: the partition spec ends before a closing ')'")


def _parse_term(toks: list[tuple[str, str, int]], pos: int, k: int) -> tuple[Term, int]:
    """One term from toks[pos]: (transform, its N or 0, column path) and the next position."""
    def at(i: int) -> tuple[str, str, int]:
        return toks[i] if i < len(toks) else _END
    kind, word, where = at(pos)
    if kind == "end":
        raise _unbalanced()
    if kind != "word":
        if kind == "(":
            raise SpecError(f"term {k}: unexpected '(' at position {where}; {_EXPECTED}")
        raise SpecError(f"term {k} is empty: expected a column such as kafka.partition, or a transform; {_EXPECTED}")
    if at(pos + 1)[0] != "(":
        return ("identity", 0, word), pos + 1
    name = word.lower()
    if name not in TIME_TRANSFORMS and name not in ("bucket", "truncate"):
        raise SpecError(f"term {k}: unknown transform {_show(word)}; {_EXPECTED}")
    pos += 2
    arg = 0
    if name in ("bucket", "truncate"):
        number = at(pos)[1]
        if not (number.isdigit() and at(pos + 1)[0] == ","):
            raise SpecError(f"term {k}: {name} needs a count and a column: {name}(N, col) with N a positive integer")
        if len(number) > 10 or not 0 < int(number) <= _MAX_ARG:
            raise SpecError(f"term {k}: {name}'s N must be between 1 and {_MAX_ARG}, not {_show(number)}")
        arg = int(number)
        pos += 2
    kind, column, _ = at(pos)
    if kind != "word":
        raise _unbalanced() if kind == "end" else SpecError(f"term {k}: {name} needs a column name; {_EXPECTED}")
    after = at(pos + 1)[0]
    if after != ")":
        raise _unbalanced() if after == "end" else SpecError(
            f"term {k}: expected ')' after {_show(column)}; {name} takes {'N and one column' if arg else 'one column'}")
    return (name, arg, column), pos + 2


def parse_terms(text: str) -> list[Term]:
    if not isinstance(text, str):
        raise SpecError("a partition spec is text, as in (hour(kafka.timestamp)), or () for none")
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"partition spec too long: {len(text)} characters, at most {MAX_SPEC_CHARS}")
    toks = _tokenize(text)
    if not toks or toks[0][0] != "(":
        raise SpecError("a partition spec is a parenthesised list, as in (hour(kafka.timestamp)), or () for none")
    terms: list[Term] = []
    pos = 1
    if pos < len(toks) and toks[pos][0] == ")":
        pos += 1
    else:
        while True:
            if len(terms) == MAX_SPEC_TERMS:
                raise SpecError(f"partition spec has more than {MAX_SPEC_TERMS} terms")
            term, pos = _parse_term(toks, pos, len(terms) + 1)
            terms.append(term)
            kind, word, where = toks[pos] if pos < len(toks) else _END
            pos += 1
            if kind == ")":
                break
            if kind == "end":
                raise _unbalanced()
            if kind != ",":
                raise SpecError(f"term {len(terms)}: expected ',' or ')' next, found {_show(word)} at position {where}")
    if pos < len(toks):
        kind, word, where = toks[pos]
        if kind == ")":
            raise SpecError(f"unbalanced parentheses: an extra ')' at position {where}")
        raise SpecError(f"unexpected {_show(word)} at position {where}, after the spec's closing ')'")
    return terms




def spec_problem(text: str) -> str | None:
    """Why `text` cannot be a partition spec of any Iceberg topic, or None: its syntax, and
    the metadata columns it names (a value column is checked against the table's schema
    when the table is made)."""
    try:
        terms = parse_terms(text)
    except SpecError as exc:
        return str(exc)
    for k, (transform, _, column) in enumerate(terms, start=1):
        if column.startswith("kafka."):
            takes = _METADATA_COLUMNS.get(column)
            if takes is None:
                return (f"term {k}: {_show(column)} is not a metadata column one can partition by; "
                        f"those are {', '.join(_METADATA_COLUMNS)}")
            if transform not in takes:
                return f"term {k}: {column} does not take {transform}; it takes {', '.join(takes)}"
        elif column != "value" and not column.startswith("value."):
            return f"term {k}: unknown column {_show(column)}: the columns are kafka.* and value"
        elif column == "value" and transform in TIME_TRANSFORMS:
            return f"term {k}: {transform}(value) needs a timestamp column; value is bytes or a struct"
    return None
