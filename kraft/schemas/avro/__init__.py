"""Apache Avro schemas: parsing, canonical form, resolution and compatibility, and the
records they describe (binary and JSON)."""
