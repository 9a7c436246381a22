"""The server-side assignors of KIP-848 consumer groups: `uniform` (the default) and
`range`. The coordinator runs them whenever the group epoch moves past the target
assignment's epoch. Pure and deterministic.

- uniform: balanced (members that may own a partition are within one of each other)
  and sticky: a new target keeps every partition of the previous target whose member
  is still subscribed to its topic, and moves only what balance needs (Kafka's
  UniformAssignor; here the sticky assignor of kraft.groups.assignors).
- range: per topic, the subscribed members sorted by member id get contiguous ranges,
  the first `count % members` one partition more, so members subscribed to
  co-partitioned topics get the same partition numbers of each (Kafka's server-side
  RangeAssignor without its stickiness: a membership change may move more partitions
  than Kafka's would, never a partition to two members).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kraft.groups.assignors import TopicPartition, assign

SERVER_ASSIGNORS = ("uniform", "range")
DEFAULT_ASSIGNOR = "uniform"


def target_assignment(assignor: str, members: Mapping[str, Iterable[str]], partitions: Mapping[str, int],
                      previous: Mapping[str, Iterable[TopicPartition]]) -> dict[str, frozenset[TopicPartition]]:
    """members: member id -> subscribed topics; partitions: topic -> partition count;
    previous: the last target assignment. Member id -> its partitions, for every member."""
    if assignor not in SERVER_ASSIGNORS:
        raise ValueError(f"unknown server assignor {assignor!r} (caller's fault): use one of "
                         f"{', '.join(SERVER_ASSIGNORS)}")
    result = assign("sticky" if assignor == "uniform" else "range", members, partitions, previous)
    return {m: frozenset(tps) for m, tps in result.items()}
