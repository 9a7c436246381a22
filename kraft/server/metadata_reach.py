"""How far the other nodes' metadata has come: the active controller's committed offset
(a barrier before answering from this node's image), and which nodes have not applied
an offset yet (a deleted user or a revoked ACL holds once every node has it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from kraft.errors import UnknownServerError
from kraft.internode.peers import PeerUnreachable

OFFSET_PATH = "/internal/v1/metadata/offset"
GetJson = Callable[..., Awaitable[tuple[int, object]]]  # (node id, path, timeout_s=) -> (status, body)


async def committed_offset(get_json: GetJson, controller: int, timeout_s: float) -> int | None:
    """The metadata offset the active controller has committed; None when it cannot say."""
    try:
        status, body = await get_json(controller, OFFSET_PATH, timeout_s=timeout_s)
    except (PeerUnreachable, UnknownServerError):
        return None
    if status != 200 or not isinstance(body, dict) or not body.get("active_controller"):
        return None
    return int(body["offset"])


async def not_applied(get_json: GetJson, others: list[int], offset: int, deadline: float) -> list[int]:
    """The nodes not known to have applied `offset` by the deadline (asked until then)."""
    async def applied(node_id: int) -> bool:
        while time.monotonic() < deadline:
            try:
                status, body = await get_json(node_id, OFFSET_PATH,
                                              timeout_s=max(0.1, min(1.0, deadline - time.monotonic())))
            except (PeerUnreachable, UnknownServerError):
                return False
            if status == 200 and isinstance(body, dict) and body.get("offset", -1) >= offset:
                return True
            await asyncio.sleep(0.05)
        return False
    results = await asyncio.gather(*(applied(n) for n in others))
    return [n for n, ok in zip(others, results) if not ok]
