"""One transactional id's state. Pure: no I/O, no clock (times are arguments), no
asyncio. The coordinator's decisions about it are in txn_decisions.py, what
DescribeTransactions and ListTransactions show of it in txn_views.py.

After Kafka's TransactionMetadata and the checks of its TransactionCoordinator. With
transaction version 1 (KIP-98 with KIP-360 and KIP-890 part 1) the producer epoch
changes only at InitProducerId and when a transaction is fenced or times out. With
transaction version 2 (KIP-890 part 2: a client ending its transaction with EndTxn v5+)
every commit and abort also bumps it: PrepareCommit / PrepareAbort carry the next epoch,
so the markers fence whatever the old epoch still sends, and EndTxn answers the new
epoch; when the epochs of a producer id run out, the Complete state moves to a fresh
producer id (`next_producer_id`) at epoch 0. Such a client may also abort with no
transaction open (Empty / Complete* -> PrepareAbort) just to get a new epoch.

States (`TxnState`, with Kafka's names and ids) and where they lead:

    Empty -> Ongoing                   AddPartitionsToTxn / AddOffsetsToTxn
    Ongoing -> Ongoing                 more partitions
    Ongoing -> PrepareCommit | PrepareAbort          EndTxn (or a fence / timeout: abort)
    Empty | Complete* -> PrepareAbort  EndTxn v5+ abort with nothing open (an epoch bump)
    PrepareCommit -> CompleteCommit    every partition has its marker
    PrepareAbort -> CompleteAbort
    Empty | Complete* -> Empty         InitProducerId (epoch bump or new producer id)
    Empty | Complete* -> Ongoing       the next transaction
    Empty | Complete* -> Dead          expiration: a tombstone, then forgotten

A change is made as Kafka makes it, in two steps: `prepare_*` computes the whole target
state (`TxnTransit`) from the current one, changing nothing; once the transit's record is
in the log, replaying it (`apply`, kraft/transactions/txn_log.py) makes it the id's
state. The coordinator runtime runs one partition's changes one at a time, each after
the previous one's record is replayed (kraft/coordinator/writes.py), so nothing is
ever half changed and no change waits on another's pending state. A transit always
carries every field of the state it leads to, so the log's last record of an id is that
id's whole state.

Fencing an ongoing transaction (InitProducerId of a new producer instance, or a
timeout) is Kafka's PrepareEpochFence followed at once by the abort with the bumped
epoch: one PrepareAbort at the next epoch. Kafka releases its lock between the two; here
nothing runs in between, so PrepareEpochFence is a name of the state table but never a
state one can observe. A fence whose record never reached the log changed nothing: the
next fence bumps from the same epoch (Kafka keeps the bumped epoch in memory instead).

Client errors are raised as the classes of kraft/errors/; `IllegalTxnTransition` is
a bug (Kafka's IllegalStateException), never a client's fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from kraft.errors import InvalidTransactionTimeout, ProducerFenced

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
MAX_PRODUCER_EPOCH = 32767  # Java's Short.MAX_VALUE: the coordinator keeps the last one for fencing

TopicPartition = tuple[str, int]


class IllegalTxnTransition(RuntimeError):
    """A transition the state table forbids: a bug in the caller, not a client error."""


class TxnState(Enum):
    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    DEAD = "Dead"
    PREPARE_EPOCH_FENCE = "PrepareEpochFence"

    @property
    def kafka_id(self) -> int:
        """Kafka's TransactionState id (what its transaction log stores)."""
        return _KAFKA_IDS[self]

    @classmethod
    def from_name(cls, name: str) -> TxnState | None:
        """The state of a Kafka name (DescribeTransactions, ListTransactions filters)."""
        try:
            return cls(name)
        except ValueError:
            return None


_KAFKA_IDS = {s: i for i, s in enumerate(TxnState)}

EMPTY, ONGOING = TxnState.EMPTY, TxnState.ONGOING
PREPARE_COMMIT, PREPARE_ABORT = TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT
COMPLETE_COMMIT, COMPLETE_ABORT = TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT
DEAD, PREPARE_EPOCH_FENCE = TxnState.DEAD, TxnState.PREPARE_EPOCH_FENCE

# The transition table: new state -> the states it may be entered from (Kafka's).
VALID_PREVIOUS: dict[TxnState, frozenset[TxnState]] = {
    EMPTY: frozenset({EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT}),
    ONGOING: frozenset({ONGOING, EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT}),
    PREPARE_COMMIT: frozenset({ONGOING}),
    PREPARE_ABORT: frozenset({ONGOING, PREPARE_EPOCH_FENCE, EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT}),
    COMPLETE_COMMIT: frozenset({PREPARE_COMMIT}),
    COMPLETE_ABORT: frozenset({PREPARE_ABORT}),
    DEAD: frozenset({EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT}),
    PREPARE_EPOCH_FENCE: frozenset({ONGOING}),
}
EXPIRABLE = frozenset({EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT})  # no transaction in progress
PREPARED = frozenset({PREPARE_COMMIT, PREPARE_ABORT})  # markers being written


