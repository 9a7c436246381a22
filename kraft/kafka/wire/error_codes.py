"""How the listener answers with Kafka's error codes (named in kraft/errors/kafka_codes.py,
read here as error_codes.X): conditions raised below the front door carry their own code
(kraft.errors) and reach the wire through code_of."""

from __future__ import annotations

from kraft.errors import KraftError
from kraft.errors.kafka_codes import *  # noqa: F401,F403  (the codes, named once: error_codes.X reads them)


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
