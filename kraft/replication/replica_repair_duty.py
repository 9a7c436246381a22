"""The I/O half of replica_repair: each duty round, a damaged replica takes its next step.

"report": the damage goes to the controller (report_damaged_replica), which takes the
replica out of the ISR; resent while unanswered. "cut": out of the ISR and following
a live leader, the replica truncates at the damage and its fetcher refills it. The
decision itself is replica_repair.next_step, pure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from kraft.metadata.image import MetadataImage
from kraft.replication.partition_replica import PartitionReplica
from kraft.replication.replica_repair import Repair, ReplicaRepairs, next_step

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Future]


class ReplicaRepairDuty:
    def __init__(self, broker_id: int, broker_epoch: Callable[[], int], repairs: ReplicaRepairs,
                 image: Callable[[], MetadataImage | None], controller_call, spawn: Spawn,
                 on_cut: Callable[[], None]):
        """image() -> the newest metadata image offered (None before the first);
        on_cut() is called after a replica was cut, so that it fetches again."""
        self._broker_id = broker_id
        self._broker_epoch = broker_epoch
        self._repairs = repairs
        self._image = image
        self._controller_call = controller_call
        self._spawn = spawn
        self._on_cut = on_cut

    def step(self, replica: PartitionReplica) -> None:
        key = (replica.topic_id, replica.partition)
        repair = self._repairs.notice(key, replica.topic, replica.partition, replica.log.damage)
        image = self._image()
        if repair is None or image is None:
            return
        step = next_step(image, self._broker_id, replica.topic_id, replica.partition)
        if step == "cut" and replica.leader is None and replica.leader_id not in (-1, self._broker_id):
            self._repairs.done(key, replica.repair_from(repair.start))
            self._on_cut()
        elif step == "report" and self._repairs.due(repair):
            repair.in_flight, repair.sent_at = True, time.monotonic()
            self._spawn(self._report(replica, repair))

    async def _report(self, replica: PartitionReplica, repair: Repair) -> None:
        payload = {"broker_id": self._broker_id, "broker_epoch": self._broker_epoch(),
                   "topic_id": replica.topic_id, "partition": replica.partition}
        try:
            answer = await self._controller_call("report_damaged_replica", payload)
            self._repairs.answered(repair, bool(answer.get("healthy_copy", True)))
        except Exception as exc:  # controller away or our epoch stale: the next duty resends
            log.info("report of damaged %s-%d not taken: %s", replica.topic, replica.partition, exc)
        finally:
            repair.in_flight = False
