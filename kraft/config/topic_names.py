"""Kafka's rules for topic names: [a-zA-Z0-9._-], 1-249 characters, not '.' or '..';
and which names are the cluster's own (internal) topics. Pure."""

from __future__ import annotations

import re

from kraft.errors import InvalidValue
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
OFFSETS_TOPIC = "__consumer_offsets"  # the group coordinators' log
TXN_STATE_TOPIC = "__transaction_state"  # the transaction coordinators' log
SCHEMAS_TOPIC = "_schemas"  # the schema registry's log (Confluent's kafkastore.topic)
SHARE_STATE_TOPIC = "__share_group_state"  # share-partitions' state (KIP-932's share coordinator)
ICEBERG_COORDINATOR_TOPIC = "__iceberg_coordinator"  # whose leaders commit Iceberg topics' tables
# Kafka's Topic.isInternal (the coordinators' own logs), and the schema registry's: only
# the cluster creates them (with the replication and configs its settings give), and no
# client writes, deletes or grows them.
INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC, TXN_STATE_TOPIC, SCHEMAS_TOPIC, SHARE_STATE_TOPIC, ICEBERG_COORDINATOR_TOPIC})


def is_internal_topic(name: str) -> bool:
    return name in INTERNAL_TOPICS


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


def refuse_client_change_of_internal(name: str, change: str) -> None:
    """InvalidValue (Kafka's INVALID_REQUEST; 42206 over HTTP) when a client asks to
    `change` (create, delete, add partitions to) one of the cluster's internal topics."""
    if is_internal_topic(name):
        raise InvalidValue(f"{name} is an internal topic: only the cluster itself may {change} it")
