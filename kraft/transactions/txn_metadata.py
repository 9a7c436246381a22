"""One transactional id's state, and the coordinator's decisions about it. Pure: no I/O,
no clock (times are arguments), no asyncio.

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

A change is made in two steps, as in Kafka: `prepare_*` computes the target (`TxnTransit`)
and marks the metadata pending (every other request then gets CONCURRENT_TRANSACTIONS
or waits); once the target's record is in the log, `complete(transit)` applies it, or
`clear_pending()` drops it when the append failed. A transit always carries every field
of the state it leads to, so the log's last record of an id is that id's whole state.

Fencing an ongoing transaction (InitProducerId of a new producer instance, or a
timeout) is Kafka's PrepareEpochFence followed at once by the abort with the bumped
epoch. Kafka releases its lock between the two; here nothing runs in between, so
PrepareEpochFence is a name of the state table but never a state one can observe.

Client errors are raised as the classes of kraft/errors.py; `IllegalTxnTransition` is
a bug (Kafka's IllegalStateException), never a client's fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from kraft.errors import (
    ConcurrentTransactions,
    InvalidProducerIdMapping,
    InvalidTransactionTimeout,
    InvalidTxnState,
    ProducerFenced,
    TransactionalIdNotFound,
)

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


@dataclass(frozen=True)
class ProducerIdAndEpoch:
    producer_id: int
    epoch: int


class TransactionMetadata:
    """One transactional id's state in the coordinator's cache (Kafka's
    TransactionMetadata). Mutable; `pending` is the state a prepared transit leads to."""

    def __init__(self, transactional_id: str, producer_id: int, *, previous_producer_id: int = NO_PRODUCER_ID,
                 producer_epoch: int = NO_PRODUCER_EPOCH, last_producer_epoch: int = NO_PRODUCER_EPOCH,
                 timeout_ms: int, state: TxnState = EMPTY, partitions: Iterable[TopicPartition] = (),
                 start_ms: int = -1, update_ms: int, next_producer_id: int = NO_PRODUCER_ID) -> None:
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
        self.pending: TxnState | None = None
        # a fence whose record never reached the log already bumped the epoch in memory:
        # the next fence reuses that epoch (it was never handed to a client)
        self.failed_epoch_fence = False

    @classmethod
    def from_transit(cls, transactional_id: str, t: TxnTransit) -> TransactionMetadata:
        """The state a record of the log describes (loading a partition)."""
        return cls(transactional_id, t.producer_id, previous_producer_id=t.previous_producer_id,
                   producer_epoch=t.producer_epoch, last_producer_epoch=t.last_producer_epoch,
                   timeout_ms=t.timeout_ms, state=t.state, partitions=t.partitions, start_ms=t.start_ms,
                   update_ms=t.update_ms, next_producer_id=t.next_producer_id)

    def snapshot(self) -> TxnTransit:
        """The current state as a transit (what the log holds for it)."""
        return TxnTransit(self.producer_id, self.previous_producer_id, self.producer_epoch,
                          self.last_producer_epoch, self.timeout_ms, self.state, frozenset(self.partitions),
                          self.start_ms, self.update_ms, self.next_producer_id)

    def __repr__(self) -> str:
        return (f"TransactionMetadata({self.transactional_id!r}, pid={self.producer_id}, epoch={self.producer_epoch}, "
                f"state={self.state.value}, pending={self.pending and self.pending.value}, "
                f"partitions={sorted(self.partitions)})")

    @property
    def epoch_exhausted(self) -> bool:
        return is_epoch_exhausted(self.producer_epoch)

    # -- step one: prepare a transit ---------------------------------------------------
    def _prepare(self, state: TxnState, *, producer_id: int | None = None, previous_producer_id: int | None = None,
                 epoch: int | None = None, last_epoch: int | None = None, timeout_ms: int | None = None,
                 partitions: Iterable[TopicPartition] | None = None, start_ms: int | None = None,
                 update_ms: int, next_producer_id: int = NO_PRODUCER_ID) -> TxnTransit:
        if self.pending is not None:
            raise IllegalTxnTransition(f"{self!r}: preparing {state.value} while {self.pending.value} is pending")
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
            update_ms, next_producer_id)
        if transit.producer_id < 0:
            raise IllegalTxnTransition(f"{self!r}: illegal producer id {transit.producer_id}")
        if state is not DEAD and transit.producer_epoch < 0:
            raise IllegalTxnTransition(f"{self!r}: illegal producer epoch {transit.producer_epoch}")
        self.pending = state
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
        PrepareEpochFence, then PrepareAbort). The bumped epoch is in memory at once, so
        the fenced producer's next request is refused; it is never handed to a client."""
        if self.state is not ONGOING:
            raise IllegalTxnTransition(f"{self!r}: only an ongoing transaction is fenced")
        if self.producer_epoch >= MAX_PRODUCER_EPOCH:
            raise IllegalTxnTransition(f"{self!r}: the epoch cannot be bumped past {MAX_PRODUCER_EPOCH}")
        if self.pending is not None:
            raise IllegalTxnTransition(f"{self!r}: fencing while {self.pending.value} is pending")
        if not self.failed_epoch_fence:
            self.producer_epoch += 1
        self.last_producer_epoch = NO_PRODUCER_EPOCH
        return self._prepare(PREPARE_ABORT, update_ms=now_ms)

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
                             update_ms=now_ms, next_producer_id=next_producer_id)

    def prepare_complete(self, now_ms: int) -> TxnTransit:
        """Every marker is written: CompleteCommit / CompleteAbort, no partitions."""
        if self.state not in PREPARED:
            raise IllegalTxnTransition(f"{self!r}: nothing to complete")
        self.failed_epoch_fence = False  # the fence's record is in the log
        state = COMPLETE_COMMIT if self.state is PREPARE_COMMIT else COMPLETE_ABORT
        if self.next_producer_id != NO_PRODUCER_ID:  # the epochs ran out: the fresh id, epoch 0
            return self._prepare(state, producer_id=self.next_producer_id, previous_producer_id=self.producer_id,
                                 epoch=0, partitions=(), update_ms=now_ms)
        return self._prepare(state, partitions=(), update_ms=now_ms)

    def prepare_dead(self) -> TxnTransit:
        """Expiration: the tombstone's transit (its update time stays the last one)."""
        return self._prepare(DEAD, partitions=(), update_ms=self.update_ms)

    # -- step two: the record is in the log ----------------------------------------------
    def complete(self, t: TxnTransit) -> None:
        """Apply a prepared transit whose record the log now holds (Kafka's
        completeTransitionTo, with its checks)."""
        if self.pending is None or self.pending is not t.state:
            raise IllegalTxnTransition(f"{self!r}: completing {t.state.value}, but "
                                       f"{self.pending and self.pending.value} is pending")
        same_producer = t.producer_id == self.producer_id and t.producer_epoch == self.producer_epoch
        if t.state is EMPTY:
            rotated = t.producer_epoch == 0 and t.producer_id != self.producer_id
            bumped = t.producer_epoch == self.producer_epoch + 1 or rotated
            ok = (t.producer_epoch == self.producer_epoch or bumped) and not t.partitions and t.start_ms == -1
        elif t.state is ONGOING:
            ok = same_producer and self.partitions <= t.partitions and t.timeout_ms == self.timeout_ms
        elif t.state in PREPARED:
            bumped = (t.producer_id == self.producer_id and t.producer_epoch == self.producer_epoch + 1
                      and t.last_producer_epoch == self.producer_epoch)
            empty_abort = t.state is PREPARE_ABORT and self.state is not ONGOING and bumped
            ok = ((same_producer or bumped) and set(t.partitions) == self.partitions
                  and t.timeout_ms == self.timeout_ms and (t.start_ms == self.start_ms or empty_abort))
        elif t.state in (COMPLETE_COMMIT, COMPLETE_ABORT):
            rotated = (t.producer_epoch == 0 and t.producer_id == self.next_producer_id
                       and t.previous_producer_id == self.producer_id)
            ok = (same_producer or rotated) and t.timeout_ms == self.timeout_ms and t.start_ms != -1
        else:  # Dead is removed from the cache, never applied; PrepareEpochFence is never entered
            ok = False
        if not ok:
            raise IllegalTxnTransition(f"{self!r}: transit {t} does not follow")
        self.producer_id, self.previous_producer_id = t.producer_id, t.previous_producer_id
        self.producer_epoch, self.last_producer_epoch = t.producer_epoch, t.last_producer_epoch
        self.timeout_ms, self.state = t.timeout_ms, t.state
        self.partitions = set(t.partitions)
        self.start_ms, self.update_ms = t.start_ms, t.update_ms
        self.next_producer_id = t.next_producer_id
        self.pending = None

    def clear_pending(self) -> None:
        """The transit's append failed: the state stays what it was."""
        self.pending = None

    def remove_partition(self, tp: TopicPartition) -> None:
        """Its marker is written (or the partition is gone): one partition less to wait for."""
        if self.state not in PREPARED:
            raise IllegalTxnTransition(f"{self!r}: removing {tp} outside PrepareCommit / PrepareAbort")
        self.partitions.discard(tp)


