"""Confluent's rules for object and array schemas: properties and items added or removed
against the content model (open, closed, or partially open through additionalProperties /
additionalItems / patternProperties / unevaluated* schemas), required, dependencies, and
the size keywords. `original` wrote the data, `update` reads it; every difference's path is
relative to the pair."""

from __future__ import annotations

from typing import Protocol

import regex

from kraft.schemas import patterns
from kraft.schemas.json_schema.differences import Difference, compatible
from kraft.schemas.json_schema.model import ArrayNode, EmptyNode, FalseNode, Node, ObjectNode

PATTERN_TIMEOUT = 0.05  # seconds: a property name against a patternProperties regex


class Compare(Protocol):
    def __call__(self, original: Node | None, update: Node | None) -> list[Difference]: ...


def bound_change(name: str, original: int | float | None, update: int | float | None,
                 larger: str = "INCREASED", smaller: str = "DECREASED") -> list[Difference]:
    """NAME_ADDED, NAME_REMOVED, NAME_<larger> or NAME_<smaller> at `name`'s path."""
    if original == update:
        return []
    prefix = _type_name(name)
    if original is None:
        kind = "ADDED"
    elif update is None:
        kind = "REMOVED"
    else:
        kind = larger if original < update else smaller
    return [Difference(f"{prefix}_{kind}", (name,))]


def _type_name(keyword: str) -> str:
    """maxLength -> MAX_LENGTH"""
    return "".join(f"_{char}" if char.isupper() else char.upper() for char in keyword)


def object_differences(compare: Compare, original: ObjectNode, update: ObjectNode) -> list[Difference]:
    found = _required(original, update) + _properties(compare, original, update)
    found += _dependencies(compare, original, update)
    found += [d.under("additionalProperties") for d in _additional(
        compare, "PROPERTIES", (original.permits_additional, original.additional_schema),
        (update.permits_additional, update.additional_schema))]
    found += _unevaluated(compare, "PROPERTIES", "unevaluatedProperties", original.unevaluated, update.unevaluated)
    found += bound_change("maxProperties", original.max_properties, update.max_properties)
    found += bound_change("minProperties", original.min_properties, update.min_properties)
    return found


def _required(original: ObjectNode, update: ObjectNode) -> list[Difference]:
    found = []
    for name in original.properties:
        if name not in update.properties:
            continue
        was, now = name in original.required, name in update.required
        if was and not now:
            found.append(Difference("REQUIRED_ATTRIBUTE_REMOVED", ("required", name)))
        elif now and not was:
            kind = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED" if update.properties[name].has_default \
                else "REQUIRED_ATTRIBUTE_ADDED"
            found.append(Difference(kind, ("required", name)))
    return found


def _properties(compare: Compare, original: ObjectNode, update: ObjectNode) -> list[Difference]:
    found: list[Difference] = []
    names = list(original.properties) + [n for n in update.properties if n not in original.properties]
    for name in names:
        was, now = original.properties.get(name), update.properties.get(name)
        here = ("properties", name)
        if now is None and was is not None:
            found += [d.under(*here) for d in _property_removed(compare, was, update, name)]
        elif was is None and now is not None:
            found += [d.under(*here) for d in _property_added(compare, original, now, update, name)]
        else:
            found += [d.under(*here) for d in compare(was, now)]
    return found


def _property_removed(compare: Compare, was: Node, update: ObjectNode, name: str) -> list[Difference]:
    if _object_open(update):
        return [Difference("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", ())]
    covering = _object_partial_schema(update, name)
    if covering is not None:
        return _covered(compare(was, covering), "PROPERTY_REMOVED")
    if isinstance(was, FalseNode):
        return [Difference("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", ())]
    return [Difference("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", ())]


