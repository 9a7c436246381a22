"""The rebalance planner: where replicas and preferred leaders should be so that every
live broker holds about as many as the others. Pure: an image in, a plan out.

The brokers counted are the live ones that take new replicas (unfenced, not shutting
down, not being decommissioned). Replicas on other brokers stay where they are, and
partitions already being moved are left alone.

Hosts first: a partition with two replicas on one host of cluster.toml's [[hosts]]
(placed before its brokers named their host) moves one of them to a host it does not use.

Replicas: while the most loaded broker holds two more than the least loaded, one
replica moves from a most loaded broker to a least loaded one, taking a partition the
receiver does not hold and whose racks stay as spread as they were (a move never puts
two replicas of a partition on one rack where they were apart, nor ever two on one host
of cluster.toml's [[hosts]]). Every move takes one broker's surplus to one broker's
deficit, so no replica moves that need not.
The newcomer takes the leaving replica's place in the replica list, so a preferred
leader that moves hands its preference to the newcomer.

Leaders: the preferred leader is the first replica (Kafka's). While a broker is the
preferred leader of two more partitions than another broker that holds a replica of one
of them, the two swap places in that partition's list: no data moves, only the order.
Both counts end within one of each other where the racks and replication factors allow it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kraft.controller.placement import rack_of
from kraft.metadata.image import MetadataImage

# Bounds on the planner's loops: each step fixes one broker's surplus, so a real cluster
# ends far sooner; the bound only guards against a rule that would undo another.
MAX_STEPS = 100_000

PartitionKey = tuple[str, int]  # (topic id, partition index)
ReplicaLists = dict[PartitionKey, list[int]]  # the plan being built: each partition's replicas
Racks = dict[int, str]  # broker id -> rack (rack_of: a broker without one is its own)


@dataclass(frozen=True)
class PlannedMove:
    topic: str
    topic_id: str
    partition: int
    replicas: tuple[int, ...]  # now
    target: tuple[int, ...]

    @property
    def moved_replicas(self) -> int:
        return len(set(self.target) - set(self.replicas))

    def view(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "replicas": list(self.replicas),
                "target": list(self.target), "moved_replicas": self.moved_replicas}


def plan(image: MetadataImage) -> list[PlannedMove]:
    """The moves (partition -> new replica list) that even replicas, then preferred
    leaders, over the live brokers; a partition appears at most once."""
    brokers = [b for b in image.unfenced_broker_ids() if image.takes_new_replicas(b)]
    if len(brokers) < 2:
        return []
    rack = {b: rack_of(image, b) for b in image.brokers}
    host = {b: image.host_of(b) for b in image.brokers}
    names: dict[str, str] = {}
    found: ReplicaLists = {}
    for topic, index, part in image.all_partitions():
        if not part.reassigning:
            found[(topic.topic_id, index)] = list(part.replicas)
            names[topic.topic_id] = topic.name
    lists = {key: found[key] for key in sorted(found)}  # sorted: plans are reproducible
    _separate_hosts(brokers, lists, rack, host)
    _even_replicas(brokers, lists, rack, host)
    _even_leaders(brokers, lists)
    moves = []
    for (topic_id, index), target in sorted(lists.items(), key=lambda kv: (names[kv[0][0]], kv[0][1])):
        now = image.topics[topic_id].partitions[index].replicas
        if tuple(target) != now:
            moves.append(PlannedMove(names[topic_id], topic_id, index, now, tuple(target)))
    return moves


def summary(image: MetadataImage, moves: list[PlannedMove]) -> dict[str, Any]:
    """Replica and preferred-leader counts per live broker, now and after the moves."""
    brokers = [b for b in image.unfenced_broker_ids() if image.takes_new_replicas(b)]
    before = {(t.topic_id, i): p.replicas for t, i, p in image.all_partitions()}
    after = dict(before)
    after.update({(m.topic_id, m.partition): m.target for m in moves})

    def counts(lists: Mapping[PartitionKey, Sequence[int]]) -> dict[str, dict[str, int]]:
        replicas = Counter(b for r in lists.values() for b in r)
        leaders = Counter(r[0] for r in lists.values() if r)
        return {str(b): {"replicas": replicas[b], "preferred_leaders": leaders[b]} for b in brokers}

    return {"brokers": brokers, "before": counts(before), "after": counts(after),
            "replicas_to_move": sum(m.moved_replicas for m in moves),
            "leaders_to_move": sum(1 for m in moves if m.target[0] != m.replicas[0])}


def _loads(brokers: list[int], lists: ReplicaLists) -> Counter[int]:
    load = Counter({b: 0 for b in brokers})
    for replicas in lists.values():
        load.update(b for b in replicas if b in load)
    return load


def _separate_hosts(brokers: list[int], lists: ReplicaLists, rack: Racks, host: Racks) -> None:
    """A partition with two replicas on one host (placed before its brokers named their
    host) moves the later one to the live broker on a host it does not use, on a rack it
    does not use where one is left, holding fewest replicas; none such: it stays."""
    load = _loads(brokers, lists)
    for replicas in lists.values():
        for i, b in enumerate(replicas):
            if host[b] not in {host[o] for o in replicas[:i]}:
                continue
            others = [o for o in replicas if o != b]
            hosts, racks = {host[o] for o in others}, {rack[o] for o in others}
            free = [t for t in brokers if t not in replicas and host[t] not in hosts]
            if free:
                replicas[i] = min(free, key=lambda t: (rack[t] in racks, load[t], t))
                load[replicas[i]] += 1
                if b in load:
                    load[b] -= 1


def _even_replicas(brokers: list[int], lists: ReplicaLists, rack: Racks, host: Racks) -> None:
    load = _loads(brokers, lists)
    for _ in range(MAX_STEPS):
        if not _move_one_replica(brokers, lists, rack, host, load):
            return


def _move_one_replica(brokers: list[int], lists: ReplicaLists, rack: Racks, host: Racks,
                      load: Counter[int]) -> bool:
    """One replica from a most loaded broker to a least loaded one; False when none can go."""
    by_load = sorted(brokers, key=lambda b: (load[b], b))
    for giver in reversed(by_load):
        for taker in by_load:
            if load[giver] - load[taker] < 2:
                break
            key = _movable(lists, rack, host, giver, taker)
            if key is not None:
                replicas = lists[key]
                replicas[replicas.index(giver)] = taker
                load[giver] -= 1
                load[taker] += 1
                return True
    return False


def _movable(lists: ReplicaLists, rack: Racks, host: Racks, giver: int, taker: int) -> PartitionKey | None:
    """A partition on `giver` and not on `taker` whose racks stay as spread with taker
    in giver's place, and whose other replicas are on hosts apart from taker's; one
    where giver is not the preferred leader first (leaders stay put where they can),
    then the lowest key, so plans are reproducible."""
    best = None
    for key in lists:  # in key order: plan() builds it sorted
        replicas = lists[key]
        if giver not in replicas or taker in replicas:
            continue
        if host[taker] in {host[b] for b in replicas if b != giver}:
            continue  # two replicas on one host
        others = {rack[b] for b in replicas if b != giver}
        if rack[giver] not in others and rack[taker] in others:
            continue  # the partition would lose a rack
        if replicas[0] != giver:
            return key
        if best is None:
            best = key
    return best


def _even_leaders(brokers: list[int], lists: ReplicaLists) -> None:
    live = set(brokers)
    leads = Counter({b: 0 for b in brokers})
    leads.update(r[0] for r in lists.values() if r and r[0] in live)
    for _ in range(MAX_STEPS):
        if not _swap_one_leader(brokers, lists, leads):
            return


def _swap_one_leader(brokers: list[int], lists: ReplicaLists, leads: Counter[int]) -> bool:
    by_leads = sorted(brokers, key=lambda b: (leads[b], b))
    for giver in reversed(by_leads):
        for taker in by_leads:
            if leads[giver] - leads[taker] < 2:
                break
            key = next((k for k in lists if lists[k][0] == giver and taker in lists[k]), None)
            if key is not None:
                replicas = lists[key]
                i = replicas.index(taker)
                replicas[0], replicas[i] = taker, giver
                leads[giver] -= 1
                leads[taker] += 1
                return True
    return False
