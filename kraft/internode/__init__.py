"""Node-to-node HTTP's client half: how the cluster's own nodes ask each other, apart
from the public REST door (kraft/api) though on the same HTTP port. Below the broker (it
may import errors..groups): `peers`, the one node-to-node HTTP client (signed requests,
forwarded identities). The server half, /internal/v1/... (controller requests, the
metadata log for observers, group listings, share-group state), is
kraft/server/internode_routes.py, mounted by the node on its HTTP app.

Replication, transaction markers and the REST door's calls at a leader go over Kafka
instead, as Kafka's brokers do (kraft/kafka/client/broker_client.py).

Every request is signed with a key only this cluster's nodes derive
(kraft/config/cluster_keys.py).
"""
