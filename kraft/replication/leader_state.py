"""The partition leader's replication rules: follower progress, high watermark, ISR.

Pure (sans-IO): the caller passes `now_ms` and acts on what the methods return. The
ISR itself changes only through the controller (AlterPartition, compare-and-set on
the partition epoch); while a change is in flight the high watermark is computed over
the *maximal* ISR (committed ∪ proposed), so it never runs ahead of a replica that
may still be in the ISR.

The high watermark advances only while the committed ISR has at least min ISR members
(KIP-966's strict min ISR): a replica that left an ISR now below it still holds every
committed record, which is what lets the controller elect it from the ELR.

Followers also report their log start offsets; the lowest among the leader and the
followers on live brokers is the low watermark DeleteRecords waits for (Kafka's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN = -1


@dataclass
class FollowerProgress:
    leo: int = UNKNOWN  # unknown until the follower fetches from this leader
    last_caught_up_ms: int = 0
    last_fetch_leader_leo: int = UNKNOWN  # leader's LEO when the previous fetch arrived
    last_fetch_ms: int = 0
    log_start: int = UNKNOWN  # as its last fetch reported it
    broker_epoch: int = UNKNOWN  # its registration when it last fetched (KIP-903)


class LeaderState:
    def __init__(self, broker_id: int, replicas, isr, leader_epoch: int, partition_epoch: int,
                 leo: int, hw: int, now_ms: int, min_isr: int = 1):
        self.broker_id = broker_id
        self.replicas = tuple(replicas)
        self.isr = tuple(isr)
        self.pending_isr: tuple[int, ...] | None = None
        self.leader_epoch = leader_epoch
        self.partition_epoch = partition_epoch
        self.min_isr = min_isr  # the topic's effective min.insync.replicas
        self.leo = leo
        # The epoch starts here: until the HW reaches it, the HW this leader knows may be
        # below what the previous leader already showed to clients.
        self.epoch_start_offset = leo
        self.hw = min(hw, leo)
        # A new leader gives followers a full lag window before it may drop them.
        self.followers = {b: FollowerProgress(last_caught_up_ms=now_ms)
                          for b in self.replicas if b != broker_id}

    # -- derived -----------------------------------------------------------------------
    @property
    def maximal_isr(self) -> tuple[int, ...]:
        if self.pending_isr is None:
            return self.isr
        return tuple(sorted(set(self.isr) | set(self.pending_isr)))

    @property
    def hw_established(self) -> bool:
        """May clients read and see the HW? Not before it reaches this epoch's start."""
        return self.hw >= self.epoch_start_offset

    def can_ack_all(self, min_insync: int) -> bool:
        return len(self.isr) >= min_insync

    # -- events --------------------------------------------------------------------------
    def on_append(self, leo: int, now_ms: int | None = None) -> bool:
        """Local append moved the LEO; returns True when the HW moved. A follower whose
        end was ours was caught up until now (so an idle partition's followers need no
        fetch looked at to stay in the ISR: nothing walks the idle ones)."""
        if now_ms is not None and leo != self.leo:
            for progress in self.followers.values():
                if progress.leo == self.leo:
                    progress.last_caught_up_ms = max(progress.last_caught_up_ms, now_ms)
        self.leo = leo
        return self._advance_hw()

    def on_follower_fetch(self, follower: int, fetch_offset: int, now_ms: int, broker_epoch: int = UNKNOWN):
        """A follower fetched from `fetch_offset` (= its LEO), registered as broker_epoch.
        Returns (hw_moved, isr_to_propose)."""
        progress = self.followers.get(follower)
        if progress is None:
            return False, None
        progress.broker_epoch = broker_epoch
        fetch_offset = min(fetch_offset, self.leo)
        # Kafka's rule: caught up now if it asked for everything we have; caught up as of
        # its previous fetch if it reached what we had back then.
        if fetch_offset >= self.leo:
            progress.last_caught_up_ms = now_ms
        elif fetch_offset >= progress.last_fetch_leader_leo >= 0:
            progress.last_caught_up_ms = max(progress.last_caught_up_ms, progress.last_fetch_ms)
        progress.leo = fetch_offset
        progress.last_fetch_leader_leo = self.leo
        progress.last_fetch_ms = now_ms
        hw_moved = self._advance_hw()
        return hw_moved, self._expansion(follower, progress)

    def on_follower_log_start(self, follower: int, log_start: int) -> bool:
        """A follower's fetch reported its log start; True when it moved (a DeleteRecords
        may be waiting for it). -1 (a node that does not say) changes nothing."""
        progress = self.followers.get(follower)
        if progress is None or log_start < 0 or log_start == progress.log_start:
            return False
        progress.log_start = log_start
        return True

    def low_watermark(self, own_log_start: int, live_brokers) -> int:
        """The lowest log start of this leader and of every follower on a live broker (one
        that has not fetched since this leader began counts as UNKNOWN, -1)."""
        low = own_log_start
        for broker, progress in self.followers.items():
            if broker in live_brokers:
                low = min(low, progress.log_start)
        return low

    def _expansion(self, follower: int, progress: FollowerProgress):
        if self.pending_isr is not None or follower in self.isr or progress.leo == UNKNOWN:
            return None
        if progress.leo >= self.hw and progress.leo >= self.epoch_start_offset:
            # every follower caught up joins in the same change: after a restart each
            # partition's ISR is whole again in one proposal, not one per follower
            joining = {b for b, p in self.followers.items() if b not in self.isr and p.leo != UNKNOWN
                       and p.leo >= self.hw and p.leo >= self.epoch_start_offset}
            return self._propose(tuple(b for b in self.replicas if b in self.isr or b in joining))
        return None

    def shrink_proposal(self, now_ms: int, max_lag_ms: int):
        """Followers in the ISR that have not caught up for max_lag_ms leave it; one at
        our end is caught up whenever it was last seen (Kafka's isCaughtUp)."""
        if self.pending_isr is not None:
            return None
        out = {b for b in self.isr if b != self.broker_id and self.followers[b].leo != self.leo
               and now_ms - self.followers[b].last_caught_up_ms > max_lag_ms}
        if not out:
            return None
        return self._propose(tuple(b for b in self.isr if b not in out))

    def lagging(self) -> bool:
        """Is an ISR follower short of our end? Only then can shrink_proposal propose."""
        return any(b != self.broker_id and b in self.followers and self.followers[b].leo != self.leo
                   for b in self.isr)

    def joining_epochs(self, isr) -> dict[int, int]:
        """The broker epoch each member joining in `isr` fetched with (KIP-903's
        NewIsrWithEpochs): the controller takes none whose registration has moved on."""
        return {b: self.followers[b].broker_epoch for b in isr if b not in self.isr and b in self.followers}

    def _propose(self, isr: tuple[int, ...]) -> tuple[int, ...]:
        self.pending_isr = isr
        return isr

    def on_isr_committed(self, isr, partition_epoch: int) -> bool:
        """The metadata log now holds this ISR (the controller's answer said so, or the
        metadata came); returns True when the HW moved."""
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        self.pending_isr = None
        return self._advance_hw()

    def on_replicas_changed(self, replicas, now_ms: int) -> None:
        """A reassignment added or removed replicas: new ones are followers to track
        (not in the ISR until they catch up), removed ones are forgotten."""
        self.replicas = tuple(replicas)
        for b in self.replicas:
            if b != self.broker_id and b not in self.followers:
                self.followers[b] = FollowerProgress(last_caught_up_ms=now_ms)
        for b in [b for b in self.followers if b not in self.replicas]:
            del self.followers[b]

    def on_proposal_failed(self) -> None:
        self.pending_isr = None

    def on_min_isr(self, min_isr: int) -> bool:
        """The topic's min ISR changed; returns True when the HW moved."""
        self.min_isr = min_isr
        return self._advance_hw()

    def _advance_hw(self) -> bool:
        if len(self.isr) < self.min_isr:
            return False
        members = self.maximal_isr
        leos = [self.leo if b == self.broker_id else self.followers[b].leo
                for b in members if b == self.broker_id or b in self.followers]
        if not leos or min(leos) == UNKNOWN:
            return False
        candidate = min(leos)
        if candidate > self.hw:
            self.hw = candidate
            return True
        return False
