"""Kafka error codes the listener answers with itself; conditions raised below the front
door carry their own code (kraft.errors) and reach the wire through code_of."""

from __future__ import annotations

from kraft.errors import KraftError

NONE = 0
UNKNOWN_SERVER_ERROR = -1
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUIRED_ACKS = 21
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
UNSUPPORTED_VERSION = 35
INVALID_CONFIG = 40
INVALID_REQUEST = 42
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
UNKNOWN_TOPIC_ID = 100
UNSUPPORTED_ENDPOINT_TYPE = 119
TRANSACTION_ABORTABLE = 120


def code_of(exc: BaseException) -> int:
    """The code a client's retry logic understands; unclassified failures are -1."""
    return exc.kafka_code if isinstance(exc, (KraftError, Answer)) else UNKNOWN_SERVER_ERROR


def message_of(exc: BaseException) -> str:
    """A refusal's words for a Kafka answer's error_message: a condition's own message, the
    same REST answers with (kraft/api/error_map.py)."""
    return exc.message if isinstance(exc, KraftError) else str(exc)


class Answer(Exception):
    """A handler's own refusal of one item of a request, with the code to answer: it
    reaches the wire through code_of like the conditions raised below the front door.
    Not a KraftError: it never leaves the listener, so it is no class a peer could name."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.kafka_code = code


REFUSALS = (KraftError, Answer)  # what a handler answers per item instead of failing the request
