"""Metadata log records (KIP-631 style): the only way cluster metadata changes.

Records are immutable pydantic models discriminated on `type`. The active controller
produces them in batches; every node replays the same batches in the same order, so
the content of a record must be everything replay needs: no clock, no uuid, no I/O is
consulted at replay time.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

NO_LEADER = -1


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BecomeController(_Record):
    """Written first by a newly elected Raft leader; fences batches of older controllers."""

    type: Literal["BecomeController"] = "BecomeController"
    controller_id: int
    controller_epoch: int  # the Raft term the controller was elected in


class RegisterBroker(_Record):
    """A broker process (incarnation) joins; its broker epoch is this record's offset."""

    type: Literal["RegisterBroker"] = "RegisterBroker"
    broker_id: int
    incarnation_id: str
    host: str
    http_port: int
    # the broker's Kafka listener (Kafka's endpoints in RegisterBrokerRecord): clients of
    # every broker learn it from the metadata, not from each node's own cluster.toml
    kafka_port: int | None = None
    inter_broker_port: int | None = None  # the listener other brokers dial, when not kafka_port
    roles: tuple[str, ...] = ("broker",)
    rack: str | None = None  # Kafka's broker.rack
    # the [[hosts]] entry whose process it is (a failure domain: no partition puts two
    # replicas on one host); None: a host of its own
    host_name: str | None = None
    # Kafka's clean shutdown (KIP-966): the broker's logs hold everything it had when its
    # previous run ended. False after a power loss (or when it cannot tell): it then
    # leaves every ISR and ELR, since it may have lost records they count on.
    clean_shutdown: bool = True


class BrokerRegistrationChange(_Record):
    """Fence / unfence a broker, or mark it in controlled shutdown (CAS on broker epoch)."""

    type: Literal["BrokerRegistrationChange"] = "BrokerRegistrationChange"
    broker_id: int
    broker_epoch: int
    fenced: bool | None = None
    in_controlled_shutdown: bool | None = None
    log_dir_failed: bool | None = None  # its data dir takes no writes (e.g. disk full)


class BrokerDecommission(_Record):
    """A broker is being taken out for good (or, decommissioning false, brought back):
    it takes no new replicas while the controller moves its replicas to the others.
    Keyed by broker id, not epoch: it outlasts the broker's restarts and unregistration."""

    type: Literal["BrokerDecommission"] = "BrokerDecommission"
    broker_id: int
    decommissioning: bool
    partitions: int = 0  # how many partitions it held when the decommission started


class UnregisterBroker(_Record):
    """Kafka's UnregisterBroker: a broker that holds no replica leaves the cluster's
    broker list (CAS on its epoch)."""

    type: Literal["UnregisterBroker"] = "UnregisterBroker"
    broker_id: int
    broker_epoch: int


class RebalanceMove(_Record):
    """One partition of a rebalance: from `replicas` (as planned) to `target`."""

    topic_id: str
    partition: int
    replicas: tuple[int, ...]
    target: tuple[int, ...]


class RebalanceStart(_Record):
    """A rebalance plan to carry out: the controller starts its moves as reassignments,
    at most `max_moves_in_flight` at a time, until each is done or no longer fits."""

    type: Literal["RebalanceStart"] = "RebalanceStart"
    rebalance_id: str
    max_moves_in_flight: int
    moves: tuple[RebalanceMove, ...]


class RebalanceEnd(_Record):
    type: Literal["RebalanceEnd"] = "RebalanceEnd"
    rebalance_id: str
    outcome: Literal["finished", "cancelled"]


class TopicRecord(_Record):
    type: Literal["Topic"] = "Topic"
    name: str
    topic_id: str


class PartitionRecord(_Record):
    type: Literal["Partition"] = "Partition"
    topic_id: str
    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int = 0
    partition_epoch: int = 0


class PartitionChange(_Record):
    """Leader, ISR and/or ELR change, applied only if the partition epoch still matches.

    A leader change bumps the leader epoch; any change bumps the partition epoch.
    `elr` (KIP-966's eligible leader replicas) lists replicas that left the ISR while it
    was below min.insync.replicas: they hold every committed record, so one may lead
    when the ISR is empty.
    `unclean` marks an election from outside the ISR (recorded, counted, shown).
    `replicas` with `adding`/`removing` moves replicas (KIP-455): the new ones are added
    first, and the old ones leave only once the new ones are in the ISR.
    """

    type: Literal["PartitionChange"] = "PartitionChange"
    topic_id: str
    partition: int
    expected_partition_epoch: int
    leader: int | None = None
    isr: tuple[int, ...] | None = None
    unclean: bool = False
    replicas: tuple[int, ...] | None = None
    adding: tuple[int, ...] | None = None
    removing: tuple[int, ...] | None = None
    elr: tuple[int, ...] | None = None
    last_known_elr: tuple[int, ...] | None = None


