"""Layer `groups`: consumer groups. Assignors, the classic group state machine
(`ClassicGroup`, events and effects in `group_events`) with its two adapters (REST consumer
instances in `rest_instance_group`, Kafka protocol members in `kafka_client_group`), the
KIP-848 consumer group (`consumer_group`), a group's coordinator placement, topic_pattern
matching, committed offsets as records, and the `GroupCoordinator`: the coordinator
runtime's shards of the offsets partitions this node leads, with its work split by concept
(`classic_protocol`, `consumer_protocol`, `rest_instances`, `group_offsets`) over the
groups loaded here (`loaded_groups`).

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage, kraft.coordinator.
The coordinator reaches the data path only through the callables it is given.
"""
