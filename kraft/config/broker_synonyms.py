"""Kafka's cluster-wide broker configs that set topic defaults, by their broker names.

A dynamic cluster-wide value (`/v3/clusters/{cid}/broker-configs`, Kafka's
DYNAMIC_DEFAULT_BROKER_CONFIG) is stored under the topic config it defaults, so a topic
reads it as its own value when it has none. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from kraft.config.replication_throttle import THROTTLE_RATES, parse_rate
from kraft.config.suggestion import did_you_mean
from kraft.config.topic_configs import ConfigError, parse_config_value

TOPIC_CONFIG_OF: dict[str, str] = {
    "log.cleanup.policy": "cleanup.policy",
    "compression.type": "compression.type",
    "log.cleaner.delete.retention.ms": "delete.retention.ms",
    "log.segment.delete.delay.ms": "file.delete.delay.ms",
    "log.flush.interval.messages": "flush.messages",
    "log.flush.interval.ms": "flush.ms",
    "log.index.interval.bytes": "index.interval.bytes",
    "log.cleaner.max.compaction.lag.ms": "max.compaction.lag.ms",
    "message.max.bytes": "max.message.bytes",
    "log.message.downconversion.enable": "message.downconversion.enable",
    "log.message.timestamp.after.max.ms": "message.timestamp.after.max.ms",
    "log.message.timestamp.before.max.ms": "message.timestamp.before.max.ms",
    "log.message.timestamp.type": "message.timestamp.type",
    "log.cleaner.min.cleanable.ratio": "min.cleanable.dirty.ratio",
    "log.cleaner.min.compaction.lag.ms": "min.compaction.lag.ms",
    "min.insync.replicas": "min.insync.replicas",
    "log.preallocate": "preallocate",
    "log.local.retention.bytes": "local.retention.bytes",
    "log.local.retention.ms": "local.retention.ms",
    "log.retention.bytes": "retention.bytes",
    "log.retention.ms": "retention.ms",
    "log.segment.bytes": "segment.bytes",
    "log.index.size.max.bytes": "segment.index.bytes",
    "log.roll.jitter.ms": "segment.jitter.ms",
    "log.roll.ms": "segment.ms",
    "unclean.leader.election.enable": "unclean.leader.election.enable",
}
BROKER_NAME_OF: dict[str, str] = {topic: broker for broker, topic in TOPIC_CONFIG_OF.items()}


def cluster_values_by_broker_name(cluster_configs: Mapping[str, str]) -> dict[str, str]:
    """The cluster-wide dynamic values (topic defaults stored under topic names, throttle
    rates under their own) by their broker names."""
    return {BROKER_NAME_OF.get(k, k): v for k, v in sorted(cluster_configs.items())
            if k in BROKER_NAME_OF or k in THROTTLE_RATES}


def cluster_default(broker_name: str, raw: object) -> tuple[str, str]:
    """(name stored under, canonical value) for a cluster-wide broker config, or ConfigError."""
    if broker_name in THROTTLE_RATES:
        return broker_name, parse_rate(broker_name, raw)
    topic_name = TOPIC_CONFIG_OF.get(broker_name)
    if topic_name is None:
        hint = (f' (its broker name is "{BROKER_NAME_OF[broker_name]}")' if broker_name in BROKER_NAME_OF
                else did_you_mean(broker_name, [*TOPIC_CONFIG_OF, *THROTTLE_RATES]))
        raise ConfigError(broker_name, "not a cluster-wide broker config kraft knows: the topic "
                                       f"defaults, under Kafka's broker names, and the replication "
                                       f"throttle rates{hint}")
    try:
        return topic_name, parse_config_value(topic_name, raw)
    except ConfigError as exc:
        raise ConfigError(broker_name, exc.reason) from None
