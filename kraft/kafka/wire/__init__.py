"""The Kafka protocol on the wire: the codec generated from Kafka's message specs, frames
and their bounds, zero-copy record transfer, and the error codes and answers."""