def is_epoch_exhausted(epoch: int) -> bool:
    """A client never gets the last epoch: the coordinator must always be able to fence."""
    return epoch >= MAX_PRODUCER_EPOCH - 1


def validate_timeout(timeout_ms: int, max_timeout_ms: int) -> None:
    if not 0 < timeout_ms <= max_timeout_ms:
        raise InvalidTransactionTimeout(
            f"INVALID_TRANSACTION_TIMEOUT: transaction.timeout.ms {timeout_ms} is not in (0, {max_timeout_ms}] "
            f"(the broker's transaction.max.timeout.ms)")


@dataclass(frozen=True)
class TxnTransit:
    """The whole state a transactional id enters once this is in the log (Kafka's
    TxnTransitMetadata; the value of its record in __transaction_state)."""

    producer_id: int
    previous_producer_id: int  # the id before the last InitProducerId (KIP-360 retries)
    producer_epoch: int
    last_producer_epoch: int  # the epoch before the last bump (KIP-360 retries); -1 when fenced
    timeout_ms: int
    state: TxnState
    partitions: frozenset[TopicPartition]
    start_ms: int  # when the transaction's first partition was added; -1 before
    update_ms: int  # last change: what expiration looks at
    # transactions version 2, epochs used up: the producer id the Complete state moves to
    next_producer_id: int = NO_PRODUCER_ID
    # a Prepare state one epoch past its transaction's data (version 2's EndTxn, a fence):
    # its markers go out as version 2, so a late one cannot end the next transaction
    bumped_end: bool = False


@dataclass(frozen=True)
class ProducerIdAndEpoch:
    producer_id: int
    epoch: int