def _property_added(compare: Compare, original: ObjectNode, now: Node, update: ObjectNode,
                    name: str) -> list[Difference]:
    required = name in update.required
    if _object_open(original):
        if isinstance(now, EmptyNode):
            kind = "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
        elif required:
            kind = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL" if now.has_default \
                else "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
        else:
            kind = "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
        return [Difference(kind, ())]
    found: list[Difference] = []
    covering = _object_partial_schema(original, name)
    if covering is not None:
        found += _covered(compare(covering, now), "PROPERTY_ADDED")
    if required:  # closed or partially open alike
        kind = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL" if now.has_default \
            else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
    else:
        kind = "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
    return found + [Difference(kind, ())]


def _covered(differences: list[Difference], what: str) -> list[Difference]:
    """A property or item on one side only, checked against the other side's schema for it."""
    verdict = "IS_COVERED" if compatible(differences) else "NOT_COVERED"
    return differences + [Difference(f"{what}_{verdict}_BY_PARTIALLY_OPEN_CONTENT_MODEL", ())]


def _object_open(node: ObjectNode) -> bool:
    """Fully open: additionalProperties true or absent, no patternProperties, and
    unevaluatedProperties true or absent."""
    return (node.permits_additional and node.additional_schema is None and not node.pattern_properties
            and (node.unevaluated is None or isinstance(node.unevaluated, EmptyNode)))


def _object_partial_schema(node: ObjectNode, name: str) -> Node | None:
    """The schema a partially open object holds an undeclared property `name` to."""
    for pattern, schema in node.pattern_properties:
        if _matches(pattern, name):
            return schema
    if node.additional_schema is not None:
        return node.additional_schema
    if node.permits_additional:
        return _bounding(node.unevaluated)
    return None


def _bounding(unevaluated: Node | None) -> Node | None:
    if unevaluated is None or isinstance(unevaluated, (EmptyNode, FalseNode)):
        return None
    return unevaluated


def _matches(pattern: str, name: str) -> bool:
    """A pattern that fails or takes too long matches nothing (the property stays uncovered)."""
    try:
        with patterns.pattern_budget(PATTERN_TIMEOUT):
            return patterns.search(pattern, name) is not None
    except (regex.error, patterns.PatternTooLarge, patterns.PatternTooSlow):
        return False


def _dependencies(compare: Compare, original: ObjectNode, update: ObjectNode) -> list[Difference]:
    found: list[Difference] = []
    was_arrays, now_arrays = original.property_dependencies, update.property_dependencies
    for name in list(was_arrays) + [n for n in now_arrays if n not in was_arrays]:
        was, now = was_arrays.get(name), now_arrays.get(name)
        kind = ("DEPENDENCY_ARRAY_REMOVED" if now is None else "DEPENDENCY_ARRAY_ADDED" if was is None
                else None if was == now else "DEPENDENCY_ARRAY_EXTENDED" if now >= was
                else "DEPENDENCY_ARRAY_NARROWED" if now <= was else "DEPENDENCY_ARRAY_CHANGED")
        if kind:
            found.append(Difference(kind, ("dependencies", name)))
    was_schemas, now_schemas = original.schema_dependencies, update.schema_dependencies
    for name in list(was_schemas) + [n for n in now_schemas if n not in was_schemas]:
        was_schema, now_schema = was_schemas.get(name), now_schemas.get(name)
        if now_schema is None:
            found.append(Difference("DEPENDENCY_SCHEMA_REMOVED", ("dependencies", name)))
        elif was_schema is None:
            found.append(Difference("DEPENDENCY_SCHEMA_ADDED", ("dependencies", name)))
        else:
            found += [d.under("dependencies", name) for d in compare(was_schema, now_schema)]
    return found


def _additional(compare: Compare, what: str, original: tuple[bool, Node | None],
                update: tuple[bool, Node | None]) -> list[Difference]:
    """additionalProperties / additionalItems: opened, closed, bounded or unbounded."""
    (was_open, was_schema), (now_open, now_schema) = original, update
    if was_open != now_open:
        return [Difference(f"ADDITIONAL_{what}_{'ADDED' if now_open else 'REMOVED'}", ())]
    if was_schema is None and now_schema is not None:
        return [Difference(f"ADDITIONAL_{what}_NARROWED", ())]
    if now_schema is None and was_schema is not None:
        return [Difference(f"ADDITIONAL_{what}_EXTENDED", ())]
    return compare(was_schema, now_schema)


