"""kraft: a KRaft-style streaming cluster (Kafka's design without ZooKeeper).

The package is layered; each layer imports only the layers listed before it:

    errors -> config -> metadata -> storage -> quorum -> replication -> controller
    -> groups -> broker -> api -> server -> client -> cli, perf, scenario

`tests/unit/test_layers.py` checks the rule on every import in the tree. Each
sub-package's docstring names what it holds and what it may import.
"""
