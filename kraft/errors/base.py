"""The root of every kraft error, and the three kinds the others are: the request's
fault, the cluster's state in the way (retriable), or a failure kraft cannot classify."""

from __future__ import annotations

# An HTTP client (another node, or a bundled client) that sends this header gets the
# error's class name in the answer ("error_class"), and tells conditions apart by it.
ERROR_CLASS_HEADER = "X-Kraft-Error-Class"


class KraftError(Exception):
    kafka_name = "UNKNOWN_SERVER_ERROR"
    kafka_code = -1
    retriable = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class RequestError(KraftError):
    kafka_name, kafka_code = "INVALID_REQUEST", 42


class RetriableError(KraftError):
    retriable = True


class UnknownServerError(KraftError):
    """A bug or an answer kraft cannot classify: the message says what failed; never used
    for bad input."""
