"""Protobuf records as confluent-kafka's Protobuf serializer writes them: the message
indexes of the message (kraft/schemas/protobuf/indexes.py), then the binary message. The
data in and out is Protobuf's JSON mapping (google.protobuf.json_format; out with the
JSON names and the fields left at their defaults, as Java's JsonFormat prints them for
Confluent REST Proxy). Written: the schema's first message, as Confluent REST Proxy does.
Pure."""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from kraft.schemas.protobuf import indexes as protobuf_indexes
from kraft.schemas.formats import InvalidSchema
from kraft.schemas.protobuf.schema import ProtobufSchema
from kraft.schemas.record_codecs import DataMismatch, Undecodable


class ProtobufCodec:
    def __init__(self, schema: object) -> None:
        if not isinstance(schema, ProtobufSchema):
            raise TypeError(f"a Protobuf codec needs a ProtobufSchema, got {type(schema).__name__}")
        self._schema = schema
        names = schema.message_names()
        self._written = names[0] if names else None

    def encode(self, data: object) -> bytes:
        if self._written is None:
            raise DataMismatch("the Protobuf schema declares no message")
        if not isinstance(data, dict):
            raise DataMismatch(f"a Protobuf message is a JSON object, got {type(data).__name__}")
        message = self._schema.message_class(self._written)()
        try:
            json_format.ParseDict(data, message)
            body = message.SerializeToString()
        except Exception as e:  # noqa: BLE001 - ParseError, EncodeError, and what odd data raises inside
            raise DataMismatch(f"the data does not fit message {self._written}: {str(e)[:500]}") from None
        return protobuf_indexes.encode(self._schema.message_indexes(self._written)) + body

    def decode(self, payload: bytes) -> object:
        try:
            indexes, start = protobuf_indexes.decode(payload)
            name = self._schema.message_name(indexes)
        except (ValueError, TypeError, KeyError, InvalidSchema) as e:
            raise Undecodable(f"the payload is not a message of the Protobuf schema: {e}") from None
        return self.decode_message(name, payload[start:])

    def decode_message(self, name: str, body: bytes) -> object:
        """`body` (no message indexes before it) as message `name` of the schema."""
        try:
            message: Message = self._schema.message_class(name)()
            message.ParseFromString(body)
            return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
        except (ValueError, TypeError, KeyError, InvalidSchema, DecodeError, RecursionError) as e:
            raise Undecodable(f"the payload is not a message of the Protobuf schema: {e}") from None