class ConfigRecord(_Record):
    """Set (value) or delete (value=None) one config of a topic, of the cluster, of one
    broker (resource_name: its id; Kafka's DYNAMIC_BROKER_CONFIG) or of one group (its id;
    Kafka's GROUP resource)."""

    type: Literal["Config"] = "Config"
    resource_type: Literal["topic", "cluster", "broker", "group"]
    resource_name: str
    name: str
    value: str | None


class RemoveTopic(_Record):
    type: Literal["RemoveTopic"] = "RemoveTopic"
    topic_id: str


class ProducerIds(_Record):
    """A block of producer ids handed to a broker (idempotent produce)."""

    type: Literal["ProducerIds"] = "ProducerIds"
    broker_id: int
    broker_epoch: int
    next_producer_id: int  # first id after the block handed out


Mechanism = Annotated[str, Field(pattern=r"^SCRAM-SHA-(256|512)$")]


class _AclBindingFields(_Record):
    """One ACL binding, Kafka's model (kraft.security.acls)."""

    resource_type: str
    resource_name: str
    pattern_type: str
    principal: str
    host: str
    operation: str
    permission: str


class AccessControlEntry(_AclBindingFields):
    """Add one ACL binding; adding it twice is a no-op."""

    type: Literal["AccessControlEntry"] = "AccessControlEntry"


class RemoveAccessControlEntry(_AclBindingFields):
    type: Literal["RemoveAccessControlEntry"] = "RemoveAccessControlEntry"


class UserScramCredential(_Record):
    """Set a user's salted SCRAM credential for one mechanism (never the password)."""

    type: Literal["UserScramCredential"] = "UserScramCredential"
    name: str
    mechanism: Mechanism
    salt: str  # base64
    stored_key: str  # base64
    server_key: str  # base64
    iterations: int


class RemoveUserScramCredential(_Record):
    type: Literal["RemoveUserScramCredential"] = "RemoveUserScramCredential"
    name: str
    mechanism: Mechanism


class ClientQuota(_Record):
    """Set (value) or remove (value None) one of Kafka's client quotas for one entity: its
    parts as (entity type, name) pairs, types "user", "client-id" or "ip", sorted by type;
    a name None is that type's default (Kafka's <default>)."""

    type: Literal["ClientQuota"] = "ClientQuota"
    entity: tuple[tuple[str, str | None], ...]
    key: str
    value: float | None


KEPT_TABLE = "kept:"  # `kept:<topic>[~dlq]`: the table of a deleted topic with iceberg.delete=false


class IcebergTable(_Record):
    """The current metadata file of a topic's Iceberg table (the catalog's pointer; Kafka
    has none). The controller writes one only over the pointer the commit was based on,
    so two commits racing each other never both land (docs/ICEBERG.md)."""

    type: Literal["IcebergTable"] = "IcebergTable"
    topic_id: str  # `<topic id>~dlq` for the topic's dead-letter table; KEPT_TABLE for a kept one
    # (a kept one's empty location: no longer kept)
    metadata_location: str


MetadataRecord = Annotated[
    Union[
        BecomeController,
        RegisterBroker,
        BrokerRegistrationChange,
        BrokerDecommission,
        UnregisterBroker,
        RebalanceStart,
        RebalanceEnd,
        TopicRecord,
        PartitionRecord,
        PartitionChange,
        ConfigRecord,
        RemoveTopic,
        ProducerIds,
        AccessControlEntry,
        RemoveAccessControlEntry,
        UserScramCredential,
        RemoveUserScramCredential,
        ClientQuota,
        IcebergTable,
    ],
    Field(discriminator="type"),
]


class MetadataBatch(BaseModel):
    """Records applied atomically: all of them or none.

    controller_epoch fences a deposed controller; request_id makes a retried
    proposal (after a timeout whose outcome was unknown) apply at most once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    controller_epoch: int
    request_id: str | None = None
    records: tuple[MetadataRecord, ...]


_batch_adapter = TypeAdapter(MetadataBatch)


def encode_batch(batch: MetadataBatch) -> str:
    return orjson.dumps(batch.model_dump(mode="json", exclude_none=False)).decode()


def decode_batch(text: str | bytes) -> MetadataBatch:
    return _batch_adapter.validate_json(text)
