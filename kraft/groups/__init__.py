"""Layer `groups`: consumer groups. Assignors, the classic group state machine
(`ClassicGroup`, events and effects in `group_events`) with its two adapters (REST consumer
instances in `rest_instance_group`, Kafka protocol members in `kafka_client_group`), a group's
coordinator placement, topic_pattern matching, committed offsets as records, and the
`GroupCoordinator` that hosts the groups of the offsets partitions this node leads.

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage. The coordinator
reaches the data path only through the callables it is given.
"""
