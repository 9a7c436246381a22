"""The metadata image: an immutable view of the cluster at one metadata offset.

Built only by replaying records (see delta.py). Every area is a frozen dataclass and
the mappings inside are never mutated after construction: a new image shares what did
not change with the previous one, so readers on other threads need no lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Mapping

from kraft.security.acls import AclBinding
from kraft.security.scram import ScramCredential

NO_LEADER = -1


def host_key(broker_id: int, host_name: str | None) -> str:
    """A broker's host: its [[hosts]] entry's name, or "broker=<id>" outside any (a name
    cannot hold "=", so the two never meet)."""
    return host_name if host_name is not None else f"broker={broker_id}"


@dataclass(frozen=True)
class BrokerRegistration:
    broker_id: int
    broker_epoch: int
    incarnation_id: str
    host: str
    http_port: int
    roles: tuple[str, ...]
    kafka_port: int | None = None
    inter_broker_port: int | None = None  # where other brokers dial it; None: kafka_port
    fenced: bool = True
    in_controlled_shutdown: bool = False
    log_dir_failed: bool = False  # it leads and joins nothing until it says otherwise
    rack: str | None = None  # Kafka's broker.rack
    host_name: str | None = None  # its [[hosts]] entry (a failure domain); None: a host of its own


@dataclass(frozen=True)
class PartitionRegistration:
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int = 0
    partition_epoch: int = 0
    unclean_elections: int = 0  # how many times a leader came from outside the ISR
    adding: tuple[int, ...] = ()  # a reassignment in progress: replicas catching up
    removing: tuple[int, ...] = ()  #   and replicas that leave once they have
    # eligible leader replicas (KIP-966): out of the ISR, yet holding every committed
    # record, because the HW has not moved since they left an ISR below min ISR
    elr: tuple[int, ...] = ()
    # Kafka's last known ELR: set only while ISR and ELR are both empty because every
    # member lost data in an unclean shutdown. These are the best copies left; electing
    # one may lose committed records, so that election is recorded as unclean.
    last_known_elr: tuple[int, ...] = ()

    @property
    def reassigning(self) -> bool:
        return bool(self.adding or self.removing)

    @property
    def target_replicas(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.removing)

    @property
    def online(self) -> bool:
        return self.leader != NO_LEADER

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True)
class TopicImage:
    name: str
    topic_id: str
    partitions: tuple[PartitionRegistration, ...]


@dataclass(frozen=True)
class UncleanElection:
    """An election from outside the ISR: data loss becomes possible, so it is recorded."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int
    metadata_offset: int


@dataclass(frozen=True)
class RebalanceMove:
    topic_id: str
    partition: int
    replicas: tuple[int, ...]  # when planned
    target: tuple[int, ...]


@dataclass(frozen=True)
class RebalanceImage:
    """The latest rebalance: running, finished or cancelled (kept for its status)."""

    rebalance_id: str
    moves: tuple[RebalanceMove, ...]
    max_moves_in_flight: int
    state: str = "running"  # "running" | "finished" | "cancelled"

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class MetadataImage:
    offset: int = 0  # offset of the last applied batch; 0 = empty log
    controller_id: int = -1
    controller_epoch: int = 0
    brokers: Mapping[int, BrokerRegistration] = field(default_factory=dict)
    topics: Mapping[str, TopicImage] = field(default_factory=dict)  # by topic id
    topic_ids: Mapping[str, str] = field(default_factory=dict)  # name -> topic id
    topic_configs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # by name
    cluster_configs: Mapping[str, str] = field(default_factory=dict)
    # dynamic configs of single brokers, by broker id (they outlast its registrations)
    broker_configs: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # configs of single groups, by group id (KIP-932's share-group settings); a group
    # need not exist to have them, as in Kafka
    group_configs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    next_producer_id: int = 0
    unclean_elections: tuple[UncleanElection, ...] = ()
    acls: frozenset[AclBinding] = frozenset()
    # user name -> mechanism -> credential
    scram_credentials: Mapping[str, Mapping[str, ScramCredential]] = field(default_factory=dict)
    # brokers being decommissioned (or done: then no longer in `brokers`) -> how many
    # partitions each held when it started
    decommissioning: Mapping[int, int] = field(default_factory=dict)
    # Kafka's client quotas: entity (sorted (type, name or None for the default) pairs)
    # -> quota key -> value
    client_quotas: Mapping[tuple[tuple[str, str | None], ...], Mapping[str, float]] = field(default_factory=dict)
    rebalance: RebalanceImage | None = None
    # Iceberg topics' tables: topic id (`<id>~dlq`: its dead-letter table) -> the table's
    # current metadata file
    iceberg_tables: Mapping[str, str] = field(default_factory=dict)

    def topic(self, name: str) -> TopicImage | None:
        topic_id = self.topic_ids.get(name)
        return self.topics.get(topic_id) if topic_id is not None else None

    def unfenced_broker_ids(self) -> list[int]:
        return sorted(b.broker_id for b in self.brokers.values() if not b.fenced)

    def is_usable(self, broker_id: int) -> bool:
        """Can this broker lead or be chosen for new replicas right now?"""
        b = self.brokers.get(broker_id)
        return b is not None and not b.fenced and not b.in_controlled_shutdown and not b.log_dir_failed

    def host_of(self, broker_id: int) -> str:
        """The broker's host, a failure domain (its [[hosts]] entry); a broker outside
        any is a host of its own."""
        reg = self.brokers.get(broker_id)
        return host_key(broker_id, reg.host_name if reg is not None else None)

    def live_hosts(self) -> int:
        """Hosts with an unfenced broker: the largest replication factor placement can
        meet (one replica of a partition per host)."""
        return len({self.host_of(b.broker_id) for b in self.brokers.values()
                    if not b.fenced and "broker" in b.roles})

    def takes_new_replicas(self, broker_id: int) -> bool:
        """May placement put a new replica on this broker now? Not while it is being
        decommissioned, nor while it cannot lead."""
        return self.is_usable(broker_id) and broker_id not in self.decommissioning

    def all_partitions(self) -> Iterator[tuple[TopicImage, int, PartitionRegistration]]:
        for topic in self.topics.values():
            for index, part in enumerate(topic.partitions):
                yield topic, index, part
