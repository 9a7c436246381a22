"""A Metadata answer's topic entries, written once per topic state instead of per request.

An image's unchanged topics are the same `TopicImage` objects from one image to the
next (kraft/metadata/delta.py copies only what a record touched), and a topic's entry
depends on nothing else but the answer's version and which brokers are unfenced (its
offline replicas). So an entry is written when its topic, the live brokers or the
version differ from the last time, and a Metadata answer for every topic is the
entries joined: at 30,000 partitions, building and writing them per request held the
event loop for a second, beside the heartbeat.
"""

from __future__ import annotations

import functools
import uuid

from kio.serial._introspect import EntityTupleField, classify_field

from kraft.config.topic_names import is_internal_topic
from kraft.kafka.connection.authorized_ops import NOT_REQUESTED
from kraft.kafka.wire import error_codes
from kraft.kafka.wire.codec import response_class
from kraft.kafka.wire.entities import build
from kraft.kafka.wire.wire_writer import Encoded, encode_entity
from kraft.metadata.image import MetadataImage, TopicImage

METADATA = 3


def topic_view(image: MetadataImage, topic: TopicImage, live: frozenset[int] | None = None) -> dict:
    """A topic's entry as plain values (the handler adds authorized operations to it)."""
    live = frozenset(image.unfenced_broker_ids()) if live is None else live
    partitions = []
    for index, part in enumerate(topic.partitions):
        partitions.append({
            "error_code": error_codes.NONE if part.online else error_codes.LEADER_NOT_AVAILABLE,
            "partition_index": index, "leader_id": part.leader, "leader_epoch": part.leader_epoch,
            "replica_nodes": list(part.replicas), "isr_nodes": list(part.isr),
            "offline_replicas": [r for r in part.replicas if r not in live]})
    return {"error_code": error_codes.NONE, "name": topic.name, "topic_id": uuid.UUID(topic.topic_id),
            "is_internal": is_internal_topic(topic.name), "partitions": partitions,
            "topic_authorized_operations": NOT_REQUESTED}


@functools.cache
def _topic_class(version: int) -> type:
    cls = response_class(METADATA, version)
    for field in cls.__dataclass_fields__.values():
        if field.name == "topics":
            kind = classify_field(field)
            assert isinstance(kind, EntityTupleField)
            return kind.type_
    raise AssertionError(f"Metadata v{version} has no topics")


class EncodedTopics:
    """Written topic entries by (version, topic id), each with the topic object and live
    brokers it was written from; entries of deleted topics go once the entries have
    doubled since the last sweep."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], tuple[TopicImage, frozenset[int], Encoded]] = {}
        self._sweep_at = 64

    def entry(self, image: MetadataImage, topic: TopicImage, live: frozenset[int], version: int) -> Encoded:
        key = (version, topic.topic_id)
        held = self._entries.get(key)
        if held is not None and held[0] is topic and held[1] == live:
            return held[2]
        cls = _topic_class(version)
        written = encode_entity(cls, build(cls, topic_view(image, topic, live)))
        self._entries[key] = (topic, live, written)
        if len(self._entries) > self._sweep_at:
            self._entries = {k: v for k, v in self._entries.items() if k[1] in image.topics}
            self._sweep_at = 2 * len(self._entries) + 64
        return written


# a memo of a pure function of (version, topic, live brokers): one per process is enough
ENCODED_TOPICS = EncodedTopics()
