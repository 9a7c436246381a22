"""Topic ids (KIP-516) as the newer request versions name topics: OffsetCommit and
OffsetFetch v10 (KIP-848) carry ids instead of names. An id this broker's metadata
does not know (or the zero id) has no name, and is answered UNKNOWN_TOPIC_ID."""

from __future__ import annotations

import uuid

from kraft.broker.services import BrokerServices

ZERO = uuid.UUID(int=0)
OFFSETS_BY_ID_SINCE = 10  # OffsetCommit / OffsetFetch v10


def name_of(node: BrokerServices, topic_id: uuid.UUID | None) -> str | None:
    if topic_id is None or topic_id == ZERO:
        return None
    topic = node.image.topics.get(topic_id.hex)
    return None if topic is None else topic.name


def id_of(node: BrokerServices, name: str) -> uuid.UUID | None:
    topic = node.image.topic(name)
    return None if topic is None else uuid.UUID(topic.topic_id)


def request_topics(node: BrokerServices, version: int, topics) -> list[tuple[str | None, uuid.UUID | None]]:
    """(name, id) of each topic of an OffsetCommit / OffsetFetch request: the name as sent
    before v10; from v10 the name of the id sent (None: unknown)."""
    if version < OFFSETS_BY_ID_SINCE:
        return [(t.name, None) for t in topics]
    return [(name_of(node, t.topic_id), t.topic_id) for t in topics]
