"""Kafka's rule for topic names: [a-zA-Z0-9._-], 1-249 characters, not '.' or '..'. Pure."""

from __future__ import annotations

import re

from kraft.errors import InvalidValue

_LEGAL = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def validate_topic_name(name: object) -> str:
    """The name, or InvalidValue (42206) saying what is wrong with it."""
    if not isinstance(name, str) or not name:
        raise InvalidValue("topic name must be a non-empty string")
    if name in (".", ".."):
        raise InvalidValue(f"topic name cannot be {name!r}")
    if len(name) > 249:
        raise InvalidValue(f"topic name is {len(name)} characters long; the limit is 249")
    if not _LEGAL.match(name):
        raise InvalidValue(
            f"topic name {name!r} is illegal: only ASCII letters, digits, '.', '_' and '-' are allowed"
        )
    return name
