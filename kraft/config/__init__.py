"""Layer `config`: cluster.toml's model and loader, and a data dir's identity files.

May import: kraft.errors, kraft.metadata.topic_configs (config values are checked with
the same specs the metadata layer uses).
"""
