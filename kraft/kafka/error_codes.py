"""Kafka error codes for exceptions raised below the front door."""

from __future__ import annotations

from kraft.errors import KraftError

NONE = 0
UNKNOWN_SERVER_ERROR = -1
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43


def code_of(exc: BaseException) -> int:
    """The code a client's retry logic understands; unclassified failures are -1."""
    return exc.kafka_code if isinstance(exc, KraftError) else UNKNOWN_SERVER_ERROR
