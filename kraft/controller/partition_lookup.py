"""A partition named by topic and index, or the error that says which part is missing. Pure."""

from __future__ import annotations

from kraft.errors import PartitionNotFound, TopicNotFound
from kraft.metadata.image import MetadataImage, PartitionRegistration, TopicImage


def existing_partition(image: MetadataImage, topic_name: str, index: int) -> tuple[TopicImage, PartitionRegistration]:
    topic = image.topic(topic_name)
    if topic is None:
        raise TopicNotFound(f"topic {topic_name!r} not found")
    if not 0 <= index < len(topic.partitions):
        raise PartitionNotFound(f"partition {index} of topic {topic_name!r} not found")
    return topic, topic.partitions[index]
