"""The runtime follows the leadership of its internal topic's partitions: it loads a
partition when this broker starts leading it, unloads one it no longer leads or leads in
a newer epoch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kraft.errors import DamagedLog
from kraft.metadata.image import MetadataImage

log = logging.getLogger(__name__)


def follow_partitions(topic_name: str, image: MetadataImage, replicas: Any,
                      loaded_epoch: Callable[[int], int | None], load: Callable[[int, Any], None],
                      unload: Callable[[int], None], loaded: Callable[[], list[int]],
                      damaged_seen: dict[int, int], what: str) -> None:
    """loaded_epoch(p): the leader epoch partition p was loaded at, None when not loaded;
    damaged_seen: partition -> the epoch whose damaged load was already logged."""
    topic = image.topic(topic_name)
    count = len(topic.partitions) if topic is not None else 0
    for p in loaded():
        replica = replicas.replica(topic_name, p) if p < count else None
        if replica is None or not replica.is_leader or replica.leader_epoch != loaded_epoch(p):
            unload(p)
    for p in range(count):
        replica = replicas.replica(topic_name, p)
        if replica is not None and replica.is_leader and loaded_epoch(p) is None:
            try:
                load(p, replica)
            except DamagedLog as exc:  # its repair moves leadership; say it once per epoch
                if damaged_seen.get(p) != replica.leader_epoch:
                    damaged_seen[p] = replica.leader_epoch
                    log.warning("%s: %s-%d not loaded: %s", what, topic_name, p, exc.message)
