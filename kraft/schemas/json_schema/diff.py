"""Confluent's JSON Schema compatibility: the differences between the schema that wrote
(`original`) and the one that reads (`update`), walked as Confluent's SchemaDiff walks them:
$refs followed, a combination against a plain schema (a oneOf that gained a branch, an
allOf that lost one), the type, the annotations, then each type's own rules (the object
and array ones in json_schema/diff_containers.py).

Each pair of nodes is compared once (memoized by identity); a pair met again while still
being compared is a recursive schema's cycle and counts as compatible there, as Confluent.
The walk is bounded: past MAX_STEPS pairs or MAX_NESTING nested ones it stops with
ComparisonTooLarge rather than run on or exhaust the stack."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from kraft.schemas.json_schema.diff_containers import array_differences, bound_change, object_differences
from kraft.schemas.json_schema.differences import Difference, compatible
from kraft.schemas.json_schema.load import WrittenNumber
from kraft.schemas.json_schema.model import (
    ArrayNode, CombinedNode, ConstNode, EmptyNode, EnumNode, FalseNode, Node, NotNode, NumberNode,
    ObjectNode, RefNode, StringNode, kind_of)

MAX_STEPS = 100_000
MAX_NESTING = 150


class ComparisonTooLarge(Exception):
    pass


def differences(original: Node, update: Node) -> list[Difference]:
    """Every difference (compatible or not) a reader with `update` meets in data written with
    `original`."""
    return _Comparison().compare(original, update)


def _json_key(value: Any) -> str:
    """JSON values as Confluent compares them: true is not 1, key order does not count."""
    return json.dumps(value, sort_keys=True)


def _deref(node: Node) -> Node:
    seen = 0
    while isinstance(node, RefNode) and node.target is not None:
        node, seen = node.target, seen + 1
        if seen > MAX_NESTING:  # a $ref that only ever names another $ref
            return EmptyNode()
    return node


class _Comparison:
    def __init__(self) -> None:
        self.memo: dict[tuple[int, int], list[Difference]] = {}
        self.in_progress: set[tuple[int, int]] = set()
        self.assumed = 0  # cycles taken as compatible so far
        self.steps = 0
        self.nesting = 0
        self.keys: dict[int, Any] = {}

    def compare(self, original: Node | None, update: Node | None) -> list[Difference]:
        if original is None or update is None:
            if original is None and update is None:
                return []
            return [Difference("SCHEMA_ADDED" if original is None else "SCHEMA_REMOVED", ())]
        original, update = _deref(original), _deref(update)
        pair = (id(original), id(update))
        if pair in self.memo:
            return self.memo[pair]
        if pair in self.in_progress:
            self.assumed += 1
            return []
        self.steps += 1
        if self.steps > MAX_STEPS or self.nesting >= MAX_NESTING:
            raise ComparisonTooLarge()
        assumed_before = self.assumed
        self.in_progress.add(pair)
        self.nesting += 1
        try:
            found = self.compare_types(original, update)
        finally:
            self.nesting -= 1
            self.in_progress.discard(pair)
        if self.assumed == assumed_before:  # exact: it did not lean on a cycle's assumption
            self.memo[pair] = found
        return found

    def compare_types(self, original: Node, update: Node) -> list[Difference]:
        shortcut = self.combination_against_plain(original, update)
        if shortcut is not None:
            return shortcut
        if kind_of(original) != kind_of(update) and not (
                isinstance(original, CombinedNode) and isinstance(update, CombinedNode)):
            if isinstance(original, FalseNode) or isinstance(update, EmptyNode):
                return []  # nothing was written, or anything is read
            if original.connect_type == "bytes" and update.connect_type == "bytes":
                return []  # Kafka Connect's decimals: bytes either way
            return [Difference("TYPE_CHANGED", ())]
        found = _annotation_differences(original, update)
        if isinstance(original, StringNode) and isinstance(update, StringNode):
            found += _string_differences(original, update)
        elif isinstance(original, NumberNode) and isinstance(update, NumberNode):
            found += _number_differences(original, update)
        elif isinstance(original, ConstNode) and isinstance(update, ConstNode):
            if _json_key(original.value) != _json_key(update.value):
                found.append(Difference("ENUM_ARRAY_CHANGED", ("const",)))
        elif isinstance(original, EnumNode) and isinstance(update, EnumNode):
            found += _enum_differences(original, update)
        elif isinstance(original, CombinedNode) and isinstance(update, CombinedNode):
            found += self.combined_differences(original, update)
        elif isinstance(original, NotNode) and isinstance(update, NotNode):
            inner = self.compare(update.must_not_match, original.must_not_match)  # reversed
            found.append(Difference("NOT_TYPE_NARROWED" if compatible(inner) else "NOT_TYPE_EXTENDED", ("not",)))
        elif isinstance(original, ObjectNode) and isinstance(update, ObjectNode):
            found += object_differences(self.compare, original, update)
        elif isinstance(original, ArrayNode) and isinstance(update, ArrayNode):
            found += array_differences(self.compare, original, update)
        return found

    def combination_against_plain(self, original: Node, update: Node) -> list[Difference] | None:
        """A plain schema read by a combination one branch of which reads it (a oneOf or
        anyOf that gained branches), or written by an allOf one part of which the reader
        reads; None when that does not settle it."""
        if not isinstance(original, CombinedNode) and isinstance(update, CombinedNode):
            # the reader's oneOf / anyOf reads the data when one of its branches does
            pairs = [(original, branch) for branch in update.subschemas]
            one_suffices, settled_by = update.criterion != "allOf", "SUM_TYPE_EXTENDED"
        elif isinstance(original, CombinedNode) and not isinstance(update, CombinedNode):
            # data that met every part of the writer's allOf is read when one part is
            pairs = [(part, update) for part in original.subschemas]
            one_suffices, settled_by = original.criterion == "allOf", "PRODUCT_TYPE_NARROWED"
        else:
            return None
        if len(pairs) == 1:
            found = self.compare(*pairs[0])
            return found if compatible(found) else None
        if one_suffices:
            for pair in pairs:
                found = self.compare(*pair)
                if compatible(found):
                    return found + [Difference(settled_by, ())]
        return None

    def combined_differences(self, original: CombinedNode, update: CombinedNode) -> list[Difference]:
        criterion = _criterion_change(original, update)
        if criterion == "COMBINED_TYPE_CHANGED":
            return [Difference(criterion, ())]
        found = [Difference(criterion, ())] if criterion else []
        was, now = self.distinct(original.subschemas), self.distinct(update.subschemas)
        if len(was) < len(now):
            product = update.criterion == "allOf"
            found.append(Difference("PRODUCT_TYPE_EXTENDED" if product else "SUM_TYPE_EXTENDED", ()))
        elif len(was) > len(now):
            product = original.criterion == "allOf"
            found.append(Difference("PRODUCT_TYPE_NARROWED" if product else "SUM_TYPE_NARROWED", ()))
        edges: dict[tuple[int, int], list[Difference]] = {}
        for i, old in enumerate(was):
            for j, new in enumerate(now):
                changes = self.compare(old, new)
                if compatible(changes):
                    edges[(i, j)] = [d.under(original.criterion, str(i)) for d in changes]
        matching = _maximum_matching(len(was), len(now), list(edges))
        for edge in sorted(matching):
            found += edges[edge]
        if len(matching) < min(len(was), len(now)):
            found.append(Difference("COMBINED_TYPE_SUBSCHEMAS_CHANGED", ()))
        return found

    def distinct(self, subschemas: list[Node]) -> list[Node]:
        """Subschemas with duplicates collapsed, as Confluent compares them."""
        seen: dict[Any, Node] = {}
        for node in subschemas:
            if id(node) not in self.keys:
                self.keys[id(node)] = (("json", kind_of(node), _json_key(node.source))
                                       if node.source is not None else ("node", id(node)))
            seen.setdefault(self.keys[id(node)], node)
        return list(seen.values())


def _criterion_change(original: CombinedNode, update: CombinedNode) -> str | None:
    was, now = original.criterion, update.criterion
    if was == now:
        return None
    single_was, single_now = len(original.subschemas) == 1, len(update.subschemas) == 1
    if (now == "anyOf" or (single_was and single_now) or (single_was and now == "oneOf")
            or (single_now and was == "allOf")):
        return "COMBINED_TYPE_EXTENDED"
    return "COMBINED_TYPE_CHANGED"


def _maximum_matching(left: int, right: int, edges: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """A largest set of edges no two of which share an end (augmenting paths)."""
    neighbours: dict[int, list[int]] = {i: [] for i in range(left)}
    for i, j in edges:
        neighbours[i].append(j)
    owner: dict[int, int] = {}  # right end -> left end

    def augment(i: int, visited: set[int]) -> bool:
        for j in neighbours[i]:
            if j not in visited:
                visited.add(j)
                if j not in owner or augment(owner[j], visited):
                    owner[j] = i
                    return True
        return False

    for i in range(left):
        augment(i, set())
    return {(i, j) for j, i in owner.items()}


def _annotation_differences(original: Node, update: Node) -> list[Difference]:
    found = []
    for attribute, kind in (("id", "ID_CHANGED"), ("title", "TITLE_CHANGED"),
                            ("description", "DESCRIPTION_CHANGED")):
        if getattr(original, attribute) != getattr(update, attribute):
            found.append(Difference(kind, ()))
    if (original.has_default, _json_key(original.default)) != (update.has_default, _json_key(update.default)):
        found.append(Difference("DEFAULT_CHANGED", ()))
    return found


def _string_differences(original: StringNode, update: StringNode) -> list[Difference]:
    found = bound_change("maxLength", original.max_length, update.max_length)
    found += bound_change("minLength", original.min_length, update.min_length)
    if original.pattern != update.pattern:
        kind = ("PATTERN_ADDED" if original.pattern is None else "PATTERN_REMOVED" if update.pattern is None
                else "PATTERN_CHANGED")
        found.append(Difference(kind, ("pattern",)))
    return found


def _number_differences(original: NumberNode, update: NumberNode) -> list[Difference]:
    found = bound_change("maximum", original.maximum, update.maximum)
    found += bound_change("minimum", original.minimum, update.minimum)
    found += bound_change("exclusiveMaximum", original.exclusive_maximum, update.exclusive_maximum)
    found += bound_change("exclusiveMinimum", original.exclusive_minimum, update.exclusive_minimum)
    found += _multiple_of_differences(original.multiple_of, update.multiple_of)
    if original.requires_integer != update.requires_integer:
        found.append(Difference("TYPE_EXTENDED" if original.requires_integer else "TYPE_NARROWED", ()))
    return found


def _multiple_of_differences(was_number: int | float | None, now_number: int | float | None) -> list[Difference]:
    was, now = _decimal(was_number), _decimal(now_number)
    if was == now:
        return []
    if was is None or now is None:
        return [Difference("MULTIPLE_OF_ADDED" if was is None else "MULTIPLE_OF_REMOVED", ("multipleOf",))]
    if was != 0 and now % was == 0:
        kind = "MULTIPLE_OF_EXPANDED"  # fewer numbers are multiples of the reader's
    elif now != 0 and was % now == 0:
        kind = "MULTIPLE_OF_REDUCED"
    else:
        kind = "MULTIPLE_OF_CHANGED"
    return [Difference(kind, ("multipleOf",))]


def _decimal(number: int | float | None) -> Decimal | None:
    if number is None:
        return None
    try:
        return Decimal(number.text if isinstance(number, WrittenNumber) else str(number))
    except InvalidOperation:
        return None


def _enum_differences(original: EnumNode, update: EnumNode) -> list[Difference]:
    was = {_json_key(value) for value in original.values}
    now = {_json_key(value) for value in update.values}
    if was == now:
        return []
    kind = "ENUM_ARRAY_EXTENDED" if now >= was else "ENUM_ARRAY_NARROWED" if now <= was else "ENUM_ARRAY_CHANGED"
    return [Difference(kind, ("enum",))]
