"""Resolving path parameters against the image, with the right error for each miss."""

from __future__ import annotations

from aiohttp import web

from kraft.errors import NotFound, PartitionNotFound, TopicNotFound
from metadata.image import MetadataImage, TopicImage


def check_cluster(request: web.Request, cluster_id: str) -> None:
    asked = request.match_info["cluster_id"]
    if asked != cluster_id:
        raise NotFound(f"cluster {asked!r} not found (this is cluster {cluster_id})")


def topic_or_404(image: MetadataImage, name: str) -> TopicImage:
    topic = image.topic(name)
    if topic is None:
        raise TopicNotFound(f"topic {name!r} not found")
    return topic


def partition_or_404(topic: TopicImage, raw: str) -> int:
    try:
        index = int(raw)
    except ValueError:
        raise PartitionNotFound(f"partition {raw!r} is not an integer") from None
    if not 0 <= index < len(topic.partitions):
        raise PartitionNotFound(
            f"partition {index} not found: topic {topic.name!r} has partitions 0..{len(topic.partitions) - 1}"
        )
    return index


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
