"""One partition replica on this broker: its log, its role, and the waits around them.

The rules live in LeaderState (pure); this class applies them to the real log and
wakes long-polls. Role changes come only from the metadata image (the controller's
decisions); ISR changes are proposed by returning them to the replica manager.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import asyncio
import logging
import time

from kraft.metadata.image import PartitionRegistration
from kraft.replication import fetch_protocol as fp
from kraft.replication.change_signal import ChangeSignal, Watchers
from kraft.replication.commit_waiters import CommitWaiters
from kraft.replication.partition_read import ReadRequest
from kraft.replication.read_bounds import Isolation
from kraft.replication.leader_state import LeaderState
from kraft.replication.replica_reads import ReplicaReads
from kraft.replication.log_dir_health import LogDirHealth, is_dir_failure
from kraft.storage.partition_log import PartitionLog
from kraft.storage.record_batch import iter_batches
from kraft.errors import (
    DamagedLog,
    LogDirFailed,
    NotEnoughReplicas,
    NotLeaderOrFollower,
    OffsetOutOfRange,
    OutcomeUnknown,
    StorageUnavailable,
)

_log = logging.getLogger(__name__)


HIGH_WATERMARK = -1  # DeleteRecords' offset for "everything committed"


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class PartitionReplica(ReplicaReads):
    """The replica's roles and writes here; what clients read is ReplicaReads'."""

    def __init__(self, broker_id: int, topic: str, topic_id: str, partition: int,
                 log: PartitionLog, hw: int):
        self.broker_id = broker_id
        self.topic = topic
        self.topic_id = topic_id
        self.partition = partition
        self.log = log
        self.follower_hw = min(hw, log.log_end_offset)
        self.leader: LeaderState | None = None
        self.leader_id = -1
        self.leader_epoch = -1
        self.partition_epoch = -1
        self.changed = ChangeSignal()  # appends, HW moves, role changes
        # what a follower's long poll waits for: every change but an HW move, which ends no
        # follower's wait (it learns the HW with its next records); and what a consumer's
        # waits for: every change but an append the HW does not cover yet, which it cannot
        # read. Waking each for the other's news cost a leader a look at every waiting
        # fetch's partitions twice per acks=all write.
        self.replica_news = Watchers()  # followers' fetch sessions (fetch_session.py)
        self.consumer_news = ChangeSignal()
        self._commits = CommitWaiters()  # acks=all writers, woken when the HW covers them
        # what a follower last heard from its leader (for the partition API views)
        self.leader_offsets = (-1, -1, -1)
        self.disk: LogDirHealth | None = None  # the broker's (set by the replica manager)
        # told of each write to this log and each leadership taken (set by the replica
        # manager): its duties look only at the replicas that wrote, never walk them all
        self.on_write: Callable[[PartitionReplica], None] | None = None
        self.on_change: Callable[[PartitionReplica], None] | None = None  # each signal_change: the HW may have moved
        self._position: fp.FetchPartition | None = None  # the last fetch_position(), while it holds

    # -- role -------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.leader is not None

    @property
    def high_watermark(self) -> int:
        return self.leader.hw if self.leader else self.follower_hw

    def apply_registration(self, reg: PartitionRegistration, now: int,
                           min_isr: int = 1) -> str | None:
        """Follow the metadata image; returns "leader"/"follower" on a role change.
        min_isr (the topic's, effective) matters to a leader: its HW waits for it."""
        if reg.leader == self.broker_id:
            if self.leader is None or reg.leader_epoch != self.leader_epoch:
                self._become_leader(reg, now, min_isr)
                return "leader"
            if min_isr != self.leader.min_isr and self.leader.on_min_isr(min_isr):
                self.signal_change()
            # an older epoch is one the controller's answer already gave this leader
            if reg.partition_epoch > self.partition_epoch:
                self._take_partition_state(reg.replicas, reg.isr, reg.partition_epoch, now)
            return None
        changed = self.leader is not None or reg.leader != self.leader_id \
            or reg.leader_epoch != self.leader_epoch
        if self.leader is not None:
            self.follower_hw = self.leader.hw
        self.leader = None
        self.leader_id, self.leader_epoch = reg.leader, reg.leader_epoch
        self.partition_epoch = reg.partition_epoch
        if changed:
            self.signal_change()  # acks=all waiters learn they lost leadership
            return "follower"
        return None

    def adopt_partition_state(self, leader_epoch: int, partition_epoch: int, replicas, isr, now: int) -> bool:
        """The controller's answer to an ISR change names the partition's state now (as
        Kafka's AlterPartition answer does): the leader takes it at once instead of
        waiting for the metadata to bring it. True when taken (same leadership, newer)."""
        if self.leader is None or leader_epoch != self.leader_epoch or partition_epoch <= self.partition_epoch:
            return False
        self._take_partition_state(tuple(replicas), tuple(isr), partition_epoch, now)
        return True

    def _take_partition_state(self, replicas, isr, partition_epoch: int, now: int) -> None:
        leader = self.leader
        assert leader is not None
        self.partition_epoch = partition_epoch
        if replicas != leader.replicas:
            leader.on_replicas_changed(replicas, now)
        if leader.on_isr_committed(isr, partition_epoch):
            self.signal_change()
        self.ask_followers_again()
        self._wrote()  # the new ISR may lag our end

    def ask_followers_again(self) -> None:
        """A follower the ISR leaves out (a fencing took it out, say) may be caught up and
        idle: its fetch would never be looked at again. Each follower session looks at
        this partition once more with its next request, proposing the follower if it
        still follows and is caught up; a follower that stopped following it (a damaged
        copy) has forgotten it by then."""
        leader = self.leader
        if leader is not None and any(b not in leader.isr for b in leader.followers):
            self.replica_news.notify_recheck()

    def _hw_lowered(self) -> None:
        """A truncation took the HW down with the log: the checkpoint must not keep the old."""
        if self.on_change is not None:
            self.on_change(self)

    def _wrote(self) -> None:
        if self.on_write is not None:
            self.on_write(self)

    def signal_change(self, *, for_followers: bool = True, for_consumers: bool = True) -> None:
        """Wake the long-polls (followers' and consumers' fetches, DeleteRecords) to look
        again, and the acks=all writers the HW now covers, or all of them when this
        replica no longer leads. for_followers / for_consumers: whether the change is
        news to those (an HW move is not to a follower, an uncovered append not to a
        consumer)."""
        self.changed.pulse()
        if self.on_change is not None:
            self.on_change(self)
        # every change is news a session must tell (an HW move too), but only one that
        # is not an HW move ends a follower's long poll
        self.replica_news.notify(wake=for_followers)
        if for_consumers:
            self.consumer_news.pulse()
        if self.leader is None:
            self._commits.release_all()
        else:
            self._commits.release_below(self.leader.hw)

    def _become_leader(self, reg: PartitionRegistration, now: int, min_isr: int) -> None:
        self._commits.release_all()  # writers of an earlier epoch learn it ended
        leo = self.log.log_end_offset
        hw = self.leader.hw if self.leader else self.follower_hw
        self.log.leader_epoch_cache.assign(reg.leader_epoch, leo)
        self.leader = LeaderState(self.broker_id, reg.replicas, reg.isr, reg.leader_epoch,
                                  reg.partition_epoch, leo, hw, now, min_isr)
        self.leader.on_append(leo)  # RF 1: HW = LEO at once
        self.leader_id, self.leader_epoch = self.broker_id, reg.leader_epoch
        self.partition_epoch = reg.partition_epoch
        self.signal_change()
        self._wrote()  # its followers' ends are unknown until they fetch

    def _require_leader(self, epoch: int | None = None) -> LeaderState:
        if self.leader is None or (epoch is not None and self.leader_epoch != epoch):
            raise NotLeaderOrFollower(f"broker {self.broker_id} is not the leader of {self.topic}-{self.partition}")
        return self.leader

    # -- produce (leader) ----------------------------------------------------------------
    def append(self, batch: bytes, acks_all: bool) -> tuple[int, int, int]:
        """Append one produced batch; returns (base offset, last offset, leader epoch).
        An idempotent producer's retry returns the original batch's offsets (nothing is
        written); waiting for those to commit then answers it like the first attempt.
        acks=all is held to the topic's min ISR as the leader state last took it from
        the metadata (the one place it is looked up)."""
        base, last = self._leader_write(lambda: self.log.append(batch, self.leader_epoch), acks_all)
        return base, last, self.leader_epoch

    def append_marker(self, producer_id: int, producer_epoch: int, commit: bool,
                      coordinator_epoch: int, transaction_version: int = 1) -> tuple[int, int]:
        """A transaction's COMMIT or ABORT marker (WriteTxnMarkers, always acks=all);
        returns (its offset, leader epoch)."""
        offset, _ = self._leader_write(lambda: (self.log.append_marker(
            producer_id, producer_epoch, commit, coordinator_epoch, self.leader_epoch,
            transaction_version=transaction_version), 0), True)
        return offset, self.leader_epoch

    def _leader_write(self, write: Callable[[], tuple[int, int]], acks_all: bool) -> tuple[int, int]:
        leader = self._require_leader()
        if acks_all and not leader.can_ack_all(leader.min_isr):
            raise NotEnoughReplicas(
                f"NOT_ENOUGH_REPLICAS: {self.topic}-{self.partition} has {len(leader.isr)} "
                f"in-sync replica(s) {list(leader.isr)}, min.insync.replicas is {leader.min_isr}")
        disk = self.disk
        if disk is not None and disk.failed:
            raise self._dir_failed(disk)
        try:
            written = write()
        except OSError as exc:
            if not is_dir_failure(exc):  # a segment roll found no descriptor left, say
                raise StorageUnavailable(
                    f"KAFKA_STORAGE_ERROR: broker {self.broker_id} could not write to "
                    f"{self.topic}-{self.partition} ({exc.strerror or exc}); nothing was stored, retry") from exc
            if disk is None:
                raise
            disk.fail(exc)
            raise self._dir_failed(disk) from None
        hw_moved = leader.on_append(self.log.log_end_offset, now_ms())  # RF 1: the HW moves with it
        self.log.maybe_flush()
        self._wrote()
        self.signal_change(for_consumers=hw_moved)
        return written

    def _dir_failed(self, disk: LogDirHealth) -> LogDirFailed:
        return LogDirFailed(f"KAFKA_STORAGE_ERROR: broker {self.broker_id}'s data dir takes no writes "
                            f"({disk.reason}); leadership of {self.topic}-{self.partition} is moving, retry")

    async def wait_committed(self, last_offset: int, epoch: int, deadline: float) -> None:
        """acks=all: until the HW passes `last_offset` in the same leader epoch."""
        while True:
            leader = self.leader
            if leader is None or self.leader_epoch != epoch:
                raise OutcomeUnknown(
                    f"NOT_LEADER: leadership of {self.topic}-{self.partition} moved during the "
                    "write; outcome unknown, retry")
            if leader.hw > last_offset:
                if not leader.can_ack_all(leader.min_isr):
                    raise OutcomeUnknown(
                        f"NOT_ENOUGH_REPLICAS_AFTER_APPEND: the ISR shrank to {list(leader.isr)} "
                        "while the write waited; outcome unknown")
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutcomeUnknown(
                    f"timeout: the write to {self.topic}-{self.partition} was not replicated "
                    "to the in-sync replicas in time; outcome unknown")
            try:
                async with asyncio.timeout(left):
                    await self._commits.past(last_offset)
            except TimeoutError:
                pass  # the deadline is checked above

    # -- replication (leader side of a follower's fetch) ------------------------------------
    def serve_fetch(self, replica_id: int, req: fp.FetchPartition, max_bytes: int, now: int,
                    broker_epoch: int = -1):
        """Returns (PartitionData, proposed ISR or None); broker_epoch: the follower's
        registration, as its fetch names it."""
        base: dict[str, Any] = {"topic_id": self.topic_id, "partition": self.partition}
        leader = self.leader
        if leader is None:
            return fp.PartitionData(**base, error=fp.NOT_LEADER), None
        if req.current_leader_epoch > self.leader_epoch:
            return fp.PartitionData(**base, error=fp.UNKNOWN_LEADER_EPOCH), None
        if 0 <= req.current_leader_epoch < self.leader_epoch:  # -1: not given (Kafka checks none)
            return fp.PartitionData(**base, error=fp.FENCED_LEADER_EPOCH), None
        if leader.on_follower_log_start(replica_id, req.log_start_offset):
            self.signal_change()  # a DeleteRecords may be waiting for this follower
        log = self.log
        offsets: dict[str, Any] = {"high_watermark": leader.hw, "log_start_offset": log.log_start_offset,
                   "log_end_offset": log.log_end_offset}
        try:  # the one read's checks (partition_read.py); the records after the bookkeeping
            plan = self.plan_read(ReadRequest(req.fetch_offset, max_bytes, Isolation.REPLICA, req.last_fetched_epoch))
        except OffsetOutOfRange:
            return fp.PartitionData(**base, **offsets, error=fp.OFFSET_OUT_OF_RANGE), None
        if plan.diverging is not None:  # KIP-320: the follower truncates, then fetches again
            return fp.PartitionData(**base, **offsets, diverging_epoch=plan.diverging.epoch,
                                    diverging_end_offset=plan.diverging.end_offset), None
        hw_moved, proposal = leader.on_follower_fetch(replica_id, req.fetch_offset, now, broker_epoch)
        if hw_moved:
            self.signal_change(for_followers=False)
            offsets["high_watermark"] = leader.hw
        try:
            data = self.take(plan).records
        except DamagedLog:  # never replicate damage; the repair moves leadership away
            return fp.PartitionData(**base, **offsets, error=fp.STORAGE_ERROR), proposal
        return fp.PartitionData(**base, **offsets, records=data), proposal

    # -- replication (follower side) -----------------------------------------------------
    def fetch_position(self) -> fp.FetchPartition:
        """Where this follower fetches from. The same object while nothing in it moved, so a
        fetcher's session tells an unchanged partition by identity (most are idle)."""
        log, last = self.log, self._position
        end, epoch, start = log.log_end_offset, log.latest_epoch, log.log_start_offset
        if last is not None and last.fetch_offset == end and last.last_fetched_epoch == epoch \
                and last.current_leader_epoch == self.leader_epoch and last.log_start_offset == start:
            return last
        self._position = fp.FetchPartition(self.topic_id, self.partition, end, epoch, self.leader_epoch, start)
        return self._position

    def on_fetched(self, data: fp.PartitionData, asked: fp.FetchPartition, leader_id: int) -> bool:
        """Apply a leader's fetch answer; returns True when the follower should back off."""
        log = self.log
        if self.leader is not None or self.leader_id != leader_id \
                or self.leader_epoch != asked.current_leader_epoch \
                or log.log_end_offset != asked.fetch_offset:
            return False  # an answer to an earlier question (role, leader or log moved on)
        if data.error in (fp.NOT_LEADER, fp.FENCED_LEADER_EPOCH, fp.UNKNOWN_LEADER_EPOCH,
                          fp.UNKNOWN_PARTITION, fp.STORAGE_ERROR):
            return True
        if data.diverging_epoch >= 0 or data.diverging_end_offset >= 0:
            return self._truncate_divergence(data.diverging_epoch, data.diverging_end_offset)
        if data.error == fp.OFFSET_OUT_OF_RANGE:
            if log.log_end_offset < data.log_start_offset:
                log.truncate_fully_and_start_at(data.log_start_offset)
            else:  # ahead of the leader's end (Kafka's answer leaves it out): back to its HW
                log.truncate_to(data.log_end_offset if data.log_end_offset >= 0 else data.high_watermark)
            self.follower_hw = min(self.follower_hw, log.log_end_offset)
            self._hw_lowered()
            return False
        if data.records:
            self._restart_at_batch_across_log_start(data.records)
        if data.records and self._cut_to_a_batch_across_our_end(data.records):
            return False  # fetch again from the new log end
        if data.records:
            log.append_as_follower(data.records)
            log.maybe_flush()
            self._wrote()
        hw_before = self.follower_hw
        self.follower_hw = max(self.follower_hw, min(data.high_watermark, log.log_end_offset))
        if self.follower_hw != hw_before:
            self.signal_change(for_followers=False)  # KIP-392: consumers long-polling this follower read on
        if data.log_start_offset > log.log_start_offset:  # DeleteRecords (or retention) on the leader
            log.advance_start(min(data.log_start_offset, log.log_end_offset))
        self.leader_offsets = (data.high_watermark, data.log_start_offset, data.log_end_offset)
        return False

    def _restart_at_batch_across_log_start(self, records: bytes) -> None:
        """Our log is empty and starts inside the leader's first batch (DeleteRecords put
        the leader's log start inside a batch, and we started over there): start the log
        at the batch's base so the batch is appended whole. The leader's log start, taken
        right after, hides the records below it again (Kafka's follower does the same)."""
        log = self.log
        first = next(iter_batches(records), None)
        if first is None or log.log_end_offset != log.log_start_offset:
            return
        header = first[1]
        if header.base_offset < log.log_end_offset <= header.last_offset:
            log.truncate_fully_and_start_at(header.base_offset)

    def _cut_to_a_batch_across_our_end(self, records: bytes) -> bool:
        """The leader's first batch starts below our log end and ends at or after it: its
        cleaner merged a run of emptied batches into one record-less batch, and we (out
        of the ISR, below the range it cleaned) hold the start of that run. Cut our log
        to the batch's start so the next fetch appends it whole; the leader's batch holds
        what compaction kept of the records we drop. True when it cut."""
        first = next(iter_batches(records), None)
        log = self.log
        if first is None or not first[1].base_offset < log.log_end_offset <= first[1].last_offset:
            return False
        header = first[1]
        _log.info("%s-%d: the leader's batch %d..%d spans our log end %d (a compacted run): cutting to %d",
                  self.topic, self.partition, header.base_offset, header.last_offset, log.log_end_offset,
                  header.base_offset)
        log.truncate_to(max(header.base_offset, log.log_start_offset))
        self.follower_hw = min(self.follower_hw, log.log_end_offset)
        self._hw_lowered()
        return True

    def _truncate_divergence(self, epoch: int, leader_end: int) -> bool:
        """KIP-320: cut to min(the leader's end of `epoch`, our own end of it), which also
        drops epochs we began that the leader never saw (even when they wrote nothing)."""
        log = self.log
        before = (log.log_end_offset, log.leader_epoch_cache.entries)
        target = leader_end
        if epoch >= 0:
            _, own_end = log.end_offset_for_epoch(epoch)
            if own_end >= 0:
                target = min(target, own_end)
        log.truncate_to(max(target, log.log_start_offset))
        self.follower_hw = min(self.follower_hw, log.log_end_offset)
        self._hw_lowered()
        return (log.log_end_offset, log.leader_epoch_cache.entries) == before  # no progress

    # -- DeleteRecords (leader) ----------------------------------------------------------
    def delete_records_before(self, offset: int) -> int:
        """Move this leader's log start to ``offset`` (HIGH_WATERMARK: the high watermark),
        durably; returns the offset it now aims at. Followers learn it from their next fetch
        (their long polls are answered now). Below -1 or past the high watermark: Kafka's
        OFFSET_OUT_OF_RANGE; an offset at or below the log start changes nothing."""
        start, hw = self.readable_range()
        target = hw if offset == HIGH_WATERMARK else offset
        if not 0 <= target <= hw:
            raise OffsetOutOfRange(f"OFFSET_OUT_OF_RANGE: records of {self.topic}-{self.partition} can be deleted "
                                f"before offsets -1 (the high watermark) or {start}..{hw}, not {offset}",
                                offset, start, hw)
        disk = self.disk
        if disk is not None and disk.failed:
            raise self._dir_failed(disk)
        try:
            moved = self.log.advance_start(target)
        except OSError as exc:
            if disk is not None and is_dir_failure(exc):
                disk.fail(exc)
                raise self._dir_failed(disk) from None
            raise StorageUnavailable(f"KAFKA_STORAGE_ERROR: broker {self.broker_id} could not record the new "
                                     f"log start of {self.topic}-{self.partition} ({exc.strerror or exc}); "
                                     "retry") from exc
        if moved:
            self.signal_change()
        return target

    async def wait_low_watermark(self, target: int, live_brokers: Callable[[], Collection[int]],
                                 deadline: float) -> int:
        """Until every replica on a live broker has its log start at ``target`` or later
        (Kafka's low watermark); returns the low watermark. At the deadline OutcomeUnknown
        (REQUEST_TIMED_OUT): the leader's log start has moved, a follower has not yet."""
        epoch = self.leader_epoch
        while True:
            leader = self.leader
            if leader is None or self.leader_epoch != epoch:
                raise NotLeaderOrFollower(f"NOT_LEADER: leadership of {self.topic}-{self.partition} moved while "
                                          "its followers took the new log start; retry")
            low = leader.low_watermark(self.log.log_start_offset, live_brokers())
            if low >= target:
                return low
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutcomeUnknown(f"REQUEST_TIMED_OUT: {self.topic}-{self.partition} starts at "
                                     f"{self.log.log_start_offset} on its leader, but the low watermark of its "
                                     f"replicas is still {low}; retry")
            await self.changed.wait(left)

    def repair_from(self, offset: int) -> int:
        """Cut a damaged log at ``offset`` (the replica is out of the ISR, following a
        leader, which refills it); returns the new log end offset."""
        end = self.log.repair_from(max(offset, self.log.log_start_offset))
        self.follower_hw = min(self.follower_hw, end)
        self.signal_change()
        return end

    def offsets_view(self) -> dict:
        """The leader's offsets (as last heard on a follower) and the bytes of this
        replica's own log (the leader's on the leader)."""
        if self.leader is not None:
            return {"high_watermark": self.leader.hw, "log_start_offset": self.log.log_start_offset,
                    "log_end_offset": self.log.log_end_offset, "size": self.log.size_bytes}
        hw, start, end = self.leader_offsets
        # the leader's end is not in its answers: the end of what this follower copied
        return {"high_watermark": hw, "log_start_offset": start,
                "log_end_offset": end if end >= 0 else max(hw, self.log.log_end_offset),
                "size": self.log.size_bytes}
