"""Transactions between brokers: the coordinator's markers to partition leaders, and a
leader's question to the coordinator (KIP-890: is this partition in the transaction?).

The transaction coordinator (kraft/transactions) decides; this carries its decisions.
Markers go to each partition's leader over the node-to-node channel (Kafka's
WriteTxnMarkers, as JSON), or straight to the data plane when this node leads the
partition. A marker on a `__consumer_offsets` partition also settles the group
offsets the transaction committed there, once the marker is replicated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from kraft.broker.data_plane import DataPlane
from kraft.errors import KraftError, LeaderNotAvailable, NotCoordinator, error_from_name
from kraft.groups.coordinator_placement import OFFSETS_TOPIC
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.internode.peers import Peers, PeerUnreachable
from kraft.metadata.image import MetadataImage
from kraft.transactions.txn_coordinator import TransactionCoordinator
from kraft.transactions.txn_markers import MarkerAnswers, TxnMarker

TopicPartition = tuple[str, int]
MARKERS_PATH = "/internal/v1/txn/markers"
VERIFY_PATH = "/internal/v1/txn/verify"
MARKER_TIMEOUT_MS = 30_000


class TransactionLink:
    def __init__(self, node_id: int, image: Callable[[], MetadataImage], data_plane: DataPlane,
                 groups: GroupCoordinator, coordinator: Callable[[], TransactionCoordinator], peers: Peers):
        """coordinator: this node's transaction coordinator (built after the data plane,
        which asks through verify)."""
        self.node_id = node_id
        self._image = image
        self._plane = data_plane
        self._groups = groups
        self._coordinator = coordinator
        self._peers = peers

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
                    (i, TxnMarker(marker.producer_id, marker.producer_epoch, marker.commit,
                                  marker.coordinator_epoch, (tp,))))

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
            body = await self._peers.call_json(leader, "POST", MARKERS_PATH, payload=markers_json(markers),
                                               timeout_s=MARKER_TIMEOUT_MS / 1000 + 5)
        except PeerUnreachable as exc:
            raise LeaderNotAvailable(f"leader {leader} unreachable ({type(exc.cause).__name__})") from None
        return answers_from_json(body)

    # -- leader side ---------------------------------------------------------------------------
    async def write_here(self, markers: Sequence[TxnMarker]) -> list[MarkerAnswers]:
        """Each marker into each of its partitions this node leads, committed; the
        group offsets of a marker on an offsets partition settled after it."""
        async def one(marker: TxnMarker, tp: TopicPartition) -> BaseException | None:
            try:
                await self._plane.write_marker(tp[0], tp[1], marker.producer_id, marker.producer_epoch,
                                               marker.commit, marker.coordinator_epoch, MARKER_TIMEOUT_MS)
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
        payload = {"transactional_id": transactional_id, "producer_id": producer_id,
                   "producer_epoch": producer_epoch, "topic": topic, "partition": partition, "add": add}
        try:
            body = await self._peers.call_json(target, "POST", VERIFY_PATH, payload=payload,
                                               timeout_s=max(0.05, timeout_s))
        except PeerUnreachable as exc:
            raise NotCoordinator(f"NOT_COORDINATOR: coordinator {target} unreachable "
                                 f"({type(exc.cause).__name__}); retry") from None
        return bool(body.get("in_transaction"))


async def check_or_add(coordinator: TransactionCoordinator, transactional_id: str, producer_id: int,
                       producer_epoch: int, tp: TopicPartition, add: bool) -> bool:
    """At the coordinator: is the partition in the transaction (after adding it, with add)?"""
    if add:
        await coordinator.add_partitions(transactional_id, producer_id, producer_epoch, [tp])
        return True
    found = await coordinator.verify_partitions(transactional_id, producer_id, producer_epoch, [tp])
    return bool(found.get(tp))


# -- the node-to-node form ---------------------------------------------------------------------
def markers_json(markers: Sequence[TxnMarker]) -> dict:
    return {"markers": [{"producer_id": m.producer_id, "producer_epoch": m.producer_epoch, "commit": m.commit,
                         "coordinator_epoch": m.coordinator_epoch, "partitions": [list(tp) for tp in m.partitions]}
                        for m in markers]}


def markers_from_json(body: Any) -> list[TxnMarker]:
    """Raises ValueError/TypeError/KeyError on a malformed body (the route answers 400)."""
    out = []
    for m in body["markers"]:
        partitions = tuple((str(t), int(p)) for t, p in m["partitions"])
        out.append(TxnMarker(int(m["producer_id"]), int(m["producer_epoch"]), bool(m["commit"]),
                             int(m["coordinator_epoch"]), partitions))
    return out


def answers_json(answers: Sequence[MarkerAnswers]) -> dict:
    return {"answers": [[[tp[0], tp[1], None if err is None else
                          {"error_class": type(err).__name__, "message": str(getattr(err, "message", err))}]
                         for tp, err in answer.items()] for answer in answers]}


def answers_from_json(body: Any) -> list[MarkerAnswers]:
    out: list[MarkerAnswers] = []
    for answer in body["answers"]:
        parsed: dict[TopicPartition, BaseException | None] = {}
        for topic, partition, err in answer:
            parsed[(topic, partition)] = None if err is None else error_from_name(err.get("error_class"),
                                                                                  str(err.get("message", "")))
        out.append(parsed)
    return out
