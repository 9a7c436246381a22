"""What the transaction coordinator decides for each request about one transactional
id (txn_metadata.py holds its state): InitProducerId, AddPartitionsToTxn and its KIP-890
verification, EndTxn (with and without the epoch bump of transactions version 2), and
which transactions time out or expire. Pure: no I/O, no clock (times are arguments).
Client errors are raised as the classes of kraft/errors/.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kraft.errors import (
    ConcurrentTransactions,
    InvalidProducerIdMapping,
    InvalidTxnState,
    ProducerFenced,
)
from kraft.transactions.txn_metadata import (
    COMPLETE_ABORT,
    COMPLETE_COMMIT,
    EMPTY,
    EXPIRABLE,
    IllegalTxnTransition,
    MAX_PRODUCER_EPOCH,
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    ONGOING,
    PREPARED,
    PREPARE_ABORT,
    PREPARE_COMMIT,
    ProducerIdAndEpoch,
    TopicPartition,
    TransactionMetadata,
    TxnTransit,
    is_epoch_exhausted,
)


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
    if meta.state in PREPARED:
        raise ConcurrentTransactions(f"CONCURRENT_TRANSACTIONS: the last transaction of {tid!r} is completing; retry")
    wanted = set(partitions)
    if meta.state is ONGOING and wanted <= meta.partitions:
        return None
    return meta.prepare_add_partitions(wanted, now_ms)


def verify_partitions(meta: TransactionMetadata, producer_id: int, producer_epoch: int,
                      partitions: Iterable[TopicPartition]) -> dict[TopicPartition, bool]:
    """KIP-890: is each partition in this producer's ongoing transaction? (Partitions
    count once their addition is in the log.)"""
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
    """Ongoing transactions open longer than their timeout."""
    return [m for m in metas if m.state is ONGOING and m.start_ms + m.timeout_ms < now_ms]


def expirable(metas: Iterable[TransactionMetadata], now_ms: int, expiration_ms: int) -> list[TransactionMetadata]:
    """Idle transactional ids (no transaction in progress, unchanged for expiration_ms)."""
    return [m for m in metas if m.state in EXPIRABLE and m.update_ms <= now_ms - expiration_ms]
