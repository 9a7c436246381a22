"""Which ACL each client operation needs, whichever door it came through: one table.

Kafka's authorizer asks (operation, resource type, name) of each request. The REST
door's route rules (api/access_rules.py) and the Kafka door's handlers name the client
operation here and never spell its ACL themselves, so both doors ask the same of the
same work. Where Kafka accepts either of two ACLs (CREATE on the cluster or on the
topic; IDEMPOTENT_WRITE on the cluster or WRITE on some topic), the caller asks for the
first and then the second. Pure: no I/O.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args


class Need(NamedTuple):
    """An ACL: what Kafka's authorizer asks, an operation on a resource type."""

    operation: str
    resource_type: str


ClientOperation = Literal[
    "produce", "transactional_write", "describe_transaction", "idempotent_write",
    "consume", "describe_topic", "create_topics", "create_topic", "delete_topic", "delete_records",
    "alter_topic", "describe_topic_configs", "alter_topic_configs",
    "use_group", "describe_group", "delete_group", "describe_group_configs", "alter_group_configs",
    "describe_cluster", "alter_cluster", "describe_cluster_configs", "alter_cluster_configs",
    "cluster_action",
    "read_subject", "write_subject", "delete_subject", "describe_subject",
    "describe_subject_configs", "alter_subject_configs",
]

NEEDS: dict[ClientOperation, Need] = {
    # records in and out
    "produce": Need("WRITE", "TOPIC"),  # Produce; REST v2/v3 produce
    "transactional_write": Need("WRITE", "TRANSACTIONAL_ID"),  # a transactional Produce, InitProducerId, *Txn
    "describe_transaction": Need("DESCRIBE", "TRANSACTIONAL_ID"),  # FindCoordinator, List/DescribeTransactions
    "idempotent_write": Need("IDEMPOTENT_WRITE", "CLUSTER"),  # InitProducerId; REST producers (or WRITE on a topic)
    "consume": Need("READ", "TOPIC"),  # Fetch, a topic's offsets committed, DescribeProducers; REST reads
    # topics
    "describe_topic": Need("DESCRIBE", "TOPIC"),  # Metadata, ListOffsets, OffsetFetch; REST views and offsets
    "create_topics": Need("CREATE", "CLUSTER"),  # CreateTopics, auto-create: any topic...
    "create_topic": Need("CREATE", "TOPIC"),  # ...or this one
    "delete_topic": Need("DELETE", "TOPIC"),  # DeleteTopics; REST DELETE topic
    "delete_records": Need("DELETE", "TOPIC"),  # DeleteRecords; REST records:delete
    "alter_topic": Need("ALTER", "TOPIC"),  # CreatePartitions; REST PATCH topic
    "describe_topic_configs": Need("DESCRIBE_CONFIGS", "TOPIC"),
    "alter_topic_configs": Need("ALTER_CONFIGS", "TOPIC"),
    # groups
    "use_group": Need("READ", "GROUP"),  # join, sync, heartbeat, commit, fetch offsets; REST consumer instances
    "describe_group": Need("DESCRIBE", "GROUP"),
    "delete_group": Need("DELETE", "GROUP"),  # DeleteGroups, OffsetDelete; REST DELETE group
    "describe_group_configs": Need("DESCRIBE_CONFIGS", "GROUP"),  # a group's configs (KIP-932)
    "alter_group_configs": Need("ALTER_CONFIGS", "GROUP"),
    # the cluster
    "describe_cluster": Need("DESCRIBE", "CLUSTER"),  # ACLs, users, quorum, log dirs, reassignments
    "alter_cluster": Need("ALTER", "CLUSTER"),  # ACLs, users, voters, elections, reassignments, brokers
    "describe_cluster_configs": Need("DESCRIBE_CONFIGS", "CLUSTER"),  # broker configs, client quotas
    "alter_cluster_configs": Need("ALTER_CONFIGS", "CLUSTER"),
    "cluster_action": Need("CLUSTER_ACTION", "CLUSTER"),  # brokers' own requests (AddPartitionsToTxn v4+)
    # schema registry subjects (Confluent's SUBJECT_* operations; kraft/registry/access_table.py);
    # its global config and mode are the cluster's DESCRIBE_CONFIGS / ALTER_CONFIGS
    "read_subject": Need("READ", "SUBJECT"),  # versions, a version, look-up; a schema by id
    "write_subject": Need("WRITE", "SUBJECT"),  # register; compatibility checks
    "delete_subject": Need("DELETE", "SUBJECT"),  # soft and permanent deletes
    "describe_subject": Need("DESCRIBE", "SUBJECT"),  # GET /subjects lists it
    "describe_subject_configs": Need("DESCRIBE_CONFIGS", "SUBJECT"),  # its config and mode
    "alter_subject_configs": Need("ALTER_CONFIGS", "SUBJECT"),
}

assert set(NEEDS) == set(get_args(ClientOperation)), "every client operation has its ACL"
