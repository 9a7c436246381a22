"""Layer `transactions`: Kafka's transaction coordinator (KIP-98, KIP-360, KIP-447,
KIP-890 partition verification). Which partition of __transaction_state holds a
transactional id (`txn_placement`), the settings (kraft/config/transaction_settings.py), one transactional id's
state machine (`txn_metadata`, pure), its records in __transaction_state and their
replay (`txn_log`), what a transaction marker carries and how its answers are read
(`txn_markers`), finishing a prepared transaction (`txn_completion`), and the
`TransactionCoordinator` that serves the transactional ids of the __transaction_state
partitions this node leads, as shards of the coordinator runtime (`txn_coordinator`).

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage, kraft.coordinator,
and kraft.groups.coordinator_placement (the group's offsets partition of AddOffsetsToTxn).
The coordinator reaches the data path, the controller and the other brokers only through
the callables it is given.
"""
