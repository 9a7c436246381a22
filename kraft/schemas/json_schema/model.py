"""A JSON Schema as the compatibility rules see it: the typed schemas Confluent's rules
compare (a string schema, an object schema, a oneOf …), one node per subschema.

A schema object that constrains several ways at once ("type" with "enum", or with
"allOf") is the synthetic allOf of one node per way, in Confluent's order (enum,
allOf/anyOf/oneOf, not, const, type, then the keywords of a type it does not name);
"type": [..] is the anyOf of one node per type. Built by json_schema/build.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)  # nodes are compared by identity: a recursive schema is a graph
class Node:
    source: Any = None  # the JSON this node was read from
    id: str | None = None
    title: str | None = None
    description: str | None = None
    has_default: bool = False
    default: Any = None
    connect_type: str | None = None  # Kafka Connect's "connect.type" annotation


class EmptyNode(Node):
    """{} or true: anything is valid."""


class FalseNode(Node):
    """false: nothing is valid."""


class BooleanNode(Node):
    pass


class NullNode(Node):
    pass


class ConditionalNode(Node):
    """if / then / else: Confluent's rules compare nothing inside it."""


@dataclass(eq=False)
class StringNode(Node):
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


@dataclass(eq=False)
class NumberNode(Node):
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: int | float | None = None  # draft 6 on: a limit of its own
    exclusive_maximum: int | float | None = None
    multiple_of: int | float | None = None
    requires_integer: bool = False


@dataclass(eq=False)
class ObjectNode(Node):
    properties: dict[str, Node] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    permits_additional: bool = True
    additional_schema: Node | None = None
    pattern_properties: list[tuple[str, Node]] = field(default_factory=list)
    property_dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    schema_dependencies: dict[str, Node] = field(default_factory=dict)
    min_properties: int | None = None
    max_properties: int | None = None
    unevaluated: Node | None = None  # unevaluatedProperties (2019-09 on)


@dataclass(eq=False)
class ArrayNode(Node):
    all_items: Node | None = None  # "items": one schema for every item
    item_list: list[Node] | None = None  # "items": [..] (prefixItems in 2020-12)
    permits_additional: bool = True
    additional_schema: Node | None = None  # additionalItems (items after prefixItems in 2020-12)
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False
    min_contains: int | None = None
    max_contains: int | None = None
    unevaluated: Node | None = None  # unevaluatedItems (2019-09 on)


@dataclass(eq=False)
class CombinedNode(Node):
    criterion: str = "allOf"  # allOf, anyOf or oneOf
    subschemas: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class EnumNode(Node):
    values: list[Any] = field(default_factory=list)


@dataclass(eq=False)
class ConstNode(Node):
    value: Any = None


@dataclass(eq=False)
class NotNode(Node):
    must_not_match: Node = field(default_factory=EmptyNode)


@dataclass(eq=False)
class RefNode(Node):
    """A $ref; its target is set once the whole schema is built (it may be an ancestor)."""
    ref: str = ""
    target: Node | None = None


def kind_of(node: Node) -> str:
    """What Confluent compares for "same type": the node's class, every combination alike."""
    return type(node).__name__
