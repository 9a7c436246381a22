"""Transactions between brokers: the coordinator's markers to partition leaders, and a
leader's question to the coordinator (KIP-890: is this partition in the transaction?).

The transaction coordinator (kraft/transactions) decides; this carries its decisions.
Markers go to each partition's leader in Kafka's WriteTxnMarkers, and a leader's
question in AddPartitionsToTxn, both over the Kafka listener and batched per broker
(`TxnRemote`: kraft/kafka/client/txn_calls.py), or straight to the data plane or the
coordinator when this node is the other side. A marker on a `__consumer_offsets`
partition also settles the group offsets the transaction committed there, once the
marker is replicated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from kraft.broker.data_plane import DataPlane
from kraft.errors import KraftError, LeaderNotAvailable, NotCoordinator
from kraft.groups.coordinator_placement import OFFSETS_TOPIC
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.metadata.image import MetadataImage
from kraft.transactions.txn_coordinator import TransactionCoordinator
from kraft.transactions.txn_markers import MarkerAnswers, TxnCheck, TxnMarker

TopicPartition = tuple[str, int]
MARKER_TIMEOUT_MS = 30_000


class TxnRemote(Protocol):
    """The requests to other brokers (kraft/kafka/client/txn_calls.py); ConnectionError when the
    other broker cannot be reached."""

    async def write_markers(self, leader: int, markers: Sequence[TxnMarker]) -> list[MarkerAnswers]: ...

    async def check(self, coordinator: int, check: TxnCheck) -> bool: ...


class TransactionLink:
    def __init__(self, node_id: int, image: Callable[[], MetadataImage], data_plane: DataPlane,
                 groups: GroupCoordinator, coordinator: Callable[[], TransactionCoordinator], remote: TxnRemote):
        """coordinator: this node's transaction coordinator (built after the data plane,
        which asks through verify)."""
        self.node_id = node_id
        self._image = image
        self._plane = data_plane
        self._groups = groups
        self._coordinator = coordinator
        self._remote_calls = remote

    # -- coordinator side: WriteTxnMarkers to the leaders ------------------------------------
    async def send_markers(self, markers: Sequence[TxnMarker]) -> list[MarkerAnswers]:
        answers: list[dict[TopicPartition, BaseException | None]] = [{} for _ in markers]
        by_leader: dict[int, list[tuple[int, TxnMarker]]] = {}
        image = self._image()
        for i, marker in enumerate(markers):
            for tp in marker.partitions:
                topic = image.topic(tp[0])
                if topic is None or not 0 <= tp[1] < len(topic.partitions):
                    continue  # gone: the coordinator drops what has no leader to find
                leader = topic.partitions[tp[1]].leader
                if leader < 0:
                    answers[i][tp] = LeaderNotAvailable(f"{tp[0]}-{tp[1]} has no leader")
                    continue
                by_leader.setdefault(leader, []).append(
                    (i, replace(marker, partitions=(tp,))))

        async def to_leader(leader: int, entries: list[tuple[int, TxnMarker]]) -> None:
            sent = [m for _, m in entries]
            got: Sequence[MarkerAnswers]
            try:
                got = await (self.write_here(sent) if leader == self.node_id else self._remote(leader, sent))
            except KraftError as exc:
                got = [{m.partitions[0]: exc} for m in sent]
            for (i, _), answer in zip(entries, got):
                answers[i].update(answer)

        await asyncio.gather(*(to_leader(leader, entries) for leader, entries in by_leader.items()))
        return list(answers)

    async def _remote(self, leader: int, markers: list[TxnMarker]) -> list[MarkerAnswers]:
        try:
            return await self._remote_calls.write_markers(leader, markers)
        except ConnectionError as exc:
            raise LeaderNotAvailable(f"leader {leader} unreachable ({exc})") from None

    # -- leader side ---------------------------------------------------------------------------
    async def write_here(self, markers: Sequence[TxnMarker]) -> list[MarkerAnswers]:
        """Each marker into each of its partitions this node leads, committed; the
        group offsets of a marker on an offsets partition settled after it."""
        async def one(marker: TxnMarker, tp: TopicPartition) -> BaseException | None:
            try:
                await self._plane.write_marker(tp[0], tp[1], marker.producer_id, marker.producer_epoch,
                                               marker.commit, marker.coordinator_epoch, MARKER_TIMEOUT_MS,
                                               marker.transaction_version)
            except KraftError as exc:
                return exc
            if tp[0] == OFFSETS_TOPIC:
                self._groups.complete_transaction(tp[1], marker.producer_id, marker.commit)
            return None

        results: list[MarkerAnswers] = []
        for marker in markers:
            got = await asyncio.gather(*(one(marker, tp) for tp in marker.partitions))
            results.append(dict(zip(marker.partitions, got)))
        return results

    async def verify(self, transactional_id: str, producer_id: int, producer_epoch: int,
                     topic: str, partition: int, timeout_s: float, add: bool = False) -> bool:
        """The coordinator's word on whether the partition is in the open transaction,
        within timeout_s; with add (transactions version 2) the coordinator adds it first
        (Kafka's AddPartitionsToTxn v5 from a leader), so the answer is yes or an error.
        A coordinator that is not known, not loaded or unreachable is not waited for:
        the error says so at once, as Kafka's leaders learn it."""
        coordinator = self._coordinator()
        target = await coordinator.locate(transactional_id, create=False, wait_s=0)
        if target is None:
            return await check_or_add(coordinator, transactional_id, producer_id, producer_epoch,
                                      (topic, partition), add)
        check = TxnCheck(transactional_id, producer_id, producer_epoch, topic, partition, add)
        try:
            async with asyncio.timeout(max(0.05, timeout_s)):
                return await self._remote_calls.check(target, check)
        except ConnectionError as exc:
            raise NotCoordinator(f"NOT_COORDINATOR: coordinator {target} unreachable ({exc}); retry") from None


async def check_or_add(coordinator: TransactionCoordinator, transactional_id: str, producer_id: int,
                       producer_epoch: int, tp: TopicPartition, add: bool) -> bool:
    """At the coordinator: is the partition in the transaction (after adding it, with add)?"""
    if add:
        await coordinator.add_partitions(transactional_id, producer_id, producer_epoch, [tp])
        return True
    found = await coordinator.verify_partitions(transactional_id, producer_id, producer_epoch, [tp])
    return bool(found.get(tp))