def new_transaction(transactional_id: str, producer_id: int, timeout_ms: int, now_ms: int) -> TransactionMetadata:
    """The first InitProducerId of an id: Empty, no epoch yet (the bump makes it 0)."""
    return TransactionMetadata(transactional_id, producer_id, timeout_ms=timeout_ms, update_ms=now_ms)


# -- what the coordinator decides for each request -----------------------------------------

@dataclass(frozen=True)
class NeedProducerId:
    """Get a fresh producer id, then decide again with it."""


@dataclass(frozen=True)
class InitWrite:
    """Append this transit; then answer its producer id and epoch."""
    transit: TxnTransit


@dataclass(frozen=True)
class InitFence:
    """An ongoing transaction is fenced first: append this PrepareAbort, write its
    markers, and answer CONCURRENT_TRANSACTIONS (the client retries; the retry bumps
    the epoch, or moves to a new producer id when the fence used the last epochs)."""
    transit: TxnTransit


InitDecision = NeedProducerId | InitWrite | InitFence


def decide_init_producer_id(meta: TransactionMetadata, timeout_ms: int, expected: ProducerIdAndEpoch | None,
                            now_ms: int, fresh_producer_id: int | None = None) -> InitDecision:
    """InitProducerId with a transactional id (validate_timeout first). `expected`: the
    producer id and epoch the client already has (KIP-360: a producer that recovers from
    an abortable error keeps its id), None for a new producer instance."""
    def valid_producer_id(e: ProducerIdAndEpoch) -> bool:
        # metadata just created; the current id (its epoch is checked when bumped); or the
        # previous one with a used-up epoch: the retry of a rotation whose answer was lost
        return (meta.producer_epoch == NO_PRODUCER_EPOCH or e.producer_id == meta.producer_id
                or (e.producer_id == meta.previous_producer_id and is_epoch_exhausted(e.epoch)))

    tid = meta.transactional_id
    if meta.pending is not None:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: transactional id {tid!r} is changing state; retry")
    if expected is not None and not valid_producer_id(expected):
        raise ProducerFenced(f"PRODUCER_FENCED: transactional id {tid!r} now has producer id {meta.producer_id}, "
                             f"not {expected.producer_id}")
    if meta.state in PREPARED:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the last transaction of {tid!r} is completing; retry")
    if meta.state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT):
        if meta.epoch_exhausted and (expected is None or expected.epoch == meta.producer_epoch):
            if fresh_producer_id is None:
                return NeedProducerId()
            return InitWrite(meta.prepare_rotate_producer_id(fresh_producer_id, timeout_ms, now_ms,
                                                             record_last_epoch=expected is not None))
        if meta.epoch_exhausted:  # assert expected is not None: only a retry may still match
            if expected is not None and expected.epoch == meta.last_producer_epoch:
                return InitWrite(meta.prepare_increment_epoch(timeout_ms, expected.epoch, now_ms))
            raise ProducerFenced(f"PRODUCER_FENCED: transactional id {tid!r} has moved past epoch "
                                 f"{expected.epoch if expected else None}")
        return InitWrite(meta.prepare_increment_epoch(timeout_ms, expected.epoch if expected else None, now_ms))
    if meta.state is ONGOING:
        return InitFence(meta.prepare_fence_abort(now_ms))
    raise IllegalTxnTransition(f"{meta!r}: InitProducerId in a state no transactional id rests in")


