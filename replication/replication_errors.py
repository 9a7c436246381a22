"""Errors of the replication layer, each mapped to its API error by the HTTP layer."""

from __future__ import annotations


class ReplicationError(Exception):
    pass


class NotLeader(ReplicationError):
    """This broker does not lead the partition (now); the client should retry."""


class NotEnoughReplicas(ReplicationError):
    """acks=all refused before appending: ISR smaller than min.insync.replicas."""


class OutcomeUnknown(ReplicationError):
    """Appended on the leader, not (yet) known to be committed: may or may not survive."""


class LeaderNotAvailable(ReplicationError):
    """Offline partition, or a new leader whose high watermark is still catching up."""


class OffsetOutOfRangeError(ReplicationError):
    def __init__(self, offset: int, start: int, end: int):
        super().__init__(f"offset {offset} is out of range: valid offsets are {start}..{end}")
        self.offset, self.start, self.end = offset, start, end
