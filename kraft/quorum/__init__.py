"""Layer `quorum`: the metadata quorum. `protocol` is the interface the node uses,
`raft` its pysyncobj implementation (the only module that imports pysyncobj),
`memory` an in-memory implementation for tests and the deterministic simulation.

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage.
"""
