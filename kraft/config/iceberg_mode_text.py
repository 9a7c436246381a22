"""The text of an Iceberg topic's mode (the topic config `iceberg.mode`, Redpanda's form):
`disabled`, `key_value`, `value_schema_id_prefix`, or `value_schema_latest` with options
after a colon, `value_schema_latest:subject=<subject>,protobuf_name=<message>`: the
subject whose latest schema reads the values (default `<topic>-value`) and, for a
Protobuf schema, the message the values are (default: the schema's first). Pure."""

from __future__ import annotations

import string
from dataclasses import dataclass

DISABLED, KEY_VALUE, ID_PREFIX, LATEST = "disabled", "key_value", "value_schema_id_prefix", "value_schema_latest"
MODES = (DISABLED, KEY_VALUE, ID_PREFIX, LATEST)
MAX_MODE_CHARS = 600
MAX_SUBJECT_CHARS = 255
_MESSAGE_CHARS = frozenset(string.ascii_letters + string.digits + "_.")


@dataclass(frozen=True)
class IcebergMode:
    name: str  # one of MODES
    subject: str | None = None  # value_schema_latest's subject (None: the topic's value subject)
    protobuf_name: str | None = None  # value_schema_latest's Protobuf message (None: the first)

    def subject_for(self, topic: str) -> str:
        return self.subject or f"{topic}-value"


def parse_mode(text: str) -> IcebergMode:
    """The mode the text names; ValueError saying what is wrong."""
    if len(text) > MAX_MODE_CHARS:
        raise ValueError(f"longer than {MAX_MODE_CHARS} characters")
    name, colon, options = text.partition(":")
    if name not in MODES:
        raise ValueError(f"the mode is one of {', '.join(MODES)}, not {name[:40]!r}")
    if not colon:
        return IcebergMode(name)
    if name != LATEST:
        raise ValueError(f"only {LATEST} takes options (subject=..., protobuf_name=...)")
    found: dict[str, str] = {}
    for option in options.split(","):
        key, eq, value = option.partition("=")
        if key not in ("subject", "protobuf_name") or not eq or not value:
            raise ValueError(f"an option is subject=<subject> or protobuf_name=<message>, not {option[:40]!r}")
        if key in found:
            raise ValueError(f"{key} is given twice")
        found[key] = value
    subject, message = found.get("subject"), found.get("protobuf_name")
    if subject is not None and (len(subject) > MAX_SUBJECT_CHARS or not subject.isprintable()):
        raise ValueError(f"subject must be printable and at most {MAX_SUBJECT_CHARS} characters")
    if message is not None and (not set(message) <= _MESSAGE_CHARS or message.startswith(".")
                                or message.endswith(".") or ".." in message):
        raise ValueError(f"protobuf_name is a message's full name such as pkg.Message, not {message[:40]!r}")
    return IcebergMode(name, subject, message)


def mode_problem(text: str) -> str | None:
    try:
        parse_mode(text)
        return None
    except ValueError as exc:
        return str(exc)
