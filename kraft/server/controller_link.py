"""Reaching the active controller from any node: run locally or forward over HTTP.

A call retries, within its deadline, only where retrying is safe: the target said it
is not the controller, or no connection to it could be made. Any other answer (a user
error, an unknown outcome) goes back to the caller as it is, and a forwarded call that
got no answer is an unknown outcome: the controller may have committed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from collections.abc import Callable

from kraft.internode.peers import Peers, PeerUnreachable
from kraft.controller.commands import build_command, voter_change_of
from kraft.controller.voter_changes import VOTER_CHANGE_TIMEOUT_S, VOTER_OPS
from kraft.controller.quorum_controller import QuorumController
from kraft.errors import NoActiveController, NotController, OutcomeUnknown

RETRY_PAUSE_S = 0.05
TARGET_CHECK_S = 0.1
# Sending one of these twice is harmless, so one in flight to a controller that went
# silent is given up once another is known, and sent there (Kafka's brokers drop their
# in-flight controller requests when the active controller changes). A new controller
# gives every broker a fresh session at election; a heartbeat held until the request
# timeout (5 s) by the old, frozen one outlived it, and the new one fenced every broker.
RESENDABLE_OPS = frozenset({"heartbeat"})


class ControllerLink:
    def __init__(self, node_id: int, controller: QuorumController | None,
                 controller_target: Callable[[], int | None], topic_defaults: dict[str, str],
                 peers: Peers, timeout_s: float):
        """controller: this node's own (None on a broker-only node); controller_target():
        the node believed to be the active controller."""
        self._node_id = node_id
        self._controller = controller
        self._target = controller_target
        self._topic_defaults = topic_defaults
        self._peers = peers
        self._timeout = timeout_s

    async def call(self, op: str, payload, local_only: bool = False) -> dict:
        # a voter change may wait for an observer to catch up, or for leadership to move
        deadline = time.monotonic() + (VOTER_CHANGE_TIMEOUT_S if op in VOTER_OPS else self._timeout)
        last_problem = "no controller known yet"
        while True:
            controller = self._controller
            if controller is not None and controller.active:
                try:
                    voter = voter_change_of(op, payload)
                    if voter is not None:
                        return await controller.change_voters(op, voter)
                    return await controller.submit(build_command(op, payload, controller, self._topic_defaults))
                except NotController as exc:
                    last_problem = exc.message
            elif local_only:
                raise NotController(f"node {self._node_id} is not the active controller")
            else:
                target = self._target()
                if target is not None and target != self._node_id:
                    try:
                        return await self._forward(target, op, payload, deadline)
                    except _TryElsewhere as exc:
                        last_problem = str(exc)
            if time.monotonic() >= deadline:
                raise NoActiveController(f"no active controller answered within {self._timeout:.1f}s "
                                         f"({last_problem})")
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _forward(self, target: int, op: str, payload, deadline: float) -> dict:
        left = max(0.1, deadline - time.monotonic())
        request = self._peers.call_json(target, "POST", f"/internal/v1/controller/{op}",
                                        payload=payload, timeout_s=left)
        try:
            if op in RESENDABLE_OPS:
                return await self._unless_target_moves(target, request)
            return await request
        except PeerUnreachable as exc:
            if exc.never_sent:
                raise _TryElsewhere(str(exc)) from None
            raise OutcomeUnknown(f"forwarded {op} to the controller (node {target}) but got no "
                                 f"answer ({type(exc.cause).__name__}); it may have been applied") from None
        except NotController:
            raise _TryElsewhere(f"node {target} is not the controller") from None

    async def _unless_target_moves(self, target: int, request) -> dict:
        task = asyncio.ensure_future(request)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=TARGET_CHECK_S)
                if done:
                    return task.result()
                if self._target() != target:
                    raise _TryElsewhere(f"the active controller moved from node {target} "
                                        f"while it was silent")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


class _TryElsewhere(Exception):
    pass
