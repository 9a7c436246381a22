"""Confluent's data contracts: a schema's `metadata` (tags, properties, sensitive) and
`ruleSet` (migration, domain and encoding rules), checked and put in one canonical form,
kept as canonical JSON text (so that equal contracts are equal strings: part of what
makes two registrations one schema), merged as Confluent merges a config's defaults and
overrides, and read back as JSON. The registry stores and returns rules; clients run them.
Pure.

Canonical form, as Confluent's entities serialize (empty parts left out): metadata
{"properties": {k: v}, "sensitive": [sorted], "tags": {path: [sorted]}}; a rule {"name",
"doc", "kind" (TRANSFORM default), "mode" (WRITEREAD default), "type", "tags" (sorted),
"params", "expr", "onSuccess", "onFailure", "disabled"}; a rule set {"migrationRules",
"domainRules", "encodingRules", "enableAt"}."""

from __future__ import annotations

import json
from typing import Any

from kraft.schemas.registry_errors import RegistryError

INVALID_RULESET = 42210  # Confluent's code for a rule set its validation refuses
EMPTY = "{}"  # a contract given with nothing in it: stops inheritance, stores nothing
KINDS = ("TRANSFORM", "CONDITION")
MIGRATION_MODES = ("UPGRADE", "DOWNGRADE", "UPDOWN")
DATA_MODES = ("WRITE", "READ", "WRITEREAD")
ENABLE_AT = ("ALL", "CLIENT", "GATEWAY", "SERVER", "NONE")
RULE_LISTS = ("migrationRules", "domainRules", "encodingRules")
NAME_MAX_LENGTH = 256
_RULE_TEXT_FIELDS = ("name", "doc", "type", "expr", "onSuccess", "onFailure")


class ContractError(ValueError):
    """A metadata or rule set of the wrong shape (the caller picks the error code)."""


