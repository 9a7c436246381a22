"""Finishing a prepared transaction: its markers, then its Complete state.

Once PrepareCommit / PrepareAbort is in the log, the markers are written to every partition
of the transaction (retried with backoff until each has one; a partition that no longer
exists is passed over), then the Complete state is appended. The work stops as soon as
this node stops coordinating the id at that coordinator epoch: the next coordinator
finishes it from the log. Also here: what a failed append of the state log means to the
coordinator's client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from kraft.errors import (
    CoordinatorNotAvailable,
    MessageTooLarge,
    NotCoordinator,
    NotLeaderOrFollower,
    OutcomeUnknown,
    RetriableError,
    StorageError,
    UnknownServerError,
    UnknownTopicOrPartition,
)
from kraft.transactions.txn_markers import MISSING, MarkerOutcome, SendMarkers, TxnMarker, backoff_s, marker_outcome
from kraft.transactions.txn_metadata import PREPARE_COMMIT, TopicPartition, TransactionMetadata

log = logging.getLogger(__name__)

MARKER_SEND_TIMEOUT_S = 60.0  # one send_markers call: longer than the leaders' acks=all wait


class Completions:
    """The completion work running on one partition's transactions, by transactional id
    (one at a time per id), and when each has settled: its Complete state applied, or
    the work over however it ended. Requests of the id's next transaction wait for that."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._settled: dict[str, asyncio.Future[None]] = {}

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def started(self, tid: str, task: asyncio.Task[None]) -> None:
        self._tasks[tid] = task
        self._settled[tid] = asyncio.get_running_loop().create_future()

        def done(task: asyncio.Task[None]) -> None:
            if self._tasks.get(tid) is task:
                del self._tasks[tid]
                self.settle(tid)
        task.add_done_callback(done)

    def settle(self, tid: str) -> None:
        settled = self._settled.pop(tid, None)
        if settled is not None and not settled.done():
            settled.set_result(None)

    async def settled(self, tid: str, timeout_s: float) -> None:
        """Once the id's work has settled, or after timeout_s (never cancels the work)."""
        if (settled := self._settled.get(tid)) is not None:
            await asyncio.wait((settled,), timeout=timeout_s)

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()


