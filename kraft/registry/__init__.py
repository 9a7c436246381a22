"""Confluent Schema Registry on every node: the state kept from `_schemas`
(`follower`), the one writer (`writer`: the leader of `_schemas` partition 0 assigns ids
and versions; other nodes forward to it, `service`), and Confluent's REST API on the
node's `schema_registry_port` (`routes`, `app`). The rules themselves are pure, in
kraft/schemas/registry_*.py.

Imports the layers up to broker (the data plane and the partition reader), never the
doors."""
