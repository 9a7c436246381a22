"""Node-to-node HTTP: how the cluster's own nodes talk to each other, apart from the
public REST door (kraft/api) though on the same HTTP port.

Two halves, at two layers:
- the client half, below the broker (it may import errors..groups): `peers`, the one
  node-to-node HTTP client (signed requests, forwarded identities);
- the server half, `routes` (/internal/v1/...: controller requests, the metadata log
  for observers, group listings, share-group state), beside the
  front doors: it serves the broker's services and may import the broker and the
  REST door's HTTP body helpers. The node mounts it on its HTTP app.

Replication, transaction markers and the REST door's calls at a leader go over Kafka
instead, as Kafka's brokers do (kraft/kafka/broker_client.py).

Every request is signed with a key only this cluster's nodes derive
(kraft/config/cluster_keys.py); tests/unit/test_layers.py checks both halves' imports.
"""
