"""Layer `api`: the HTTP front door. Route modules per area and `error_map`, the one
table from error classes to HTTP status and REST error code.

May import: every layer from errors up to broker.
"""
