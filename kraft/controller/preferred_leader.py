"""Move leadership back to each partition's first replica when it is usable and in
sync (Kafka's auto.leader.rebalance.enable). Pure."""

from __future__ import annotations

from kraft.metadata.effective_configs import TopicSettings
from kraft.controller.partition_change import build_partition_change
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import PartitionChange

MAX_MOVES_PER_ROUND = 200  # bounded batches keep the metadata log and followers calm


def preferred_leader_changes(image: MetadataImage, defaults: dict[str, str]) -> list[PartitionChange]:
    out = []
    settings = TopicSettings(image, defaults)
    for topic, index, part in image.all_partitions():
        preferred = part.replicas[0]
        if part.leader == preferred or preferred not in part.isr or not image.is_usable(preferred) \
                or preferred in image.decommissioning:  # leadership is leaving it
            continue
        change = build_partition_change(image, topic.topic_id, index, part,
                                        unclean_allowed=False, prefer_first_replica=True,
                                        min_isr=settings.min_isr(topic.name))
        if change is not None:
            out.append(change)
            if len(out) >= MAX_MOVES_PER_ROUND:
                break
    return out
