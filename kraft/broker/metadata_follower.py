"""Broker-only nodes follow the metadata log over HTTP (Kafka's observers).

Long-poll any controller from our offset; replay the batches through our own state
machine (the same deterministic replay the voters run); take a full image when we
are further behind than the controllers keep batches, or when replay disagrees.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson

from kraft.api.internal_routes import SECRET_HEADER
from kraft.metadata.image_codec import image_from_dict

log = logging.getLogger(__name__)

POLL_WAIT_MS = 2000
RETRY_PAUSE_S = 0.2


class MetadataFollower:
    def __init__(self, node, session: aiohttp.ClientSession):
        self._node = node
        self._session = session
        self._controllers = [n.id for n in node.config.controllers]
        self._turn = 0
        self.controller_id: int | None = None  # last active controller a voter told us of

    async def run(self) -> None:
        """Owned by the node's task group; returns only when cancelled."""
        want_image = False
        while True:
            target = self._controllers[self._turn % len(self._controllers)]
            try:
                want_image = await self._poll(target, want_image)
            except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError,
                    KeyError, TypeError) as exc:
                log.debug("metadata fetch from node %d failed: %s", target, exc)
                self._turn += 1
                await asyncio.sleep(RETRY_PAUSE_S)

    async def _poll(self, target: int, want_image: bool) -> bool:
        sm = self._node.state_machine
        url = self._node.node_url(target) + "/internal/v1/metadata"
        params = {"after": str(sm.image.offset), "wait_ms": str(POLL_WAIT_MS)}
        if want_image:
            params = {"image": "1"}
        timeout = aiohttp.ClientTimeout(total=POLL_WAIT_MS / 1000 + 3)
        async with self._session.get(url, params=params, timeout=timeout,
                                     headers={SECRET_HEADER: self._node.internal_secret}) as resp:
            if resp.status != 200:
                raise aiohttp.ClientError(f"HTTP {resp.status}")
            body = orjson.loads(await resp.read())
        if body.get("controller_id") is not None:
            self.controller_id = body["controller_id"]
        if "image" in body:
            image = image_from_dict(body["image"])
            if image.offset < sm.image.offset:
                raise aiohttp.ClientError(f"node {target}'s image is behind ours")  # try another
            sm.install_image(image)
            self._node.metadata_applied()
            return False
        for offset, batch in body["batches"]:
            if offset <= sm.image.offset:
                continue
            result = sm.apply(batch)
            if not result.ok or result.offset != offset:
                log.warning("replay of metadata offset %d disagreed (%s); fetching the image",
                            offset, result.error)
                self._node.metadata_applied()
                return True
        if body["batches"]:
            self._node.metadata_applied()
        return False
