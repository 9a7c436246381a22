"""Topic config commands and the effective-config lookup. Pure.

Configs live in the metadata log as strings (like Kafka). A change that enables
unclean leader election also elects leaders for the topic's offline partitions in
the same batch: the toggle takes effect live. A min.insync.replicas change that lets
an ISR reach min ISR empties that partition's ELR in the same batch, before any
leader can move its high watermark on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from kraft.controller.result import ControllerResult
from kraft.controller.partition_change import build_partition_change
from kraft.errors import BrokerNotFound, InvalidConfig, InvalidValue, ReadOnlyBrokerConfig, TopicNotFound
from kraft.metadata.delta import MetadataDelta
from kraft.metadata.effective_configs import MIN_ISR, UNCLEAN, min_isr
from kraft.metadata.image import MetadataImage, TopicImage
from kraft.metadata.records import ConfigRecord, MetadataRecord, PartitionChange
from kraft.config.broker_dynamic import ReadOnlyConfig, dynamic_value
from kraft.config.group_configs import GroupConfigError, checked_changes
from kraft.config.topic_configs import (
    TOPIC_CONFIGS,
    ConfigError,
    parse_topic_override,
)


def alter_topic_configs(
    image: MetadataImage,
    defaults: dict[str, str],
    topic: str,
    changes: dict[str, object | None],  # None resets to the default
) -> ControllerResult:
    if image.topic(topic) is None:
        raise TopicNotFound(f"topic {topic!r} not found")
    if not changes:
        raise InvalidValue("no config changes given")
    records: list[MetadataRecord] = []
    for name, raw in changes.items():
        try:
            value = None if raw is None else parse_topic_override(name, raw)
        except ConfigError as exc:
            raise InvalidConfig(str(exc)) from None
        if raw is None and name not in TOPIC_CONFIGS:
            raise InvalidConfig(f"unknown topic config {name!r}")
        records.append(ConfigRecord(resource_type="topic", resource_name=topic, name=name,
                                    value=value))
    records.extend(_elections_after(image, defaults, topic, changes))
    if MIN_ISR in changes:
        records.extend(_elrs_after(image, defaults, records, [topic]))
    return ControllerResult(records, {"topic_name": topic, "changed": sorted(changes)})


def alter_cluster_configs(
    image: MetadataImage,
    defaults: dict[str, str],
    changes: dict[str, object | None],  # Kafka broker names; None removes the dynamic value
) -> ControllerResult:
    """Dynamic cluster-wide broker configs (Kafka's DYNAMIC_DEFAULT_BROKER_CONFIG): every
    topic without a value of its own takes the topic defaults, live; every broker without
    a value of its own the others."""
    if not changes:
        raise InvalidValue("no config changes given")
    configs = _dynamic_records(changes, "cluster", "")
    unclean_now = any(r.name == UNCLEAN and r.value == "true" for r in configs)
    records: list[MetadataRecord] = list(configs)
    if unclean_now:  # as for a topic's own toggle: offline partitions may be led at once
        for topic in image.topics.values():
            if UNCLEAN not in image.topic_configs.get(topic.name, {}):
                records.extend(_offline_elections(image, defaults, topic))
    if any(r.name == MIN_ISR for r in records if isinstance(r, ConfigRecord)):
        inheriting = [t.name for t in image.topics.values()
                      if MIN_ISR not in image.topic_configs.get(t.name, {})]
        records.extend(_elrs_after(image, defaults, records, inheriting))
    return ControllerResult(records, {"changed": sorted(changes)})


def alter_broker_configs(
    image: MetadataImage,
    broker_id: int,
    changes: dict[str, object | None],  # Kafka broker names; None removes the broker's own value
) -> ControllerResult:
    """One broker's dynamic configs (Kafka's DYNAMIC_BROKER_CONFIG), over the cluster-wide
    ones for that broker alone (kraft.config.broker_dynamic says which)."""
    if broker_id not in image.brokers:
        raise BrokerNotFound(f"broker {broker_id} is not registered")
    if not changes:
        raise InvalidValue("no config changes given")
    records = _dynamic_records(changes, "broker", str(broker_id))
    return ControllerResult(records, {"broker_id": broker_id, "changed": sorted(changes)})


def alter_group_configs(group_id: str, changes: dict[str, object | None]) -> ControllerResult:
    """One group's configs (Kafka's GROUP resource): a group need not exist to have them."""
    if not group_id:
        raise InvalidValue("the group id is empty")
    if not changes:
        raise InvalidValue("no config changes given")
    try:
        stored = checked_changes(changes)
    except GroupConfigError as exc:
        raise InvalidConfig(str(exc)) from None
    records = [ConfigRecord(resource_type="group", resource_name=group_id, name=name, value=value)
               for name, value in stored.items()]
    return ControllerResult(records, {"group_id": group_id, "changed": sorted(changes)})


def _dynamic_records(changes: dict[str, object | None], resource_type: Literal["cluster", "broker"],
                     resource_name: str) -> list[ConfigRecord]:
    records: list[ConfigRecord] = []
    for name, raw in changes.items():
        try:
            stored, value = dynamic_value(name, raw, per_broker=resource_type == "broker")
        except ReadOnlyConfig as exc:
            raise ReadOnlyBrokerConfig(str(exc)) from None
        except ConfigError as exc:
            raise InvalidConfig(str(exc)) from None
        records.append(ConfigRecord(resource_type=resource_type, resource_name=resource_name, name=stored,
                                    value=None if raw is None else value))
    return records


def _elections_after(image: MetadataImage, defaults: dict[str, str], topic_name: str,
                     changes: dict[str, object]) -> list[PartitionChange]:
    """Offline partitions may get a leader at once when unclean election turns on."""
    key = "unclean.leader.election.enable"
    if key not in changes or changes[key] is None:
        return []
    if parse_topic_override(key, changes[key]) != "true":
        return []
    topic = image.topic(topic_name)
    assert topic is not None  # alter_topic_configs refused an unknown topic first
    return _offline_elections(image, defaults, topic)


def _offline_elections(image: MetadataImage, defaults: dict[str, str], topic: TopicImage) -> list[PartitionChange]:
    out = []
    for index, part in enumerate(topic.partitions):
        if part.online:
            continue
        change = build_partition_change(image, topic.topic_id, index, part, unclean_allowed=True,
                                        min_isr=min_isr(image, defaults, topic.name))
        if change is not None:
            out.append(change)
    return out


def _elrs_after(image: MetadataImage, defaults: dict[str, str], records: list[MetadataRecord],
                topic_names: Iterable[str]) -> list[PartitionChange]:
    """ELRs emptied where the ISR reaches the min ISR these records set."""
    delta = MetadataDelta(image, image.offset + 1)
    for record in records:
        if isinstance(record, ConfigRecord):
            delta.replay(record)
    after = delta.apply()
    changed = {(r.topic_id, r.partition) for r in records if isinstance(r, PartitionChange)}
    out = []
    for name in topic_names:
        topic = after.topic(name)
        if topic is None:
            continue
        needed = min_isr(after, defaults, name)
        for index, part in enumerate(topic.partitions):
            if part.elr and len(part.isr) >= needed and (topic.topic_id, index) not in changed:
                out.append(PartitionChange(topic_id=topic.topic_id, partition=index,
                                           expected_partition_epoch=part.partition_epoch, elr=()))
    return out