class StateHost(Protocol):
    """The coordinator, as the completion of a transaction uses it."""

    def is_current(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> bool: ...

    def partition_exists(self, tp: TopicPartition) -> bool: ...

    async def prepare_committed(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> bool:
        """Once the Prepare state is committed in the partition (True), or this node stopped
        coordinating the id (False)."""

    async def write_complete(self, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> None:
        """Append the Complete state of a prepared transaction (nothing when it is not
        prepared any more)."""


async def write_markers_then_complete(host: StateHost, send_markers: SendMarkers, p: int, coordinator_epoch: int,
                                      meta: TransactionMetadata) -> None:
    """Write the markers of a prepared transaction until every partition has one,
    then append its Complete state. Stops when this node stops coordinating it.

    Not before the Prepare state is committed: one whose acks=all wait failed (or a load
    found above the high watermark) may still be cut from the log if the leadership moves
    before a follower has it. Its markers would already have ended the transaction, say
    aborted it on a timeout, and the next coordinator, which never saw that, lets the
    client commit: the client is told "committed" for records its own marker hid."""
    if not await host.prepare_committed(p, coordinator_epoch, meta):
        return
    if await _write_markers(host, send_markers, p, coordinator_epoch, meta):
        await _append_complete(host, p, coordinator_epoch, meta)


async def _write_markers(host: StateHost, send_markers: SendMarkers, p: int, coordinator_epoch: int,
                         meta: TransactionMetadata) -> bool:
    """True once every partition has its marker; False: this node stopped completing it."""
    tid, commit = meta.transactional_id, meta.state is PREPARE_COMMIT
    remaining = set(meta.partitions)
    attempt = 0
    while True:
        if not host.is_current(p, coordinator_epoch, meta):
            return False
        for tp in sorted(tp for tp in remaining if not host.partition_exists(tp)):
            log.info("transaction coordinator: %s is gone: no marker for it in %r", tp, tid)
            remaining.discard(tp)
            meta.remove_partition(tp)
        if not remaining:
            return True
        marker = TxnMarker(meta.producer_id, meta.producer_epoch, commit, coordinator_epoch,
                           tuple(sorted(remaining)), 2 if meta.bumped_end else 1)
        answers: Any = {}
        try:
            async with asyncio.timeout(MARKER_SEND_TIMEOUT_S):  # a wiring that never answers
                answers = (await send_markers([marker]))[0]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the wiring's trouble: every partition is tried again
            log.info("transaction coordinator: markers of %r not sent (%r); retrying", tid, exc)
        if not host.is_current(p, coordinator_epoch, meta):
            return False
        for tp in marker.partitions:
            answer = answers.get(tp, MISSING)
            outcome = marker_outcome(answer)
            if outcome is MarkerOutcome.WRITTEN:
                remaining.discard(tp)
                meta.remove_partition(tp)
            elif outcome is MarkerOutcome.ABANDON:
                log.warning("transaction coordinator: %s refused the %s marker of %r (producer %d epoch %d, "
                            "coordinator epoch %d): %r; this coordinator stops completing it",
                            tp, "commit" if commit else "abort", tid, meta.producer_id, meta.producer_epoch,
                            coordinator_epoch, answer)
                return False
        if remaining:
            await asyncio.sleep(backoff_s(attempt))
            attempt += 1


async def _append_complete(host: StateHost, p: int, coordinator_epoch: int, meta: TransactionMetadata) -> None:
    """The Complete state counts once it is in this node's log (replayed then, see
    writes.py): a failed acks=all wait after that is tried again and finds nothing to do."""
    tid, attempt = meta.transactional_id, 0
    while True:
        if not host.is_current(p, coordinator_epoch, meta):
            return  # the next coordinator finishes it
        try:
            await host.write_complete(p, coordinator_epoch, meta)
            log.debug("transaction coordinator: %r is %s", tid, meta.state.value)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if host.is_current(p, coordinator_epoch, meta):
                log.info("transaction coordinator: the Complete state of %r not appended (%r); retrying", tid, exc)
        await asyncio.sleep(backoff_s(attempt))
        attempt += 1


async def id_committed(replica: Any, part: Any, transactional_id: str, bound_s: float) -> bool:
    """Until the id's last record in its shard is committed, so that an answer read from
    its state is one the next coordinator would give too (Kafka's cache holds committed
    transitions only): an addition whose acks=all wait failed is not in the transaction
    until then (the id's latest, should another record of it come meanwhile). Whether it
    waited; COORDINATOR_NOT_AVAILABLE when it was not committed in `bound_s` or the
    leadership moved."""
    deadline = time.monotonic() + bound_s
    waited = False
    while (offset := part.cache.offsets.get(transactional_id)) is not None and replica is not None \
            and replica.high_watermark <= offset:
        waited = True
        try:
            await replica.wait_committed(offset, part.coordinator_epoch, deadline)
        except OutcomeUnknown:
            raise CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: the state of {transactional_id!r} is not "
                                          "committed yet; retry") from None
    return waited


def coordinator_error(exc: BaseException, transactional_id: str) -> BaseException:
    """What a failed append of the state log means to the coordinator's client (Kafka's
    mapping in TransactionStateManager.appendTransactionToLog)."""
    if isinstance(exc, asyncio.CancelledError):
        return exc
    if isinstance(exc, (NotLeaderOrFollower, StorageError)):
        return NotCoordinator(f"NOT_COORDINATOR: the state of {transactional_id!r} could not be appended here "
                              f"({type(exc).__name__}); find the coordinator again")
    if isinstance(exc, (UnknownTopicOrPartition, RetriableError)):
        return CoordinatorNotAvailable(f"COORDINATOR_NOT_AVAILABLE: the state of {transactional_id!r} could not be "
                                       f"appended ({type(exc).__name__}); retry")
    if isinstance(exc, MessageTooLarge):
        return UnknownServerError(f"the state of {transactional_id!r} is too large to append")
    return exc
