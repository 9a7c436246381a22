"""Kafka's client quotas as the image holds them: which quota applies to a request, what a
DescribeClientQuotas filter matches, which alterations are valid. Pure.

An entity is a sorted tuple of (type, name) pairs; a name None is the type's default
(Kafka's <default>). A request from user U with client id C takes, per quota key, the
value of the first entity in Kafka's order that sets that key:

    user U + client C, user U + default client, user U,
    default user + client C, default user + default client, default user,
    client C, default client

The quota is shared by the requests that map to the same *bucket*: the matched entity
with each default replaced by the request's own name, and the types the entity does not
name left empty (as Kafka's quota metric tags): a quota set for user U alone is one
budget for all of U's clients; a default client quota is a budget per client id.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Optional

USER, CLIENT_ID, IP = "user", "client-id", "ip"
ENTITY_TYPES = (CLIENT_ID, IP, USER)

PRODUCER_BYTE_RATE = "producer_byte_rate"
CONSUMER_BYTE_RATE = "consumer_byte_rate"
REQUEST_PERCENTAGE = "request_percentage"
ENFORCED_KEYS = (PRODUCER_BYTE_RATE, CONSUMER_BYTE_RATE, REQUEST_PERCENTAGE)
# Kafka's other keys: named so a request for them gets a clear refusal
NOT_ENFORCED_KEYS = ("controller_mutation_rate", "connection_creation_rate")

Entity = tuple[tuple[str, Optional[str]], ...]
Quotas = Mapping[Entity, Mapping[str, float]]


def entity_of(parts: Iterable[tuple[str, str | None]]) -> Entity:
    return tuple(sorted(parts, key=lambda p: p[0]))


@functools.lru_cache(maxsize=4096)  # asked on every request while quotas are set
def _precedence(user: str, client_id: str) -> tuple[Entity, ...]:
    return tuple(entity_of(e) for e in (
        ((USER, user), (CLIENT_ID, client_id)), ((USER, user), (CLIENT_ID, None)), ((USER, user),),
        ((USER, None), (CLIENT_ID, client_id)), ((USER, None), (CLIENT_ID, None)), ((USER, None),),
        ((CLIENT_ID, client_id),), ((CLIENT_ID, None),),
    ))


# a client's rate bucket: (quota key, (("user", name or ""), ("client-id", id or "")))
Bucket = tuple[str, tuple[tuple[str, str], ...]]


def applicable(quotas: Quotas, user: str, client_id: str, key: str) -> tuple[float, Bucket] | None:
    """(the quota's value, its bucket) for a request, or None when no entity sets `key`."""
    if not quotas:
        return None
    for entity in _precedence(user, client_id):
        value = quotas.get(entity, {}).get(key)
        if value is not None:
            own = {USER: user, CLIENT_ID: client_id}
            named = dict(entity)
            bucket = tuple((t, own[t] if t in named else "") for t in (USER, CLIENT_ID))
            return value, (key, bucket)
    return None


# DescribeClientQuotas match types (Kafka's ClientQuotaFilterComponent)
MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2


def matching(quotas: Quotas, components: list[tuple[str, int, str | None]], strict: bool) -> list[Entity]:
    """The entities a filter selects: each component (type, match type, name) must hold
    (exact name, the default, or any specified name); with `strict`, the entity names no
    other type."""
    out = []
    for entity in sorted(quotas, key=repr):
        named = dict(entity)
        if strict and set(named) != {c[0] for c in components}:
            continue
        if all(_component_holds(named, c) for c in components):
            out.append(entity)
    return out


def _component_holds(named: dict[str, str | None], component: tuple[str, int, str | None]) -> bool:
    entity_type, match_type, match = component
    if entity_type not in named:
        return False
    name = named[entity_type]
    if match_type == MATCH_EXACT:
        return name == match
    if match_type == MATCH_DEFAULT:
        return name is None
    return name is not None  # MATCH_SPECIFIED: any name, not the default


def filter_problem(components: list[tuple[str, int, str | None]]) -> str | None:
    types = [c[0] for c in components]
    if len(set(types)) != len(types):
        return "an entity type may appear once in a filter"
    for entity_type, match_type, match in components:
        if entity_type not in ENTITY_TYPES:
            return f"unknown entity type {entity_type!r}"
        if match_type not in (MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED):
            return f"unknown match type {match_type}"
        if match_type == MATCH_EXACT and match is None:
            return "an exact match needs a name"
    return None


def entity_problem(entity: Entity) -> str | None:
    """Kafka's valid entities: a user, a client id, both, or an ip alone."""
    types = [t for t, _ in entity]
    if not types or len(set(types)) != len(types) or any(t not in ENTITY_TYPES for t in types):
        return f"not a quota entity: {dict(entity)}"
    if IP in types:
        return "ip quotas (connection_creation_rate) are not enforced by kraft"
    if any(name == "" for _, name in entity):
        return "an entity name may not be empty (a null name is the default)"
    return None


def op_problem(key: str, value: float | None) -> str | None:
    if key in NOT_ENFORCED_KEYS:
        return f"{key} is not enforced by kraft"
    if key not in ENFORCED_KEYS:
        return f"unknown quota {key!r} (one of {', '.join(ENFORCED_KEYS)})"
    if value is not None and not value > 0:
        return f"{key} must be positive, got {value}"
    return None
