"""Transaction markers as the coordinator hands them to the wiring, and how it reads the
answers. Pure.

The contract with the wiring (`SendMarkers`): the coordinator calls
``await send_markers(markers)`` with a list of `TxnMarker`, each what one entry of Kafka's
WriteTxnMarkers request carries (producer id, producer epoch, commit or abort, the
coordinator epoch, the topic-partitions); today it sends one marker per call (one
transaction, all of its partitions that still need one). The wiring finds each
partition's leader, sends it WriteTxnMarkers (grouping partitions by leader as it likes),
and answers a list aligned with `markers`: for each marker, a mapping from every one of
its partitions to None (the marker is in that partition's log, replicated as a produce
with acks=all is) or the error that partition's leader answered (a kraft.errors class,
as the WriteTxnMarkers response's error code means it). A partition missing from the
mapping, or an exception raised by `send_markers` itself, means "not known to be
written": the coordinator tries that partition again; so does a call that has not
answered within 60 s (the coordinator cancels it). It may call `send_markers` for
several transactions at once; it never calls it twice at once for one transaction.

What an answer means (`marker_outcome`), after Kafka's
TransactionMarkerRequestCompletionHandler:
- None: written; the partition leaves the set still waiting for a marker.
- InvalidProducerEpoch or TransactionCoordinatorFenced: a newer producer epoch or a newer
  coordinator has taken over; this coordinator stops sending for the transaction (the
  coordinator that loads its partition next finishes it).
- anything else (not the leader, no leader, not enough replicas, timeouts, a broker that
  cannot be reached, an unexpected error): tried again after a backoff, with the leader
  the metadata then names. A partition whose topic is gone from the metadata is dropped
  from the set (Kafka: its leader cannot be found, so it is deleted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from kraft.errors import InvalidProducerEpoch, TransactionCoordinatorFenced

TopicPartition = tuple[str, int]

MARKER_BACKOFF_MIN_S = 0.05
MARKER_BACKOFF_MAX_S = 2.0


@dataclass(frozen=True)
class TxnMarker:
    """One WriteTxnMarkers entry: write this control record to each partition."""

    producer_id: int
    producer_epoch: int
    commit: bool
    coordinator_epoch: int
    partitions: tuple[TopicPartition, ...]  # sorted
    # 2: the epoch was bumped past the transaction's data (transactions version 2, or a
    # fence), so the leader refuses it where a transaction open at that very epoch shows it late
    transaction_version: int = 1


MarkerAnswers = Mapping[TopicPartition, BaseException | None]


@dataclass(frozen=True)
class TxnCheck:
    """One partition a leader asks a transaction's coordinator about (KIP-890: is it in
    the open transaction; with add, for transactions version 2, add it first)."""
    transactional_id: str
    producer_id: int
    producer_epoch: int
    topic: str
    partition: int
    add: bool
SendMarkers = Callable[[Sequence[TxnMarker]], Awaitable[Sequence[MarkerAnswers]]]


class MarkerOutcome(Enum):
    WRITTEN = "written"
    RETRY = "retry"
    ABANDON = "abandon"


MISSING = object()  # no answer for the partition


def marker_outcome(answer: object) -> MarkerOutcome:
    """What one partition's answer means (module docstring); MISSING for no answer."""
    if answer is None:
        return MarkerOutcome.WRITTEN
    if isinstance(answer, (InvalidProducerEpoch, TransactionCoordinatorFenced)):
        return MarkerOutcome.ABANDON
    return MarkerOutcome.RETRY


def backoff_s(attempt: int) -> float:
    """The pause before retry number `attempt` (0-based): doubling, capped."""
    doubled: int = 2 ** min(attempt, 16)  # a non-negative power: an int
    return min(MARKER_BACKOFF_MAX_S, MARKER_BACKOFF_MIN_S * doubled)
