"""Choosing a partition for a record the way Kafka's default partitioner does.

With a key: murmur2 (32-bit, seed 0x9747b28c, as Kafka's Utils.murmur2) made
positive, modulo the partition count, so a key lands where a Kafka client would put
it. Without a key: round-robin over the partitions the receiving node leads, when it
leads any (a REST Proxy's partitioner is free to place keyless records anywhere, and
Kafka's uniform sticky partitioner is bound to no partition either): the record is
appended where it arrived instead of being forwarded to another node. A node that
leads none spreads them over the partitions that have a leader, or over all when none
has one (the write then says LEADER_NOT_AVAILABLE).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = length % 4
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class RoundRobin:
    """Keyless records spread over partitions; one counter per node."""

    def __init__(self):
        self._counter = itertools.count()

    def next(self, partitions: int) -> int:
        return next(self._counter) % partitions


def keyless_candidates(leaders: Sequence[int], node_id: int | None) -> tuple[int, ...]:
    """The partitions a keyless record may go to, given each partition's leader (-1:
    none) and the node the record arrived at (None: a node that hosts no replicas)."""
    here = tuple(p for p, leader in enumerate(leaders) if leader == node_id)
    if here:
        return here
    led = tuple(p for p, leader in enumerate(leaders) if leader >= 0)
    return led or tuple(range(len(leaders)))
