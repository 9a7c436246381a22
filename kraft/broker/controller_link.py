"""Reaching the active controller from any node: run locally or forward over HTTP.

A call retries, within its deadline, only where retrying is safe: the target said it
is not the controller, or could not be reached at all. Any other answer (a user
error, an unknown outcome) goes back to the caller as it is.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson

from kraft.api.internal_routes import FORWARDED_HEADER, SECRET_HEADER
from kraft.controller.commands import build_command
from kraft.controller.quorum_controller import NotController
from kraft.errors import NoQuorum, error_from_json

RETRY_PAUSE_S = 0.05


class ControllerLink:
    def __init__(self, node, session: aiohttp.ClientSession, timeout_s: float):
        self._node = node
        self._session = session
        self._timeout = timeout_s

    async def call(self, op: str, payload, forwarded: bool = False) -> dict:
        node = self._node
        deadline = time.monotonic() + self._timeout
        last_problem = "no controller known yet"
        while True:
            controller = node.controller
            if controller is not None and controller.active:
                command = build_command(op, payload, controller, node.topic_defaults)
                try:
                    return await controller.submit(command)
                except NotController as exc:
                    last_problem = exc.message
            elif forwarded:
                raise NotController(f"node {node.node_id} is not the active controller")
            else:
                target = node.controller_target()
                if target is not None and target != node.node_id:
                    try:
                        return await self._forward(target, op, payload, deadline)
                    except _TryElsewhere as exc:
                        last_problem = str(exc)
            if time.monotonic() >= deadline:
                raise NoQuorum(f"no active controller answered within {self._timeout:.1f}s "
                               f"({last_problem})")
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _forward(self, target: int, op: str, payload, deadline: float) -> dict:
        url = self._node.node_url(target) + f"/internal/v1/controller/{op}"
        headers = {SECRET_HEADER: self._node.internal_secret, FORWARDED_HEADER: "1",
                   "Content-Type": "application/json"}
        left = max(0.1, deadline - time.monotonic())
        try:
            async with self._session.post(url, data=orjson.dumps(payload), headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=left)) as resp:
                body = orjson.loads(await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError) as exc:
            raise _TryElsewhere(f"node {target} unreachable: {type(exc).__name__}") from None
        if resp.status == 200:
            return body
        if isinstance(body, dict) and body.get("not_controller"):
            raise _TryElsewhere(f"node {target} is not the controller")
        raise error_from_json(resp.status, body)


class _TryElsewhere(Exception):
    pass

