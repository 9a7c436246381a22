"""The differences Confluent's JSON Schema rules find between a writer's schema and a
reader's, by Confluent's names (its Difference.Type), which of them a reader tolerates
(its strict policy, the registry's default), and each incompatible one as Confluent's
verbose message words it: the first blank names the reader's schema, the second the
writer's."""

from __future__ import annotations

from typing import NamedTuple


class Difference(NamedTuple):
    type: str  # Confluent's Difference.Type name, e.g. PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL
    path: tuple[str, ...]  # JSON path segments below the schema compared

    def under(self, *prefix: str) -> "Difference":
        return Difference(self.type, prefix + self.path)

    @property
    def json_path(self) -> str:
        return "#/" + "/".join(self.path)


COMPATIBLE = frozenset("""
ID_CHANGED DESCRIPTION_CHANGED TITLE_CHANGED DEFAULT_CHANGED SCHEMA_REMOVED TYPE_EXTENDED
MAX_LENGTH_INCREASED MAX_LENGTH_REMOVED MIN_LENGTH_DECREASED MIN_LENGTH_REMOVED PATTERN_REMOVED
MAXIMUM_INCREASED MAXIMUM_REMOVED MINIMUM_DECREASED MINIMUM_REMOVED EXCLUSIVE_MAXIMUM_INCREASED
EXCLUSIVE_MAXIMUM_REMOVED EXCLUSIVE_MINIMUM_DECREASED EXCLUSIVE_MINIMUM_REMOVED MULTIPLE_OF_REDUCED
MULTIPLE_OF_REMOVED
REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED REQUIRED_ATTRIBUTE_REMOVED DEPENDENCY_ARRAY_NARROWED
DEPENDENCY_ARRAY_REMOVED DEPENDENCY_SCHEMA_REMOVED MAX_PROPERTIES_INCREASED MAX_PROPERTIES_REMOVED
MIN_PROPERTIES_DECREASED MIN_PROPERTIES_REMOVED ADDITIONAL_PROPERTIES_ADDED
ADDITIONAL_PROPERTIES_EXTENDED UNEVALUATED_PROPERTIES_ADDED UNEVALUATED_PROPERTIES_EXTENDED
PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
MAX_ITEMS_INCREASED MAX_ITEMS_REMOVED MIN_ITEMS_DECREASED MIN_ITEMS_REMOVED MAX_CONTAINS_INCREASED
MAX_CONTAINS_REMOVED MIN_CONTAINS_DECREASED MIN_CONTAINS_REMOVED UNIQUE_ITEMS_REMOVED
ADDITIONAL_ITEMS_ADDED ADDITIONAL_ITEMS_EXTENDED UNEVALUATED_ITEMS_ADDED UNEVALUATED_ITEMS_EXTENDED
ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL ITEM_ADDED_TO_CLOSED_CONTENT_MODEL
ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
ENUM_ARRAY_EXTENDED COMBINED_TYPE_EXTENDED PRODUCT_TYPE_NARROWED SUM_TYPE_EXTENDED NOT_TYPE_NARROWED
""".split())


def compatible(differences: list[Difference]) -> bool:
    return all(difference.type in COMPATIBLE for difference in differences)


def _types(words: str) -> frozenset[str]:
    return frozenset(words.split())


