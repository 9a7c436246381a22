"""Resolving topic and partition names against the image, with the right error for each miss."""

from __future__ import annotations

from collections.abc import Callable

from kraft.config.topic_names import validate_topic_name
from kraft.errors import MetadataNotReady, PartitionNotFound, TopicNotFound
from kraft.metadata.image import MetadataImage, TopicImage


def topic_or_404(image: MetadataImage, name: str, ready: Callable[[], bool] | None = None) -> TopicImage:
    topic = image.topic(name)
    if topic is None:
        validate_topic_name(name)  # a name no topic can have is the caller's mistake: 42206
        if ready is not None and not ready():
            # a starting node's image may simply not have the topic yet
            raise MetadataNotReady("this node is still catching up with metadata; retry")
        raise TopicNotFound(f"topic {name!r} not found")
    return topic


def partition_or_404(topic: TopicImage, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()):  # int() would also take " 1" and "0_1"
        raise PartitionNotFound(f"partition {raw!r} is not a partition number")
    index = int(raw)
    if not 0 <= index < len(topic.partitions):
        raise PartitionNotFound(
            f"partition {index} not found: topic {topic.name!r} has partitions 0..{len(topic.partitions) - 1}"
        )
    return index
