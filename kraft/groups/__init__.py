"""Layer `groups`: consumer groups. Assignors, the classic group state machine
(`ClassicGroup`), REST consumer instances as members, committed offsets as records, and
the `ClassicGroup` that hosts the groups of the offsets partitions this node leads.

May import: kraft.errors, kraft.config, kraft.metadata, kraft.storage. The coordinator
reaches the data path only through the callables it is given.
"""
