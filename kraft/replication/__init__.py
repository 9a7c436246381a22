"""Layer `replication`: leader and follower replication of partitions. The sans-IO
replica state machine, HW and ISR rules, the fetch wire format, and the replica manager
that owns every local replica and its fetchers.

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage.
"""
