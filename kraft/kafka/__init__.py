"""The Kafka protocol front door: a TCP listener beside the HTTP API.

Requests are decoded by a codec generated from Kafka's message specs (wire/codec.py),
answered by one module per API over the same broker services the REST routes use,
and errors keep the Kafka codes their classes carry (kraft.errors).
"""
