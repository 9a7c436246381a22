"""One module per Kafka API (or family), each answering its requests over the broker
services the REST routes use too."""
