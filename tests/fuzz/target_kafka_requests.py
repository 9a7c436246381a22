"""Fuzz target: one Kafka request frame (without its 4-byte size) through the listener's
path (peek the head, the served-version check, the bounded decode); a frame that
decodes is re-encoded with kio and decoded again, which must give the same bytes.
A ShareFetch or ShareAcknowledge that decodes then meets the share handler's checks that
need no broker (kraft/kafka/handlers/share_api.py: the request's size, each partition's
acknowledgement shape), and the acknowledgements that pass are applied to a share-partition
(kraft/share/share_partition.py, no I/O) whose member holds the first WINDOW records.

Returns for anything kraft handles correctly, refusing it included (MalformedRequest:
the listener closes the connection; a refusal the share handler answers; AckRefused);
raises only on a bug. The seeds in CORPUS were recorded from real clients
(tests/fuzz/record_kafka_requests.py), the share-group ones written by make_corpus.py."""

from __future__ import annotations

import io
import pathlib
from types import SimpleNamespace
from typing import Any

from kio.serial import entity_reader, entity_writer

from kraft.config.cluster import GroupSettings
from kraft.kafka.handlers import share_api
from kraft.kafka.wire.codec import MalformedRequest
from kraft.kafka.connection.dispatch import parse
from kraft.share.share_partition import AckRefused, Batch, SharePartition

CORPUS = pathlib.Path(__file__).parent / "corpus" / "kafka_requests"
SHARE_FETCH, SHARE_ACKNOWLEDGE = 78, 79
WINDOW = 128  # records the member holds (the seeds acknowledge offsets below it)
SETTINGS = GroupSettings()


class _EveryTopic:
    """An image that knows every topic id (named after it): acknowledgements reach their checks."""

    def get(self, topic_id_hex: str) -> Any:
        return SimpleNamespace(name=f"topic-{topic_id_hex}")


# what the handler's checks read of the broker and of the request's context
NODE: Any = SimpleNamespace(image=SimpleNamespace(topics=_EveryTopic()), shares=SimpleNamespace(settings=SETTINGS))
CONTEXT: Any = SimpleNamespace(allowed=lambda operation, resource: True)


def fuzz_one(data: bytes) -> None:
    try:
        request = parse(data)
    except MalformedRequest:
        return
    if request.body is None:  # an ApiVersions version not served: its answer is ready
        return
    cls = type(request.body)
    first = _encoded(cls, request.body)
    again, used = entity_reader(cls)(first, 0)
    if used != len(first) or _encoded(cls, again) != first:
        raise AssertionError(f"{cls.__name__} v{request.head.api_version} does not survive a round trip")
    if request.head.api_key in (SHARE_FETCH, SHARE_ACKNOWLEDGE):
        _share_checks(request.head.api_key, request.head.api_version, request.body)


def _share_checks(api_key: int, version: int, body) -> None:
    """The share handler's steps up to its first use of a broker, as it calls them."""
    forgotten = body.forgotten_topics_data if api_key == SHARE_FETCH else ()
    if share_api._request_check(CONTEXT, body, forgotten) is not None:
        return  # answered with a whole-request error
    acks = share_api._Acks(NODE, body.topics)
    for key, problem in acks.refused.items():
        if not isinstance(problem, str) or not problem:
            raise AssertionError(f"partition {key} is refused without a reason: {problem!r}")
    for batches in acks.by_key.values():
        partition = SharePartition(0, SETTINGS.share_record_lock_duration_ms, SETTINGS.share_delivery_count_limit,
                                   SETTINGS.share_partition_max_record_locks)
        partition.acquire(body.member_id, [Batch(0, WINDOW - 1)], WINDOW, now_ms=0)
        try:
            partition.acknowledge(body.member_id, batches, 1, version >= share_api.RENEW_SINCE)
        except AckRefused:
            pass


def _encoded(cls, body) -> bytes:
    buf = io.BytesIO()
    entity_writer(cls)(buf, body)
    return buf.getvalue()
