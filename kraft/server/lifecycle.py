"""A broker's life with the controller: register, heartbeat, controlled shutdown.

Registration carries a fresh incarnation id per process start, so the controller
can tell a restart (move this broker's leaderships) from a retried registration.
A decommissioned broker's registration is refused: it keeps
running, registers nothing and retries slowly, so a recommission brings it back.
A broker whose heartbeats have gone unanswered for a whole session knows what the
controller has done meanwhile: fenced it. It says so (`session_lapsed`), even while
its own metadata, cut off too, still shows it unfenced.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kraft.config.cluster import NodeConfig
from kraft.errors import BrokerDecommissioned, KraftError
from kraft.internode.peers import Peers
from kraft.server import tls
from kraft.server.controller_link import ControllerLink
from kraft.server.heartbeat_thread import HeartbeatThread

log = logging.getLogger(__name__)

# A decommissioned broker asks again this seldom: it comes back only once recommissioned.
DECOMMISSIONED_RETRY_S = 5.0


class BrokerLifecycle:
    def __init__(self, node_config: NodeConfig, controller_call: Callable[[str, dict], Awaitable[dict]],
                 metadata_offset: Callable[[], int], registered: Callable[[int], None],
                 heartbeat_interval_s: float, session_timeout_s: float, beats: HeartbeatThread,
                 clock: Callable[[], float] = time.monotonic,
                 log_dir_failed: Callable[[], bool] = lambda: False,
                 logs_intact: Callable[[], bool] = lambda: True,
                 observe_gap: Callable[[float], None] = lambda gap_s: None):
        """registered(broker_epoch) is told of every accepted registration; beats sends the
        heartbeats from a thread of their own;
        log_dir_failed() says whether the data dir takes writes (sent in each heartbeat);
        logs_intact() whether the logs hold all the previous run wrote (Kafka's clean
        shutdown, sent with the first registration of this process); observe_gap(s) is
        told the time between the sending of one accepted heartbeat and the next (what
        the controller's session for this broker sees: a stalled loop shows here first)."""
        self._config = node_config
        self._call = controller_call
        self._metadata_offset = metadata_offset
        self._registered = registered
        self._interval = heartbeat_interval_s
        self._session_s = session_timeout_s
        self._clock = clock
        self._log_dir_failed = log_dir_failed
        self._logs_intact = logs_intact
        self._observe_gap = observe_gap
        self._beats = beats
        self._first_registration_done = False  # later ones: this process lost nothing
        self._last_accepted: float | None = None  # when the controller last answered a heartbeat
        self.incarnation_id = uuid.uuid4().hex
        self.broker_epoch: int | None = None

    async def run(self) -> None:
        """Owned by the node's task group; returns only when cancelled."""
        self._beats.start()
        try:
            while True:
                if self.broker_epoch is None:
                    await self._register()
                await self._beats.beat_until_stale(self._heartbeat, self._accepted, self._interval)
                log.info("broker epoch %s is stale; registering again", self.broker_epoch)
                self.broker_epoch = None
        finally:
            await asyncio.to_thread(self._beats.stop)

    def _heartbeat(self) -> dict:
        """What a heartbeat says (read from the heartbeat thread too: plain reads)."""
        return {"broker_id": self._config.id, "broker_epoch": self.broker_epoch,
                "metadata_offset": self._metadata_offset(), "log_dir_failed": self._log_dir_failed()}

    def _accepted(self, sent: float) -> None:
        """A heartbeat sent at `sent` was accepted (answers may come out of order)."""
        last = self._last_accepted
        if last is not None and sent <= last:
            return
        if last is not None:
            self._observe_gap(sent - last)
        self._last_accepted = sent

    def session_lapsed(self) -> bool:
        """No heartbeat sent within the last session was answered: the controller has
        fenced this broker, or cannot be reached to say otherwise."""
        return self._last_accepted is not None and self._clock() - self._last_accepted > self._session_s

    async def _register(self) -> None:
        cfg = self._config
        told_decommissioned = False
        while self.broker_epoch is None:
            try:
                result = await self._call("register", {
                    "broker_id": cfg.id,
                    "incarnation_id": self.incarnation_id,
                    "host": cfg.host,
                    "http_port": cfg.http_port,
                    "kafka_port": cfg.kafka_port,
                    "rack": cfg.rack,
                    "roles": list(cfg.roles),
                    "clean_shutdown": self._first_registration_done or self._logs_intact(),
                    # only when set: a controller of an earlier kraft refuses a field it does not know
                    **({"inter_broker_port": cfg.inter_broker_port} if cfg.inter_broker_port else {}),
                    **({"host_name": cfg.host_name} if cfg.host_name else {}),
                })
                self._first_registration_done = True
                self.broker_epoch = result["broker_epoch"]
                self._last_accepted = self._clock()
                self._registered(self.broker_epoch)
                log.info("registered as broker %d, epoch %d", cfg.id, self.broker_epoch)
            except BrokerDecommissioned as exc:
                if not told_decommissioned:  # once: it may stay this way for good
                    log.warning("not registering: %s; this node may be shut down", exc.message)
                    told_decommissioned = True
                await asyncio.sleep(max(self._interval, DECOMMISSIONED_RETRY_S))
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
                result = await self._call("shutdown", {
                    "broker_id": self._config.id, "broker_epoch": self.broker_epoch,
                })
            log.info("controlled shutdown: %s leaderships moved", result.get("moved"))
            return result.get("metadata_offset")
        except (KraftError, TimeoutError) as exc:
            log.warning("controlled shutdown incomplete: %s", exc)
            return None


def broker_lifecycle(node: Any) -> BrokerLifecycle:
    """A broker node's lifecycle (node: kraft.server.node.Node, which imports this module),
    its heartbeats from a thread of their own."""
    t, replicas = node.config.timeouts, lambda: node.replica_manager

    def thread_peers() -> Peers:
        return Peers(node.peer_key, node.node_url, node.node_config.source_host, tls.client_context(node.config))

    def forwarding_link(peers: Peers) -> ControllerLink:  # no controller of its own: it only forwards
        return ControllerLink(node.node_id, None, node.controller_target, node.topic_defaults, peers,
                              t.controller_request_timeout_ms / 1000)

    beats = HeartbeatThread(thread_peers, forwarding_link, lambda: node.controller_target() == node.node_id,
                            node.link.call)
    return BrokerLifecycle(node.node_config, node.link.call, lambda: node.image.offset, node.registered,
                           t.broker_heartbeat_interval_ms / 1000, t.broker_session_timeout_ms / 1000, beats,
                           log_dir_failed=lambda: (r := replicas()) is not None and r.disk.failed,
                           logs_intact=lambda: (r := replicas()) is None or bool(r.logs_intact),
                           observe_gap=node.metrics.heartbeat_gap.observe)
