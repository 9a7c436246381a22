"""Layer `config`: cluster.toml's model and loader, the Kafka topic config specs
(names, types, ranges, defaults), a data dir's identity files and the keys derived
from them, and the failure lab's scenario files (`scenarios`: their model and the
built-in library).

May import: kraft.errors.
"""
