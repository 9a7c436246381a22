"""One __transaction_state partition this node leads (`TxnShard`), and a state change
as a write of the coordinator runtime (`write_transit`, kraft/coordinator/writes.py):
the runtime runs a partition's changes one at a time, appends each one's record with
acks=all and replays it into the shard with the same `replay` a load uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kraft.coordinator.runtime import CoordinatorRuntime
from kraft.errors import NotCoordinator
from kraft.storage.record import Record
from kraft.transactions import txn_log
from kraft.transactions.txn_completion import Completions, coordinator_error
from kraft.transactions.txn_metadata import COMPLETE_ABORT, COMPLETE_COMMIT, TransactionMetadata, TxnTransit

A = TypeVar("A")
COMPLETED = frozenset({COMPLETE_COMMIT, COMPLETE_ABORT})


@dataclass
class TxnShard:
    """One __transaction_state partition this node leads: its transactional ids."""

    coordinator_epoch: int  # the partition's leader epoch when this node loaded it
    cache: txn_log.TxnCache = field(default_factory=txn_log.TxnCache)
    completions: Completions = field(default_factory=Completions)  # marker work of its transactions

    @property
    def leader_epoch(self) -> int:
        return self.coordinator_epoch

    @property
    def txns(self) -> dict[str, TransactionMetadata]:
        return self.cache.txns

    def replay(self, record: Record, producer_id: int) -> None:
        """One record of the log (a load's and every write's); a Complete state settles
        the id's marker work: the id's next transaction may go on."""
        self.cache.replay(record)
        tid = txn_log.parse_key(record.key)
        meta = self.cache.txns.get(tid) if tid is not None else None
        if tid is not None and meta is not None and meta.state in COMPLETED:
            self.completions.settle(tid)


Decide = Callable[[TxnShard], tuple[TxnTransit | None, A]]


async def write_transit(runtime: CoordinatorRuntime[TxnShard], p: int, transactional_id: str, decide: Decide[A],
                        name: str, now_ms: int) -> A:
    """Run `decide` (pure: the transit to write, if any, and the answer) as a write of
    the runtime; its answer once the transit's record is committed. What the append
    raises is mapped as Kafka's appendTransactionToLog maps it; what `decide` raises
    (the client's error) is raised as it is."""
    refused = False

    def operation(part: TxnShard) -> tuple[list[Record], A]:
        nonlocal refused
        try:
            transit, answer = decide(part)
        except BaseException:
            refused = True
            raise
        return ([] if transit is None else [txn_log.txn_record(transactional_id, transit, now_ms)]), answer

    try:
        return await runtime.write(p, operation, name=f"{name}-{transactional_id}")
    except NotCoordinator:
        raise
    except Exception as exc:
        error = exc if refused else coordinator_error(exc, transactional_id)
        if error is exc:
            raise
        raise error from exc
