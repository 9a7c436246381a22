"""Where a read of a partition may start and where it must stop: the one rule for every
reader (Kafka's Partition.fetchRecords takes the isolation as a parameter the same way).

A follower reads up to the log end, a consumer up to the high watermark, a read_committed
consumer up to the last stable offset. Every reader's offset is in range anywhere in the
log, from its start to its end: an offset past the reader's bound but within the log (an
acks=1 record not yet replicated, a position a follower's view showed) is answered empty
and waits, as in Kafka, rather than out of range. Pure.
"""

from __future__ import annotations

from enum import Enum


class Isolation(Enum):
    REPLICA = "replica"  # a follower: everything written
    UNCOMMITTED = "read_uncommitted"  # a consumer: below the high watermark
    COMMITTED = "read_committed"  # below the last stable offset


def read_end(offset: int, start: int, log_end: int, hw: int, lso: int, isolation: Isolation) -> int | None:
    """The offset the read stops before (nothing to read yet when it is <= offset);
    None when `offset` is outside the log (OFFSET_OUT_OF_RANGE)."""
    if not start <= offset <= log_end:
        return None
    if isolation is Isolation.REPLICA:
        return log_end
    return lso if isolation is Isolation.COMMITTED else hw
