"""Confluent Schema Registry's error answers: an HTTP status and a body
{"error_code": ..., "message": ...}. The five-digit codes are the status followed by two
digits (40401 is a 404); an incompatible schema is plain 409. Pure."""

from __future__ import annotations


class RegistryError(Exception):
    """An answer the registry gives instead of a result."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status(self) -> int:
        return self.error_code // 100 if self.error_code >= 10000 else self.error_code

    def body(self) -> dict[str, object]:
        return {"error_code": self.error_code, "message": self.message}


SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_SOFT_DELETED = 40404
SUBJECT_NOT_SOFT_DELETED = 40405
VERSION_SOFT_DELETED = 40406
VERSION_NOT_SOFT_DELETED = 40407
SUBJECT_LEVEL_COMPATIBILITY_NOT_CONFIGURED = 40408
SUBJECT_LEVEL_MODE_NOT_CONFIGURED = 40409
INCOMPATIBLE_SCHEMA = 409
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY_LEVEL = 42203
INVALID_MODE = 42204
OPERATION_NOT_PERMITTED = 42205
REFERENCE_EXISTS = 42206
ID_DOES_NOT_MATCH = 42207
INVALID_SUBJECT = 42208
STORE_ERROR = 50001
OPERATION_TIMEOUT = 50002
FORWARDING_ERROR = 50003


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


def version_not_found(version: int) -> RegistryError:
    return RegistryError(VERSION_NOT_FOUND, f"Version {version} not found.")


def schema_not_found(schema_id: int | None = None) -> RegistryError:
    return RegistryError(SCHEMA_NOT_FOUND, "Schema not found" if schema_id is None
                         else f"Schema {schema_id} not found")


def invalid_schema(why: str) -> RegistryError:
    return RegistryError(INVALID_SCHEMA, f"Invalid schema: {why}")


def invalid_version(text: str) -> RegistryError:
    return RegistryError(INVALID_VERSION, f"The specified version '{text}' is not a valid version id. Allowed "
                         "values are between [1, 2^31-1] and the string \"latest\"")


def not_permitted(why: str) -> RegistryError:
    return RegistryError(OPERATION_NOT_PERMITTED, why)
