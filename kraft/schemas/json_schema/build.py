"""A checked JSON Schema document to the nodes of json_schema/model.py, with every $ref
resolved (through the references the registry gave) to the node of its target."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import regex
from referencing.exceptions import Unresolvable

from kraft.schemas.formats import InvalidSchema
from kraft.schemas.json_schema.load import (
    BASE_URI, DRAFT_4, DRAFT_6, DRAFT_7, DRAFT_2019_09, DRAFT_2020_12, LoadedSchema, specification)
from kraft.schemas.json_schema.model import (
    ArrayNode, BooleanNode, CombinedNode, ConditionalNode, ConstNode, EmptyNode, EnumNode,
    FalseNode, Node, NotNode, NullNode, NumberNode, ObjectNode, RefNode, StringNode)
from kraft.schemas.patterns import PatternTooLarge, check_pattern

if TYPE_CHECKING:  # the library exports its resolver's type only from a private module
    from referencing._core import Resolver

MAX_NODES = 50_000

NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
STRING_KEYWORDS = ("minLength", "maxLength", "pattern", "format")
CONDITIONAL_KEYWORDS = ("if", "then", "else")
COMBINERS = ("allOf", "anyOf", "oneOf")


def object_keywords(draft: int) -> tuple[str, ...]:
    words: tuple[str, ...] = ("properties", "required", "minProperties", "maxProperties",
                              "dependencies", "patternProperties", "additionalProperties")
    if draft >= DRAFT_6:
        words += ("propertyNames",)
    if draft >= DRAFT_2019_09:
        words += ("dependentRequired", "dependentSchemas", "unevaluatedProperties")
    return words


def array_keywords(draft: int) -> tuple[str, ...]:
    words: tuple[str, ...] = ("items", "additionalItems", "minItems", "maxItems", "uniqueItems")
    if draft >= DRAFT_6:
        words += ("contains",)
    if draft >= DRAFT_2019_09:
        words += ("minContains", "maxContains", "unevaluatedItems")
    if draft >= DRAFT_2020_12:
        words += ("prefixItems",)
    return words


def build(loaded: LoadedSchema) -> Node:
    shared = _Shared()
    root = shared.builder(loaded.draft).node(loaded.document, loaded.registry.resolver(base_uri=BASE_URI))
    while shared.pending:  # $ref targets, each built once, so a cycle ends
        ref, contents, resolver = shared.pending.pop()
        target = shared.targets.get(id(contents))
        if target is None:  # read by the draft of the document it is in
            draft = loaded.drafts.get(id(contents), loaded.draft)
            target = shared.targets[id(contents)] = shared.builder(draft).node(contents, resolver)
        ref.target = target
    return root


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class _Shared:
    """What the builders of one schema (one per draft among its documents) share."""

    def __init__(self) -> None:
        self.nodes = 0
        self.pending: list[tuple[RefNode, Any, Resolver[Any]]] = []
        self.targets: dict[int, Node] = {}  # id() of a schema object -> its node, for $refs
        self.builders: dict[int, _Builder] = {}

    def builder(self, draft: int) -> _Builder:
        return self.builders.setdefault(draft, _Builder(self, draft))


class _Builder:
    def __init__(self, shared: _Shared, draft: int) -> None:
        self.shared = shared
        self.draft = draft

    def node(self, value: Any, resolver: Resolver[Any]) -> Node:
        self.shared.nodes += 1
        if self.shared.nodes > MAX_NODES:
            raise InvalidSchema(f"the schema has more than {MAX_NODES} subschemas")
        if value is True:
            return EmptyNode(source=value)
        if value is False:
            return FalseNode(source=value)
        if not isinstance(value, dict):
            return EmptyNode(source=value)  # the metaschema check let no other value through
        if self.id_keyword() in value and isinstance(value[self.id_keyword()], str):
            resolver = resolver.in_subresource(specification(self.draft).create_resource(value))
        parts = self.parts(value, resolver)
        node: Node
        if not parts:
            node = EmptyNode()
        elif len(parts) == 1:
            node = parts[0]
        else:
            node = CombinedNode(criterion="allOf", subschemas=parts)
        node.source = value
        self.annotate(node, value)
        self.shared.targets.setdefault(id(value), node)  # a $ref to this object reuses its node
        return node

    def id_keyword(self) -> str:
        return "id" if self.draft == DRAFT_4 else "$id"

    def annotate(self, node: Node, value: dict[str, Any]) -> None:
        if self.draft < DRAFT_2019_09:  # Confluent's 2019-09 and 2020-12 loader drops the $id
            node.id = _text(value.get(self.id_keyword()))
        node.title = _text(value.get("title"))
        node.description = _text(value.get("description"))
        node.has_default = "default" in value
        node.default = value.get("default")
        node.connect_type = _text(value.get("connect.type"))

    def parts(self, value: dict[str, Any], resolver: Resolver[Any]) -> list[Node]:
        """One node per way the schema object constrains, in Confluent's order."""
        parts: list[Node] = []
        if "$ref" in value and isinstance(value["$ref"], str):
            parts.append(self.reference(value["$ref"], resolver))
            if self.draft <= DRAFT_7:  # before 2019-09 a $ref's siblings are ignored
                return parts
        child: Callable[[Any], Node] = lambda sub: self.node(sub, resolver)
        if "enum" in value:
            parts.append(EnumNode(values=list(value["enum"])))
        for combiner in COMBINERS:
            if combiner in value:
                parts.append(CombinedNode(criterion=combiner,
                                          subschemas=[child(sub) for sub in value[combiner]]))
        if "not" in value:
            parts.append(NotNode(must_not_match=child(value["not"])))
        if "const" in value and self.draft != DRAFT_4:
            parts.append(ConstNode(value=value["const"]))
        consumed: set[str] = set()
        declared = value.get("type")
        if isinstance(declared, str):
            parts.append(self.typed(declared, value, child, consumed))
        elif isinstance(declared, list) and len(declared) == 1:
            parts.append(self.typed(declared[0], value, child, consumed))
        elif isinstance(declared, list):
            parts.append(CombinedNode(criterion="anyOf", subschemas=[
                self.typed(name, value, child, consumed) for name in declared]))
        parts += self.sniffed({k: v for k, v in value.items() if k not in consumed}, child)
        return parts

    def typed(self, name: str, value: dict[str, Any], child: Callable[[Any], Node],
              consumed: set[str]) -> Node:
        if name == "string":
            consumed.update(STRING_KEYWORDS)
            return self.string(value)
        if name in ("number", "integer"):
            consumed.update(NUMBER_KEYWORDS)
            return self.number(value, requires_integer=name == "integer")
        if name == "object":
            consumed.update(object_keywords(self.draft))
            return self.object(value, child)
        if name == "array":
            consumed.update(array_keywords(self.draft))
            return self.array(value, child)
        return BooleanNode() if name == "boolean" else NullNode()

    def sniffed(self, rest: dict[str, Any], child: Callable[[Any], Node]) -> list[Node]:
        """The schemas a type's keywords imply when no "type" names it."""
        parts: list[Node] = []
        if any(word in rest for word in array_keywords(self.draft)):
            parts.append(self.array(rest, child))
        if any(word in rest for word in object_keywords(self.draft)):
            parts.append(self.object(rest, child))
        if any(word in rest for word in NUMBER_KEYWORDS):
            parts.append(self.number(rest, requires_integer=False))
        if any(word in rest for word in STRING_KEYWORDS):
            parts.append(self.string(rest))
        if self.draft >= DRAFT_7 and any(word in rest for word in CONDITIONAL_KEYWORDS):
            parts.append(ConditionalNode())
        return parts

    def reference(self, ref: str, resolver: Resolver[Any]) -> RefNode:
        try:
            resolved = resolver.lookup(ref)
        except Unresolvable as e:
            raise InvalidSchema(f"$ref {ref!r} does not resolve (a reference not given?): {e}") from None
        node = RefNode(ref=ref)
        self.shared.pending.append((node, resolved.contents, resolved.resolver))
        return node

    def string(self, value: dict[str, Any]) -> StringNode:
        return StringNode(min_length=_int(value.get("minLength")), max_length=_int(value.get("maxLength")),
                          pattern=_pattern(value.get("pattern")))

    def number(self, value: dict[str, Any], requires_integer: bool) -> NumberNode:
        return NumberNode(minimum=_number(value.get("minimum")), maximum=_number(value.get("maximum")),
                          # draft 4's boolean exclusiveMaximum modifies maximum: no limit of its own
                          exclusive_minimum=_number(value.get("exclusiveMinimum")),
                          exclusive_maximum=_number(value.get("exclusiveMaximum")),
                          multiple_of=_number(value.get("multipleOf")), requires_integer=requires_integer)

    def object(self, value: dict[str, Any], child: Callable[[Any], Node]) -> ObjectNode:
        node = ObjectNode(min_properties=_int(value.get("minProperties")),
                          max_properties=_int(value.get("maxProperties")))
        node.properties = {name: child(sub) for name, sub in dict(value.get("properties", {})).items()}
        node.required = [name for name in value.get("required", []) if isinstance(name, str)]
        node.permits_additional, node.additional_schema = _open_or_schema(
            value.get("additionalProperties", True), child)
        node.pattern_properties = [(_checked_pattern(pattern), child(sub))
                                   for pattern, sub in dict(value.get("patternProperties", {})).items()]
        dependencies = dict(value.get("dependencies", {}))
        if self.draft >= DRAFT_2019_09:
            dependencies.update(value.get("dependentRequired", {}))
            dependencies.update(value.get("dependentSchemas", {}))
        for name, dependency in dependencies.items():
            if isinstance(dependency, list):
                node.property_dependencies[name] = frozenset(dependency)
            else:
                node.schema_dependencies[name] = child(dependency)
        if self.draft >= DRAFT_2019_09 and "unevaluatedProperties" in value:
            node.unevaluated = child(value["unevaluatedProperties"])
        return node

    def array(self, value: dict[str, Any], child: Callable[[Any], Node]) -> ArrayNode:
        node = ArrayNode(min_items=_int(value.get("minItems")), max_items=_int(value.get("maxItems")),
                         unique_items=value.get("uniqueItems") is True)
        items = value.get("items")
        if self.draft >= DRAFT_2020_12 and ("prefixItems" in value or isinstance(items, bool)):
            # "items" bounds the items after "prefixItems"; with none, true or false opens or
            # closes the array as additionalItems did (and a schema is every item's, below)
            node.item_list = [child(sub) for sub in value.get("prefixItems", [])] or None
            node.permits_additional, node.additional_schema = _open_or_schema(
                value.get("items", True), child)
        else:
            if isinstance(items, list):
                node.item_list = [child(sub) for sub in items]
            elif items is not None:
                node.all_items = child(items)
            node.permits_additional, node.additional_schema = _open_or_schema(
                value.get("additionalItems", True), child)
        if self.draft >= DRAFT_2019_09:
            node.min_contains = _int(value.get("minContains"))
            node.max_contains = _int(value.get("maxContains"))
            if "unevaluatedItems" in value:
                node.unevaluated = child(value["unevaluatedItems"])
        return node


def _open_or_schema(value: Any, child: Callable[[Any], Node]) -> tuple[bool, Node | None]:
    """additionalProperties / additionalItems: a boolean opens or closes, a schema bounds."""
    if isinstance(value, bool):
        return value, None
    return True, child(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _pattern(value: Any) -> str | None:
    return _checked_pattern(value) if isinstance(value, str) else None


def _checked_pattern(pattern: str) -> str:
    """A pattern validation will compile (draft 4's metaschema leaves patternProperties'
    keys unchecked; Confluent refuses a schema whose pattern does not compile)."""
    try:
        check_pattern(pattern)
    except (regex.error, PatternTooLarge) as e:
        raise InvalidSchema(f"the pattern {pattern[:80]!r} is refused: {e}") from None
    return pattern


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None
