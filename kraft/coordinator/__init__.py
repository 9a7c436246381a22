"""Layer `coordinator`: the runtime every coordinator of an internal topic runs on, after
Kafka 4's coordinator-common (CoordinatorRuntime, CoordinatorShard).

A coordinator keeps one state machine (a shard) per partition of its internal topic that
this node leads. The runtime does the rest once for all of them: which partition holds a
key (`placement`, Kafka's hash), loading a shard by replaying the partition's log when
leadership arrives and unloading it when leadership leaves or changes epoch
(`leadership`, `loader`), locating a key's coordinator and answering NOT_COORDINATOR /
COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE, creating the topic on first use,
periodic timers and the tasks a coordinator owns (`runtime`), and every write: an
operation run against its shard one at a time per partition, its records appended with
acks=all and replayed through the shard's one `replay`, answered once committed
(`writes`). The group coordinator (kraft/groups), the transaction coordinator
(kraft/transactions) and the share coordinator (kraft/share) are its users; a fourth
brings only its shard.

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage. The runtime reaches
the data path and the controller only through the callables it is given.
"""
