"""Reaching the active controller from any node: run locally or forward over HTTP.

A call retries, within its deadline, only where retrying is safe: the target said it
is not the controller, or no connection to it could be made. Any other answer (a user
error, an unknown outcome) goes back to the caller as it is, and a forwarded call that
got no answer is an unknown outcome: the controller may have committed it.
"""

from __future__ import annotations

import asyncio
import time

from collections.abc import Callable

from kraft.broker.peers import Peers, PeerUnreachable
from kraft.controller.commands import build_command
from kraft.controller.quorum_controller import QuorumController
from kraft.errors import NoActiveController, NotController, OutcomeUnknown

RETRY_PAUSE_S = 0.05


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

    async def call(self, op: str, payload, local_only: bool = False, timeout_s: float | None = None) -> dict:
        """timeout_s: this call's bound, when shorter than the controller request timeout."""
        limit = self._timeout if timeout_s is None else min(timeout_s, self._timeout)
        deadline = time.monotonic() + limit
        last_problem = "no controller known yet"
        while True:
            controller = self._controller
            if controller is not None and controller.active:
                command = build_command(op, payload, controller, self._topic_defaults)
                try:
                    return await controller.submit(command)
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
                raise NoActiveController(f"no active controller answered within {limit:.1f}s "
                                         f"({last_problem})")
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _forward(self, target: int, op: str, payload, deadline: float) -> dict:
        left = max(0.1, deadline - time.monotonic())
        try:
            return await self._peers.call_json(target, "POST", f"/internal/v1/controller/{op}",
                                               payload=payload, timeout_s=left)
        except PeerUnreachable as exc:
            if exc.never_sent:
                raise _TryElsewhere(str(exc)) from None
            raise OutcomeUnknown(f"forwarded {op} to the controller (node {target}) but got no "
                                 f"answer ({type(exc.cause).__name__}); it may have been applied") from None
        except NotController:
            raise _TryElsewhere(f"node {target} is not the controller") from None


class _TryElsewhere(Exception):
    pass