class TransactionMetadata:
    """One transactional id's state in the coordinator's cache (Kafka's
    TransactionMetadata). Changed only by replaying its records (`apply`), and by the
    marker work crossing off partitions (`remove_partition`, in memory only, as Kafka's)."""

    def __init__(self, transactional_id: str, producer_id: int, *, previous_producer_id: int = NO_PRODUCER_ID,
                 producer_epoch: int = NO_PRODUCER_EPOCH, last_producer_epoch: int = NO_PRODUCER_EPOCH,
                 timeout_ms: int, state: TxnState = EMPTY, partitions: Iterable[TopicPartition] = (),
                 start_ms: int = -1, update_ms: int, next_producer_id: int = NO_PRODUCER_ID,
                 bumped_end: bool = False) -> None:
        self.transactional_id = transactional_id
        self.producer_id = producer_id
        self.previous_producer_id = previous_producer_id
        self.producer_epoch = producer_epoch
        self.last_producer_epoch = last_producer_epoch
        self.timeout_ms = timeout_ms
        self.state = state
        self.partitions: set[TopicPartition] = set(partitions)
        self.start_ms = start_ms
        self.update_ms = update_ms
        self.next_producer_id = next_producer_id
        self.bumped_end = bumped_end

    @classmethod
    def from_transit(cls, transactional_id: str, t: TxnTransit) -> TransactionMetadata:
        """The state a record of the log describes (loading a partition)."""
        return cls(transactional_id, t.producer_id, previous_producer_id=t.previous_producer_id,
                   producer_epoch=t.producer_epoch, last_producer_epoch=t.last_producer_epoch,
                   timeout_ms=t.timeout_ms, state=t.state, partitions=t.partitions, start_ms=t.start_ms,
                   update_ms=t.update_ms, next_producer_id=t.next_producer_id, bumped_end=t.bumped_end)

    def snapshot(self) -> TxnTransit:
        """The current state as a transit (what the log holds for it)."""
        return TxnTransit(self.producer_id, self.previous_producer_id, self.producer_epoch,
                          self.last_producer_epoch, self.timeout_ms, self.state, frozenset(self.partitions),
                          self.start_ms, self.update_ms, self.next_producer_id, self.bumped_end)

    def __repr__(self) -> str:
        return (f"TransactionMetadata({self.transactional_id!r}, pid={self.producer_id}, epoch={self.producer_epoch}, "
                f"state={self.state.value}, "
                f"partitions={sorted(self.partitions)})")

    @property
    def epoch_exhausted(self) -> bool:
        return is_epoch_exhausted(self.producer_epoch)

    # -- step one: prepare a transit ---------------------------------------------------
    def _prepare(self, state: TxnState, *, producer_id: int | None = None, previous_producer_id: int | None = None,
                 epoch: int | None = None, last_epoch: int | None = None, timeout_ms: int | None = None,
                 partitions: Iterable[TopicPartition] | None = None, start_ms: int | None = None,
                 update_ms: int, next_producer_id: int = NO_PRODUCER_ID, bumped_end: bool = False) -> TxnTransit:
        if self.state not in VALID_PREVIOUS[state]:
            raise IllegalTxnTransition(f"{self!r}: {state.value} cannot follow {self.state.value}")
        transit = TxnTransit(
            self.producer_id if producer_id is None else producer_id,
            self.previous_producer_id if previous_producer_id is None else previous_producer_id,
            self.producer_epoch if epoch is None else epoch,
            self.last_producer_epoch if last_epoch is None else last_epoch,
            self.timeout_ms if timeout_ms is None else timeout_ms,
            state,
            frozenset(self.partitions if partitions is None else partitions),
            self.start_ms if start_ms is None else start_ms,
            update_ms, next_producer_id, bumped_end)
        if transit.producer_id < 0:
            raise IllegalTxnTransition(f"{self!r}: illegal producer id {transit.producer_id}")
        if transit.producer_epoch < 0:
            raise IllegalTxnTransition(f"{self!r}: illegal producer epoch {transit.producer_epoch}")
        self._check_follows(transit)
        return transit

    def prepare_increment_epoch(self, timeout_ms: int, expected_epoch: int | None, now_ms: int) -> TxnTransit:
        """InitProducerId on the same producer id: the next epoch, or (KIP-360) the
        current one again for a retry of a bump that already succeeded."""
        if self.producer_epoch == NO_PRODUCER_EPOCH or expected_epoch is None or expected_epoch == self.producer_epoch:
            if self.epoch_exhausted:
                raise IllegalTxnTransition(f"{self!r}: no producer epoch left to bump to")
            epoch = self.producer_epoch + 1
            # a new producer instance (no expected epoch) leaves no epoch to retry with
            last = NO_PRODUCER_EPOCH if expected_epoch is None else self.producer_epoch
        elif expected_epoch == self.last_producer_epoch:
            # the retry of a bump whose answer was lost: nobody initialized since (that
            # would have reset the last epoch), so the producer may have the current one
            epoch, last = self.producer_epoch, self.last_producer_epoch
        else:
            raise ProducerFenced(f"PRODUCER_FENCED: transactional id {self.transactional_id!r}: epoch {expected_epoch} "
                                 f"is neither the current {self.producer_epoch} nor the previous "
                                 f"{self.last_producer_epoch}: another producer took over")
        return self._prepare(EMPTY, previous_producer_id=self.producer_id, epoch=epoch, last_epoch=last,
                             timeout_ms=timeout_ms, partitions=(), start_ms=-1, update_ms=now_ms)

    def prepare_rotate_producer_id(self, new_producer_id: int, timeout_ms: int, now_ms: int,
                                   record_last_epoch: bool) -> TxnTransit:
        """InitProducerId when the epochs of the current id are used up: a new id, epoch 0."""
        if self.state in (ONGOING, PREPARE_COMMIT, PREPARE_ABORT):
            raise IllegalTxnTransition(f"{self!r}: cannot change producer id while a transaction is open")
        return self._prepare(EMPTY, producer_id=new_producer_id, previous_producer_id=self.producer_id, epoch=0,
                             last_epoch=self.producer_epoch if record_last_epoch else NO_PRODUCER_EPOCH,
                             timeout_ms=timeout_ms, partitions=(), start_ms=-1, update_ms=now_ms)

    def prepare_fence_abort(self, now_ms: int) -> TxnTransit:
        """Abort the ongoing transaction with a bumped epoch, fencing its producer (Kafka's
        PrepareEpochFence, then PrepareAbort); the bumped epoch is never handed to a client."""
        if self.state is not ONGOING:
            raise IllegalTxnTransition(f"{self!r}: only an ongoing transaction is fenced")
        if self.producer_epoch >= MAX_PRODUCER_EPOCH:
            raise IllegalTxnTransition(f"{self!r}: the epoch cannot be bumped past {MAX_PRODUCER_EPOCH}")
        return self._prepare(PREPARE_ABORT, epoch=self.producer_epoch + 1, last_epoch=NO_PRODUCER_EPOCH,
                             update_ms=now_ms, bumped_end=True)

    def prepare_add_partitions(self, partitions: Iterable[TopicPartition], now_ms: int) -> TxnTransit:
        start = now_ms if self.state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT) else self.start_ms
        return self._prepare(ONGOING, partitions=self.partitions | set(partitions), start_ms=start, update_ms=now_ms)

    def prepare_end(self, commit: bool, now_ms: int, *, bump: bool = False,
                    next_producer_id: int = NO_PRODUCER_ID) -> TxnTransit:
        """PrepareCommit / PrepareAbort. bump (transactions version 2): at the next epoch,
        the current one kept as the last (a retry of this EndTxn comes with it); with
        next_producer_id when this was the last epoch a client may get."""
        state = PREPARE_COMMIT if commit else PREPARE_ABORT
        if not bump:
            return self._prepare(state, update_ms=now_ms)
        if self.producer_epoch >= MAX_PRODUCER_EPOCH:
            raise IllegalTxnTransition(f"{self!r}: the epoch cannot be bumped past {MAX_PRODUCER_EPOCH}")
        # an abort with nothing open has no start: it starts now
        start = self.start_ms if self.state is ONGOING else now_ms
        return self._prepare(state, epoch=self.producer_epoch + 1, last_epoch=self.producer_epoch, start_ms=start,
                             update_ms=now_ms, next_producer_id=next_producer_id, bumped_end=True)

    def prepare_complete(self, now_ms: int) -> TxnTransit:
        """Every marker is written: CompleteCommit / CompleteAbort, no partitions."""
        if self.state not in PREPARED:
            raise IllegalTxnTransition(f"{self!r}: nothing to complete")
        state = COMPLETE_COMMIT if self.state is PREPARE_COMMIT else COMPLETE_ABORT
        if self.next_producer_id != NO_PRODUCER_ID:  # the epochs ran out: the fresh id, epoch 0
            return self._prepare(state, producer_id=self.next_producer_id, previous_producer_id=self.producer_id,
                                 epoch=0, partitions=(), update_ms=now_ms)
        return self._prepare(state, partitions=(), update_ms=now_ms)

    def _check_follows(self, t: TxnTransit) -> None:
        """A prepared transit must follow the current state (Kafka's checks in
        completeTransitionTo); failing them is a bug, not a client's fault."""
        same_producer = t.producer_id == self.producer_id and t.producer_epoch == self.producer_epoch
        if t.state is EMPTY:
            rotated = t.producer_epoch == 0 and t.producer_id != self.producer_id
            bumped = t.producer_epoch == self.producer_epoch + 1 or rotated
            ok = (t.producer_epoch == self.producer_epoch or bumped) and not t.partitions and t.start_ms == -1
        elif t.state is ONGOING:
            ok = same_producer and self.partitions <= t.partitions and t.timeout_ms == self.timeout_ms
        elif t.state in PREPARED:
            next_epoch = t.producer_id == self.producer_id and t.producer_epoch == self.producer_epoch + 1
            bumped = next_epoch and t.last_producer_epoch == self.producer_epoch
            fenced = (next_epoch and t.state is PREPARE_ABORT and self.state is ONGOING
                      and t.last_producer_epoch == NO_PRODUCER_EPOCH)
            empty_abort = t.state is PREPARE_ABORT and self.state is not ONGOING and bumped
            ok = ((same_producer or bumped or fenced) and set(t.partitions) == self.partitions
                  and t.timeout_ms == self.timeout_ms and (t.start_ms == self.start_ms or empty_abort))
        elif t.state in (COMPLETE_COMMIT, COMPLETE_ABORT):
            rotated = (t.producer_epoch == 0 and t.producer_id == self.next_producer_id
                       and t.previous_producer_id == self.producer_id)
            ok = (same_producer or rotated) and t.timeout_ms == self.timeout_ms and t.start_ms != -1
        else:  # Dead is a tombstone, never a transit; PrepareEpochFence is never entered
            ok = False
        if not ok:
            raise IllegalTxnTransition(f"{self!r}: transit {t} does not follow")

    # -- step two: the record is in the log ----------------------------------------------
    def apply(self, t: TxnTransit) -> None:
        """The state a record of the log holds becomes the id's (replay)."""
        self.producer_id, self.previous_producer_id = t.producer_id, t.previous_producer_id
        self.producer_epoch, self.last_producer_epoch = t.producer_epoch, t.last_producer_epoch
        self.timeout_ms, self.state = t.timeout_ms, t.state
        self.partitions = set(t.partitions)
        self.start_ms, self.update_ms = t.start_ms, t.update_ms
        self.next_producer_id, self.bumped_end = t.next_producer_id, t.bumped_end

    def remove_partition(self, tp: TopicPartition) -> None:
        """Its marker is written (or the partition is gone): one partition less to wait for."""
        if self.state not in PREPARED:
            raise IllegalTxnTransition(f"{self!r}: removing {tp} outside PrepareCommit / PrepareAbort")
        self.partitions.discard(tp)


def new_transaction(transactional_id: str, producer_id: int, timeout_ms: int, now_ms: int) -> TransactionMetadata:
    """The first InitProducerId of an id: Empty, no epoch yet (the bump makes it 0)."""
    return TransactionMetadata(transactional_id, producer_id, timeout_ms=timeout_ms, update_ms=now_ms)
