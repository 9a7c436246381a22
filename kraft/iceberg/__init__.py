"""Iceberg topics: Kafka records translated into Apache Iceberg tables."""
