"""The active controller: a single-consumer queue of commands on the Raft leader.

Commands are pure functions `image -> (records, response)`; this class runs them one
at a time against the latest image, proposes their records as one batch stamped with
the controller epoch (the Raft term it was elected in), and answers once the batch
is applied. It also runs the periodic duties: fencing brokers whose session expired
and moving leadership back to preferred replicas.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Callable

from kraft.controller.broker_control import BrokerHeartbeats, fence_brokers, fence_expired
from kraft.controller.preferred_leader import preferred_leader_changes
from kraft.errors import (
    ConcurrentMetadataChange,
    KraftError,
    NoActiveController,
    NotController,
    OutcomeUnknown,
)
from kraft.quorum.protocol import ProposalTimeout, Quorum, QuorumError
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import BecomeController, MetadataBatch, encode_batch

log = logging.getLogger(__name__)

Command = Callable[[MetadataImage], tuple[list, dict]]

LEADERSHIP_POLL_S = 0.05
DUTY_PERIOD_S = 0.1
PREFERRED_LEADER_PERIOD_S = 5.0


class QuorumController:
    def __init__(
        self,
        quorum: Quorum,
        node_id: int,
        defaults: dict[str, str],
        session_timeout_ms: int,
        request_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_interval_ms: int = 500,
        probe_down=None,
    ):
        """probe_down(broker_id) -> awaitable bool: True only when the broker's process
        is certainly gone (its port refuses connections)."""
        self._quorum = quorum
        self._node_id = node_id
        self._defaults = defaults
        self._clock = clock
        self._timeout = request_timeout_s
        self.heartbeats = BrokerHeartbeats(session_timeout_ms)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._probe_down = probe_down
        self._probe_after_ms = 2 * heartbeat_interval_ms
        self.epoch: int | None = None  # set while this node is the active controller

    @property
    def active(self) -> bool:
        return self.epoch is not None

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def submit(self, command: Command) -> dict:
        if not self.active:
            raise NotController(f"node {self._node_id} is not the active controller")
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((command, fut))
        return await fut

    async def run(self) -> None:
        """Owned by the node's task group; returns only when cancelled."""
        while True:
            term = self._quorum.term()
            if self._quorum.is_leader() and await self._become_controller(term):
                try:
                    await self._lead(term)
                finally:
                    self._resign()
            await asyncio.sleep(LEADERSHIP_POLL_S)

    async def _become_controller(self, term: int) -> bool:
        batch = MetadataBatch(
            controller_epoch=term,
            request_id=f"become-{self._node_id}-{term}",
            records=(BecomeController(controller_id=self._node_id, controller_epoch=term),),
        )
        try:
            result = await self._quorum.propose(encode_batch(batch), self._timeout)
        except QuorumError as exc:
            log.info("could not become controller in term %d: %s", term, exc)
            return False
        image = self._quorum.state_machine.image
        if not result.ok and not (image.controller_epoch == term and image.controller_id == self._node_id):
            log.info("controller epoch %d refused: %s", term, result.error)
            return False
        self.epoch = term
        self.heartbeats.reset(image, self.now_ms())
        log.info("node %d is the active controller (epoch %d)", self._node_id, term)
        return True

    def _resign(self) -> None:
        self.epoch = None
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(NotController("the active controller changed; retry"))

    def _still_leading(self, term: int) -> bool:
        return self._quorum.is_leader() and self._quorum.term() == term

    async def _lead(self, term: int) -> None:
        async with asyncio.TaskGroup() as tg:
            probes = tg.create_task(self._probe_loop(term), name="dead-broker-probes")
            try:
                await self._serve(term)
            finally:
                probes.cancel()

    async def _probe_loop(self, term: int) -> None:
        """Beside the command loop, so a slow probe never delays commands."""
        while self._still_leading(term):
            await asyncio.sleep(DUTY_PERIOD_S)
            await self._fence_dead_processes()

    async def _serve(self, term: int) -> None:
        next_duty = 0.0
        next_preferred = self._clock() + PREFERRED_LEADER_PERIOD_S
        while self._still_leading(term):
            try:
                async with asyncio.timeout(DUTY_PERIOD_S):
                    command, fut = await self._queue.get()
            except TimeoutError:
                command = fut = None
            if fut is not None and not fut.done():
                try:
                    fut.set_result(await self._execute(command))
                except KraftError as exc:
                    fut.set_exception(exc)
                except asyncio.CancelledError:  # stopping: the caller must not wait forever
                    if not fut.done():
                        fut.set_exception(OutcomeUnknown("the controller stopped while proposing; "
                                                         "outcome unknown"))
                    raise
            now = self._clock()
            if now >= next_duty:
                next_duty = now + DUTY_PERIOD_S
                await self._duty(lambda image: (
                    fence_expired(image, self.heartbeats, self.now_ms(), self._defaults), {}))
            if now >= next_preferred:
                next_preferred = now + PREFERRED_LEADER_PERIOD_S
                await self._duty(lambda image: (
                    preferred_leader_changes(image, self._defaults), {}))

    async def _fence_dead_processes(self) -> None:
        """A kill -9'd broker need not wait out its whole session: when its heartbeats
        are overdue and its port refuses connections, nothing is running there."""
        if self._probe_down is None:
            return
        image = self._quorum.state_machine.image
        overdue = self.heartbeats.overdue(image, self.now_ms(), self._probe_after_ms)
        if not overdue:
            return
        verdicts = await asyncio.gather(*(self._probe_down(b) for b in overdue))
        dead = [b for b, down in zip(overdue, verdicts) if down]
        if dead:
            log.info("brokers %s are down (connection refused): fencing them now", dead)
            try:
                await self.submit(lambda image: (fence_brokers(
                    image, self._defaults, [b for b in dead if b in image.brokers
                                            and not image.brokers[b].fenced]), {}))
            except KraftError as exc:
                log.warning("fencing %s failed: %s", dead, exc.message)

    async def _duty(self, command: Command) -> None:
        try:
            await self._execute(command)
        except KraftError as exc:
            log.warning("controller duty failed: %s", exc.message)

    async def _execute(self, command: Command) -> dict:
        image = self._quorum.state_machine.image
        records, response = command(image)
        if not records:
            return response
        if self.epoch is None:
            raise NotController(f"node {self._node_id} is not the active controller")
        batch = MetadataBatch(controller_epoch=self.epoch, request_id=uuid.uuid4().hex,
                              records=tuple(records))
        try:
            result = await self._quorum.propose(encode_batch(batch), self._timeout)
        except ProposalTimeout as exc:
            raise OutcomeUnknown(f"timeout with unknown outcome: {exc}") from None
        except QuorumError as exc:
            raise NoActiveController(f"metadata quorum unavailable: {exc}") from None
        if not result.ok:
            raise ConcurrentMetadataChange(f"metadata changed concurrently, retry: {result.error}")
        for r in records:
            if getattr(r, "unclean", False):
                log.warning("UNCLEAN leader election: partition %s/%d now led by broker %s from "
                            "outside the ISR; records it lacks are lost", r.topic_id, r.partition,
                            r.leader)
        return {**response, "metadata_offset": result.offset}
