"""A broker's life with the controller: register, heartbeat, controlled shutdown.

Registration carries a fresh incarnation id per process start, so the controller
can tell a restart (move this broker's leaderships) from a retried registration.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from kraft.errors import KraftError, StaleBrokerEpoch

log = logging.getLogger(__name__)


class BrokerLifecycle:
    def __init__(self, node, heartbeat_interval_s: float):
        self._node = node
        self._interval = heartbeat_interval_s
        self.incarnation_id = uuid.uuid4().hex
        self.broker_epoch: int | None = None

    async def run(self) -> None:
        """Owned by the node's task group; returns only when cancelled."""
        while True:
            if self.broker_epoch is None:
                await self._register()
            try:
                await self._node.controller_call("heartbeat", {
                    "broker_id": self._node.node_id,
                    "broker_epoch": self.broker_epoch,
                    "metadata_offset": self._node.image.offset,
                })
            except StaleBrokerEpoch:
                log.info("broker epoch %s is stale; registering again", self.broker_epoch)
                self.broker_epoch = None
                continue
            except KraftError as exc:
                log.debug("heartbeat failed: %s", exc.message)
            await asyncio.sleep(self._interval)

    async def _register(self) -> None:
        node = self._node
        cfg = node.node_config
        while self.broker_epoch is None:
            try:
                result = await node.controller_call("register", {
                    "broker_id": node.node_id,
                    "incarnation_id": self.incarnation_id,
                    "host": cfg.host,
                    "http_port": cfg.http_port,
                    "roles": list(cfg.roles),
                })
                self.broker_epoch = result["broker_epoch"]
                if node.replica_manager is not None:
                    node.replica_manager.broker_epoch = self.broker_epoch
                    node.metadata_applied()  # replicas may start once the image has us
                log.info("registered as broker %d, epoch %d", node.node_id, self.broker_epoch)
            except KraftError as exc:
                log.debug("registration failed, retrying: %s", exc.message)
                await asyncio.sleep(self._interval)

    async def controlled_shutdown(self, timeout_s: float) -> int | None:
        """Move this broker's leaderships away before the process exits (best effort).
        Returns the metadata offset that holds the moves."""
        if self.broker_epoch is None:
            return None
        try:
            async with asyncio.timeout(timeout_s):
                result = await self._node.controller_call("shutdown", {
                    "broker_id": self._node.node_id, "broker_epoch": self.broker_epoch,
                })
            log.info("controlled shutdown: %s leaderships moved", result.get("moved"))
            return result.get("metadata_offset")
        except (KraftError, TimeoutError) as exc:
            log.warning("controlled shutdown incomplete: %s", exc)
            return None
