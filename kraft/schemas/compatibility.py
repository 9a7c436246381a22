"""Confluent's seven compatibility levels, built from one question a format answers:
can a reader with schema A read what schema B wrote (ParsedSchema.read_errors)?

- BACKWARD: the new schema reads what the latest version wrote (consumers upgrade first);
- FORWARD: the latest version reads what the new schema writes (producers upgrade first);
- FULL: both; the _TRANSITIVE levels ask it of every earlier version, not just the latest;
- NONE: no check.
Versions are given oldest first; soft-deleted versions are not among them."""

from __future__ import annotations

from typing import Sequence

from kraft.schemas.formats import ParsedSchema

LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
          "FULL", "FULL_TRANSITIVE", "NONE")
DEFAULT_LEVEL = "BACKWARD"


def incompatibilities(new: ParsedSchema, earlier: Sequence[ParsedSchema], level: str) -> list[str]:
    """Why `new` may not follow `earlier` (oldest first) at `level`: empty when it may."""
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}")
    if level == "NONE" or not earlier:
        return []
    against = list(earlier) if level.endswith("_TRANSITIVE") else [earlier[-1]]
    backward = level.startswith(("BACKWARD", "FULL"))
    forward = level.startswith(("FORWARD", "FULL"))
    messages: list[str] = []
    for old in reversed(against):  # the latest first, as Confluent reports them
        if old.schema_type != new.schema_type:
            messages.append(f"the schema type changed from {old.schema_type} to {new.schema_type}")
            continue
        if backward:
            messages += new.read_errors(old)
        if forward:
            messages += old.read_errors(new)
    return messages
