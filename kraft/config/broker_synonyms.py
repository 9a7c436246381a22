"""Kafka's broker configs that set topic defaults, by their broker names.

A dynamic value of one (cluster-wide or for one broker: broker_dynamic.py) is stored
under the topic config it defaults, so a topic reads it when it has no value of its own.
Pure.
"""

from __future__ import annotations


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
