"""The active controller: a single-consumer queue of commands on the Raft leader.

Commands are pure functions `image -> ControllerResult` (records and answer, result.py).
This class takes every command waiting in its queue (up to MAX_BATCH_COMMANDS), runs
each against the image the ones before it leave (the latest image with their records
replayed, as Kafka's controller runs commands against its in-memory state ahead of the
commit), proposes
all their records as one Raft entry stamped with the controller epoch (the Raft term it
was elected in), and answers each once that entry is applied. One entry per batch
instead of one per command is what keeps concurrent creators from queueing behind one
commit each. It also runs the periodic duties: fencing brokers whose session expired,
moving leadership back to preferred replicas, finishing reassignments and moving
replicas off brokers being decommissioned, and the moves of a running rebalance.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from dataclasses import replace
from collections.abc import Awaitable, Sequence
from typing import Any, Callable

from kraft.controller.result import ControllerResult
from kraft.controller.broker_control import BrokerHeartbeats, fence_brokers
from kraft.controller.decommission import advance as advance_decommissions
from kraft.controller.preferred_leader import preferred_leader_changes
from kraft.controller.reassignment import finish_ready
from kraft.controller.rebalance import advance as advance_rebalance
from kraft.controller.security_control import bootstrap_users
from kraft.controller import voter_changes
from kraft.errors import (
    ConcurrentMetadataChange,
    KraftError,
    NoActiveController,
    NotController,
    OutcomeUnknown,
)
from kraft.quorum.protocol import ProposalOutcomeUnknown, Quorum, QuorumError
from kraft.metadata.delta import MetadataDelta, RecordRejected
from kraft.metadata.image import MetadataImage
from kraft.security.scram import ScramCredential
from kraft.metadata.records import BecomeController, MetadataBatch, MetadataRecord, PartitionChange, encode_batch

log = logging.getLogger(__name__)

Command = Callable[[MetadataImage], ControllerResult]
Answer = dict[str, Any]  # what a command's caller gets (ControllerResult.answer, and the offset)
Waiting = tuple[Command, "asyncio.Future[Answer]"]  # a submitted command and its caller's future

LEADERSHIP_POLL_S = 0.05
DUTY_PERIOD_S = 0.1
PREFERRED_LEADER_PERIOD_S = 5.0
STALL_S = 0.5  # a sleep overrunning this much means the process itself was stuck
# Commands folded into one Raft entry. KRAFT_CONTROLLER_MAX_BATCH=1 gives one entry per
# command, for side-by-side benchmarks (bench/metadata_storm.py --compare-batching).
MAX_BATCH_COMMANDS = int(os.environ.get("KRAFT_CONTROLLER_MAX_BATCH", "64"))


def image_after(image: MetadataImage, records: Sequence[MetadataRecord]) -> MetadataImage:
    """`image` with `records` replayed as part of the batch that will follow it; the
    offset stays the committed one, so a command sees `image.offset + 1` as the offset its
    batch will get. Raises RecordRejected where the real replay would."""
    delta = MetadataDelta(image, image.offset + 1)
    for record in records:
        delta.replay(record)
    return replace(delta.apply(), offset=image.offset)


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
        probe_down: Callable[[int], Awaitable[bool]] | None = None,
        bootstrap_credentials: dict[str, ScramCredential] | None = None,
        auto_leader_rebalance: bool = True,
    ) -> None:
        """probe_down(broker_id) -> awaitable bool: True only when the broker's process
        is certainly gone (its port refuses connections). bootstrap_credentials: users
        from cluster.toml, written by each new controller when the log has none of that name."""
        self._quorum = quorum
        self._node_id = node_id
        self._defaults = defaults
        self._clock = clock
        self._timeout = request_timeout_s
        self.heartbeats = BrokerHeartbeats(session_timeout_ms)
        self._queue: asyncio.Queue[Waiting] = asyncio.Queue()
        self._probe_down = probe_down
        self._probe_after_ms = 2 * heartbeat_interval_ms
        self.epoch: int | None = None  # set while this node is the active controller
        self._loop_seen = clock()  # last pass of a duty loop (see _credit_stall)
        self._bootstrap_credentials = dict(bootstrap_credentials or {})
        self._auto_leader_rebalance = auto_leader_rebalance
        self._partitions_checked: object = None  # the topics map finish_ready last found nothing in
        # the maps advance_decommissions last found nothing in
        self._decommissions_checked: tuple[object, ...] | None = None
        self._rebalance_checked: tuple[object, ...] | None = None  # the same for advance_rebalance

    @property
    def active(self) -> bool:
        return self.epoch is not None

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def submit(self, command: Command) -> Answer:
        """The command's answer once its records commit; a command with an `at_once(image)`
        is answered by the committed image instead when that gives an answer (a heartbeat
        that changes nothing, commands.HeartbeatCommand), as a read."""
        if not self.active:
            raise NotController(f"node {self._node_id} is not the active controller")
        at_once: Callable[[MetadataImage], Answer | None] | None = getattr(command, "at_once", None)
        if at_once is not None and (answer := at_once(self._quorum.state_machine.image)) is not None:
            return answer
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self._queue.put((command, fut))
        return await fut

    async def change_voters(self, op: str, node_id: int) -> Answer:
        """Add or remove one voter of the Raft quorum (not a metadata record: voter_changes)."""
        if not self.active:
            raise NotController(f"node {self._node_id} is not the active controller")
        return await voter_changes.change_voters(self._quorum, op, node_id)

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
        self._loop_seen = self._clock()
        if self._bootstrap_credentials:
            await self._duty(lambda image: ControllerResult(
                bootstrap_users(image, self._bootstrap_credentials), {}))
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
            self._credit_stall()
            await self._fence_dead_processes()

    async def _serve(self, term: int) -> None:
        next_duty = 0.0
        next_preferred = self._clock() + PREFERRED_LEADER_PERIOD_S
        while self._still_leading(term):
            try:
                async with asyncio.timeout(DUTY_PERIOD_S):
                    waiting = [await self._queue.get()]
            except TimeoutError:
                waiting = []
            while waiting and len(waiting) < MAX_BATCH_COMMANDS and not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            waiting = [(command, fut) for command, fut in waiting if not fut.done()]
            if waiting:
                await self._run_batch(waiting)
            now = self._clock()
            if now >= next_duty:
                next_duty = now + DUTY_PERIOD_S
                await self._duty(self._fence_expired)
                await self._duty(self._finish_reassignments)
                image = self._quorum.state_machine.image
                if image.decommissioning:
                    await self._duty(self._advance_decommissions)
                if image.rebalance is not None and image.rebalance.running:
                    await self._duty(self._advance_rebalance)
            if now >= next_preferred and self._auto_leader_rebalance:
                next_preferred = now + PREFERRED_LEADER_PERIOD_S
                await self._duty(lambda image: ControllerResult(
                    preferred_leader_changes(image, self._defaults), {}))

    def _credit_stall(self) -> None:
        """Both duty loops pass here every DUTY_PERIOD_S. A longer gap means this process,
        not the brokers, was stuck (CPU, GC): heartbeats that arrived meanwhile are not
        read yet, so no broker's session pays for the time lost."""
        now = self._clock()
        stalled_s = now - self._loop_seen - DUTY_PERIOD_S
        self._loop_seen = now
        if stalled_s > STALL_S:
            log.warning("controller stalled %.1f s: extending broker sessions by it", stalled_s)
            self.heartbeats.extend(int(stalled_s * 1000))

    def _fence_expired(self, image: MetadataImage) -> ControllerResult:
        self._credit_stall()
        expired = self.heartbeats.expired(image, self.now_ms())
        if not expired:
            return ControllerResult([], {})
        log.warning("fencing brokers %s: session expired (no heartbeat for %d ms)", expired,
                    self.heartbeats.session_timeout_ms)
        return ControllerResult(fence_brokers(image, self._defaults, expired), {})

    def _finish_reassignments(self, image: MetadataImage) -> ControllerResult:
        """Completes reassignments whose new replicas are in sync. Partitions only change
        with the topics map (copy on write), so an unchanged map is not scanned again."""
        if image.topics is self._partitions_checked:
            return ControllerResult([], {})
        records = finish_ready(image)
        if not records:  # a proposed completion that fails is looked for again
            self._partitions_checked = image.topics
        return ControllerResult(records, {})

    def _advance_decommissions(self, image: MetadataImage) -> ControllerResult:
        """Moves replicas off brokers being decommissioned; what it reads (partitions,
        brokers, decommissions) only changes with those maps, so unchanged ones are skipped."""
        maps = (image.topics, image.brokers, image.decommissioning)
        if self._decommissions_checked is not None and all(
                a is b for a, b in zip(maps, self._decommissions_checked)):
            return ControllerResult([], {})
        records = advance_decommissions(image)
        if not records:  # a proposed move that fails is looked for again
            self._decommissions_checked = maps
        return ControllerResult(records, {})

    def _advance_rebalance(self, image: MetadataImage) -> ControllerResult:
        """Starts a running rebalance's next moves (and ends it when none is left);
        skipped while what it reads is unchanged, as for decommissions."""
        maps = (image.topics, image.brokers, image.rebalance)
        if self._rebalance_checked is not None and all(a is b for a, b in zip(maps, self._rebalance_checked)):
            return ControllerResult([], {})
        records = advance_rebalance(image)
        if not records:
            self._rebalance_checked = maps
        return ControllerResult(records, {})

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
                await self.submit(lambda image: ControllerResult(fence_brokers(
                    image, self._defaults, [b for b in dead if b in image.brokers
                                            and not image.brokers[b].fenced]), {}))
            except KraftError as exc:
                log.warning("fencing %s failed: %s", dead, exc.message)

    async def _duty(self, command: Command) -> None:
        try:
            await self._execute(command)
        except KraftError as exc:
            log.warning("controller duty failed: %s", exc.message)

    async def _execute(self, command: Command) -> Answer:
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        await self._run_batch([(command, fut)])
        return fut.result()

    async def _run_batch(self, waiting: list[Waiting]) -> None:
        """Run the commands in order, each against the image the ones before it leave,
        propose their records as one entry, and settle every future. An answer that rests
        on records not yet committed (a refusal or a read after an earlier create in the
        same batch) waits for them, and becomes a retriable error if they fail."""
        image = self._quorum.state_machine.image
        records: list[MetadataRecord] = []
        # (future, response) of commands with records in the entry
        proposed: list[tuple[asyncio.Future[Answer], Answer]] = []
        # (future, response or error) resting on uncommitted records
        dependent: list[tuple[asyncio.Future[Answer], Answer | KraftError]] = []
        for position, (command, fut) in enumerate(waiting):
            if position:  # a batch of large commands (catch-up's ISR changes) lets the loop in
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:  # stopping before anything was proposed
                    for _, unsettled in waiting:
                        _settle(unsettled, NotController("the controller stopped; retry"))
                    raise
            try:
                own, response = command(image)
                if own:
                    image = image_after(image, own)
            except (KraftError, RecordRejected) as exc:
                error = exc if isinstance(exc, KraftError) else ConcurrentMetadataChange(
                    f"metadata changed concurrently, retry: {exc}")
                if records:
                    dependent.append((fut, error))
                else:
                    _settle(fut, error)
                continue
            if own:
                records += own
                proposed.append((fut, response))
            elif records:
                dependent.append((fut, response))
            else:
                _settle(fut, response)
        if not proposed:
            return
        try:
            offset = await self._propose(records)
        except KraftError as exc:
            for fut, _ in proposed:
                _settle(fut, exc)
            for fut, _ in dependent:
                _settle(fut, ConcurrentMetadataChange(
                    f"the metadata this answer rests on did not commit ({exc.message}); retry"))
            return
        except asyncio.CancelledError:  # stopping: no caller may wait forever
            for fut, _ in proposed:
                _settle(fut, OutcomeUnknown("the controller stopped while proposing; outcome unknown"))
            for fut, _ in dependent:
                _settle(fut, NotController("the controller stopped; retry"))
            raise
        for fut, response in proposed:
            _settle(fut, {**response, "metadata_offset": offset})
        for fut, answer in dependent:
            _settle(fut, answer)

    async def _propose(self, records: list[MetadataRecord]) -> int:
        if self.epoch is None:
            raise NotController(f"node {self._node_id} is not the active controller")
        batch = MetadataBatch(controller_epoch=self.epoch, request_id=uuid.uuid4().hex,
                              records=tuple(records))
        try:
            result = await self._quorum.propose(encode_batch(batch), self._timeout)
        except ProposalOutcomeUnknown as exc:
            raise OutcomeUnknown(f"metadata write outcome unknown: {exc}") from None
        except QuorumError as exc:  # certainly not in the log: a refusal
            raise NoActiveController(f"metadata quorum unavailable: {exc}") from None
        if not result.ok:
            raise ConcurrentMetadataChange(f"metadata changed concurrently, retry: {result.error}")
        for r in records:
            if getattr(r, "unclean", False):
                assert isinstance(r, PartitionChange)  # the one record that marks an unclean election
                log.warning("UNCLEAN leader election: partition %s/%d now led by broker %s from "
                            "outside the ISR; records it lacks are lost", r.topic_id, r.partition,
                            r.leader)
        return result.offset


def _settle(fut: asyncio.Future[Answer], answer: Answer | BaseException) -> None:
    """Answer a command's caller, unless it stopped waiting."""
    if fut.done():
        return
    if isinstance(answer, BaseException):
        fut.set_exception(answer)
    else:
        fut.set_result(answer)
