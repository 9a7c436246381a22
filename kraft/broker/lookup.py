"""Resolving path parameters against the image, with the right error for each miss."""

from __future__ import annotations

from aiohttp import web

from kraft.errors import NotFound, PartitionNotFound, Retriable, TopicNotFound
from kraft.metadata.image import MetadataImage, TopicImage


def check_cluster(request: web.Request, cluster_id: str) -> None:
    asked = request.match_info["cluster_id"]
    if asked != cluster_id:
        raise NotFound(f"cluster {asked!r} not found (this is cluster {cluster_id})")


def topic_or_404(image: MetadataImage, name: str, node=None) -> TopicImage:
    topic = image.topic(name)
    if topic is None:
        if node is not None and not node.readiness()[0]:
            # a starting node's image may simply not have the topic yet
            raise Retriable(f"node {node.node_id} is still catching up with metadata; retry")
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


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
