"""Sending a leader's ISR changes to the controller (Kafka's AlterPartitionManager).

A leader proposes an ISR (shrink or expand, see leader_state); at most one proposal per
partition is in flight. The controller's answer settles it; a refusal (the controller
judged it and wrote nothing) is forgotten, while an unknown outcome stays pending and
is sent again every ALTER_RESEND_S: compare-and-set on the partition epoch makes a
resend safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from kraft.errors import KraftError, NoActiveController, OutcomeUnknown
from kraft.replication.leader_state import LeaderState
from kraft.replication.partition_replica import PartitionReplica

log = logging.getLogger(__name__)

ALTER_RESEND_S = 1.0  # an ISR proposal with an unknown outcome is sent again after this

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Future]


def definitely_refused(exc: Exception) -> bool:
    """The controller judged the proposal and wrote nothing (a compare-and-set miss, a
    refused member): safe to forget. Timeouts and unreachable controllers are not."""
    return isinstance(exc, KraftError) and not isinstance(exc, (OutcomeUnknown, NoActiveController))


class AlterPartitionManager:
    def __init__(self, broker_id: int, broker_epoch: Callable[[], int], controller_call, spawn: Spawn):
        """controller_call(op, payload) -> coroutine; spawn(coroutine) runs it in the
        manager's task group."""
        self._broker_id = broker_id
        self._broker_epoch = broker_epoch
        self._controller_call = controller_call
        self._spawn = spawn
        self._inflight: set[tuple[str, int]] = set()
        self._sent: dict[tuple[str, int], float] = {}

    def propose(self, replica: PartitionReplica, isr) -> None:
        key = (replica.topic_id, replica.partition)
        leader_state = replica.leader
        if key in self._inflight or leader_state is None:  # only a leader proposes
            return
        payload = {"topic_id": replica.topic_id, "partition": replica.partition,
                   "leader_id": self._broker_id, "broker_epoch": self._broker_epoch(),
                   "leader_epoch": replica.leader_epoch,
                   "partition_epoch": replica.partition_epoch, "new_isr": list(isr)}
        self._inflight.add(key)
        self._sent[key] = time.monotonic()
        self._spawn(self._send(replica, payload, leader_state))

    def resend_pending(self, replica: PartitionReplica) -> None:
        key = (replica.topic_id, replica.partition)
        state = replica.leader
        if state is None or state.pending_isr is None or key in self._inflight:
            return
        if time.monotonic() - self._sent.get(key, 0.0) >= ALTER_RESEND_S:
            self.propose(replica, state.pending_isr)  # compare-and-set makes it safe

    async def _send(self, replica: PartitionReplica, payload: dict, leader_state: LeaderState) -> None:
        key = (replica.topic_id, replica.partition)
        isr, base = tuple(payload["new_isr"]), payload["partition_epoch"]

        def still_ours() -> bool:
            return (replica.leader is leader_state and leader_state.pending_isr == isr
                    and leader_state.partition_epoch == base)

        try:
            result = await self._controller_call("alter_partition", payload)
            log.info("ISR of %s-%d -> %s", replica.topic, replica.partition, list(isr))
            if result.get("partition_epoch") == base and still_ours():
                leader_state.on_proposal_failed()  # nothing changed, no metadata will come
        except Exception as exc:
            if definitely_refused(exc) and still_ours():
                log.info("ISR change %s for %s-%d refused: %s", list(isr), replica.topic,
                         replica.partition, exc)
                leader_state.on_proposal_failed()
            # else: the outcome is unknown; the proposal stays pending (the HW keeps
            # counting the maximal ISR) and resend_pending sends it again
        finally:
            self._inflight.discard(key)
