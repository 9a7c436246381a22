"""The composition root: one node process, its parts, and their order of shutdown.

Every background loop belongs to the node's TaskGroup; `run` returns only after all of
them have stopped, the HTTP server is closed, and the Raft seat is destroyed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web

from kraft.broker.access import AccessControl, bootstrap_credentials
from kraft.broker.client_quotas import ClientQuotaManager
from kraft.broker.services import BrokerServices
from kraft.internode.peers import Peers, PeerUnreachable
from kraft.broker.producer_ids import ProducerIdAllocator, block_requester
from kraft.server.lifecycle import broker_lifecycle
from kraft.server.metadata_follower import MetadataFollower
from kraft.config.cluster import ClusterConfig
from kraft.config.cluster_keys import peer_key, raft_key
from kraft.metadata.effective_configs import effective_topic_configs
from kraft.controller.quorum_controller import QuorumController
from kraft.server.controller_link import ControllerLink
from kraft.server.connection_guard import ConnectionGuard
from kraft.server.controller_start import start_controller
from kraft.server.http_app import node_app
from kraft.config.data_dir import DataDirIdentity
from kraft.broker.data_plane import DataPlane
from kraft.errors import BrokerNotAvailable, MetadataNotReady, NotLeaderOrFollower, UnknownServerError
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.transactions.txn_coordinator import TransactionCoordinator
from kraft.server.kafka_listeners import KafkaListeners
from kraft.broker.partition_reader import PartitionReader
from kraft.server.metadata_reach import committed_offset, not_applied
from kraft.server.metadata_waiters import MetadataWaiters
from kraft.server import tls
from kraft.server.loop_lag import LoopLagProbe
from kraft.server.memory_return import MemoryReturner
from kraft.server.service_notify import ReadyNotice, ServiceNotifier
from kraft.server.metrics import NodeMetrics
from kraft.server.registry_site import registry_site
from kraft.server.wrong_door import kafka_at_http_hint
from kraft.server.security_notice import unenforced_security
from kraft.server.startup_failure import listening
from kraft.server.quorum_view import describe_quorum, local_description
from kraft.quorum.raft import RaftQuorum
from kraft.quorum.raft_timing import QuorumTimings
from kraft.metadata.changes import NOTHING
from kraft.metadata.image import MetadataImage
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.metadata.write_readiness import BelowMinIsr
from kraft.server.broker_links import BrokerLinks
from kraft.replication.replica_manager import ReplicaManager
from kraft.server.coordinators import NodeTask, build_coordinators
from kraft.share.share_broker import ShareBroker

log = logging.getLogger(__name__)

SHUTDOWN_MOVE_TIMEOUT_S = 5.0
SHUTDOWN_GRACE_S = 2.0


class Node:
    def __init__(self, config: ClusterConfig, node_id: int, identity: DataDirIdentity,
                 quorum=None):
        self.config = config
        self.node_id = node_id
        self.node_config = config.node(node_id)
        self.cluster_id = identity.cluster_id
        self.peer_key = peer_key(identity)
        self.topic_defaults = dict(config.topic_defaults)
        self.below_min_isr = BelowMinIsr(self.topic_defaults)  # /status/ready?acks=all, as images come
        t = config.timeouts
        self._request_timeout_s = t.controller_request_timeout_ms / 1000
        if quorum is None and self.node_config.is_controller:
            quorum = RaftQuorum(
                node_id,
                # every controller has a raft address (checked when the config loads)
                {n.id: n.raft_address for n in config.controllers if n.raft_address is not None},
                self.node_config.data_path,
                raft_key(identity),
                timings=QuorumTimings(t.controller_quorum_fetch_timeout_ms / 1000,
                                      t.controller_quorum_election_timeout_ms / 1000),
                bind_address=self.node_config.raft_bind_address,
                source_host=self.node_config.source_host,
            )
        self.quorum = quorum
        self.state_machine = quorum.state_machine if quorum else MetadataStateMachine()
        self.controller = (
            QuorumController(quorum, node_id, self.topic_defaults,
                             t.broker_session_timeout_ms, self._request_timeout_s,
                             heartbeat_interval_ms=t.broker_heartbeat_interval_ms,
                             probe_down=self._broker_process_gone,
                             bootstrap_credentials=bootstrap_credentials(config.security),
                             auto_leader_rebalance=config.cluster.auto_leader_rebalance_enable)
            if quorum else None
        )
        self.waiters = MetadataWaiters(lambda: self.state_machine.image.offset)
        if quorum:
            quorum.add_apply_listener(self.metadata_applied)
        self.metrics = NodeMetrics(self)
        self.broker_links = BrokerLinks(config, node_id, lambda: self.image, self.peer_key, self.node_config.source_host)
        self.access = AccessControl(config.security, lambda: self.state_machine.image,
                                    ready=self.security_metadata_current,
                                    broker_credential=self.broker_links.credential)
        self.tls_server = tls.server_context(config)  # None without [security] tls_cert
        self.peers = Peers(self.peer_key, self.node_url, self.node_config.source_host, tls.client_context(config))
        self.connections = ConnectionGuard({n.host for n in config.nodes},
                                           kafka_hint=kafka_at_http_hint(self.node_config))
        self.registry_site = registry_site(config, node_id, self.peer_key, self.tls_server, tls.client_context(config))
        self.link = ControllerLink(node_id, self.controller, self.controller_target, self.topic_defaults,
                                   self.peers, self._request_timeout_s)
        self.lifecycle = broker_lifecycle(self) if self.node_config.is_broker else None
        self.producer_ids = (ProducerIdAllocator(block_requester(
            node_id, lambda: self.lifecycle.broker_epoch if self.lifecycle else None, self.link.call))
            if self.lifecycle is not None else None)
        self.follower: MetadataFollower | None = None
        self.replica_manager: ReplicaManager | None = None
        self.data_plane: DataPlane | None = None
        self.share_locks: ShareBroker | None = None  # a broker's share-partitions: their lock clock runs
        self.groups: GroupCoordinator | None = None
        self.transactions: TransactionCoordinator | None = None
        # every coordinator (groups, transactions, share-partition state) by its task's name
        self.coordinators: dict[str, NodeTask] = {}
        self.partition_reader: PartitionReader | None = None
        self._metadata_pending = False
        self._changes_not_offered = NOTHING
        self._strays_removed = False
        self._security_checked = False

    # -- what route handlers use -------------------------------------------------------
    @property
    def image(self) -> MetadataImage:
        return self.state_machine.image

    def metadata_applied(self) -> None:
        self.waiters.wake()
        if self.quorum is not None:  # a controller added later is in no other node's file
            self.quorum.allow_hosts({reg.host for reg in self.image.brokers.values()})
        if not self._security_checked and self.security_metadata_current():
            self._security_checked = True  # once, on the first image that holds what came before
            if self.config.security is None and (notice := unenforced_security(self.image)):
                log.warning("%s", notice)
        for coordinator in self.coordinators.values():
            coordinator.on_metadata()
        if self.replica_manager is not None and not self._metadata_pending:
            # coalesce: many batches applied in a burst cost one pass over the image
            self._metadata_pending = True
            asyncio.get_running_loop().call_soon(self._replicas_follow_metadata)

    def _replicas_follow_metadata(self) -> None:
        self._metadata_pending = False
        replicas = self.replica_manager  # set before this is ever scheduled, never unset
        if replicas is None:
            return
        changes, image = self.state_machine.take_changes()
        # changes of an image the replicas may not act on yet are kept for the first one
        # they may: they must learn everything that changed since they last looked
        self._changes_not_offered = self._changes_not_offered.merge(changes)
        if not self._image_is_current(image):
            return
        changes, self._changes_not_offered = self._changes_not_offered, NOTHING
        replicas.on_metadata(changes, image)
        self.below_min_isr.follow(image, changes)
        if not self._strays_removed and self.readiness()[0]:
            self._strays_removed = True
            replicas.remove_stray_logs(image)

    async def wait_metadata(self, offset: int, timeout_s: float = 5.0,
                            raise_on_timeout: bool = True) -> MetadataImage:
        ok = await self.waiters.wait_for(offset, timeout_s)
        if not ok and raise_on_timeout:
            raise MetadataNotReady(f"node {self.node_id} has not yet applied metadata offset {offset}")
        return self.image

    async def metadata_barrier(self, timeout_s: float) -> bool:
        """Wait until this image has what the active controller had committed when asked.

        False when the controller could not be asked or the image did not get there in
        time; callers then answer from the image they have.
        """
        deadline = time.monotonic() + timeout_s
        if self.is_active_controller():
            return True  # its image is the committed log
        target = self.controller_target()
        if target is None or target == self.node_id:
            return False
        offset = await committed_offset(self.get_json_from, target, timeout_s)
        left = deadline - time.monotonic()
        return offset is not None and left > 0 and await self.waiters.wait_for(offset, left)

    async def wait_metadata_everywhere(self, offset: int, timeout_s: float = 5.0) -> list[int]:
        """Wait until every node that answers has applied `offset` (a deleted user or a
        revoked ACL then holds on all of them); the ids of nodes not known to have it."""
        await self.wait_metadata(offset, timeout_s, raise_on_timeout=False)
        deadline = time.monotonic() + timeout_s
        others = sorted(({n.id for n in self.config.nodes} | set(self.image.brokers)) - {self.node_id})
        return await not_applied(self.get_json_from, others, offset, deadline)

    async def controller_call_raw(self, op: str, payload, local_only: bool = False) -> dict:
        """A controller request by name and payload (the doors send typed requests
        through BrokerServices; the lower layers, which cannot import the controller's
        request classes, send these)."""
        return await self.link.call(op, payload, local_only)

    def registered(self, broker_epoch: int) -> None:
        """The controller accepted this broker's registration: replicas may start once
        the image holds it."""
        if self.replica_manager is not None:
            self.replica_manager.broker_epoch = broker_epoch
            self.metadata_applied()

    def controller_target(self) -> int | None:
        if self.quorum is not None:
            return self.quorum.leader_id()
        if self.follower is not None and self.follower.controller_id is not None:
            return self.follower.controller_id
        cid = self.image.controller_id
        return cid if cid >= 0 else None

    def raft_leader_id(self) -> int | None:
        return self.quorum.leader_id() if self.quorum else self.controller_target()

    def raft_term(self) -> int | None:
        return self.quorum.term() if self.quorum else None

    def is_active_controller(self) -> bool:
        return self.controller is not None and self.controller.active

    def node_url(self, node_id: int) -> str:
        """Where another node's HTTP port is: as it registered (the metadata log, so a
        broker added later is reachable from nodes whose cluster.toml never named it),
        else as cluster.toml says (controllers, and brokers before they register)."""
        reg = self.image.brokers.get(node_id)
        if reg is not None:
            host = f"[{reg.host}]" if ":" in reg.host else reg.host
            return f"{self.config.http_scheme}://{host}:{reg.http_port}"
        known = self.config.node_or_none(node_id)
        if known is None:
            raise BrokerNotAvailable(f"node {node_id} is neither registered nor in this node's cluster.toml; retry")
        return known.http_url

    def security_metadata_current(self) -> bool:
        """Users and ACLs may be trusted: a broker's image holds its own registration (so
        everything committed before it started), a controller-only node has seen a
        controller."""
        image = self.image
        return self._image_is_current(image) if self.lifecycle else image.controller_epoch != 0

    def _image_is_current(self, image: MetadataImage) -> bool:
        """Replicas act only on an image that holds this process's own registration: a
        restarting controller replays its Raft journal through old images in which it may
        still lead partitions it lost long ago (a stale leader's writes)."""
        epoch = self.lifecycle.broker_epoch if self.lifecycle else None
        reg = image.brokers.get(self.node_id)
        return epoch is not None and reg is not None and reg.broker_epoch == epoch

    def partition_offsets(self, topic: str, partition: int) -> dict | None:
        """What this node knows of the partition's offsets: exact on the leader, as last
        heard from the leader on a follower, None elsewhere."""
        if self.replica_manager is None:
            return None
        replica = self.replica_manager.replica(topic, partition)
        return replica.offsets_view() if replica is not None else None

    async def proxy_get(self, node_id: int, path_qs: str, headers: dict, on_behalf=None):
        return await self.proxy_request(node_id, "GET", path_qs, headers, on_behalf=on_behalf)

    async def proxy_request(self, node_id: int, method: str, path_qs: str, headers: dict,
                            body: bytes | None = None, what: str = "leader", timeout_s: float = 70,
                            on_behalf=None):
        """Send a client's request on to the node that serves it; (status, body, type).
        on_behalf: the client's Identity, so the other node authorizes the same principal."""
        try:
            answer = await self.peers.request(
                node_id, method, path_qs, headers=headers, data=body, timeout_s=timeout_s,
                local_only=False,
                on_behalf=None if on_behalf is None else (on_behalf.principal, on_behalf.host))
        except PeerUnreachable as exc:
            raise NotLeaderOrFollower(f"NOT_{what.upper()}: {what} node {node_id} unreachable "
                                      f"({type(exc.cause).__name__}); retry") from None
        return answer.status, answer.body, answer.content_type

    async def _broker_process_gone(self, broker_id: int) -> bool:
        """True only on a refused connection: a timeout may be a pause or a partition."""
        if broker_id not in self.image.brokers:
            return False
        try:
            await self.peers.request(broker_id, "GET", "/status/ready", timeout_s=0.5)
            return False
        except PeerUnreachable as exc:
            return exc.refused

    async def _append_internal(self, topic: str, partition: int, batch: bytes, timeout_ms: int,
                              timestamp: int, on_appended: Callable[[int], None] | None = None) -> int:
        # the coordinators (groups, transactions), the callers, are built in run() after the data plane
        assert self.data_plane is not None
        appended = await self.data_plane.append_batch(topic, partition, batch, -1, timeout_ms,
                                                      timestamp, local_only=True)
        if on_appended is not None:
            on_appended(appended.delivery.offset)
        return (await appended.committed()).offset

    def _effective_topic_configs(self, topic: str) -> dict[str, str]:
        eff = effective_topic_configs(self.image, self.topic_defaults, topic, self.node_id)  # this broker's logs
        return {k: v for k, (v, _) in eff.items()}

    def readiness(self) -> tuple[bool, str]:
        image = self.image
        if image.controller_epoch == 0:
            problems = self.quorum.peer_problems() if self.quorum is not None else []
            return False, "; ".join(["no active controller has been seen yet", *problems])
        if self.lifecycle is not None:
            reg = image.brokers.get(self.node_id)
            if self.lifecycle.broker_epoch is None or reg is None:
                return False, "broker not registered yet"
            if reg.fenced:
                return False, "broker is fenced (catching up with metadata)"
            if self.lifecycle.session_lapsed():
                return False, ("no heartbeat answered by the active controller for a whole session: "
                               "fenced, or cut off from the controller")
        return True, "ready"

    def quorum_voters(self, asker_host: str | None = None) -> dict:
        """This controller's voter set, and whether a quorum has formed on its log. The
        asking node (a signed request: a node of this cluster) may then open Raft
        connections here, as an observer until it is added."""
        if self.quorum is None:
            return {"voters": {}, "established": False}
        if asker_host:
            self.quorum.allow_hosts({asker_host})
        st = self.quorum.status()
        return {"voters": {str(k): v for k, v in self.quorum.voters().items()},
                "established": st.commit_index >= 2 and st.leader_id is not None,
                "holds_log": st.commit_index >= 2,  # committed metadata, with a leader or not
                "leader_id": st.leader_id,  # and, on the leader, what each voter's log has acknowledged
                "acknowledged": {str(v.node_id): v.log_end_offset for v in st.voters} if st.is_leader else {}}

    async def quorum_description(self) -> dict:
        return await describe_quorum(self)

    def quorum_local_description(self) -> dict:
        return local_description(self)

    async def get_json_from(self, node_id: int, path: str, timeout_s: float = 2.0):
        """(status, JSON body) of a GET to another node; raises PeerUnreachable."""
        answer = await self.peers.request(node_id, "GET", path, timeout_s=timeout_s)
        try:
            return answer.status, answer.json()
        except ValueError:
            raise UnknownServerError(f"node {node_id} answered {path} with non-JSON") from None

    def is_ready(self) -> bool:
        return self.readiness()[0]

    # -- lifecycle -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        # locals, not the Optional attributes: they exist from here on
        replica_manager = None
        if self.node_config.is_broker:
            replica_manager = ReplicaManager(
                self.node_id, self.node_config.data_path, self._effective_topic_configs,
                self.config.timeouts.replica_lag_time_max_ms,
                self.controller_call_raw, self.broker_links.fetch_channel,
                scrub_rate_mb_s=self.config.storage.scrub_rate_mb_s,
                scrub_interval_s=self.config.storage.scrub_interval_s)
        self.replica_manager = replica_manager
        services = self._services(replica_manager)
        if self.registry_site is not None:
            self.registry_site.build(services)
        app = node_app(services, self.registry_site.registry if self.registry_site is not None else None)
        app.middlewares.insert(0, self.metrics.middleware())
        app.middlewares.insert(0, self.connections.middleware)
        # in-flight long polls (fetch, metadata, consumer records) are cut after the grace
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_GRACE_S)
        kafka = self._kafka_listener(services)
        try:
            await self._start(runner, kafka)
            service_manager = ServiceNotifier()
            async with asyncio.TaskGroup() as tg:
                tasks = await self._background_tasks(tg, service_manager)
                await stop.wait()
                service_manager.send("STOPPING=1", "STATUS=stopping: moving leadership away")
                await self._move_away()
                for task in tasks:
                    task.cancel()
        finally:
            if kafka is not None:
                await kafka.close()
            await runner.cleanup()
            if self.registry_site is not None:
                await self.registry_site.close()
            if self.quorum is not None:
                self.quorum.stop()
            await self.broker_links.close()
            await self.peers.close()
            self.waiters.close()

    def _services(self, replica_manager: ReplicaManager | None) -> BrokerServices:
        """The parts both doors use, built once the replica manager exists."""
        image = lambda: self.image  # noqa: E731 - the current image, read at each use
        data_plane = DataPlane(self.node_id, image, self.topic_defaults, replica_manager, self.broker_links.leaders,
                               self.is_ready, verify_txn=lambda *asked: txn_link.verify(*asked))
        self.data_plane = data_plane
        self.partition_reader = partition_reader = PartitionReader(self.node_id, data_plane, self.broker_links.leaders)
        built = build_coordinators(self.node_id, self.config, image, replica_manager, data_plane, self.peers,
                                   self.broker_links.txn, self.broker_links.share_state,
                                   self.controller_call_raw, self.waiters.wait_for, self._append_internal,
                                   self.producer_ids.next_id if self.producer_ids is not None else None)
        txn_link, self.groups, self.transactions = built.txn_link, built.groups, built.transactions
        if replica_manager is not None:  # a broker leads share-partitions
            self.metrics.watch_shares(built.shares, replica_manager, built.iceberg)
            self.share_locks = built.shares
        self.coordinators = built.by_task()
        return BrokerServices(
            node_id=self.node_id, cluster_id=self.cluster_id, config=self.config,
            topic_defaults=self.topic_defaults, peer_key=self.peer_key, data_plane=data_plane,
            partition_reader=partition_reader, groups=built.groups, transactions=built.transactions,
            txn_link=txn_link, shares=built.shares, share_coordinator=built.share_state,
            share_leaders=built.share_leaders, share_admin=built.share_admin,
            access=self.access, producer_ids=self.producer_ids, metrics_registry=self.metrics.registry,
            client_quotas=ClientQuotaManager(lambda: self.image.client_quotas, self.config.cluster.quota_window_num,
                                             self.config.cluster.quota_window_size_seconds),
            iceberg_files=built.warehouse, node=self)

    def _kafka_listener(self, services: BrokerServices) -> KafkaListeners | None:
        if self.node_config.kafka_port is None:
            return None
        return KafkaListeners(services, self.node_config, self.tls_server, self.metrics)

    async def _start(self, runner: web.AppRunner, kafka: KafkaListeners | None) -> None:
        """Join the metadata quorum (or follow it), then open the HTTP and Kafka ports."""
        await self.peers.open()
        if self.quorum is not None:
            others = [n.id for n in self.config.controllers if n.id != self.node_id]
            await start_controller(self.quorum, self.node_id, others, self.get_json_from,
                                   self.node_config.data_path)
        else:
            self.follower = MetadataFollower(self.state_machine, [n.id for n in self.config.controllers],
                                             self.peers, self.metadata_applied)
        await runner.setup()
        self.connections.wrap(runner)
        site = web.TCPSite(runner, self.node_config.listen_host, self.node_config.http_port,
                           reuse_address=True, ssl_context=self.tls_server)
        await listening("HTTP port", f"{self.node_config.listen_host}:{self.node_config.http_port}",
                        site.start())
        log.info("node %d serving on %s", self.node_id, self.node_config.http_url)
        if kafka is not None:
            await kafka.start()
        if self.registry_site is not None:
            await self.registry_site.start()

    async def _background_tasks(self, tg: asyncio.TaskGroup, service_manager: ServiceNotifier) -> list[asyncio.Task]:
        """Every loop of the node, in the node's TaskGroup; the replicas are open when this returns."""
        data_plane = self.data_plane
        assert data_plane is not None and self.coordinators  # built by _services
        tasks = []
        if self.controller is not None:
            tasks.append(tg.create_task(self.controller.run(), name="controller"))
        if self.follower is not None:
            tasks.append(tg.create_task(self.follower.run(), name="metadata-follower"))
        if self.replica_manager is not None:
            replicas_ready = asyncio.Event()
            tasks.append(tg.create_task(self.replica_manager.run(replicas_ready), name="replica-manager"))
            await replicas_ready.wait()
            self.metadata_applied()
        if self.lifecycle is not None:
            tasks.append(tg.create_task(self.lifecycle.run(), name="broker-lifecycle"))
        for name, coordinator in self.coordinators.items():
            tasks.append(tg.create_task(coordinator.run(), name=name))
        if self.share_locks is not None:
            tasks.append(tg.create_task(self.share_locks.run(), name="share-lock-clock"))
        if self.registry_site is not None:
            tasks.append(tg.create_task(self.registry_site.run(), name="schema-registry"))
        tasks.append(tg.create_task(data_plane.unacked.run(), name="acks0-writes"))
        tasks.append(tg.create_task(self.connections.run(), name="http-connection-guard"))
        if self.access.jwks_fetcher is not None:
            tasks.append(tg.create_task(self.access.jwks_fetcher.run(), name="oauthbearer-jwks"))
        tasks.append(tg.create_task(LoopLagProbe(self.metrics.event_loop_lag).run(), name="loop-lag-probe"))
        tasks.append(tg.create_task(MemoryReturner().run(), name="memory-return"))
        tasks.append(tg.create_task(ReadyNotice(service_manager, self.readiness).run(),
                                    name="service-ready-notice"))
        return tasks

    async def _move_away(self) -> None:
        """Stopping: leaderships move to other brokers before the logs close."""
        started = time.monotonic()
        if self.lifecycle is not None:
            offset = await self.lifecycle.controlled_shutdown(SHUTDOWN_MOVE_TIMEOUT_S)
            if offset is not None:  # our replicas step down before the logs close
                await self.wait_metadata(offset, 2.0, raise_on_timeout=False)
        log.info("node %d stopping (moves took %.2fs)", self.node_id,
                 time.monotonic() - started)
