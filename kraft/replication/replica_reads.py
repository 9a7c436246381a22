"""What a partition replica lets a client read: the one read surface both doors use.

Kafka's Fetch, ListOffsets, OffsetForLeaderEpoch, DescribeProducers and DescribeLogDirs,
REST reads and offsets, and a transactional produce's check all read a replica through
these methods; nothing outside replication/ reaches the replica's log. The bounds a
consumer reads within are the leader's (HW, LSO) or, on a follower (KIP-392), the HW its
leader last told it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kraft.errors import LeaderNotAvailable
from kraft.replication.change_signal import ChangeSignal
from kraft.replication.leader_state import LeaderState
from kraft.replication.long_poll import long_poll
from kraft.replication.partition_read import Bounds, ReadPlan, ReadRequest, Taken, plan_read, take
from kraft.replication.read_bounds import Isolation
from kraft.replication.read_replica import ReplicaView
from kraft.storage.max_timestamp import MaxTimestamp
from kraft.storage.partition_log import PartitionLog
from kraft.storage.producer_state import ProducerEntry, ProducerInfo


class ReplicaReads:
    """The read half of PartitionReplica (a base class of it): what a consumer, an
    admin client or the produce path's checks may learn from the replica's log."""

    topic: str
    partition: int
    log: PartitionLog
    leader: LeaderState | None
    follower_hw: int
    consumer_news: ChangeSignal

    if TYPE_CHECKING:
        def _require_leader(self, epoch: int | None = None) -> LeaderState: ...

    # -- the log's own offsets and contents ---------------------------------------------
    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def log_end_offset(self) -> int:
        """The next offset to be written (Kafka's LEO)."""
        return self.log.log_end_offset

    @property
    def size_bytes(self) -> int:
        return self.log.size_bytes

    def read(self, offset: int, max_bytes: int) -> bytes:
        """Whole batches from `offset` up to the log's end, as bytes: a coordinator
        replaying its internal-topic partition when it takes it over."""
        return self.log.read(offset, max_bytes)

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(epoch, end offset) as OffsetForLeaderEpoch answers it from this log."""
        return self.log.end_offset_for_epoch(epoch)

    def epoch_at(self, offset: int) -> int:
        """The leader epoch the record at `offset` was written in."""
        return self.log.leader_epoch_cache.epoch_for(offset)

    def producer_states(self) -> list[ProducerInfo]:
        """Every producer this partition remembers (DescribeProducers)."""
        return self.log.producer_states()

    def producer_entry(self, producer_id: int) -> ProducerEntry | None:
        """What this partition remembers of one producer (its epoch, its open transaction)."""
        return self.log.producers.get(producer_id)

    # -- what consumers may read (committed: below the HW or the LSO) --------------------
    def readable_range(self) -> tuple[int, int]:
        leader = self._require_leader()
        if not leader.hw_established:
            raise LeaderNotAvailable(
                f"LEADER_NOT_AVAILABLE: the new leader of {self.topic}-{self.partition} is "
                "still establishing its high watermark; retry")
        return self.log.log_start_offset, leader.hw

    def last_stable_offset(self) -> int:
        """Kafka's LSO: what read_committed consumers may read up to (below the HW and
        every transaction still open or whose marker is not yet committed)."""
        _, hw = self.readable_range()
        return self.log.last_stable_offset(hw)

    def readable_end(self, stable: bool) -> int:
        return self.last_stable_offset() if stable else self.readable_range()[1]

    def offset_for_timestamp(self, timestamp: int, stable: bool = False) -> tuple[int, int] | None:
        """Kafka's ListOffsets by time: (offset, timestamp) of the first committed record
        stamped at or after `timestamp`; None when every committed record is earlier.
        stable: only below the LSO (a read_committed consumer's ListOffsets)."""
        end = self.readable_end(stable)
        found = self.log.offset_for_timestamp(timestamp)
        return found if found is not None and found[0] < end else None

    def record_with_max_timestamp(self, stable: bool = False) -> MaxTimestamp | None:
        """ListOffsets MAX_TIMESTAMP: among the committed records (below the LSO when
        `stable`), the first with the largest timestamp."""
        return self.log.record_with_max_timestamp(self.readable_end(stable))

    # -- the one read (partition_read.py): every reader, by its isolation -----------------
    def bounds_for(self, isolation: Isolation) -> Bounds:
        """The bounds a reader of `isolation` reads within. A follower: the leader's (it
        reads up to the log end). A consumer, on the leader or (KIP-392) a follower: its
        own log start, the HW (on a follower, the one its leader last told it) and the
        last stable offset below that."""
        if isolation is Isolation.REPLICA:
            hw = self._require_leader().hw
            return Bounds(self.log.log_start_offset, hw, hw)
        if self.leader is not None:
            start, hw = self.readable_range()
        else:
            start, hw = self.log.log_start_offset, self.follower_hw
        return Bounds(start, hw, self.log.last_stable_offset(hw))

    def plan_read(self, request: ReadRequest, bounds: Bounds | None = None) -> ReadPlan:
        """Where `request` may read (raises OffsetOutOfRange outside the log); bounds:
        bounds_for(the request's isolation), when the caller already has them."""
        return plan_read(self.log, request, bounds if bounds is not None else self.bounds_for(request.isolation))

    def take(self, plan: ReadPlan, max_bytes: int | None = None, as_slices: bool = False) -> Taken:
        return take(self.log, plan, max_bytes, as_slices)

    async def read_committed(self, offset: int, max_bytes: int, deadline: float,
                             stable: bool = False) -> Taken:
        """A consumer's read of this leader (REST): whole batches from `offset` below the
        HW (the LSO when `stable`, with the aborted transactions there), long-polled
        until the deadline as a Kafka consumer's fetch is. An offset past the HW but
        within the log waits; outside the log it is out of range."""
        request = ReadRequest(offset, max_bytes, Isolation.COMMITTED if stable else Isolation.UNCOMMITTED)

        async def attempt() -> tuple[Taken, bool]:
            taken = self.take(self.plan_read(request))
            return taken, taken.size > 0
        return await long_poll(attempt, self.consumer_news.wait, deadline)

    def in_sync_follower_views(self, now: int) -> list[ReplicaView]:
        """KIP-392: the in-sync followers as this leader last heard from them (what a
        preferred read replica is chosen among)."""
        leader = self._require_leader()
        return [ReplicaView(broker_id, progress.log_start, progress.leo, max(0, now - progress.last_caught_up_ms))
                for broker_id, progress in leader.followers.items() if broker_id in leader.isr]
