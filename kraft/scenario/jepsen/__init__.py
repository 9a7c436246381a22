"""The Jepsen-style workloads (queue and transactions, after Jepsen's Kafka test): the
generator, the clients, the history they record, and the checks of its anomalies."""