def _text(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(f"{what} must be a list of strings")
    return sorted(set(value))


def _string_map(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ContractError(f"{what} must be an object of strings")
    return dict(value)


def canonical_metadata(obj: object) -> str:
    """Metadata as canonical text (EMPTY when it holds nothing); ContractError if malformed."""
    if not isinstance(obj, dict):
        raise ContractError("metadata must be an object")
    out: dict[str, Any] = {}
    tags = obj.get("tags")
    if tags is not None:
        if not isinstance(tags, dict):
            raise ContractError("metadata.tags must be an object of lists of strings")
        found = {path: _strings(values, f"metadata.tags[{path!r}]") for path, values in tags.items()}
        if found := {path: values for path, values in found.items() if values}:
            out["tags"] = found
    if obj.get("properties") is not None and (props := _string_map(obj["properties"], "metadata.properties")):
        out["properties"] = props
    if obj.get("sensitive") is not None and (sensitive := _strings(obj["sensitive"], "metadata.sensitive")):
        out["sensitive"] = sensitive
    return _text(out)


def _canonical_rule(obj: object) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ContractError("a rule must be an object")
    out: dict[str, Any] = {}
    for name in _RULE_TEXT_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise ContractError(f"a rule's {name} must be a string")
        if value is not None:
            out[name] = value
    kind, mode = obj.get("kind") or "TRANSFORM", obj.get("mode") or "WRITEREAD"
    if kind not in KINDS:
        raise ContractError(f"a rule's kind must be one of {', '.join(KINDS)}")
    if mode not in MIGRATION_MODES + DATA_MODES:
        raise ContractError(f"a rule's mode must be one of {', '.join(MIGRATION_MODES + DATA_MODES)}")
    out["kind"], out["mode"] = kind, mode
    if obj.get("tags") is not None and (tags := _strings(obj["tags"], "a rule's tags")):
        out["tags"] = tags
    if obj.get("params") is not None and (params := _string_map(obj["params"], "a rule's params")):
        out["params"] = params
    disabled = obj.get("disabled", False)
    if not isinstance(disabled, bool) and disabled is not None:
        raise ContractError("a rule's disabled must be true or false")
    out["disabled"] = bool(disabled)
    return out


def canonical_rule_set(obj: object) -> str:
    """A rule set as canonical text (EMPTY when it holds no rule); ContractError if malformed."""
    if not isinstance(obj, dict):
        raise ContractError("ruleSet must be an object")
    out: dict[str, Any] = {}
    for name in RULE_LISTS:
        rules = obj.get(name)
        if rules is None:
            continue
        if not isinstance(rules, list):
            raise ContractError(f"ruleSet.{name} must be a list of rules")
        if rules:
            out[name] = [_canonical_rule(rule) for rule in rules]
    enable_at = obj.get("enableAt")
    if enable_at is not None:
        if enable_at not in ENABLE_AT:
            raise ContractError(f"ruleSet.enableAt must be one of {', '.join(ENABLE_AT)}")
        out["enableAt"] = enable_at
    return _text(out)


def _valid_name(name: str | None) -> str | None:
    """Why Confluent refuses a rule name; None when it takes it."""
    if name is None:
        return "Missing rule name"
    if not name:
        return "Empty rule name"
    if len(name) > NAME_MAX_LENGTH:
        return "Rule name too long"
    if not (name[0].isalpha() or name[0] == "_"):
        return f"Illegal initial character in rule name: {name}"
    if any(not (c.isalnum() or c in "_-") for c in name[1:]):
        return f"Illegal character in rule name: {name}"
    return None


def rule_set_problem(text: str | None) -> str | None:
    """Confluent's validation of a rule set (unique, well-formed names, a type, modes that
    fit the list, several actions only for WRITEREAD/UPDOWN); None when valid."""
    if text is None:
        return None
    names: set[str] = set()
    for list_name in RULE_LISTS:
        allowed = MIGRATION_MODES if list_name == "migrationRules" else DATA_MODES
        for rule in json.loads(text).get(list_name, []):
            name = rule.get("name")
            if name is not None and name in names:
                return f"Found rule with duplicate name '{name}'"
            names.add(name)
            why = _valid_name(name) or (None if "type" in rule else "Missing rule type")
            for action in (rule.get("onSuccess"), rule.get("onFailure")):
                if action and "," in action and rule["mode"] not in ("WRITEREAD", "UPDOWN"):
                    why = why or "Multiple actions only valid with WRITEREAD and UPDOWN"
            if why is None and rule["mode"] not in allowed:
                kind = list_name.removesuffix("Rules").capitalize()
                why = f"{kind} rules can only be {', '.join(allowed)}"
            if why is not None:
                return why
    return None


def rule_set_from_request(obj: object) -> str | None:
    """A client's ruleSet, checked (42210 as Confluent answers a rule set it refuses)."""
    if obj is None:
        return None
    try:
        text = canonical_rule_set(obj)
    except ContractError as exc:
        raise RegistryError(INVALID_RULESET, str(exc)) from None
    if (why := rule_set_problem(text)) is not None:
        raise RegistryError(INVALID_RULESET, why)
    return text


def metadata_from_request(obj: object, error_code: int) -> str | None:
    if obj is None:
        return None
    try:
        return canonical_metadata(obj)
    except ContractError as exc:
        raise RegistryError(error_code, str(exc)) from None


def stored(text: str | None) -> str | None:
    """What a record keeps: nothing for an empty contract."""
    return None if text == EMPTY else text


def as_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def merge_metadata(old: str | None, new: str | None) -> str | None:
    """Confluent's merge: `new`'s tags and properties over `old`'s, sensitive united."""
    if old is None or new is None:
        return new if old is None else old
    a, b = json.loads(old), json.loads(new)
    merged: dict[str, Any] = {}
    for part in ("tags", "properties"):
        if both := {**a.get(part, {}), **b.get(part, {})}:
            merged[part] = both
    if sensitive := sorted(set(a.get("sensitive", [])) | set(b.get("sensitive", []))):
        merged["sensitive"] = sensitive
    return _text(merged)


def merge_rule_sets(old: str | None, new: str | None) -> str | None:
    """Confluent's merge: per list, `old`'s rules not named in `new`, then `new`'s."""
    if old is None or new is None:
        return new if old is None else old
    a, b = json.loads(old), json.loads(new)
    merged: dict[str, Any] = {}
    for name in RULE_LISTS:
        newer = b.get(name, [])
        names = {r.get("name") for r in newer}
        if rules := [r for r in a.get(name, []) if r.get("name") not in names] + newer:
            merged[name] = rules
    if (enable_at := b.get("enableAt", a.get("enableAt"))) is not None:
        merged["enableAt"] = enable_at
    return _text(merged)


def property_of(metadata: str | None, name: str) -> str | None:
    """A metadata property's value (what `compatibilityGroup` names)."""
    if metadata is None:
        return None
    value = json.loads(metadata).get("properties", {}).get(name)
    return value if isinstance(value, str) else None
