"""Idempotent producers (sequences, epochs) and transactions (KIP-98)."""

from __future__ import annotations

from kraft.errors.base import KraftError


class ProducerSequenceError(KraftError):
    """An idempotent producer's batch that must not be appended (the producer's fault).
    The message starts with the name REST answers show (`shown_name`, Kafka's name
    unless said otherwise); ``detail`` is the rest."""

    shown_name = ""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.shown_name or self.kafka_name}: {detail}")
        self.detail = detail


class OutOfOrderSequence(ProducerSequenceError):
    """A gap or overlap in a producer's sequence numbers (not a retry of a known batch)."""

    kafka_name, kafka_code = "OUT_OF_ORDER_SEQUENCE_NUMBER", 45


class UnknownProducerId(OutOfOrderSequence):
    """A producer this partition has no batch of sent a sequence other than 0: the
    partition forgot it (retention) or never saw it; the producer starts over."""

    kafka_name, kafka_code = "UNKNOWN_PRODUCER_ID", 59
    shown_name = "OUT_OF_ORDER_SEQUENCE_NUMBER"  # what REST answers have always said


class InvalidProducerEpoch(ProducerSequenceError):
    """A producer epoch older than one that has already written to the partition."""

    kafka_name, kafka_code = "INVALID_PRODUCER_EPOCH", 47


class TransactionError(KraftError):
    """A transactional request the coordinator or a partition refuses (the client's
    state or fault, not the cluster's)."""


class InvalidTxnState(TransactionError):
    """The transaction is in no state for this request: a produce to a partition not
    added to it, EndTxn with no open transaction, a non-transactional write from a
    producer whose transaction is open."""

    kafka_name, kafka_code = "INVALID_TXN_STATE", 48


class PartitionNotInTransaction(InvalidTxnState):
    """A transactional batch for a partition its transaction does not hold (KIP-890's
    check). INVALID_TXN_STATE to older clients; Produce v11+ answers it
    TRANSACTION_ABORTABLE, which tells the client to abort and go on."""


class InvalidProducerIdMapping(TransactionError):
    """The producer id does not belong to the transactional id."""

    kafka_name, kafka_code = "INVALID_PRODUCER_ID_MAPPING", 49


class InvalidTransactionTimeout(TransactionError):
    """transaction.timeout.ms is not positive or exceeds transaction.max.timeout.ms."""

    kafka_name, kafka_code = "INVALID_TRANSACTION_TIMEOUT", 50


class ConcurrentTransactions(TransactionError):
    """The previous transaction of this id is still completing (markers being written)."""

    kafka_name, kafka_code = "CONCURRENT_TRANSACTIONS", 51
    retriable = True


class TransactionCoordinatorFenced(TransactionError):
    """A marker from a coordinator epoch older than one the partition has seen."""

    kafka_name, kafka_code = "TRANSACTION_COORDINATOR_FENCED", 52


class ProducerFenced(TransactionError):
    """Another producer with the same transactional id has a newer epoch."""

    kafka_name, kafka_code = "PRODUCER_FENCED", 90


class TransactionalIdNotFound(TransactionError):
    """No transaction state for this transactional id."""

    kafka_name, kafka_code = "TRANSACTIONAL_ID_NOT_FOUND", 105


class UnstableOffsetCommit(TransactionError):
    """A transactional offset commit for this partition awaits its marker (require_stable)."""

    kafka_name, kafka_code = "UNSTABLE_OFFSET_COMMIT", 88
    retriable = True
