"""Sending a leader's ISR changes to the controller (Kafka's AlterPartitionManager).

A leader proposes an ISR (shrink or expand, see leader_state); at most one proposal per
partition is pending or in flight. Every proposal waiting when the controller is free
goes in one request (`alter_partitions`, up to MAX_CHANGES_PER_REQUEST), as Kafka's
manager sends one AlterPartition per round with every pending change: after a restart
thousands of partitions take their follower back in a few requests, not one call and
one metadata write each.

The answer names each partition's state: the leader takes it at once (partition epoch,
ISR, replicas), so the HW moves without waiting for the metadata log to bring it, and a
refusal for a stale epoch is settled by the state it carries, after which the leader
proposes again from there. A follower the controller cannot take yet (fenced, starting)
is kept aside here and asked about again when the metadata says it is usable: an idle
follower's fetch is not looked at again, so the partition is marked changed and every
follower session looks at it with its next fetch, which proposes the follower if it is
still following and caught up (never from what an old fetch showed). An unknown outcome
(no controller, a timeout) sends the proposal again after ALTER_RESEND_S; the
compare-and-set on the partition epoch makes that safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

from kraft.errors import KraftError, NoActiveController, OutcomeUnknown
from kraft.metadata.image import MetadataImage
from kraft.replication.change_signal import ChangeSignal
from kraft.replication.leader_state import LeaderState
from kraft.replication.partition_replica import PartitionReplica, now_ms

log = logging.getLogger(__name__)

ALTER_RESEND_S = 1.0  # proposals whose outcome is unknown are sent again after this
# A request carries at most this many changes, the rest following at once: the controller
# writes one request's changes as one metadata entry, which every controller applies in
# one go; 30,000 at a time (a full restart at 30,000 partitions) held the quorum's
# heartbeats past an election timeout, and every controller move sent them all again.
MAX_CHANGES_PER_REQUEST = 2000
IDLE_WAIT_S = 1.0
INELIGIBLE = "INELIGIBLE_REPLICA"
# refusals after which the leader waits for the metadata (its leadership or registration moved)
WAIT_FOR_METADATA = frozenset({"FENCED_LEADER_EPOCH", "STALE_BROKER_EPOCH", "UNKNOWN_TOPIC_OR_PARTITION"})

Key = tuple[str, int]


@dataclass
class Proposal:
    replica: PartitionReplica
    leader_state: LeaderState
    isr: tuple[int, ...]
    leader_epoch: int
    partition_epoch: int

    def still_ours(self) -> bool:
        """Nothing moved since it was made: same leadership, same ISR proposed, same base."""
        state = self.leader_state
        return (self.replica.leader is state and state.pending_isr == self.isr
                and state.partition_epoch == self.partition_epoch)

    def item(self) -> dict:
        return {"topic_id": self.replica.topic_id, "partition": self.replica.partition,
                "leader_epoch": self.leader_epoch, "partition_epoch": self.partition_epoch,
                "new_isr": list(self.isr),
                "new_isr_epochs": {str(b): e for b, e in self.leader_state.joining_epochs(self.isr).items()}}


def definitely_refused(exc: Exception) -> bool:
    """The controller judged the request and wrote nothing: safe to forget. Timeouts and
    unreachable controllers are not."""
    return isinstance(exc, KraftError) and not isinstance(exc, (OutcomeUnknown, NoActiveController))


class AlterPartitionManager:
    def __init__(self, broker_id: int, broker_epoch: Callable[[], int], controller_call,
                 image: Callable[[], MetadataImage | None] = lambda: None):
        """controller_call(op, payload) -> coroutine; image() -> the newest metadata image
        (who may join an ISR now). run() sends; it is owned by the replica manager."""
        self._broker_id = broker_id
        self._broker_epoch = broker_epoch
        self._controller_call = controller_call
        self._image = image
        self._pending: dict[Key, Proposal] = {}
        self._inflight: dict[Key, Proposal] = {}
        # follower -> the leaders to propose it again once usable, each with the broker
        # epoch it was refused at (a fetch from a newer incarnation asks again at once)
        self._waiting_for: dict[int, dict[PartitionReplica, int]] = {}
        self._news = ChangeSignal()
        self._stopped = False
        self.requests_sent = 0  # alter_partitions requests (one per controller round)
        self.changes_sent = 0  # ISR changes in them

    # -- proposing -----------------------------------------------------------------------------
    def propose(self, replica: PartitionReplica, isr) -> None:
        """The leader state made this its pending ISR: it goes in the next request (one
        already waiting for the partition is replaced; one in flight is answered first)."""
        key = (replica.topic_id, replica.partition)
        state = replica.leader
        if state is None:  # only a leader proposes
            return
        isr = self._eligible_only(replica, state, tuple(isr))
        if isr is None:
            return
        self._pending[key] = Proposal(replica, state, isr, replica.leader_epoch, replica.partition_epoch)
        self._news.pulse()

    def _eligible_only(self, replica: PartitionReplica, state: LeaderState, isr: tuple[int, ...]):
        """The proposal without the joiners the metadata says cannot join yet (KIP-841:
        fenced or shutting down), or the controller refused and that wait for their
        registration to change (_waiting_for). None when nothing is left to change."""
        image = self._image()
        ineligible = [b for b in isr if b not in state.isr and ((image is not None and not image.is_usable(b))
                                                                  or self._refused(replica, state, b))]
        if not ineligible:
            return isr
        for b in ineligible:
            self._wait_for(b, replica, state)
        narrowed = tuple(b for b in isr if b not in ineligible)
        if set(narrowed) == set(state.isr):
            state.on_proposal_failed()
            return None
        state.pending_isr = narrowed
        return narrowed

    def _wait_for(self, broker: int, replica: PartitionReplica, state: LeaderState) -> None:
        progress = state.followers.get(broker)
        self._waiting_for.setdefault(broker, {})[replica] = progress.broker_epoch if progress else -1

    def _refused(self, replica: PartitionReplica, state: LeaderState, broker: int) -> bool:
        """The controller refused this follower here and nothing has changed since: neither
        its registration (on_brokers_changed) nor the incarnation its fetches come from."""
        waiting = self._waiting_for.get(broker)
        if waiting is None or replica not in waiting:
            return False
        progress = state.followers.get(broker)
        if progress is not None and progress.broker_epoch != waiting[replica]:
            del waiting[replica]  # it fetched as another incarnation: ask again
            return False
        return True

    def on_brokers_changed(self, brokers, image: MetadataImage) -> None:
        """Brokers whose registration changed: the leaders kept aside for one now usable
        have its session look at those partitions again (its next fetch proposes it)."""
        for b in brokers:
            if b in self._waiting_for and b not in image.brokers:
                del self._waiting_for[b]  # unregistered (decommissioned): it joins no ISR
            elif b in self._waiting_for and image.is_usable(b):
                for replica in self._waiting_for.pop(b):
                    replica.ask_followers_again()

    # -- sending -------------------------------------------------------------------------------
    def stop(self) -> None:
        """The owner stops: run() ends after the request in flight, whatever it raises. A
        cancellation that meets an HTTP timeout may come out as the timeout (seen: a stop
        whose manager sent again every 6 s until the process was killed)."""
        self._stopped = True

    async def run(self) -> None:
        """Owned by the replica manager's task group; returns when cancelled or stopped."""
        while not self._stopped:
            if not self._pending:
                await self._news.wait(IDLE_WAIT_S)
                continue
            if len(self._pending) <= MAX_CHANGES_PER_REQUEST:
                self._inflight, self._pending = self._pending, {}
            else:  # the oldest first
                self._inflight = {k: self._pending.pop(k) for k in list(islice(self._pending, MAX_CHANGES_PER_REQUEST))}
            try:
                resend = await self._send(list(self._inflight.values()))
            finally:
                sent, self._inflight = self._inflight, {}
            if resend:
                for key, proposal in sent.items():
                    if proposal.still_ours():
                        self._pending.setdefault(key, proposal)
                await asyncio.sleep(ALTER_RESEND_S)

    async def _send(self, proposals: list[Proposal]) -> bool:
        """One request for them all; True when its outcome is unknown (send again)."""
        payload = {"leader_id": self._broker_id, "broker_epoch": self._broker_epoch(),
                   "partitions": [p.item() for p in proposals]}
        self.requests_sent += 1
        self.changes_sent += len(proposals)
        try:
            answer = await self._controller_call("alter_partitions", payload)
        except Exception as exc:
            if not definitely_refused(exc):
                log.info("ISR changes of %d partition(s): outcome unknown (%s), sending again",
                         len(proposals), exc)
                return True
            log.info("ISR changes of %d partition(s) refused: %s", len(proposals), exc)
            for proposal in proposals:
                if proposal.still_ours():
                    proposal.leader_state.on_proposal_failed()
            return False
        by_key = {(a["topic_id"], a["partition"]): a for a in answer.get("partitions", ())}
        changed, refused = 0, Counter[str]()
        for proposal in proposals:
            result = by_key.get((proposal.replica.topic_id, proposal.replica.partition))
            if result is not None:
                changed += self._settle(proposal, result)
                if "error" in result:
                    refused[result["error"]] += 1
        if changed:
            log.info("ISR changed for %d partition(s) in one request", changed)
        if refused:  # one line a request, not one a partition: after a restart there are thousands
            example = next(a for a in by_key.values() if "error" in a)
            log.info("ISR changes refused: %s (e.g. %s-%d: %s)", dict(refused), example["topic_id"],
                     example["partition"], example.get("message", ""))
        return False

    def _settle(self, proposal: Proposal, result: dict) -> int:
        """Take one partition's answer; 1 when its ISR changed."""
        replica, error = proposal.replica, result.get("error")
        self._inflight.pop((replica.topic_id, replica.partition), None)  # settled: the next may go
        taken = "partition_epoch" in result and replica.leader is proposal.leader_state \
            and replica.adopt_partition_state(result["leader_epoch"], result["partition_epoch"],
                                              result["replicas"], result["isr"], now_ms())
        if proposal.still_ours():  # not taken (nothing changed, or refused): it ends here
            proposal.leader_state.on_proposal_failed()
        if error is None:
            replica.ask_followers_again()  # another follower may have caught up meanwhile
            return int(result["partition_epoch"] > proposal.partition_epoch)
        if error == INELIGIBLE:  # those wait for their registration to change; the others go on
            for b in result.get("ineligible") or set(proposal.isr) - set(proposal.leader_state.isr):
                self._wait_for(b, replica, proposal.leader_state)
            replica.ask_followers_again()
        elif error not in WAIT_FOR_METADATA and taken:
            replica.ask_followers_again()  # a stale epoch: again, from the state the answer gave
        return 0
