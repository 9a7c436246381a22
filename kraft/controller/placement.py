"""Replica placement: spread replicas and leaders evenly over the usable brokers.

Pure. Brokers being decommissioned take nothing new. Leaders go round-robin starting at the broker that leads the fewest
partitions now, so many small topics still spread their leaders; followers follow
in ring order with a shift that changes every len(brokers) partitions, so follower
pairs vary too (the shape of Kafka's assignment). With racks (Kafka's broker.rack) the
brokers are ordered alternating between racks, and each follower is the next one in
ring order on a rack the partition does not use yet, while such a rack is left (Kafka's
rack-aware assignment); a broker without a rack counts as a rack of its own.

Hosts (cluster.toml's [[hosts]]: one machine running several broker processes) are a
failure domain that is never shared: no partition gets two replicas on one host, so
losing a machine costs each partition one replica at most. The racks stay a preference,
as in Kafka; the hosts are a rule, and a replication factor larger than the hosts
available is refused. A broker outside any [[hosts]] entry is a host of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Mapping, Sequence

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
    host = {b: image.host_of(b) for b in brokers}
    hosts = len(set(host.values()))
    if replication_factor > hosts:
        raise ValueError(f"replication factor {replication_factor} is larger than the {hosts} available "
                         f"host{'s' if hosts != 1 else ''} ({n} brokers; no partition puts two replicas on one host)")
    rack = {b: rack_of(image, b) for b in brokers}
    brokers = rack_alternated(brokers, rack, host)
    leads = Counter(part.leader for _, _, part in image.all_partitions())
    # ties in the alternated order, so one-partition topics go round the racks and hosts
    start = min(range(n), key=lambda i: (leads[brokers[i]], i))
    # With hosts of several brokers, each follower goes to the allowed broker that this
    # call loads least (its leaderships counted up front), the ring's order breaking ties:
    # the ring's first alone gives the first processes of a host, and a host or rack of
    # fewer brokers than the others (a [[nodes]] entry beside [[hosts]]), far more than
    # their share. Without such hosts, the ring's first: Kafka's shape, as it always was.
    shared_hosts = hosts < n
    placed = Counter(brokers[(start + p) % n] for p in range(partitions))
    result = []
    for p in range(partitions):
        first = (start + p) % n
        shift = (p // n) % max(1, n - 1)
        ring = [brokers[(first + 1 + (shift + j) % (n - 1)) % n] for j in range(n - 1)]
        replicas = [brokers[first]]
        for _ in range(1, replication_factor):
            racks, machines = {rack[b] for b in replicas}, {host[b] for b in replicas}
            open_hosts = [b for b in ring if host[b] not in machines]
            pool = [b for b in open_hosts if rack[b] not in racks] or open_hosts
            replicas.append(min(pool, key=lambda b: placed[b]) if shared_hosts else pool[0])
            placed[replicas[-1]] += 1
        result.append(tuple(replicas))
    return result


def rack_of(image: MetadataImage, broker_id: int) -> str:
    """The broker's rack; one without a rack is a rack of its own, or its host's."""
    reg = image.brokers.get(broker_id)
    rack = reg.rack if reg is not None else None
    return f"rack={rack}" if rack is not None else image.host_of(broker_id)


def shares_a_host(image: MetadataImage, replicas: Sequence[int],
                  added: Container[int] | None = None) -> tuple[int, int, str] | None:
    """Two replicas of one list on one host: (first, second, the host's name), or None.
    added: only a pair where one of the two is in it counts (replicas placed before their
    brokers named a host may stay together; nothing new may join them)."""
    seen: dict[str, list[int]] = {}
    for b in replicas:
        machine = image.host_of(b)
        for earlier in seen.get(machine, []):
            if earlier != b and (added is None or b in added or earlier in added):
                return earlier, b, machine
        seen.setdefault(machine, []).append(b)
    return None


def rack_alternated(brokers: Sequence[int], rack: Mapping[int, str],
                    host: Mapping[int, str] | None = None) -> list[int]:
    """Brokers ordered so that neighbours sit on different racks while they can: the
    first of each rack, then the second of each, ... (Kafka's rack-alternated list);
    within a rack, the processes of one host are alternated with the other hosts' so
    that leaders spread over the machines first and then over each machine's processes."""
    by_rack: dict[str, list[int]] = {}
    for b in host_alternated(sorted(brokers), host) if host is not None else sorted(brokers):
        by_rack.setdefault(rack[b], []).append(b)
    racks = sorted(by_rack, key=lambda r: min(by_rack[r]))
    depth = max((len(v) for v in by_rack.values()), default=0)
    return [by_rack[r][i] for i in range(depth) for r in racks if i < len(by_rack[r])]


def host_alternated(brokers: Sequence[int], host: Mapping[int, str]) -> list[int]:
    """The first process of each host, then the second of each, ..."""
    by_host: dict[str, list[int]] = {}
    for b in sorted(brokers):
        by_host.setdefault(host[b], []).append(b)
    hosts = sorted(by_host, key=lambda h: by_host[h][0])
    depth = max((len(v) for v in by_host.values()), default=0)
    return [by_host[h][i] for i in range(depth) for h in hosts if i < len(by_host[h])]


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
        if shared := shares_a_host(image, replicas):
            raise InvalidReplicaAssignment(f"partition {partition} puts brokers {shared[0]} and {shared[1]} on one "
                                           f"host ({shared[2]}): a host holds one replica of a partition at most")
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
