"""Broker-only nodes follow the metadata log over HTTP (Kafka's observers).

Long-poll any controller from our offset; replay the batches through our own state
machine (the same deterministic replay the voters run); take a full image when we
are further behind than the controllers keep batches, or when replay disagrees.
"""

from __future__ import annotations

import asyncio
import logging

from collections.abc import Callable

import orjson

from kraft.internode.peers import Peers, PeerUnreachable
from kraft.errors import KraftError
from kraft.metadata.image_codec import image_from_dict
from kraft.metadata.state_machine import MetadataStateMachine

log = logging.getLogger(__name__)

POLL_WAIT_MS = 2000
RETRY_PAUSE_S = 0.2


class _Behind(Exception):
    """The controller asked has an older image than ours: ask another."""


class MetadataFollower:
    def __init__(self, state_machine: MetadataStateMachine, controller_ids: list[int], peers: Peers,
                 on_applied: Callable[[], None]):
        self._sm = state_machine
        self._peers = peers
        self._on_applied = on_applied
        self._controllers = controller_ids
        self._turn = 0
        self.controller_id: int | None = None  # last active controller a voter told us of

    async def run(self) -> None:
        """Owned by the node's task group; returns only when cancelled."""
        want_image = False
        while True:
            target = self._controllers[self._turn % len(self._controllers)]
            try:
                want_image = await self._poll(target, want_image)
            except (PeerUnreachable, KraftError, _Behind, orjson.JSONDecodeError,
                    KeyError, TypeError) as exc:
                log.debug("metadata fetch from node %d failed: %s", target, exc)
                self._turn += 1
                await asyncio.sleep(RETRY_PAUSE_S)

    async def _poll(self, target: int, want_image: bool) -> bool:
        sm = self._sm
        params = {"after": str(sm.image.offset), "wait_ms": str(POLL_WAIT_MS)}
        if want_image:
            params = {"image": "1"}
        body = await self._peers.call_json(target, "GET", "/internal/v1/metadata", params=params,
                                           timeout_s=POLL_WAIT_MS / 1000 + 3)
        if body.get("controller_id") is not None:
            self.controller_id = body["controller_id"]
        if "image" in body:
            image = image_from_dict(body["image"])
            if image.offset < sm.image.offset:
                raise _Behind(f"node {target}'s image is behind ours")
            sm.install_image(image)
            self._on_applied()
            return False
        for offset, batch in body["batches"]:
            if offset <= sm.image.offset:
                continue
            result = sm.apply(batch)
            if not result.ok or result.offset != offset:
                log.warning("replay of metadata offset %d disagreed (%s); fetching the image",
                            offset, result.error)
                self._on_applied()
                return True
        if body["batches"]:
            self._on_applied()
        return False
