"""kraft: a KRaft-style streaming cluster (Kafka's design without ZooKeeper).

The package is layered; each layer imports only the layers listed before it:

    errors -> config -> security -> schemas -> metadata -> iceberg -> storage -> quorum -> replication
    -> controller -> coordinator -> groups -> transactions -> share -> internode -> broker -> registry
    -> api | kafka
    -> server -> client -> scenario -> testing -> perf -> cli

api (HTTP) and kafka (the Kafka protocol) are the two front doors, side by side over
the same broker services (kraft/broker/services.py): neither imports the other.
internode is node-to-node HTTP's client half, below the broker; its server half
(server/internode_routes.py) sits in the server, above the doors whose HTTP body helpers
it shares.

iceberg holds Iceberg's side of Iceberg topics (the table layout, the catalog over the
metadata's table pointers, a partition's translation round); the node's translators
are the broker's (broker/iceberg_tables.py).

The order is `ORDER` in `tests/unit/test_layers.py`, which checks the rule on every
import in the tree and this list against it; README.md's "Layout" table says what each
layer holds. Each sub-package's docstring names what it holds and what it may import.
"""
