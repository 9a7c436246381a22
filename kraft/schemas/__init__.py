"""Schemas as Confluent's Schema Registry knows them: the three formats (AVRO, JSON Schema,
PROTOBUF), each parsed and canonicalised with a well-kept library, and whether one schema
can read what another wrote. Pure: no I/O; imports only kraft.errors.

`formats.py` is the one interface the registry, the REST door and the broker's validation
use; `avro/schema.py`, `json_schema/schema.py` and `protobuf/schema.py` implement it."""
