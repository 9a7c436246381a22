"""MetadataDelta: replay records on top of an image, then apply() to get the next image
and changes() to learn what the records touched.

Replay validates each record against the state built so far (compare-and-set on
epochs, name uniqueness, references). An invalid record raises RecordRejected; the
caller then drops the whole batch, so a batch applies atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kraft.metadata.changes import ChangeNotes, MetadataChanges
from kraft.metadata.image import (
    NO_LEADER,
    BrokerRegistration,
    MetadataImage,
    PartitionRegistration,
    RebalanceImage,
    RebalanceMove,
    TopicImage,
    UncleanElection,
)
from kraft.metadata.records import (
    AccessControlEntry,
    MetadataRecord,
    BecomeController,
    BrokerDecommission,
    BrokerRegistrationChange,
    ClientQuota,
    KEPT_TABLE,
    IcebergTable,
    ConfigRecord,
    PartitionChange,
    PartitionRecord,
    ProducerIds,
    RebalanceEnd,
    RebalanceStart,
    RegisterBroker,
    RemoveAccessControlEntry,
    RemoveTopic,
    RemoveUserScramCredential,
    TopicRecord,
    UnregisterBroker,
    UserScramCredential,
)
from kraft.security.acls import AclBinding
from kraft.security.scram import ScramCredential

MAX_UNCLEAN_HISTORY = 1000  # the per-partition counters keep the full count


class RecordRejected(Exception):
    """A record that does not fit the current image (stale epoch, unknown id, ...)."""


class MetadataDelta:
    def __init__(self, image: MetadataImage, offset: int):
        self._base = image
        self._offset = offset  # offset of the batch being replayed
        self._controller = (image.controller_id, image.controller_epoch)
        self._brokers: dict[int, BrokerRegistration] | None = None
        self._topics: dict[str, TopicImage] | None = None
        self._topic_ids: dict[str, str] | None = None
        self._topic_configs: dict[str, Mapping[str, str]] | None = None
        self._cluster_configs: dict[str, str] | None = None
        self._broker_configs: dict[int, Mapping[str, str]] | None = None
        self._group_configs: dict[str, Mapping[str, str]] | None = None
        self._next_producer_id = image.next_producer_id
        self._unclean = list(image.unclean_elections)
        self._acls: set[AclBinding] | None = None
        self._scram: dict[str, Mapping[str, ScramCredential]] | None = None
        self._decommissioning: dict[int, int] | None = None
        self._quotas: dict[tuple[tuple[str, str | None], ...], Mapping[str, float]] | None = None
        self._rebalance = image.rebalance
        self._iceberg: dict[str, str] | None = None
        self._notes = ChangeNotes()  # what the records touched, for metadata consumers
        # the partitions of each topic the records touched, as a list changed in place and
        # made a tuple once in apply(): a topic of thousands of partitions created, or
        # changed by thousands of records in one batch, is copied once, not per record
        self._parts: dict[str, list[PartitionRegistration]] = {}

    # Copy-on-write accessors: an area is copied only when a record touches it.
    def _brokers_w(self) -> dict[int, BrokerRegistration]:
        if self._brokers is None:
            self._brokers = dict(self._base.brokers)
        return self._brokers

    def _topics_w(self) -> dict[str, TopicImage]:
        if self._topics is None:
            self._topics = dict(self._base.topics)
            self._topic_ids = dict(self._base.topic_ids)
        return self._topics

    def _topic_ids_w(self) -> dict[str, str]:
        self._topics_w()
        assert self._topic_ids is not None  # copied together with the topics
        return self._topic_ids

    def _topic_configs_w(self) -> dict[str, Mapping[str, str]]:
        if self._topic_configs is None:
            self._topic_configs = dict(self._base.topic_configs)
        return self._topic_configs

    def _partitions_r(self, topic: TopicImage) -> list[PartitionRegistration] | tuple[PartitionRegistration, ...]:
        return self._parts.get(topic.topic_id, topic.partitions)

    def _partitions_w(self, topic: TopicImage) -> list[PartitionRegistration]:
        parts = self._parts.get(topic.topic_id)
        if parts is None:
            parts = self._parts[topic.topic_id] = list(topic.partitions)
            self._topics_w()  # the topics map is replaced in apply()
        return parts

    def _brokers_r(self) -> Mapping[int, BrokerRegistration]:
        return self._brokers if self._brokers is not None else self._base.brokers

    def _topics_r(self) -> Mapping[str, TopicImage]:
        return self._topics if self._topics is not None else self._base.topics

    def _topic_ids_r(self) -> Mapping[str, str]:
        return self._topic_ids if self._topic_ids is not None else self._base.topic_ids

    def replay(self, record: MetadataRecord) -> None:
        handler = getattr(self, "_replay_" + record.type)
        handler(record)

    def _replay_BecomeController(self, r: BecomeController) -> None:
        if r.controller_epoch <= self._controller[1]:
            raise RecordRejected(
                f"controller epoch {r.controller_epoch} is not newer than {self._controller[1]}"
            )
        self._controller = (r.controller_id, r.controller_epoch)
        self._notes.controller = True

    def _replay_RegisterBroker(self, r: RegisterBroker) -> None:
        self._brokers_w()[r.broker_id] = BrokerRegistration(
            broker_id=r.broker_id,
            broker_epoch=self._offset,
            incarnation_id=r.incarnation_id,
            host=r.host,
            http_port=r.http_port,
            roles=tuple(r.roles),
            kafka_port=r.kafka_port,
            inter_broker_port=r.inter_broker_port,
            fenced=True,
            rack=r.rack,
            host_name=r.host_name,
        )
        self._notes.brokers.add(r.broker_id)

    def _replay_BrokerRegistrationChange(self, r: BrokerRegistrationChange) -> None:
        current = self._brokers_r().get(r.broker_id)
        if current is None:
            raise RecordRejected(f"broker {r.broker_id} is not registered")
        if current.broker_epoch != r.broker_epoch:
            raise RecordRejected(
                f"broker {r.broker_id} epoch is {current.broker_epoch}, not {r.broker_epoch}"
            )
        changes: dict[str, Any] = {}
        if r.fenced is not None:
            changes["fenced"] = r.fenced
        if r.in_controlled_shutdown is not None:
            changes["in_controlled_shutdown"] = r.in_controlled_shutdown
        if r.log_dir_failed is not None:
            changes["log_dir_failed"] = r.log_dir_failed
        self._brokers_w()[r.broker_id] = replace(current, **changes)
        self._notes.brokers.add(r.broker_id)

    def _replay_BrokerDecommission(self, r: BrokerDecommission) -> None:
        if self._decommissioning is None:
            self._decommissioning = dict(self._base.decommissioning)
        if r.decommissioning:
            if r.broker_id not in self._brokers_r():
                raise RecordRejected(f"broker {r.broker_id} is not registered")
            self._decommissioning[r.broker_id] = r.partitions
        else:
            self._decommissioning.pop(r.broker_id, None)
        self._notes.brokers.add(r.broker_id)

    def _replay_UnregisterBroker(self, r: UnregisterBroker) -> None:
        current = self._brokers_r().get(r.broker_id)
        if current is None or current.broker_epoch != r.broker_epoch:
            raise RecordRejected(f"broker {r.broker_id} epoch {r.broker_epoch} is not registered")
        for topic in self._topics_r().values():
            if any(r.broker_id in p.replicas for p in self._partitions_r(topic)):
                raise RecordRejected(f"broker {r.broker_id} still holds replicas of {topic.name!r}")
        del self._brokers_w()[r.broker_id]
        self._notes.brokers.add(r.broker_id)

    def _replay_RebalanceStart(self, r: RebalanceStart) -> None:
        if self._rebalance is not None and self._rebalance.running:
            raise RecordRejected(f"rebalance {self._rebalance.rebalance_id} is running")
        moves = tuple(RebalanceMove(m.topic_id, m.partition, tuple(m.replicas), tuple(m.target)) for m in r.moves)
        self._rebalance = RebalanceImage(r.rebalance_id, moves, r.max_moves_in_flight)

    def _replay_RebalanceEnd(self, r: RebalanceEnd) -> None:
        current = self._rebalance
        if current is None or current.rebalance_id != r.rebalance_id or not current.running:
            raise RecordRejected(f"rebalance {r.rebalance_id} is not running")
        self._rebalance = replace(current, state=r.outcome)

    def _replay_Topic(self, r: TopicRecord) -> None:
        if r.name in self._topic_ids_r():
            raise RecordRejected(f"topic {r.name!r} already exists")
        if r.topic_id in self._topics_r():
            raise RecordRejected(f"topic id {r.topic_id} already exists")
        self._topics_w()[r.topic_id] = TopicImage(r.name, r.topic_id, ())
        self._topic_ids_w()[r.name] = r.topic_id
        self._notes.topics.add(r.topic_id)

    def _replay_Partition(self, r: PartitionRecord) -> None:
        topic = self._topics_r().get(r.topic_id)
        if topic is None:
            raise RecordRejected(f"topic id {r.topic_id} does not exist")
        if r.partition != len(self._partitions_r(topic)):
            raise RecordRejected(f"partition {r.partition} out of sequence")
        if not r.replicas or len(set(r.replicas)) != len(r.replicas):
            raise RecordRejected("replicas must be distinct and non-empty")
        if not set(r.isr) <= set(r.replicas) or (r.leader != NO_LEADER and r.leader not in r.isr):
            raise RecordRejected("isr must be within replicas and hold the leader")
        part = PartitionRegistration(
            tuple(r.replicas), tuple(r.isr), r.leader, r.leader_epoch, r.partition_epoch
        )
        self._partitions_w(topic).append(part)
        self._notes.partition(r.topic_id, r.partition)

    def _replay_PartitionChange(self, r: PartitionChange) -> None:
        topic = self._topics_r().get(r.topic_id)
        if topic is None or not 0 <= r.partition < len(self._partitions_r(topic)):
            raise RecordRejected(f"partition {r.topic_id}/{r.partition} does not exist")
        part = self._partitions_r(topic)[r.partition]
        if part.partition_epoch != r.expected_partition_epoch:
            raise RecordRejected(
                f"partition epoch is {part.partition_epoch}, not {r.expected_partition_epoch}"
            )
        isr = tuple(r.isr) if r.isr is not None else part.isr
        leader = r.leader if r.leader is not None else part.leader
        replicas = tuple(r.replicas) if r.replicas is not None else part.replicas
        adding = tuple(r.adding) if r.adding is not None else part.adding
        removing = tuple(r.removing) if r.removing is not None else part.removing
        if not replicas or len(set(replicas)) != len(replicas) \
                or not (set(adding) | set(removing)) <= set(replicas) or set(adding) & set(removing):
            raise RecordRejected("replicas must be distinct and non-empty, and hold adding and removing")
        if not set(isr) <= set(replicas) or (leader != NO_LEADER and leader not in isr):
            raise RecordRejected("isr must be within replicas and hold the leader")
        leader_epoch = part.leader_epoch + (1 if leader != part.leader else 0)
        unclean = part.unclean_elections + (1 if r.unclean else 0)
        # ELR members are replicas outside the ISR: one that joins the ISR or stops being
        # a replica leaves the ELR (a rule of replay, so every node agrees)
        elr = tuple(r.elr) if r.elr is not None else part.elr
        elr = tuple(b for b in elr if b in replicas and b not in isr)
        # the last known ELR lasts only while nobody is in the ISR or ELR
        last_known = r.last_known_elr if r.last_known_elr is not None else part.last_known_elr
        last_known = () if isr or elr else tuple(b for b in last_known if b in replicas)
        new = PartitionRegistration(
            replicas, isr, leader, leader_epoch, part.partition_epoch + 1, unclean, adding, removing,
            elr, last_known,
        )
        self._partitions_w(topic)[r.partition] = new
        self._notes.partition(r.topic_id, r.partition)
        if r.unclean:
            self._unclean.append(
                UncleanElection(topic.name, r.partition, leader, leader_epoch, self._offset)
            )

    def _replay_Config(self, r: ConfigRecord) -> None:
        if r.resource_type == "cluster":
            if self._cluster_configs is None:
                self._cluster_configs = dict(self._base.cluster_configs)
            target: dict[str, str] = self._cluster_configs
            self._notes.cluster_configs.add(r.name)
        elif r.resource_type == "broker":
            if not r.resource_name.isdigit():
                raise RecordRejected(f"broker config of {r.resource_name!r}: not a broker id")
            if self._broker_configs is None:
                self._broker_configs = dict(self._base.broker_configs)
            broker_id = int(r.resource_name)
            target = dict(self._broker_configs.get(broker_id, {}))
            self._broker_configs[broker_id] = target
            self._notes.cluster_configs.add(r.name)
        elif r.resource_type == "group":
            if self._group_configs is None:
                self._group_configs = dict(self._base.group_configs)
            target = dict(self._group_configs.get(r.resource_name, {}))
            self._group_configs[r.resource_name] = target
        else:
            if r.resource_name not in self._topic_ids_r():
                raise RecordRejected(f"topic {r.resource_name!r} does not exist")
            configs = self._topic_configs_w()
            target = dict(configs.get(r.resource_name, {}))
            configs[r.resource_name] = target
            self._notes.topic_configs.add(r.resource_name)
        if r.value is None:
            target.pop(r.name, None)
        else:
            target[r.name] = r.value

    def _replay_RemoveTopic(self, r: RemoveTopic) -> None:
        topic = self._topics_r().get(r.topic_id)
        if topic is None:
            raise RecordRejected(f"topic id {r.topic_id} does not exist")
        del self._topics_w()[r.topic_id]
        self._parts.pop(r.topic_id, None)
        del self._topic_ids_w()[topic.name]
        configs = self._topic_configs_w()
        if topic.name in configs:
            del configs[topic.name]
            self._notes.topic_configs.add(topic.name)
        self._notes.topics.add(r.topic_id)
        for key in (r.topic_id, r.topic_id + "~dlq"):  # the tables leave the catalog with their topic
            if key in self._base.iceberg_tables or (self._iceberg and key in self._iceberg):
                self._iceberg_w().pop(key, None)

    def _iceberg_w(self) -> dict[str, str]:
        if self._iceberg is None:
            self._iceberg = dict(self._base.iceberg_tables)
        return self._iceberg

    def _replay_IcebergTable(self, r: IcebergTable) -> None:
        if r.topic_id.startswith(KEPT_TABLE):  # a deleted topic's table, kept by name
            if r.metadata_location:
                self._iceberg_w()[r.topic_id] = r.metadata_location
            else:  # replaced by a topic that had no such table
                self._iceberg_w().pop(r.topic_id, None)
            return
        if r.topic_id.partition("~")[0] not in self._topics_r():  # <id>~dlq: its dead-letter table
            raise RecordRejected(f"topic id {r.topic_id} does not exist")
        self._iceberg_w()[r.topic_id] = r.metadata_location

    def _replay_ProducerIds(self, r: ProducerIds) -> None:
        broker = self._brokers_r().get(r.broker_id)
        if broker is None or broker.broker_epoch != r.broker_epoch:
            raise RecordRejected(f"broker {r.broker_id} epoch {r.broker_epoch} is stale")
        if r.next_producer_id <= self._next_producer_id:
            raise RecordRejected("producer id block does not move forward")
        self._next_producer_id = r.next_producer_id
        self._notes.producer_ids = True

    def _acls_w(self) -> set[AclBinding]:
        if self._acls is None:
            self._acls = set(self._base.acls)
        return self._acls

    def _replay_AccessControlEntry(self, r: AccessControlEntry) -> None:
        self._acls_w().add(_binding(r))
        self._notes.acls = True

    def _replay_RemoveAccessControlEntry(self, r: RemoveAccessControlEntry) -> None:
        self._acls_w().discard(_binding(r))
        self._notes.acls = True

    def _scram_w(self) -> dict[str, Mapping[str, ScramCredential]]:
        if self._scram is None:
            self._scram = dict(self._base.scram_credentials)
        return self._scram

    def _replay_UserScramCredential(self, r: UserScramCredential) -> None:
        users = self._scram_w()
        users[r.name] = {**users.get(r.name, {}), r.mechanism: ScramCredential.from_record_fields(r)}
        self._notes.users.add(r.name)

    def _replay_RemoveUserScramCredential(self, r: RemoveUserScramCredential) -> None:
        users = self._scram_w()
        left = {m: c for m, c in users.get(r.name, {}).items() if m != r.mechanism}
        if left:
            users[r.name] = left
        else:
            users.pop(r.name, None)
        self._notes.users.add(r.name)

    def _replay_ClientQuota(self, r: ClientQuota) -> None:
        if self._quotas is None:
            self._quotas = dict(self._base.client_quotas)
        values = {k: v for k, v in self._quotas.get(r.entity, {}).items() if k != r.key}
        if r.value is not None:
            values[r.key] = r.value
        if values:
            self._quotas[r.entity] = values
        else:
            self._quotas.pop(r.entity, None)

    def changes(self) -> MetadataChanges:
        """What the records replayed so far touched (see changes.py)."""
        return self._notes.frozen()

    def apply(self) -> MetadataImage:
        base = self._base
        if self._parts:
            topics = self._topics_w()
            for topic_id, parts in self._parts.items():
                topics[topic_id] = replace(topics[topic_id], partitions=tuple(parts))
            self._parts = {}
        return MetadataImage(
            offset=self._offset,
            controller_id=self._controller[0],
            controller_epoch=self._controller[1],
            brokers=self._brokers if self._brokers is not None else base.brokers,
            topics=self._topics if self._topics is not None else base.topics,
            topic_ids=self._topic_ids if self._topic_ids is not None else base.topic_ids,
            topic_configs=(
                self._topic_configs if self._topic_configs is not None else base.topic_configs
            ),
            cluster_configs=(
                self._cluster_configs if self._cluster_configs is not None else base.cluster_configs
            ),
            broker_configs=(
                {b: v for b, v in self._broker_configs.items() if v}
                if self._broker_configs is not None else base.broker_configs
            ),
            group_configs=(
                {g: v for g, v in self._group_configs.items() if v}
                if self._group_configs is not None else base.group_configs
            ),
            next_producer_id=self._next_producer_id,
            unclean_elections=tuple(self._unclean[-MAX_UNCLEAN_HISTORY:]),
            acls=frozenset(self._acls) if self._acls is not None else base.acls,
            scram_credentials=self._scram if self._scram is not None else base.scram_credentials,
            decommissioning=(
                self._decommissioning if self._decommissioning is not None else base.decommissioning
            ),
            client_quotas=self._quotas if self._quotas is not None else base.client_quotas,
            rebalance=self._rebalance,
            iceberg_tables=self._iceberg if self._iceberg is not None else base.iceberg_tables,
        )


def _binding(r: AccessControlEntry | RemoveAccessControlEntry) -> AclBinding:
    return AclBinding(r.resource_type, r.resource_name, r.pattern_type, r.principal, r.host,
                      r.operation, r.permission)
