"""A partition leader's requests to the controller: its ISR changes (one, or every change
it has pending at once) and its report of a damaged copy."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from kraft.controller import partition_control
from kraft.controller.quorum_controller import Command, QuorumController
from kraft.controller.request_base import ControllerRequest
from kraft.errors import BadRequest

MAX_CHANGES = 100_000  # ISR changes in one request: more partitions than a broker hosts


class AlterPartition(ControllerRequest):
    """One ISR change: what a leader of the release before alter_partitions sends."""
    op = "alter_partition"
    topic_id: str
    partition: int
    leader_id: int
    broker_epoch: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]


class IsrChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic_id: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr: tuple[int, ...]
    new_isr_epochs: dict[int, int] = {}  # KIP-903: each joining member's broker epoch as it fetched


class AlterPartitions(ControllerRequest):
    """Kafka's AlterPartition with every change a leader has pending."""
    op = "alter_partitions"
    leader_id: int
    broker_epoch: int
    partitions: list[IsrChange]


class ReportDamagedReplica(ControllerRequest):
    op = "report_damaged_replica"
    broker_id: int
    broker_epoch: int
    topic_id: str
    partition: int


def _alter_partition(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = AlterPartition.model_validate(p)
    return lambda image: partition_control.alter_partition(
        image, defaults, req.topic_id, req.partition, req.leader_id, req.broker_epoch, req.leader_epoch,
        req.partition_epoch, req.new_isr)


def _alter_partitions(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    if isinstance(p.get("partitions"), list) and len(p["partitions"]) > MAX_CHANGES:
        raise BadRequest(f"alter_partitions: at most {MAX_CHANGES} changes in one request")
    req = AlterPartitions.model_validate(p)
    items = [c.model_dump() for c in req.partitions]
    return lambda image: partition_control.alter_partitions(image, defaults, req.leader_id, req.broker_epoch, items)


def _report_damaged_replica(p: dict[str, Any], controller: QuorumController, defaults: dict[str, str]) -> Command:
    req = ReportDamagedReplica.model_validate(p)
    return lambda image: partition_control.report_damaged_replica(
        image, defaults, req.broker_id, req.broker_epoch, req.topic_id, req.partition)


BUILDERS = {
    "alter_partition": _alter_partition,
    "alter_partitions": _alter_partitions,
    "report_damaged_replica": _report_damaged_replica,
}
