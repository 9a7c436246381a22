"""Layer `quorum`: the metadata quorum. `protocol` is the interface the node uses,
`raft` its pysyncobj implementation (`raft_syncobj`: the library's SyncObj as it runs it),
with `raft_transport`, `raft_append_guard`, `raft_files`, `raft_durable` and `raft_voters`
(the voter set) around the library (only `raft*` modules import pysyncobj), `memory` an
in-memory implementation for tests and the deterministic simulation.

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage.
"""
