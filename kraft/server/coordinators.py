"""A node's coordinators (consumer groups, transactions, share-partition state) and the
links that carry their requests between brokers, built together once the data plane
exists: the node runs each coordinator as a task named by its key in `by_task`, and
wakes each at every metadata image."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kraft.broker.data_plane import DataPlane
from kraft.broker.share_group_admin import ShareGroupAdmin
from kraft.broker.share_leaders import ShareLeaders
from kraft.broker.share_state_link import ShareStateLink, ShareStateRemote
from kraft.broker.txn_link import TransactionLink, TxnRemote
from kraft.config.cluster import ClusterConfig
from kraft.coordinator.runtime import AppendLocal, ControllerCall, ReplicaLookup, WaitMetadata
from kraft.groups.group_coordinator import GroupCoordinator
from kraft.broker.iceberg_tables import IcebergTables, iceberg_topics
from kraft.broker.table_coordinator import TableCoordinator
from kraft.iceberg.warehouse import Warehouse, for_node as warehouse_for
from kraft.internode.peers import Peers
from kraft.metadata.image import MetadataImage
from kraft.share.share_broker import ShareBroker
from kraft.share.share_coordinator import ShareCoordinator
from kraft.storage.record import Record
from kraft.transactions.txn_coordinator import TransactionCoordinator

ACKS_ALL = -1
DEAD_LETTER_TIMEOUT_MS = 30_000  # Kafka's request.timeout.ms


# what the node runs as a task and wakes at every metadata image
NodeTask = GroupCoordinator | TransactionCoordinator | ShareCoordinator | IcebergTables | TableCoordinator


@dataclass(frozen=True)
class Coordinators:
    groups: GroupCoordinator
    transactions: TransactionCoordinator
    share_state: ShareCoordinator
    txn_link: TransactionLink
    shares: ShareBroker  # share groups' membership and share-partitions, over share_state
    share_leaders: ShareLeaders  # the REST door's share consumers at the partition leaders
    share_admin: ShareGroupAdmin  # deleting share groups, altering their offsets
    iceberg: IcebergTables | None  # a broker's Iceberg topics' translators
    warehouse: Warehouse  # their files, which the catalog (on every node) reads

    def by_task(self) -> dict[str, NodeTask]:
        tasks: dict[str, NodeTask] = {
            "group-coordinator": self.groups, "transaction-coordinator": self.transactions,
            "share-coordinator": self.share_state}
        if self.iceberg is not None:
            tasks["iceberg-tables"] = self.iceberg
            tasks["table-coordinator"] = self.iceberg.coordinator
        return tasks


def build_coordinators(node_id: int, config: ClusterConfig, image: Callable[[], MetadataImage],
                       replicas: ReplicaLookup | None, data_plane: DataPlane, peers: Peers, txn_remote: TxnRemote,
                       share_remote: ShareStateRemote,
                       controller_call: ControllerCall, wait_metadata: WaitMetadata, append_local: AppendLocal,
                       next_producer_id: Callable[[], Awaitable[int]] | None) -> Coordinators:
    """replicas None: a controller-only node, whose coordinators only forward."""
    groups = GroupCoordinator(node_id, config.groups, image, replicas, controller_call, wait_metadata, append_local)
    txn_link = TransactionLink(node_id, image, data_plane, groups, lambda: transactions, txn_remote)
    transactions = TransactionCoordinator(
        node_id, config.transactions, image, replicas, controller_call, wait_metadata, append_local,
        next_producer_id, txn_link.send_markers, offsets_topic_partitions=config.groups.offsets_topic_partitions)
    share_state = ShareCoordinator(node_id, config.groups, image, replicas, controller_call, wait_metadata,
                                   append_local)
    share_link = ShareStateLink(share_state, peers, share_remote)

    async def dead_letter(topic: str, partition: int, records: list[Record]) -> None:
        pending = await data_plane.append_records(topic, partition, records, ACKS_ALL, DEAD_LETTER_TIMEOUT_MS)
        await pending.committed()

    shares = ShareBroker(config.groups, image, share_link.read, share_link.write, dead_letter)
    share_leaders = ShareLeaders(node_id, data_plane, shares, peers)
    warehouse = warehouse_for(config, node_id)
    iceberg: IcebergTables | None = None
    if replicas is not None:  # a broker: it translates what it leads, and commits what it coordinates
        tables = TableCoordinator(node_id, config.iceberg, image, replicas, controller_call, wait_metadata,
                                  append_local, lambda image: bool(iceberg_topics(image)),
                                  lambda: iceberg.on_metadata() if iceberg is not None else None)
        iceberg = IcebergTables(node_id, image, dict(config.topic_defaults), data_plane, controller_call,
                                wait_metadata, warehouse, tables, config.iceberg)
    return Coordinators(groups, transactions, share_state, txn_link, shares, share_leaders,
                        ShareGroupAdmin(node_id, shares, share_state, share_link, share_leaders, peers, image),
                        iceberg, warehouse)
