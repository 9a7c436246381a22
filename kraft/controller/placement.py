"""Replica placement: spread replicas and leaders evenly over the usable brokers.

Pure. Brokers being decommissioned take nothing new. Leaders go round-robin starting at the broker that leads the fewest
partitions now, so many small topics still spread their leaders; followers follow
in ring order with a shift that changes every len(brokers) partitions, so follower
pairs vary too (the shape of Kafka's rack-unaware assignment).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kraft.errors import InvalidReplicaAssignment
from kraft.metadata.image import MetadataImage


def place_replicas(
    image: MetadataImage, partitions: int, replication_factor: int
) -> list[tuple[int, ...]]:
    brokers = [b for b in image.unfenced_broker_ids() if image.takes_new_replicas(b)]
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


def manual_assignment(image: MetadataImage, given: Sequence[tuple[int, Sequence[int]]],
                      first_partition: int = 0, replication_factor: int | None = None) -> list[tuple[int, ...]]:
    """A client's own replica lists ((partition, brokers), Kafka's CreateTopics
    assignments), checked as Kafka checks them: partitions numbered from
    `first_partition` on without gaps, each list non-empty, no broker twice, every
    broker registered, every list as long as the first (or `replication_factor`), and
    someone in each list able to lead now; no broker being decommissioned. In partition order."""
    by_partition: dict[int, tuple[int, ...]] = {}
    for partition, brokers in given:
        if partition in by_partition:
            raise InvalidReplicaAssignment(f"partition {partition} is assigned twice")
        by_partition[partition] = tuple(brokers)
    expected = list(range(first_partition, first_partition + len(by_partition)))
    if sorted(by_partition) != expected:
        raise InvalidReplicaAssignment(f"the assigned partitions must be {expected[0]}..{expected[-1]} without gaps, "
                                       f"got {sorted(by_partition)}")
    registered = {b.broker_id for b in image.brokers.values() if "broker" in b.roles}
    out = []
    for partition in expected:
        replicas = by_partition[partition]
        if not replicas:
            raise InvalidReplicaAssignment(f"partition {partition} is assigned no broker")
        if len(set(replicas)) != len(replicas):
            raise InvalidReplicaAssignment(f"partition {partition} names a broker twice: {list(replicas)}")
        if unknown := sorted(set(replicas) - registered):
            raise InvalidReplicaAssignment(f"partition {partition} names brokers {unknown}, which are not registered")
        if leaving := sorted(set(replicas) & set(image.decommissioning)):
            raise InvalidReplicaAssignment(f"partition {partition} names brokers {leaving}, which are being "
                                           "decommissioned (they take no new replicas)")
        if replication_factor is None:
            replication_factor = len(replicas)
        if len(replicas) != replication_factor:
            raise InvalidReplicaAssignment(f"partition {partition} has {len(replicas)} replicas where the others "
                                           f"have {replication_factor}")
        if not any(image.is_usable(b) for b in replicas):
            raise InvalidReplicaAssignment(f"no broker of partition {partition} ({list(replicas)}) can lead now "
                                           "(fenced or shutting down)")
        out.append(replicas)
    return out
