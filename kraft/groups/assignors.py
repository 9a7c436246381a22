"""Partition assignors for consumer groups: range, roundrobin and sticky.

Pure and deterministic: the same members, partitions and previous assignment always give
the same result, whatever the iteration order of the inputs. Topics that a member
subscribes to but that do not exist (no partition count, or 0) are ignored; a partition
is only ever given to a member subscribed to its topic, and never to two members.

- range: per topic, the subscribed members sorted by id get contiguous ranges; the
  first `count % members` of them get one partition more (Kafka's RangeAssignor).
- roundrobin: every subscribed partition, sorted by (topic, partition), dealt in turn
  over the members sorted by id, skipping members not subscribed to that topic
  (Kafka's RoundRobinAssignor).
- sticky: balanced — for any two members that could both own a partition, their
  partition counts differ by at most one when one of them owns it; in particular members
  with the same subscription are within one of each other — while keeping as many of
  the previous assignments as it can. When all members subscribe to the same topics it
  moves the minimum possible number of partitions; with mixed subscriptions the
  rebalancing is a greedy local search (balanced as above, sticky in practice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

TopicPartition = tuple[str, int]
Assignment = dict[str, list[TopicPartition]]
Subscriptions = Mapping[str, frozenset[str]]  # member id -> the subscribed topics that have partitions

STRATEGIES = ("range", "roundrobin", "sticky")


class UnknownStrategyError(ValueError):
    """The caller asked for an assignor that does not exist (caller's fault)."""


def assign(strategy: str, members: Mapping[str, Iterable[str]], partitions: Mapping[str, int],
           previous: Mapping[str, Iterable[TopicPartition]] | None = None) -> Assignment:
    """members: member id -> subscribed topics; partitions: topic -> partition count;
    previous: member id -> partitions it owned (used by sticky only; may be stale or
    contain partitions, members or topics that no longer exist: those are ignored).
    Returns member id -> sorted partitions, with an entry (maybe empty) for every member."""
    assignor = _ASSIGNORS.get(strategy)
    if assignor is None:
        raise UnknownStrategyError(
            f"unknown assignment strategy {strategy!r} (caller's fault): use one of {', '.join(STRATEGIES)}")
    for topic, count in partitions.items():
        if count < 0:
            raise ValueError(f"topic {topic!r} has a negative partition count {count} (caller's fault)")
    subs = {m: frozenset(t for t in topics if partitions.get(t, 0) > 0) for m, topics in members.items()}
    result = assignor(subs, partitions, previous or {})
    return {m: sorted(result[m]) for m in sorted(subs)}


def _subscribed_topics(subs: Mapping[str, frozenset[str]]) -> list[str]:
    return sorted(set().union(*subs.values())) if subs else []


def _range(subs: Subscriptions, partitions: Mapping[str, int],
           previous: Mapping[str, Iterable[TopicPartition]]) -> Assignment:
    out: Assignment = {m: [] for m in subs}
    for topic in _subscribed_topics(subs):
        consumers = sorted(m for m, topics in subs.items() if topic in topics)
        per_member, extra = divmod(partitions[topic], len(consumers))
        start = 0
        for i, member in enumerate(consumers):
            count = per_member + (1 if i < extra else 0)
            out[member].extend((topic, p) for p in range(start, start + count))
            start += count
    return out


def _roundrobin(subs: Subscriptions, partitions: Mapping[str, int],
                previous: Mapping[str, Iterable[TopicPartition]]) -> Assignment:
    ordered = sorted(subs)
    out: Assignment = {m: [] for m in ordered}
    turn = 0
    for topic in _subscribed_topics(subs):
        for p in range(partitions[topic]):
            while topic not in subs[ordered[turn % len(ordered)]]:
                turn += 1  # terminates: some member subscribes to this topic
            out[ordered[turn % len(ordered)]].append((topic, p))
            turn += 1
    return out


def _sticky(subs: Subscriptions, partitions: Mapping[str, int],
            previous: Mapping[str, Iterable[TopicPartition]]) -> Assignment:
    topics = _subscribed_topics(subs)
    eligible = {t: sorted(m for m in subs if t in subs[m]) for t in topics}
    owned: dict[str, set[TopicPartition]] = {m: set() for m in subs}
    previous_owner: dict[TopicPartition, str] = {}
    # 1. Keep every previous assignment that is still valid; a partition claimed by two
    #    members (a stale previous) goes to the first in id order.
    for member in sorted(previous):
        if member not in subs:
            continue
        for topic, p in sorted({(str(t), int(p)) for t, p in previous[member]}):
            tp = (topic, p)
            if topic in subs[member] and 0 <= p < partitions[topic] and tp not in previous_owner:
                previous_owner[tp] = member
                owned[member].add(tp)
    # 2. Give each free partition to the least loaded member that may own it; the
    #    partitions with the fewest candidates first, so they still find room.
    free = [(t, p) for t in topics for p in range(partitions[t]) if (t, p) not in previous_owner]
    free.sort(key=lambda tp: (len(eligible[tp[0]]), tp))
    for tp in free:
        owner = min(eligible[tp[0]], key=lambda m: (len(owned[m]), m))
        owned[owner].add(tp)
    # 3. Move partitions from overloaded members to members with at least two fewer.
    while (move := _next_move(owned, eligible, previous_owner)) is not None:
        tp, donor, receiver = move
        owned[donor].remove(tp)
        owned[receiver].add(tp)
    return {m: sorted(tps) for m, tps in owned.items()}


def _next_move(owned: dict[str, set[TopicPartition]], eligible: dict[str, list[str]],
               previous_owner: dict[TopicPartition, str]) -> tuple[TopicPartition, str, str] | None:
    """The next rebalancing move: from the most loaded member able to give, a partition it
    did not own before if it has one (moving it costs no stickiness), to the least loaded
    member subscribed to its topic. Each move lowers the sum of squared counts, so the
    loop ends; when no move is left the assignment is balanced."""
    least = {t: min(ms, key=lambda m: (len(owned[m]), m)) for t, ms in eligible.items()}
    for donor in sorted(owned, key=lambda m: (-len(owned[m]), m)):
        load = len(owned[donor])
        candidates = [tp for tp in owned[donor] if len(owned[least[tp[0]]]) + 1 < load]
        if candidates:
            # Prefer: not previously ours; then going back to its previous owner.
            tp = min(candidates, key=lambda tp: (previous_owner.get(tp) == donor,
                                                 previous_owner.get(tp) != least[tp[0]], tp))
            return tp, donor, least[tp[0]]
    return None


_ASSIGNORS = {"range": _range, "roundrobin": _roundrobin, "sticky": _sticky}
