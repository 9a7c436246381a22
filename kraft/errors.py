"""One exception class per API error, each with its error_code (API.md).

The HTTP status is the code's first three digits, so the table is the classes.
A user's mistake is a 4xx; only the cluster's own trouble is a 5xx.
"""

from __future__ import annotations


class KraftError(Exception):
    error_code = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def http_status(self) -> int:
        return int(str(self.error_code)[:3])

    def to_json(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}


class BadRequest(KraftError):
    error_code = 400


class NotFound(KraftError):
    error_code = 404


class MethodNotAllowed(KraftError):
    error_code = 405


class NotAcceptable(KraftError):
    error_code = 406


class PayloadTooLarge(KraftError):
    error_code = 413


class UnsupportedMediaType(KraftError):
    error_code = 415


class EmptyBody(KraftError):
    error_code = 422


class InvalidValue(KraftError):
    """Well-formed request, unacceptable value (bad name, RF too large, unknown config)."""

    error_code = 42206


class TopicNotFound(KraftError):
    error_code = 40401


class PartitionNotFound(KraftError):
    error_code = 40402


class ConsumerInstanceNotFound(KraftError):
    error_code = 40403


class TopicExists(KraftError):
    error_code = 40901


class ConsumerInstanceExists(KraftError):
    error_code = 40902


class ConsumerConflict(KraftError):
    """The instance's or group's state forbids it: mixing subscribe and assign, a commit
    from a member the group no longer knows or for a partition it does not own."""

    error_code = 40903


class Retriable(KraftError):
    """NOT_LEADER, NOT_ENOUGH_REPLICAS, leader not available, unknown outcome."""

    error_code = 50003


class NoQuorum(KraftError):
    error_code = 50301


class InternalError(KraftError):
    """A bug: the message says what failed; never used for bad input."""

    error_code = 500


class StaleBrokerEpoch(KraftError):
    """Internal RPC: the broker must register again (its registration was replaced)."""

    error_code = 40904


def error_from_json(status: int, body: dict) -> KraftError:
    """Rebuild an error answered by another node, so forwarding keeps the code."""
    code = body.get("error_code", status) if isinstance(body, dict) else status
    message = body.get("message", "") if isinstance(body, dict) else str(body)
    for cls in _all_subclasses(KraftError):
        if cls.error_code == code:
            return cls(message)
    err = KraftError(message)
    err.error_code = code
    return err


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)
