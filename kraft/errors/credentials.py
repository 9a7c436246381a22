"""SCRAM users and credentials (HTTP and the Kafka admin API)."""

from __future__ import annotations

from kraft.errors.base import KraftError
from kraft.errors.request import InvalidValue, NotFound


class UserAlreadyExists(KraftError):
    kafka_name, kafka_code = "DUPLICATE_RESOURCE", 92


class UnacceptableCredential(InvalidValue):
    """A credential kraft will not store (too few or too many iterations, no salt, no name)."""

    kafka_name, kafka_code = "UNACCEPTABLE_CREDENTIAL", 93


class UnsupportedSaslMechanism(InvalidValue):
    kafka_name, kafka_code = "UNSUPPORTED_SASL_MECHANISM", 33


class CredentialNotFound(NotFound):
    """A user, or a user's credential of one mechanism, that does not exist."""

    kafka_name, kafka_code = "RESOURCE_NOT_FOUND", 91


class DuplicateResource(InvalidValue):
    """One request names the same user twice."""

    kafka_name, kafka_code = "DUPLICATE_RESOURCE", 92
