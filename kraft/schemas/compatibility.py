"""Confluent's seven compatibility levels, built from one question a format answers:
can a reader with schema A read what schema B wrote (ParsedSchema.read_errors)?

- BACKWARD: the new schema reads what the latest version wrote (consumers upgrade first);
- FORWARD: the latest version reads what the new schema writes (producers upgrade first);
- FULL: both; the _TRANSITIVE levels ask it of every earlier version, not just the latest;
- NONE: no check.
Versions are given oldest first; soft-deleted versions are not among them."""

from __future__ import annotations

from typing import Sequence, TypeVar

from kraft.schemas.formats import ParsedSchema

LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
          "FULL", "FULL_TRANSITIVE", "NONE")
DEFAULT_LEVEL = "BACKWARD"
# Schema text one check may read (each earlier version parsed, then read with the new one
# in each direction): seconds of work, beside the event loop. A check past it is refused
# before it starts, as incompatible (the registry cannot show the schema is compatible).
MAX_CHECKED_CHARS = 32 * 1024 * 1024

T = TypeVar("T")


def compared(earlier: Sequence[T], level: str) -> list[T]:
    """The versions (oldest first) a check at `level` compares with."""
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}")
    if level == "NONE" or not earlier:
        return []
    return list(earlier) if level.endswith("_TRANSITIVE") else [earlier[-1]]


def too_large(new_size: int, earlier_sizes: Sequence[int], level: str) -> list[str]:
    """Why a check against versions of these text sizes is refused unread (empty: it is not)."""
    directions = 2 if level.startswith("FULL") else 1
    cost = sum(size + directions * (size + new_size) for size in earlier_sizes)
    if cost <= MAX_CHECKED_CHARS:
        return []
    return [f"the check against {len(earlier_sizes)} earlier versions would read {cost} characters of schema "
            f"text, over the {MAX_CHECKED_CHARS} one check may read: compatibility cannot be shown (fewer "
            "versions, e.g. a non-transitive level, or smaller schemas check)"]


def incompatibilities(new: ParsedSchema, earlier: Sequence[ParsedSchema], level: str) -> list[str]:
    """Why `new` may not follow `earlier` (oldest first) at `level`: empty when it may."""
    against = compared(earlier, level)
    if not against:
        return []
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