def _check_producer(meta: TransactionMetadata, producer_id: int, producer_epoch: int) -> None:
    if meta.producer_id != producer_id:
        raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: transactional id {meta.transactional_id!r} "
                                       f"has producer id {meta.producer_id}, not {producer_id}")
    if meta.producer_epoch != producer_epoch:
        raise ProducerFenced(f"PRODUCER_FENCED: transactional id {meta.transactional_id!r} has producer epoch "
                             f"{meta.producer_epoch}, not {producer_epoch}: another producer took over")


def decide_add_partitions(meta: TransactionMetadata, producer_id: int, producer_epoch: int,
                          partitions: Iterable[TopicPartition], now_ms: int) -> TxnTransit | None:
    """AddPartitionsToTxn (and AddOffsetsToTxn with the group's offsets partition): the
    Ongoing transit to append, or None when every partition is already in the ongoing
    transaction (answer at once)."""
    _check_producer(meta, producer_id, producer_epoch)
    tid = meta.transactional_id
    if meta.pending is not None:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: transactional id {tid!r} is changing state; retry")
    if meta.state in PREPARED:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the last transaction of {tid!r} is completing; retry")
    wanted = set(partitions)
    if meta.state is ONGOING and wanted <= meta.partitions:
        return None
    return meta.prepare_add_partitions(wanted, now_ms)