_KEYWORD_ADDED_OR_REMOVED = _types("""
MAXIMUM_ADDED MINIMUM_ADDED EXCLUSIVE_MAXIMUM_ADDED EXCLUSIVE_MINIMUM_ADDED MULTIPLE_OF_ADDED
MAX_LENGTH_ADDED MIN_LENGTH_ADDED PATTERN_ADDED REQUIRED_ATTRIBUTE_ADDED MAX_PROPERTIES_ADDED
MIN_PROPERTIES_ADDED DEPENDENCY_ARRAY_ADDED DEPENDENCY_SCHEMA_ADDED MAX_ITEMS_ADDED MIN_ITEMS_ADDED
MAX_CONTAINS_ADDED MIN_CONTAINS_ADDED UNIQUE_ITEMS_ADDED ADDITIONAL_ITEMS_REMOVED
ADDITIONAL_PROPERTIES_REMOVED UNEVALUATED_PROPERTIES_REMOVED UNEVALUATED_ITEMS_REMOVED""")
_VALUE_INCREASED = _types("""MIN_LENGTH_INCREASED MINIMUM_INCREASED EXCLUSIVE_MINIMUM_INCREASED
MIN_PROPERTIES_INCREASED MULTIPLE_OF_EXPANDED MIN_ITEMS_INCREASED MIN_CONTAINS_INCREASED""")
_VALUE_DECREASED = _types("""MAX_LENGTH_DECREASED MAXIMUM_DECREASED MAX_ITEMS_DECREASED
MAX_CONTAINS_DECREASED EXCLUSIVE_MAXIMUM_DECREASED MAX_PROPERTIES_DECREASED""")
_VALUE_CHANGED = _types("PATTERN_CHANGED MULTIPLE_OF_CHANGED DEPENDENCY_ARRAY_CHANGED")
_TYPE_NARROWED = _types("""ADDITIONAL_ITEMS_NARROWED ENUM_ARRAY_NARROWED SUM_TYPE_NARROWED
ADDITIONAL_PROPERTIES_NARROWED UNEVALUATED_PROPERTIES_NARROWED UNEVALUATED_ITEMS_NARROWED""")
_TYPE_EXTENDED = _types("DEPENDENCY_ARRAY_EXTENDED PRODUCT_TYPE_EXTENDED SUM_TYPE_EXTENDED NOT_TYPE_EXTENDED")
_TYPE_CHANGED = _types("""TYPE_CHANGED TYPE_NARROWED COMBINED_TYPE_CHANGED
COMBINED_TYPE_SUBSCHEMAS_CHANGED ENUM_ARRAY_CHANGED""")
_ADDED_TO_OPEN = _types("""REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
ITEM_ADDED_TO_OPEN_CONTENT_MODEL""")

_TEMPLATES: list[tuple[frozenset[str], str]] = [
    (_KEYWORD_ADDED_OR_REMOVED, "The keyword at path '{path}' in the {0} schema is not present in the {1} schema"),
    (_VALUE_INCREASED, "The value at path '{path}' in the {0} schema is more than its value in the {1} schema"),
    (_VALUE_DECREASED, "The value at path '{path}' in the {0} schema is less than its value in the {1} schema"),
    (_VALUE_CHANGED, "The value at path '{path}' is different between the {0} and {1} schema"),
    (_TYPE_NARROWED, "An array or combined type at path '{path}' has fewer elements in the {0} schema "
                     "than the {1} schema"),
    (_TYPE_EXTENDED, "An array or combined type at path '{path}' has more elements in the {0} schema "
                     "than the {1} schema"),
    (_TYPE_CHANGED, "A type at path '{path}' is different between the {0} schema and the {1} schema"),
    (_ADDED_TO_OPEN, "The {0} schema has an open content model and has a property or item at path "
                     "'{path}' which is missing in the {1} schema"),
    (_types("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"),
     "The {0} schema has an unopen content model and has a required property at path '{path}' "
     "which is missing in the {1} schema"),
    (_types("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
     "The {0} has a closed content model and is missing a property or item present at path "
     "'{path}' in the {1} schema"),
    (_types("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL "
            "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
     "A property or item is missing in the {0} schema but present at path '{path}' in the {1} "
     "schema and is not covered by its partially open content model"),
    (_types("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL "
            "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"),
     "The {0} schema has a property or item at path '{path}' which is missing in the {1} schema "
     "and is not covered by its partially open content model"),
]


def message(difference: Difference, reader: str = "reader", writer: str = "writer") -> str:
    """Confluent's verbose line for one difference (its braces and quotes as it prints them)."""
    description = ""
    for types, template in _TEMPLATES:
        if difference.type in types:
            description = template.format(reader, writer, path=difference.json_path)
            break
    return '{errorType:"%s", description:"%s\'}' % (difference.type, description)
