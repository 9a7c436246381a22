"""Which partition of an internal topic holds a key (a group id, a transactional id).

As in Kafka: partition = Utils.abs(key.hashCode()) % partitions, with Java's
String.hashCode over UTF-16 code units (32-bit signed arithmetic) and Utils.abs mapping
Integer.MIN_VALUE to 0. The same key therefore lands on the same partition number as in
a Kafka cluster with the same partition count. Pure.
"""

from __future__ import annotations

_INT_MIN = -(2**31)


def java_string_hashcode(s: str) -> int:
    """Java's String.hashCode: h = 31*h + c over UTF-16 code units, as a signed int32."""
    data = s.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - 2**32 if h >= 2**31 else h


def kafka_abs(n: int) -> int:
    """Kafka's Utils.abs: |n|, except Integer.MIN_VALUE -> 0 (Math.abs would stay negative)."""
    return 0 if n == _INT_MIN else abs(n)


def key_partition(key: str, partitions: int) -> int:
    """The partition of `key` in a topic of `partitions` partitions (at least one)."""
    return kafka_abs(java_string_hashcode(key)) % partitions
