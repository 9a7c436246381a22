"""Replica placement: spread replicas and leaders evenly over the usable brokers.

Pure. Leaders go round-robin starting at the broker that leads the fewest
partitions now, so many small topics still spread their leaders; followers follow
in ring order with a shift that changes every len(brokers) partitions, so follower
pairs vary too (the shape of Kafka's rack-unaware assignment).
"""

from __future__ import annotations

from collections import Counter

from kraft.metadata.image import MetadataImage


def place_replicas(
    image: MetadataImage, partitions: int, replication_factor: int
) -> list[tuple[int, ...]]:
    brokers = [b for b in image.unfenced_broker_ids() if image.is_usable(b)]
    n = len(brokers)
    if replication_factor > n:
        raise ValueError(
            f"replication factor {replication_factor} is larger than the "
            f"{n} available broker{'s' if n != 1 else ''}"
        )
    leads = Counter(part.leader for _, _, part in image.all_partitions())
    start = min(range(n), key=lambda i: (leads[brokers[i]], brokers[i]))
    result = []
    for p in range(partitions):
        first = (start + p) % n
        replicas = [brokers[first]]
        shift = (p // n) % max(1, n - 1)
        for k in range(1, replication_factor):
            step = 1 + (shift + k - 1) % (n - 1)
            replicas.append(brokers[(first + step) % n])
        result.append(tuple(replicas))
    return result
