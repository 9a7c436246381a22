"""What DescribeTransactions and ListTransactions show of transactional ids. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kraft.errors import TransactionalIdNotFound
from kraft.transactions.txn_metadata import (
    DEAD,
    TopicPartition,
    TransactionMetadata,
    TxnState,
)


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
