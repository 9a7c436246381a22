"""What both front doors receive: the broker's services, typed, in one place.

The REST routes (kraft/api) and the Kafka listener (kraft/kafka) are handed one
`BrokerServices` instead of the node that wires them. Every rule that is not about a
door's wire format stands behind it once: client writes (`client_writes`, through the
data plane), leader lookup and the wait for a log still opening (`DataPlane`),
producer ids, groups, transactions, access control, the controller link (typed requests,
kraft/controller/commands.py). A door decodes a request, calls these, and encodes
the answer or the error.

`NodeState` is what the composition root (kraft/server/node.py) provides that only it
can know: its image and how far it has applied, its view of the quorum, and its
node-to-node client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from kraft.broker.access import AccessControl
from kraft.broker.client_quotas import ClientQuotaManager
from kraft.broker.data_plane import DataPlane
from kraft.broker.partition_reader import PartitionReader
from kraft.broker.producer_ids import ProducerIdAllocator
from kraft.config.cluster import ClusterConfig
from kraft.controller.request_base import ControllerRequest
from kraft.broker.txn_link import TransactionLink
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.iceberg.warehouse import Warehouse
from kraft.share.share_broker import ShareBroker
from kraft.broker.share_group_admin import ShareGroupAdmin
from kraft.broker.share_leaders import ShareLeaders
from kraft.share.share_coordinator import ShareCoordinator
from kraft.transactions.txn_coordinator import TransactionCoordinator
from kraft.metadata.image import MetadataImage
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.metadata.write_readiness import BelowMinIsr
from kraft.replication.replica_manager import ReplicaManager


class NodeState(Protocol):
    """The node's own state and links, as the doors may see them."""

    @property
    def image(self) -> MetadataImage: ...
    @property
    def state_machine(self) -> MetadataStateMachine: ...
    @property
    def replica_manager(self) -> ReplicaManager | None: ...
    @property
    def below_min_isr(self) -> BelowMinIsr: ...

    async def wait_metadata(self, offset: int, timeout_s: float = 5.0,
                            raise_on_timeout: bool = True) -> MetadataImage: ...
    async def metadata_barrier(self, timeout_s: float) -> bool: ...
    async def wait_metadata_everywhere(self, offset: int, timeout_s: float = 5.0) -> list[int]: ...
    def readiness(self) -> tuple[bool, str]: ...
    def is_ready(self) -> bool: ...
    def is_active_controller(self) -> bool: ...
    def controller_target(self) -> int | None: ...
    def raft_leader_id(self) -> int | None: ...
    async def quorum_description(self) -> dict: ...
    def quorum_local_description(self) -> dict: ...
    def quorum_voters(self, asker_host: str | None = None) -> dict: ...
    def partition_offsets(self, topic: str, partition: int) -> dict | None: ...
    async def controller_call_raw(self, op: str, payload: Any, local_only: bool = False) -> dict: ...
    async def get_json_from(self, node_id: int, path: str, timeout_s: float = 2.0) -> tuple[int, Any]: ...
    async def proxy_request(self, node_id: int, method: str, path_qs: str, headers: dict,
                            body: bytes | None = None, what: str = "leader", timeout_s: float = 70,
                            on_behalf: Any = None) -> tuple[int, bytes, str]: ...


@dataclass(frozen=True)
class BrokerServices:
    node_id: int
    cluster_id: str
    config: ClusterConfig
    topic_defaults: dict[str, str]
    peer_key: bytes
    data_plane: DataPlane
    partition_reader: PartitionReader
    groups: GroupCoordinator
    shares: ShareBroker  # share groups: membership where coordinating, in-flight records where leading
    share_coordinator: ShareCoordinator  # share-partitions' stored state, where this node holds it
    share_leaders: ShareLeaders  # the REST door's share consumers at the partition leaders
    share_admin: ShareGroupAdmin  # deleting share groups, altering their offsets (at their coordinator)
    transactions: TransactionCoordinator
    txn_link: TransactionLink
    access: AccessControl
    producer_ids: ProducerIdAllocator | None  # None on a controller-only node
    metrics_registry: CollectorRegistry
    client_quotas: ClientQuotaManager  # Kafka's client quotas, for both doors
    iceberg_files: Warehouse  # Iceberg topics' files (docs/ICEBERG.md): the catalog reads their metadata
    node: NodeState

    # -- the metadata image and waiting for it ------------------------------------------
    @property
    def image(self) -> MetadataImage:
        return self.node.image

    @property
    def state_machine(self) -> MetadataStateMachine:
        return self.node.state_machine

    @property
    def replica_manager(self) -> ReplicaManager | None:
        return self.node.replica_manager

    @property
    def below_min_isr(self) -> BelowMinIsr:
        return self.node.below_min_isr

    async def wait_metadata(self, offset: int, timeout_s: float = 5.0,
                            raise_on_timeout: bool = True) -> MetadataImage:
        return await self.node.wait_metadata(offset, timeout_s, raise_on_timeout)

    async def metadata_barrier(self, timeout_s: float) -> bool:
        return await self.node.metadata_barrier(timeout_s)

    async def wait_metadata_everywhere(self, offset: int, timeout_s: float = 5.0) -> list[int]:
        return await self.node.wait_metadata_everywhere(offset, timeout_s)

    def readiness(self) -> tuple[bool, str]:
        return self.node.readiness()

    def is_ready(self) -> bool:
        return self.node.is_ready()

    # -- the controller and the quorum ----------------------------------------------------
    async def controller_call(self, request: ControllerRequest) -> dict:
        """Send a typed request to the active controller (here or forwarded)."""
        return await self.node.controller_call_raw(request.op, request.payload())

    def quorum_voters(self, asker_host: str | None = None) -> dict:
        return self.node.quorum_voters(asker_host)

    async def forwarded_controller_call(self, op: str, payload: Any, local_only: bool) -> dict:
        """Another node's controller request as it arrived: parsed where it is run."""
        return await self.node.controller_call_raw(op, payload, local_only)

    def is_active_controller(self) -> bool:
        return self.node.is_active_controller()

    def controller_target(self) -> int | None:
        return self.node.controller_target()

    def raft_leader_id(self) -> int | None:
        return self.node.raft_leader_id()

    async def quorum_description(self) -> dict:
        return await self.node.quorum_description()

    def quorum_local_description(self) -> dict:
        """What this node knows of the quorum itself (a peer asking: never forwarded)."""
        return self.node.quorum_local_description()

    # -- other nodes -------------------------------------------------------------------------
    def partition_offsets(self, topic: str, partition: int) -> dict | None:
        return self.node.partition_offsets(topic, partition)

    async def get_json_from(self, node_id: int, path: str, timeout_s: float = 2.0) -> tuple[int, Any]:
        return await self.node.get_json_from(node_id, path, timeout_s)

    async def proxy_request(self, node_id: int, method: str, path_qs: str, headers: dict,
                            body: bytes | None = None, what: str = "leader", timeout_s: float = 70,
                            on_behalf: Any = None) -> tuple[int, bytes, str]:
        return await self.node.proxy_request(node_id, method, path_qs, headers, body, what, timeout_s,
                                             on_behalf)

    async def proxy_get(self, node_id: int, path_qs: str, headers: dict,
                        on_behalf: Any = None) -> tuple[int, bytes, str]:
        return await self.proxy_request(node_id, "GET", path_qs, headers, on_behalf=on_behalf)