def verify_partitions(meta: TransactionMetadata, producer_id: int, producer_epoch: int,
                      partitions: Iterable[TopicPartition]) -> dict[TopicPartition, bool]:
    """KIP-890: is each partition in this producer's ongoing transaction? (A pending
    change is not waited for: partitions count once their addition is in the log.)"""
    _check_producer(meta, producer_id, producer_epoch)
    if meta.state in PREPARED:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the last transaction of "
                                     f"{meta.transactional_id!r} is completing; retry")
    return {tp: tp in meta.partitions for tp in partitions}


def decide_end_txn(meta: TransactionMetadata, producer_id: int, producer_epoch: int, commit: bool,
                   now_ms: int) -> TxnTransit | None:
    """EndTxn from the client: the PrepareCommit / PrepareAbort transit to append, or
    None for the retry of an EndTxn that already completed the same way (answer OK)."""
    tid = meta.transactional_id
    if meta.producer_id != producer_id:
        raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: transactional id {tid!r} has producer id "
                                       f"{meta.producer_id}, not {producer_id}")
    if producer_epoch != meta.producer_epoch:
        raise ProducerFenced(f"PRODUCER_FENCED: transactional id {tid!r} has producer epoch {meta.producer_epoch}, "
                             f"not {producer_epoch}: another producer took over")
    if meta.pending is not None:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: transactional id {tid!r} is changing state; retry")
    wanted = "commit" if commit else "abort"

    def invalid() -> InvalidTxnState:
        return InvalidTxnState(f"INVALID_TXN_STATE: transactional id {tid!r} is {meta.state.value}: "
                               f"it cannot {wanted}")

    state = meta.state
    if state is ONGOING:
        return meta.prepare_end(commit, now_ms)
    if state is (COMPLETE_COMMIT if commit else COMPLETE_ABORT):
        return None  # a retry: the transaction ended that way
    if state is (PREPARE_COMMIT if commit else PREPARE_ABORT):
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the {wanted} of {tid!r} is completing; retry")
    if state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT, PREPARE_COMMIT, PREPARE_ABORT):
        raise invalid()
    raise IllegalTxnTransition(f"{meta!r}: EndTxn in a state no transactional id rests in")


EndDecision = TxnTransit | ProducerIdAndEpoch | NeedProducerId


def decide_end_txn_bumping(meta: TransactionMetadata, producer_id: int, producer_epoch: int, commit: bool,
                           now_ms: int, fresh_producer_id: int | None = None) -> EndDecision:
    """EndTxn v5+ (transactions version 2, Kafka's table for it): the PrepareCommit /
    PrepareAbort transit to append, at the next epoch (answer `end_answer(transit)`);
    the id's current producer for the retry of an EndTxn that already completed the same
    way (answer it at once); or NeedProducerId when the epochs are used up (decide again
    with a fresh id). A retry comes with the epoch before the bump (or, after a move to a
    new producer id, the old id's last epoch); the current epoch is the next EndTxn."""
    tid = meta.transactional_id
    retry_on_overflow = (meta.previous_producer_id == producer_id and producer_epoch == MAX_PRODUCER_EPOCH - 1
                         and meta.producer_epoch == 0)
    retry_on_bump = meta.producer_epoch == producer_epoch + 1
    if meta.producer_id != producer_id and not retry_on_overflow:
        raise InvalidProducerIdMapping(f"INVALID_PRODUCER_ID_MAPPING: transactional id {tid!r} has producer id "
                                       f"{meta.producer_id}, not {producer_id}")
    if meta.pending is not None:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: transactional id {tid!r} is changing state; retry")
    state = meta.state
    if state in PREPARED:
        valid = retry_on_bump
    elif state in (COMPLETE_COMMIT, COMPLETE_ABORT):
        valid = retry_on_bump or retry_on_overflow or producer_epoch == meta.producer_epoch
    else:
        valid = producer_epoch == meta.producer_epoch
    if not valid:
        raise ProducerFenced(f"PRODUCER_FENCED: transactional id {tid!r} has producer epoch {meta.producer_epoch}, "
                             f"not {producer_epoch}: another producer took over")
    retry = retry_on_bump or retry_on_overflow
    wanted = "commit" if commit else "abort"

    def invalid() -> InvalidTxnState:
        return InvalidTxnState(f"INVALID_TXN_STATE: transactional id {tid!r} is {state.value}: it cannot {wanted}"
                               + (" (a retry of the other outcome)" if retry else ""))

    def bump() -> TxnTransit | NeedProducerId:
        if meta.epoch_exhausted and fresh_producer_id is None:
            return NeedProducerId()
        return meta.prepare_end(commit, now_ms, bump=True, next_producer_id=(
            fresh_producer_id if meta.epoch_exhausted and fresh_producer_id is not None else NO_PRODUCER_ID))

    if state is ONGOING:
        return bump()
    if state in PREPARED:  # only a retry gets here
        if state is (PREPARE_COMMIT if commit else PREPARE_ABORT):
            raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the {wanted} of {tid!r} is completing; retry")
        raise invalid()
    if state is (COMPLETE_COMMIT if commit else COMPLETE_ABORT) and retry:
        return ProducerIdAndEpoch(meta.producer_id, meta.producer_epoch)
    if not commit and not retry and state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT):
        return bump()  # nothing open: the abort only moves the producer to its next epoch
    if state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT):
        raise invalid()
    raise IllegalTxnTransition(f"{meta!r}: EndTxn in a state no transactional id rests in")


