"""One client's connection to the Kafka listener: accepting it, its session (SASL, TLS),
its request context and limits, the API table and the dispatch to a handler."""
