"""Conditions of records written or read with a registered schema (the HTTP door's
avro, jsonschema and protobuf formats; Confluent REST Proxy's codes, docs/API.md)."""

from __future__ import annotations

from kraft.errors.base import RetriableError
from kraft.errors.request import InvalidValue, NotFound


class SchemaNotFound(NotFound):
    """No registered schema has the id, or the subject has no such version (40403)."""


class KeySchemaMissing(InvalidValue):
    """Records with keys in a schema format, and no key schema given (42201)."""


class ValueSchemaMissing(InvalidValue):
    """Records with values in a schema format, and no value schema given (42202)."""


class DataDoesNotFitSchema(InvalidValue):
    """The data cannot be written with its schema (42203, Confluent's JSON conversion error)."""
    kafka_name, kafka_code = "INVALID_RECORD", 87


class SchemaRefused(InvalidValue):
    """The registry refused a schema given as text: invalid, or incompatible (42205)."""


class RecordNotDecodable(InvalidValue):
    """A consumed record lacks the framing or names a schema it was not written with (42207)."""


class SchemaRegistryUnavailable(RetriableError):
    """The registry could not answer in time (its log is loading, its writer is moving)."""
