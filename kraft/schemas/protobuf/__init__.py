"""Protocol Buffers schemas: compiling .proto text, options, rendering, the message
indexes of Confluent's framing, compatibility, and the records they describe."""
