"""Which node coordinates a transactional id: the leader of one partition of
__transaction_state. Pure.

As in Kafka: partition = Utils.abs(transactionalId.hashCode()) % partitions of the
topic, with Java's String.hashCode (kraft/coordinator/placement.py, as the group coordinator's placement),
so a transactional id lands on the same partition number as in a Kafka cluster with the
same partition count. The topic is internal, replicated and compacted (the latest state
per transactional id survives), never compressed, and never elects an unclean leader.
"""

from __future__ import annotations

from kraft.coordinator.placement import key_partition
# re-exported: defined with the other internal topic
from kraft.config.topic_names import TXN_STATE_TOPIC as TXN_STATE_TOPIC
from kraft.config.transaction_settings import TransactionSettings

DEFAULT_TXN_STATE_PARTITIONS = 50  # transaction.state.log.num.partitions


def txn_partition(transactional_id: str, count: int = DEFAULT_TXN_STATE_PARTITIONS) -> int:
    """The __transaction_state partition whose leader coordinates `transactional_id`."""
    if count < 1:
        raise ValueError(f"{TXN_STATE_TOPIC} needs at least one partition, got {count} (caller's fault)")
    return key_partition(transactional_id, count)


def txn_state_topic_configs(replication_factor: int, settings: TransactionSettings | None = None) -> dict[str, str]:
    """The topic configs __transaction_state is created with (Kafka's
    TransactionStateManager.transactionTopicConfigs), min.insync.replicas capped by the
    replication factor it gets."""
    s = settings or TransactionSettings()
    return {
        "cleanup.policy": "compact",
        "compression.type": "uncompressed",
        "unclean.leader.election.enable": "false",
        "min.insync.replicas": str(max(1, min(s.state_log_min_isr, replication_factor))),
        "segment.bytes": str(s.state_log_segment_bytes),
    }
