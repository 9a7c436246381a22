"""Confluent's schema guid: a UUID made of the MD5 of a schema's text, references,
metadata and rule set, fed in the order and encoding Confluent's Schema.updateHash uses
(so a guid is the same here as in any Confluent registry holding the same schema; the
schema type is not part of it there either). Computed, never stored. Pure."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from kraft.schemas.registry_codec import SchemaRecord
from kraft.schemas.registry_contracts import RULE_LISTS

_RULE_FIELDS_BEFORE_TAGS = ("name", "doc", "kind", "mode", "type")
_RULE_FIELDS_AFTER_PARAMS = ("expr", "onSuccess", "onFailure")


def _java_sorted(items: Any) -> list[str]:
    """Keys in Java's String order (UTF-16 code units), as its TreeMap and TreeSet keep them."""
    return sorted(items, key=lambda text: text.encode("utf-16-be"))


def _metadata(md: Any, metadata: dict[str, Any]) -> None:
    tags, props = metadata.get("tags", {}), metadata.get("properties", {})
    for path in _java_sorted(tags):
        md.update(path.encode())
        for tag in _java_sorted(tags[path]):
            md.update(tag.encode())
    for name in _java_sorted(props):
        md.update(name.encode())
        md.update(props[name].encode())
    for path in _java_sorted(metadata.get("sensitive", [])):
        md.update(path.encode())


def _rule(md: Any, rule: dict[str, Any]) -> None:
    for name in _RULE_FIELDS_BEFORE_TAGS:
        if name in rule:
            md.update(rule[name].encode())
    for tag in _java_sorted(rule.get("tags", [])):
        md.update(tag.encode())
    params = rule.get("params", {})
    for name in _java_sorted(params):
        md.update(name.encode())
        md.update(params[name].encode())
    for name in _RULE_FIELDS_AFTER_PARAMS:
        if name in rule:
            md.update(rule[name].encode())
    if rule.get("disabled"):
        md.update(b"\x01")


def guid_of(record: SchemaRecord) -> str:
    md = hashlib.md5(usedforsecurity=False)
    md.update(record.schema.encode())
    for ref in record.references:
        md.update(ref.name.encode())
        md.update(ref.subject.encode())
        md.update(ref.version.to_bytes(4, "big", signed=True))
    if record.metadata is not None:
        md.update(b"\x01")  # Confluent's marker: some metadata, even empty
        _metadata(md, json.loads(record.metadata))
    if record.rule_set is not None:
        md.update(b"\x01")
        rule_set = json.loads(record.rule_set)
        for name in RULE_LISTS:
            for rule in rule_set.get(name, []):
                _rule(md, rule)
        if "enableAt" in rule_set:
            md.update(rule_set["enableAt"].encode())
    return str(uuid.UUID(bytes=md.digest()))
