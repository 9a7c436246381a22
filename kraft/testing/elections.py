"""Kafka's ElectLeaders for one partition, through a real Kafka admin client, and what
the cluster shows once each kind of election is done."""

from __future__ import annotations

from typing import Callable

from kraft.testing.cluster_state import replicas_of
from kraft.errors.kafka_codes import ELECTION_NOT_NEEDED

ELECTIONS = ("preferred", "unclean")
REQUEST_TIMEOUT_S = 60.0  # librdkafka's socket.timeout.ms


class ElectionRefused(RuntimeError):
    """The cluster refused the election; the message has Kafka's error."""


def elect(client_config: dict, topic: str, partition: int, election: str) -> str | None:
    """Ask for the election (client_config: the admin client's connection settings);
    None when the cluster did it (or it was not needed), else Kafka's error as the client
    reports it."""
    if election not in ELECTIONS:
        raise ValueError(f"election is one of {', '.join(ELECTIONS)}, not {election!r}")
    from confluent_kafka import ElectionType, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient
    admin = AdminClient(client_config)
    kind = ElectionType.PREFERRED if election == "preferred" else ElectionType.UNCLEAN
    # no request_timeout: confluent-kafka 2.16's elect_leaders fails on its own keywords;
    # the client's default (socket.timeout.ms, 60 s) bounds the request
    future = admin.elect_leaders(kind, [TopicPartition(topic, partition)])
    try:
        results = future.result(timeout=REQUEST_TIMEOUT_S + 5)
    except KafkaException as exc:
        return str(exc.args[0])
    for error in results.values():
        if error is not None:
            kafka_error = error.args[0] if isinstance(error, KafkaException) else error
            if kafka_error.code() != ELECTION_NOT_NEEDED:
                return str(kafka_error)
    return None


def outcome(election: str) -> Callable[[dict], bool]:
    """A predicate on a partition's view: the election's effect is visible."""
    if election == "preferred":
        return lambda view: _first_replica(view) is not None and view.get("leader_id") == _first_replica(view)
    return lambda view: view.get("leader_id") is not None and view["leader_id"] >= 0


def _first_replica(view: dict) -> int | None:
    replicas = replicas_of(view)
    return replicas[0] if replicas else None
