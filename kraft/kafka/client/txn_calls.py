"""A broker's transaction requests to other brokers, in Kafka's own messages:
WriteTxnMarkers (v2: with each marker's transaction version) from a transaction coordinator to a partition leader, and
AddPartitionsToTxn (v5, the brokers' form) from a partition leader to a transaction's
coordinator (KIP-890: `verify_only` to check that a batch's partition is in the open
transaction, or, with transactions version 2, to add it). Both are batched per
destination (client/broker_batches.py); the leader's side is handlers/txn_marker_api.py, the
coordinator's handlers/txn_api.py. An error code comes back as the error class it stands for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace

from kio.schema.add_partitions_to_txn.v5 import request as add_v5
from kio.schema.types import ProducerId, TopicName, TransactionalId
from kio.schema.write_txn_markers.v2 import request as markers_v2
from kio.static.primitive import i8, i16, i32

from kraft.errors import error_from_code
from kraft.kafka.client.broker_batches import BrokerBatches
from kraft.kafka.client.broker_client import BrokerConnection, refusal
from kraft.transactions.txn_markers import MarkerAnswers, TxnCheck, TxnMarker
from kraft.errors.kafka_codes import TRANSACTION_ABORTABLE

MARKER_TIMEOUT_S = 35.0  # a leader writes each marker acks=all within 30 s
CHECK_TIMEOUT_S = 15.0  # callers bound their own wait (a produce's deadline)


async def send_markers(connection: BrokerConnection, markers: list[TxnMarker]) -> list[MarkerAnswers]:
    request = markers_v2.WriteTxnMarkersRequest(markers=tuple(
        markers_v2.WritableTxnMarker(
            producer_id=ProducerId(m.producer_id), producer_epoch=i16(m.producer_epoch),
            transaction_result=m.commit, coordinator_epoch=i32(m.coordinator_epoch),
            transaction_version=i8(m.transaction_version),
            topics=tuple(markers_v2.WritableTxnMarkerTopic(name=TopicName(topic), partition_indexes=tuple(
                i32(p) for t, p in m.partitions if t == topic)) for topic in dict.fromkeys(t for t, _ in m.partitions)))
        for m in markers))
    answer = await connection.request(request, MARKER_TIMEOUT_S)
    if len(answer.markers) != len(markers):
        raise ValueError(f"{len(answer.markers)} marker answers for {len(markers)} markers")
    out: list[MarkerAnswers] = []
    for marker, result in zip(markers, answer.markers):
        if int(result.producer_id) != marker.producer_id:
            raise ValueError(f"a marker answer for producer {result.producer_id}, not {marker.producer_id}")
        codes = {(t.name, int(p.partition_index)): p.error_code for t in result.topics for p in t.partitions}
        out.append({tp: _error(codes.get(tp), f"marker on {tp[0]}-{tp[1]}") for tp in marker.partitions})
    return out


async def send_checks(connection: BrokerConnection, checks: list[TxnCheck]) -> list[bool | BaseException]:
    request = add_v5.AddPartitionsToTxnRequest(transactions=tuple(
        add_v5.AddPartitionsToTxnTransaction(
            transactional_id=TransactionalId(c.transactional_id), producer_id=ProducerId(c.producer_id),
            producer_epoch=i16(c.producer_epoch), verify_only=not c.add,
            topics=(add_v5.AddPartitionsToTxnTopic(name=TopicName(c.topic), partitions=(i32(c.partition),)),))
        for c in checks))
    answer = await connection.request(request, CHECK_TIMEOUT_S)
    if (refused := refusal(answer.error_code, "AddPartitionsToTxn")) is not None:
        return [refused] * len(checks)
    codes = {(r.transactional_id, t.name, int(p.partition_index)): p.partition_error_code
             for r in answer.results_by_transaction for t in r.topic_results for p in t.results_by_partition}
    out: list[bool | BaseException] = []
    for c in checks:
        code = codes.get((c.transactional_id, c.topic, c.partition))
        if code is not None and code.value == TRANSACTION_ABORTABLE and not c.add:
            out.append(False)
        else:
            error = _error(code, f"{c.topic}-{c.partition} in the transaction of {c.transactional_id!r}")
            out.append(True if error is None else error)
    return out


def _error(code, what: str) -> BaseException | None:
    return error_from_code(-1, f"{what}: no answer for it") if code is None else refusal(code, what)


class TxnCalls:
    """This node's transaction requests to other brokers; closed by the node at shutdown."""

    def __init__(self, connect: Callable[[int], BrokerConnection]) -> None:
        # one request may carry one marker per producer, one check per transactional id
        self._markers: BrokerBatches[TxnMarker] = BrokerBatches(connect, send_markers, lambda m: m.producer_id)
        self._checks: BrokerBatches[TxnCheck] = BrokerBatches(connect, send_checks, lambda c: c.transactional_id)

    async def write_markers(self, leader: int, markers: Sequence[TxnMarker]) -> list[MarkerAnswers]:
        """Each marker's answers, per partition; the markers of one transaction travel as one."""
        merged: dict[TxnMarker, list[tuple[str, int]]] = {}  # the marker but its partitions -> them
        for m in markers:
            merged.setdefault(replace(m, partitions=()), []).extend(m.partitions)
        together = [replace(key, partitions=tuple(parts)) for key, parts in merged.items()]
        answers: dict[tuple[int, str, int], BaseException | None] = {}
        for marker, got in zip(together, await asyncio.gather(*(self._markers.call(leader, m) for m in together),
                                                              return_exceptions=True)):
            for tp in marker.partitions:
                answers[(marker.producer_id, *tp)] = got if isinstance(got, BaseException) else got.get(tp)
        return [{tp: answers[(m.producer_id, *tp)] for tp in m.partitions} for m in markers]

    async def check(self, coordinator: int, check: TxnCheck) -> bool:
        return await self._checks.call(coordinator, check)

    async def close(self) -> None:
        await asyncio.gather(self._markers.close(), self._checks.close())
