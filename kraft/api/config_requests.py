"""The v3 bodies that change configs, shared by topic and cluster-wide configs."""

from __future__ import annotations

from kraft.errors import BadRequest


def put_value(body: dict):
    if set(body) != {"value"}:
        raise BadRequest('body must be {"value": "..."}')
    return body["value"]


def alter_changes(body: dict) -> tuple[dict, bool]:
    """{"data": [{"name", "value", "operation"?: SET|DELETE}], "validate_only"?} ->
    ({name: value, or None to delete}, validate_only)."""
    if set(body) - {"data", "validate_only"} or not isinstance(body.get("data"), list):
        raise BadRequest('body must be {"data": [{"name": ..., "value": ...}, ...]}')
    changes = {}
    for entry in body["data"]:
        if not isinstance(entry, dict) or set(entry) - {"name", "value", "operation"} \
                or not isinstance(entry.get("name"), str):
            raise BadRequest('each entry must be {"name": <string>, "value": ..., "operation"?: "SET"|"DELETE"}')
        operation = entry.get("operation", "SET")
        if not isinstance(operation, str) or operation.upper() not in ("SET", "DELETE"):
            raise BadRequest(f"operation must be SET or DELETE, got {operation!r}")
        changes[entry["name"]] = None if operation.upper() == "DELETE" else entry.get("value")
    return changes, validate_only(body)


def validate_only(body: dict) -> bool:
    flag = body.get("validate_only", False)
    if not isinstance(flag, bool):
        raise BadRequest("validate_only must be true or false")
    return flag
