"""Kafka's AlterClientQuotas on the controller: each entry (an entity and its changes) is
checked alone and answered alone; the valid ones become ClientQuota records. Pure."""

from __future__ import annotations

from typing import Any

from kraft.controller.result import ControllerResult
from kraft.errors import BadRequest
from kraft.metadata.client_quotas import Entity, entity_problem, op_problem
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import ClientQuota, MetadataRecord


def alter_client_quotas(image: MetadataImage, entries: list[tuple[Entity, list[tuple[str, float | None]]]],
                        validate_only: bool) -> ControllerResult:
    """entries: (entity, [(key, value, or None to remove)]). Kafka answers an entry named
    twice, or a key changed twice within an entry, as INVALID_REQUEST."""
    records: list[MetadataRecord] = []
    results: list[dict[str, Any]] = []
    seen: set[Entity] = set()
    for entity, ops in entries:
        problem = entity_problem(entity)
        if problem is None and entity in seen:
            problem = "an entity may be altered once per request"
        keys = [key for key, _ in ops]
        if problem is None and len(set(keys)) != len(keys):
            problem = "a quota may be changed once per entity and request"
        problem = problem or next((p for key, value in ops if (p := op_problem(key, value))), None)
        seen.add(entity)
        if problem is not None:
            results.append({"entity": [list(part) for part in entity], "error": BadRequest.__name__,
                            "message": problem})
            continue
        results.append({"entity": [list(part) for part in entity], "error": None, "message": None})
        if not validate_only:
            records += [ClientQuota(entity=entity, key=key, value=value) for key, value in ops]
    return ControllerResult(records, {"results": results})
