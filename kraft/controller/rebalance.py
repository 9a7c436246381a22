"""Carrying out a rebalance plan (kraft/controller/rebalance_planner.py). Pure.

`execute` plans against the image and writes the plan into the metadata log
(RebalanceStart), so any later controller carries it on. The controller's duty
(`advance`) starts the plan's moves as ordinary reassignments (new replicas catch up
and join the ISR before old ones leave), at most `max_moves_in_flight` at a time, and
ends the plan (RebalanceEnd) once no move is under way or waiting. A move whose
partition changed since the plan (deleted, or moved by someone else), or whose new
brokers cannot take replicas any more (unregistered, being decommissioned), is skipped.

`cancel` ends the plan and reverts the moves under way, as Kafka's cancel of a
reassignment does: those partitions keep their original replicas (the new copies are
dropped); moves already done stay done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kraft.controller.result import ControllerResult
from kraft.controller import reassignment
from kraft.controller.rebalance_planner import plan, summary
from kraft.errors import InvalidValue, KraftError, NotFound, RebalanceInProgress
from kraft.metadata.image import MetadataImage, PartitionRegistration, RebalanceMove
from kraft.metadata.records import MetadataRecord, RebalanceEnd, RebalanceStart
from kraft.metadata.records import RebalanceMove as MoveRecord

DEFAULT_MOVES_IN_FLIGHT = 4
MAX_MOVES_IN_FLIGHT = 1000


def dry_run(image: MetadataImage) -> dict[str, Any]:
    """The plan the cluster would carry out now, changing nothing."""
    moves = plan(image)
    return {"moves": [m.view() for m in moves], **summary(image, moves)}


def execute(image: MetadataImage, max_moves_in_flight: int = DEFAULT_MOVES_IN_FLIGHT) -> ControllerResult:
    if not 1 <= max_moves_in_flight <= MAX_MOVES_IN_FLIGHT:
        raise InvalidValue(f"max_moves_in_flight must be 1..{MAX_MOVES_IN_FLIGHT}, got {max_moves_in_flight}")
    current = image.rebalance
    if current is not None and current.running:
        raise RebalanceInProgress(f"rebalance {current.rebalance_id} is running; cancel it first "
                                  "(kraft rebalance cancel)")
    moves = plan(image)
    rebalance_id = f"rebalance-{image.offset + 1}"  # the offset this batch will get: unique
    record = RebalanceStart(rebalance_id=rebalance_id, max_moves_in_flight=max_moves_in_flight,
                            moves=tuple(MoveRecord(topic_id=m.topic_id, partition=m.partition,
                                                   replicas=m.replicas, target=m.target) for m in moves))
    return ControllerResult([record], {"rebalance_id": rebalance_id, **summary(image, moves)})


def cancel(image: MetadataImage) -> ControllerResult:
    current = image.rebalance
    if current is None or not current.running:
        raise NotFound("no rebalance is running")
    records: list[MetadataRecord] = [RebalanceEnd(rebalance_id=current.rebalance_id, outcome="cancelled")]
    reverted = 0
    for move in current.moves:
        if move_state(image, move, running=True) == "moving":
            topic = image.topics[move.topic_id]
            records += reassignment.reassign(image, topic.name, move.partition, None)[0]
            reverted += 1
    return ControllerResult(records, {"rebalance_id": current.rebalance_id, "moves_reverted": reverted})


def advance(image: MetadataImage) -> list[MetadataRecord]:
    """The controller's duty: start waiting moves up to the bound, end a plan with none left."""
    current = image.rebalance
    if current is None or not current.running:
        return []
    states = [(move, move_state(image, move, running=True)) for move in current.moves]
    in_flight = sum(1 for _, state in states if state == "moving")
    waiting = [move for move, state in states if state == "waiting"]
    if not in_flight and not waiting:
        return [RebalanceEnd(rebalance_id=current.rebalance_id, outcome="finished")]
    records: list[MetadataRecord] = []
    for move in waiting:
        if in_flight >= current.max_moves_in_flight:
            break
        try:
            records += reassignment.reassign(image, image.topics[move.topic_id].name, move.partition,
                                             move.target)[0]
        except KraftError:
            continue  # refused now (the cluster changed): looked at again on the next pass
        if set(move.target) - set(move.replicas):
            in_flight += 1  # a reorder only settles at once and takes no slot
    return records


def status(image: MetadataImage) -> dict[str, Any]:
    """The latest rebalance and each move's state: done, moving, waiting, skipped
    (its partition changed since the plan) or cancelled."""
    current = image.rebalance
    if current is None:
        return {"rebalance_id": None, "state": "none", "moves_total": 0, "moves_done": 0,
                "moves_in_flight": 0, "moves_left": 0, "moves_skipped": 0, "moves": []}
    moves: list[dict[str, Any]] = []
    for move in current.moves:
        topic = image.topics.get(move.topic_id)
        moves.append({"topic": topic.name if topic is not None else None, "topic_id": move.topic_id,
                      "partition": move.partition, "replicas": list(move.replicas), "target": list(move.target),
                      "state": move_state(image, move, current.running)})
    count: Callable[[str], int] = lambda state: sum(1 for m in moves if m["state"] == state)  # noqa: E731
    return {"rebalance_id": current.rebalance_id, "state": current.state,
            "max_moves_in_flight": current.max_moves_in_flight, "moves_total": len(moves),
            "moves_done": count("done"), "moves_in_flight": count("moving"),
            "moves_left": count("waiting"), "moves_skipped": count("skipped"),
            "moves_cancelled": count("cancelled"), "moves": moves}


def move_state(image: MetadataImage, move: RebalanceMove, running: bool) -> str:
    part = _partition(image, move)
    if part is None:
        return "skipped"
    if part.reassigning:
        if part.target_replicas == move.target:
            return "moving"
        return "waiting" if running else "cancelled"  # someone else's move: wait for it
    if part.replicas == move.target:
        return "done"
    if part.replicas == move.replicas:
        if any(b not in image.brokers or b in image.decommissioning for b in move.target):
            return "skipped"  # a broker of the target left, or is leaving
        return "waiting" if running else "cancelled"
    return "skipped"


def _partition(image: MetadataImage, move: RebalanceMove) -> PartitionRegistration | None:
    topic = image.topics.get(move.topic_id)
    if topic is None or move.partition >= len(topic.partitions):
        return None
    return topic.partitions[move.partition]

