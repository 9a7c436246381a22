"""Layer `client`: the bundled HTTP clients (admin and idempotent producer) that the
CLI, the benchmarks and the failure lab use. Standard library HTTP only.

May import: kraft.errors, kraft.broker.partitioner (the same key -> partition rule as
the server); nothing else of kraft.
"""
