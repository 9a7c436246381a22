"""The `_schemas` topic: one partition, compacted (the latest record per key is the
state), replicated on up to three brokers, created by the cluster on first write."""

from __future__ import annotations

from typing import Any

from kraft.config.topic_names import SCHEMAS_TOPIC

TOPIC = SCHEMAS_TOPIC
PARTITION = 0
REPLICATION_FACTOR = 3  # Confluent's kafkastore.topic.replication.factor
# above any record the registry writes (registry_writes.MAX_RECORD_BYTES): a schema that
# may be registered is never refused by the log
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def create_request(live_hosts: int) -> dict[str, Any]:
    """The controller's create_topic payload (by the cluster: clients may not create it)."""
    rf = max(1, min(REPLICATION_FACTOR, live_hosts))
    return {"name": TOPIC, "by_cluster": True, "partitions": 1, "replication_factor": rf,
            "configs": {"cleanup.policy": "compact", "compression.type": "uncompressed",
                        "unclean.leader.election.enable": "false",
                        "max.message.bytes": str(MAX_MESSAGE_BYTES),
                        "min.insync.replicas": str(max(1, min(2, rf)))}}