def _unevaluated(compare: Compare, what: str, keyword: str, was: Node | None,
                 now: Node | None) -> list[Difference]:
    if was is None and now is None:
        return []
    def false(node: Node | None) -> bool:
        return isinstance(node, FalseNode)

    def empty(node: Node | None) -> bool:
        return isinstance(node, EmptyNode)

    kind: str | None = None
    if was is None:
        kind = "REMOVED" if false(now) else "NARROWED"
    elif now is None:
        kind = "ADDED" if false(was) else "EXTENDED"
    elif false(was) != false(now):
        kind = "ADDED" if false(was) else "REMOVED"
    elif empty(was) != empty(now):
        kind = "NARROWED" if empty(was) else "EXTENDED"
    if kind is not None:
        return [Difference(f"UNEVALUATED_{what}_{kind}", (keyword,))]
    return [d.under(keyword) for d in compare(was, now)]


def array_differences(compare: Compare, original: ArrayNode, update: ArrayNode) -> list[Difference]:
    found = [d.under("items") for d in compare(original.all_items, update.all_items)]
    found += _item_list(compare, original, update)
    found += [d.under("additionalItems") for d in _additional(
        compare, "ITEMS", (original.permits_additional, original.additional_schema),
        (update.permits_additional, update.additional_schema))]
    found += _unevaluated(compare, "ITEMS", "unevaluatedItems", original.unevaluated, update.unevaluated)
    found += bound_change("maxItems", original.max_items, update.max_items)
    found += bound_change("minItems", original.min_items, update.min_items)
    if original.unique_items != update.unique_items:
        kind = "UNIQUE_ITEMS_REMOVED" if original.unique_items else "UNIQUE_ITEMS_ADDED"
        found.append(Difference(kind, ("uniqueItems",)))
    found += bound_change("maxContains", original.max_contains, update.max_contains)
    found += bound_change("minContains", original.min_contains, update.min_contains)
    return found


def _item_list(compare: Compare, original: ArrayNode, update: ArrayNode) -> list[Difference]:
    was, now = original.item_list or [], update.item_list or []
    found: list[Difference] = []
    for index in range(max(len(was), len(now))):
        here = ("items", str(index))
        if index < len(was) and index < len(now):
            changes = compare(was[index], now[index])
        elif index < len(was):
            changes = _item_removed(compare, was[index], update)
        else:
            changes = _item_added(compare, original, now[index])
        found += [d.under(*here) for d in changes]
    return found


def _item_removed(compare: Compare, was: Node, update: ArrayNode) -> list[Difference]:
    if _array_open(update):
        return [Difference("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", ())]
    covering = _array_partial_schema(update)
    if covering is not None:
        return _covered(compare(was, covering), "ITEM_REMOVED")
    kind = "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL" if isinstance(was, FalseNode) \
        else "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"
    return [Difference(kind, ())]


def _item_added(compare: Compare, original: ArrayNode, now: Node) -> list[Difference]:
    if _array_open(original):
        kind = "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL" if isinstance(now, EmptyNode) \
            else "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
        return [Difference(kind, ())]
    covering = _array_partial_schema(original)
    if covering is not None:
        return _covered(compare(covering, now), "ITEM_ADDED")
    return [Difference("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", ())]


def _array_open(node: ArrayNode) -> bool:
    return (node.permits_additional and node.additional_schema is None
            and (node.unevaluated is None or isinstance(node.unevaluated, EmptyNode)))


def _array_partial_schema(node: ArrayNode) -> Node | None:
    if node.additional_schema is not None:
        return node.additional_schema
    return _bounding(node.unevaluated) if node.permits_additional else None

