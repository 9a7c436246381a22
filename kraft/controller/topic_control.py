"""Topic commands: image + request -> records + response. Pure.

Validation raises the API error a user should see; nothing is written for a request
that fails here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kraft.controller.result import ControllerResult
from kraft.controller.placement import manual_assignment, place_replicas
from kraft.config.topic_names import refuse_client_change_of_internal, validate_topic_name
from kraft.errors import (InvalidConfig, InvalidPartitions, InvalidReplicaAssignment, InvalidReplicationFactor,
                          InvalidValue, TopicAlreadyExists, TopicNotFound)
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import (KEPT_TABLE, ConfigRecord, IcebergTable, MetadataRecord, PartitionRecord,
                                    RemoveTopic, TopicRecord)
from kraft.config.topic_configs import ConfigError, parse_topic_override, topic_default

MAX_PARTITIONS_PER_REQUEST = 10_000
MAX_REPLICATION_FACTOR = 32
def _collision_key(name: str) -> str:
    # '.' and '_' collide in Kafka's metric names, so Kafka refuses such pairs.
    return name.replace(".", "_")


@dataclass(frozen=True)
class CreateTopic:
    name: str
    partitions: int | None = None
    replication_factor: int | None = None
    configs: dict[str, object] = field(default_factory=dict)
    # (partition, brokers) chosen by the client instead of partitions and replication factor
    assignments: tuple[tuple[int, tuple[int, ...]], ...] | None = None
    by_cluster: bool = False  # a coordinator creating its internal topic, not a client


MIN_ISR = "min.insync.replicas"


def create_topic(
    image: MetadataImage, req: CreateTopic, defaults: dict[str, str], topic_id: str
) -> ControllerResult:
    name = validate_topic_name(req.name)
    if not req.by_cluster:  # every door's create (REST, CreateTopics, auto-create) lands here
        refuse_client_change_of_internal(name, "create")
    if name in image.topic_ids:
        raise TopicAlreadyExists(f"topic {name!r} already exists")
    key = _collision_key(name)
    for existing in image.topic_ids:
        if _collision_key(existing) == key:
            raise InvalidValue(
                f"topic {name!r} collides with existing topic {existing!r} ('.' and '_' are interchangeable in metric names)"
            )
    manual = None
    if req.assignments:
        if len(req.assignments) > MAX_PARTITIONS_PER_REQUEST:
            raise InvalidPartitions(f"{len(req.assignments)} partitions are over the limit of {MAX_PARTITIONS_PER_REQUEST}")
        manual = manual_assignment(image, req.assignments)
        partitions, rf = len(manual), len(manual[0])
    else:
        partitions = _positive_int(
            req.partitions, int(topic_default(defaults, "num.partitions")), "partitions_count",
            MAX_PARTITIONS_PER_REQUEST, InvalidPartitions,
        )
        rf = _positive_int(
            req.replication_factor, int(topic_default(defaults, "replication.factor")), "replication_factor",
            MAX_REPLICATION_FACTOR, InvalidReplicationFactor,
        )
    configs = {}
    for cname, raw in req.configs.items():
        try:
            configs[cname] = parse_topic_override(cname, raw)
        except ConfigError as exc:
            raise InvalidConfig(str(exc)) from None
    explicit_min_isr = configs.get(MIN_ISR)
    if explicit_min_isr is not None and int(explicit_min_isr) > rf:
        raise InvalidConfig(f"{MIN_ISR} {explicit_min_isr} is larger than the replication factor "
                           f"{rf}: no acks=all write could ever succeed")
    try:
        assignment = manual if manual is not None else place_replicas(image, partitions, rf)
    except ValueError as exc:  # more replicas than live brokers
        raise InvalidReplicationFactor(str(exc)) from None

    records: list[MetadataRecord] = [TopicRecord(name=name, topic_id=topic_id)]
    records += _partition_records(image, topic_id, 0, assignment)
    for cname, value in sorted(configs.items()):
        records.append(ConfigRecord(resource_type="topic", resource_name=name, name=cname,
                                    value=value))
    response = {"topic_name": name, "topic_id": topic_id, "partitions_count": partitions,
                "replication_factor": rf}
    return ControllerResult(records, response)


def _partition_records(image: MetadataImage, topic_id: str, first: int,
                       assignment: list[tuple[int, ...]]) -> list[PartitionRecord]:
    """New partitions: in sync are the replicas that can lead now (every one when kraft
    placed them; a client's own lists may name a fenced broker), led by the first."""
    out = []
    for i, replicas in enumerate(assignment):
        isr = tuple(b for b in replicas if image.is_usable(b)) or replicas
        out.append(PartitionRecord(topic_id=topic_id, partition=first + i, replicas=replicas, isr=isr, leader=isr[0]))
    return out


def delete_topic(image: MetadataImage, name: str) -> ControllerResult:
    refuse_client_change_of_internal(name, "delete")
    topic = image.topic(name)
    if topic is None:
        raise TopicNotFound(f"topic {name!r} not found")
    return ControllerResult([*kept_tables(image, name, topic.topic_id), RemoveTopic(topic_id=topic.topic_id)],
                            {"topic_name": name})


def kept_tables(image: MetadataImage, name: str, topic_id: str) -> list[IcebergTable]:
    """With iceberg.delete=false (the topic's own setting), its tables stay in the catalog
    under its name once it is deleted (the RemoveTopic after them takes the topic's own
    pointers). Tables kept before under the name are replaced, both: a kept dead-letter
    table this topic has none to replace goes (an empty location), so the two kept tables
    are always one topic's."""
    if image.topic_configs.get(name, {}).get("iceberg.delete", "true").lower() != "false" \
            or topic_id not in image.iceberg_tables:
        return []  # nothing to keep: tables kept before under the name stay as they are
    out = []
    for suffix in ("", "~dlq"):
        location = image.iceberg_tables.get(topic_id + suffix)
        if location is not None or KEPT_TABLE + name + suffix in image.iceberg_tables:
            out.append(IcebergTable(topic_id=KEPT_TABLE + name + suffix, metadata_location=location or ""))
    return out


def create_partitions(image: MetadataImage, name: str, count: object,
                      assignments: list[tuple[int, ...]] | None = None) -> ControllerResult:
    """Kafka's CreatePartitions: grow a topic to `count` partitions with its replication
    factor (on the brokers `assignments` name for each new partition, when given); a
    topic never shrinks (keys would move and records be lost). An internal topic's count
    is fixed: a coordinator's partition is a hash modulo it."""
    refuse_client_change_of_internal(name, "add partitions to")
    topic = image.topic(name)
    if topic is None:
        raise TopicNotFound(f"topic {name!r} not found")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidPartitions(f"partitions_count must be an integer, got {count!r}")
    have = len(topic.partitions)
    if count < have:
        raise InvalidPartitions(f"topic {name!r} has {have} partitions; the count can only grow")
    if count == have:
        raise InvalidPartitions(f"topic {name!r} already has {have} partitions")
    if count - have > MAX_PARTITIONS_PER_REQUEST:
        raise InvalidPartitions(f"adding {count - have} partitions is over the limit of "
                           f"{MAX_PARTITIONS_PER_REQUEST} per request")
    rf = len(topic.partitions[0].replicas)
    if assignments is not None:
        if len(assignments) != count - have:
            raise InvalidReplicaAssignment(f"{count - have} partitions are added but {len(assignments)} "
                                           "assignments were given")
        placed = manual_assignment(image, list(enumerate(assignments, have)), have, rf)
    else:
        try:
            placed = place_replicas(image, count - have, rf)
        except ValueError as exc:  # more replicas than live brokers
            raise InvalidReplicationFactor(str(exc)) from None
    records = _partition_records(image, topic.topic_id, have, placed)
    return ControllerResult(records, {"topic_name": name, "partitions_count": count, "replication_factor": rf})


def _positive_int(value: object, default: int, what: str, cap: int, error: type[InvalidValue]) -> int:
    if value is None or value == -1:  # -1 means "the default", as in Kafka's CreateTopics
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an integer, got {value!r}")
    if value < 1:
        raise error(f"{what} must be at least 1, got {value}")
    if value > cap:
        raise error(f"{what} {value} is over the limit of {cap}")
    return value