def end_answer(transit: TxnTransit) -> ProducerIdAndEpoch:
    """What EndTxn v5+ answers once its Prepare state is in the log: the producer the
    client goes on with (the fresh id at epoch 0 when the old one's epochs ran out)."""
    if transit.next_producer_id != NO_PRODUCER_ID:
        return ProducerIdAndEpoch(transit.next_producer_id, 0)
    return ProducerIdAndEpoch(transit.producer_id, transit.producer_epoch)


def timed_out(metas: Iterable[TransactionMetadata], now_ms: int) -> list[TransactionMetadata]:
    """Ongoing transactions open longer than their timeout (and not changing now)."""
    return [m for m in metas if m.pending is None and m.state is ONGOING and m.start_ms + m.timeout_ms < now_ms]


def expirable(metas: Iterable[TransactionMetadata], now_ms: int, expiration_ms: int) -> list[TransactionMetadata]:
    """Idle transactional ids (no transaction in progress, unchanged for expiration_ms)."""
    return [m for m in metas
            if m.pending is None and m.state in EXPIRABLE and m.update_ms <= now_ms - expiration_ms]


# -- views -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TxnDescription:
    """DescribeTransactions' answer for one transactional id."""
    transactional_id: str
    state: str  # Kafka's state name
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    start_ms: int
    partitions: tuple[TopicPartition, ...]  # sorted


@dataclass(frozen=True)
class TxnListing:
    """One row of ListTransactions."""
    transactional_id: str
    producer_id: int
    state: str


def describe(meta: TransactionMetadata) -> TxnDescription:
    if meta.state is DEAD:
        raise TransactionalIdNotFound(f"TRANSACTIONAL_ID_NOT_FOUND: {meta.transactional_id!r} is being expired")
    return TxnDescription(meta.transactional_id, meta.state.value, meta.producer_id, meta.producer_epoch,
                          meta.timeout_ms, meta.start_ms, tuple(sorted(meta.partitions)))


def list_transactions(metas: Iterable[TransactionMetadata], producer_ids: Iterable[int] = (),
                      states: Iterable[str] = (), min_duration_ms: int = -1,
                      now_ms: int = 0) -> tuple[list[TxnListing], list[str]]:
    """ListTransactions over these ids: the rows matching every filter given (an empty
    filter matches all; min_duration_ms >= 0 keeps transactions started longer ago than
    that), sorted by id, and the state names not known (Kafka's unknownStateFilters)."""
    pids = set(producer_ids)
    names = list(states)
    wanted = {s for s in (TxnState.from_name(n) for n in names) if s is not None}
    unknown = [n for n in names if TxnState.from_name(n) is None]
    rows = []
    for m in metas:
        if m.state is DEAD or (pids and m.producer_id not in pids) or (names and m.state not in wanted):
            continue
        if min_duration_ms >= 0 and now_ms - m.start_ms <= min_duration_ms:
            continue
        rows.append(TxnListing(m.transactional_id, m.producer_id, m.state.value))
    return sorted(rows, key=lambda r: r.transactional_id), unknown
