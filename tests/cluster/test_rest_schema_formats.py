"""The REST door speaks schemas (Confluent REST Proxy's formats): what v3 and v2 produce
write with a registered schema, confluent-kafka's Avro / JSON Schema / Protobuf
deserializers read; what its serializers write, a v2 consumer in that format reads back as
JSON; a schema that is not there, data that does not fit it and a record without the
framing get the documented codes, and nothing is ever stored unframed."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from cluster_client import create_topic
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kraft.schemas.format_table import FORMATS
from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster

ORDER = json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                    "fields": [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}]})
JSON_ORDER = json.dumps({"title": "Order", "type": "object", "required": ["id"],
                         "properties": {"id": {"type": "integer"}, "item": {"type": "string"}}})
PROTO_ORDER = 'syntax = "proto3";\npackage shop;\n\nmessage Order {\n  int64 id = 1;\n  string item = 2;\n}\n'
V2 = "application/vnd.kafka.{}.v2+json"


def topic_of(shared_cluster, prefix: str) -> str:
    return create_topic(shared_cluster, f"{prefix}-{uuid.uuid4().hex[:6]}", partitions=1)


def registry(shared_cluster) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": shared_cluster.schema_registry_url})


def v3_produce(c, topic: str, record: dict, node: int = 1):
    return http_json("POST", f"{c.v3(node)}/topics/{topic}/records", record, timeout=40)


def stored(c, topic: str, offset: int = 0) -> bytes:
    status, body = http_json("GET", f"{c.url(1)}/topics/{topic}/partitions/0/records?offset={offset}",
                             headers={"Accept": V2.format("binary")})
    assert status == 200 and body, body
    return base64.b64decode(body[0]["value"])


def context(topic: str) -> SerializationContext:
    return SerializationContext(topic, MessageField.VALUE)


def order_class():
    return FORMATS["PROTOBUF"].parse(PROTO_ORDER, {}).message_class("shop.Order")


# -- v3 ----------------------------------------------------------------------------------------
def test_v3_schema_id_writes_avro_that_the_avro_deserializer_reads(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-avro")
    schema_id = registry(c).register_schema(f"{topic}-value", Schema(ORDER, "AVRO"))
    status, report = v3_produce(c, topic, {"value": {"schema_id": schema_id, "data": {"id": 1, "item": "pen"}}})
    assert status == 200, report
    assert report["value"] | {"size": 0} == {"type": "AVRO", "subject": f"{topic}-value", "schema_id": schema_id,
                                             "schema_version": 1, "size": 0}
    data = stored(c, topic)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == schema_id  # never plain JSON
    assert AvroDeserializer(registry(c))(data, context(topic)) == {"id": 1, "item": "pen"}


def test_v3_schema_version_and_the_latest_are_found_under_the_topics_subject(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-version")
    sr = registry(c)
    first = sr.register_schema(f"{topic}-value", Schema(ORDER, "AVRO"))
    wider = json.loads(ORDER)
    wider["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    second = sr.register_schema(f"{topic}-value", Schema(json.dumps(wider), "AVRO"))
    status, report = v3_produce(c, topic, {"value": {"schema_version": 1, "data": {"id": 2, "item": "ink"}}})
    assert status == 200 and report["value"]["schema_id"] == first, report
    status, report = v3_produce(c, topic, {"value": {"type": "AVRO", "data": {"id": 3, "item": "cap",
                                                                            "note": {"string": "x"}}}})
    assert status == 200 and report["value"]["schema_id"] == second, report
    assert AvroDeserializer(sr)(stored(c, topic, 1), context(topic)) == {"id": 3, "item": "cap", "note": "x"}


def test_v3_a_schema_registered_through_another_node_a_moment_ago_is_found(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-elsewhere")
    urls = c.schema_registry_url.split(",")
    for n in range(1, 21):  # each produce follows its registration at once, on another node
        writer, door = n % 3 + 1, (n + 1) % 3 + 1
        fields = [{"name": f"f{i}", "type": ["null", "int"], "default": None} for i in range(n)]
        text = json.dumps({"type": "record", "name": "Grows", "fields": fields})
        schema_id = SchemaRegistryClient({"url": urls[writer - 1]}).register_schema(f"{topic}-value",
                                                                                   Schema(text, "AVRO"))
        data = {f"f{i}": None for i in range(n)}
        status, report = v3_produce(c, topic, {"value": {"schema_id": schema_id, "data": data}}, node=door)
        assert status == 200 and report["value"]["schema_version"] == n, (writer, door, report)
        status, report = v3_produce(c, topic, {"value": {"type": "AVRO", "data": data}}, node=writer % 3 + 1)
        assert status == 200 and report["value"]["schema_id"] == schema_id, report  # the latest, as just written


def test_v3_record_name_strategies_name_the_subject_after_the_record(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-strategy")
    sr = registry(c)
    schema_id = sr.register_schema(f"{topic}-shop.Order", Schema(ORDER, "AVRO"))
    body = {"value": {"schema_id": schema_id, "subject_name_strategy": "TOPIC_RECORD_NAME",
                      "data": {"id": 4, "item": "cup"}}}
    status, report = v3_produce(c, topic, body)
    assert status == 200 and report["value"]["subject"] == f"{topic}-shop.Order", report
    body["value"]["subject_name_strategy"] = "RECORD_NAME"  # subject shop.Order does not hold it
    status, answer = v3_produce(c, topic, body)
    assert (status, answer["error_code"]) == (404, 40403), answer
    status, answer = v3_produce(c, topic, {"value": {"schema_version": 1, "subject_name_strategy": "RECORD_NAME",
                                                     "data": {"id": 4, "item": "cup"}}})
    assert status == 400, answer  # RECORD_NAME needs the schema: an id or its text


def test_v3_schema_text_is_registered_and_jsonschema_is_read_by_the_json_deserializer(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-json")
    body = {"key": {"type": "STRING", "data": "k"},
            "value": {"type": "JSONSCHEMA", "schema": JSON_ORDER, "data": {"id": 5, "item": "mug"}}}
    status, report = v3_produce(c, topic, body)
    assert status == 200 and report["value"]["type"] == "JSONSCHEMA", report
    assert registry(c).get_latest_version(f"{topic}-value").schema_id == report["value"]["schema_id"]
    deserialize = JSONDeserializer(None, schema_registry_client=registry(c))
    assert deserialize(stored(c, topic), context(topic)) == {"id": 5, "item": "mug"}


def test_v3_protobuf_is_read_by_the_protobuf_deserializer(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-proto")
    body = {"value": {"type": "PROTOBUF", "schema": PROTO_ORDER, "data": {"id": "6", "item": "box"}}}
    status, report = v3_produce(c, topic, body, node=2)
    assert status == 200 and report["value"]["type"] == "PROTOBUF", report
    message = ProtobufDeserializer(order_class(), {"use.deprecated.format": False})(stored(c, topic), context(topic))
    assert (message.id, message.item) == (6, "box")


@pytest.mark.parametrize("value, code", [
    ({"schema_id": 999999, "data": {"id": 1}}, 40403),  # no such schema
    ({"schema_version": 7, "data": {"id": 1}}, 40403),  # no such version
    ({"type": "AVRO", "data": {"id": 1}}, 40403),  # the subject has no schema yet
    ({"type": "JSON", "schema_id": 1, "data": {"id": 1}}, 400),  # a plain type never goes with a schema
    ({"type": "AVRO", "schema": "{not a schema", "data": {}}, 42205),
    ({"schema": ORDER, "data": {}}, 400),  # a schema's text needs its type
    ({"type": {}, "data": 1}, 42206),  # a type of another JSON shape: never a 500
    ({"type": ["AVRO"], "schema_id": 1, "data": 1}, 400),
])
def test_v3_unknown_schemas_and_bad_requests_get_their_codes(shared_cluster, value, code):
    topic = topic_of(shared_cluster, "v3-bad")
    status, answer = v3_produce(shared_cluster, topic, {"value": value})
    assert (status, answer["error_code"]) == (code // 100 if code > 999 else code, code), answer


@pytest.mark.parametrize("data", [{"id": "one", "item": "x"}, {"item": "x"}, [1]])
def test_v3_data_that_does_not_fit_its_schema_is_42203_and_nothing_is_written(shared_cluster, data):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-misfit")
    schema_id = registry(c).register_schema(f"{topic}-value", Schema(ORDER, "AVRO"))
    status, answer = v3_produce(c, topic, {"value": {"schema_id": schema_id, "data": data}})
    assert (status, answer["error_code"]) == (422, 42203), answer
    assert http_json("GET", f"{c.url(1)}/topics/{topic}/partitions/0/offsets")[1]["end_offset"] == 0


# -- v2 produce --------------------------------------------------------------------------------
def test_v2_avro_produce_registers_the_schema_and_answers_its_id(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2-avro")
    body = {"value_schema": ORDER, "records": [{"value": {"id": 7, "item": "pad"}}]}
    status, answer = http_json("POST", f"{c.url(1)}/topics/{topic}", body,
                               headers={"Content-Type": V2.format("avro")})
    assert status == 200 and answer["offsets"][0]["error_code"] is None, answer
    assert answer["value_schema_id"] == registry(c).get_latest_version(f"{topic}-value").schema_id
    assert answer["key_schema_id"] is None
    assert AvroDeserializer(registry(c))(stored(c, topic), context(topic)) == {"id": 7, "item": "pad"}
    body = {"value_schema_id": answer["value_schema_id"], "records": [{"value": {"id": 8, "item": "pin"}}]}
    status, again = http_json("POST", f"{c.url(2)}/topics/{topic}", body, headers={"Content-Type": V2.format("avro")})
    assert status == 200 and again["value_schema_id"] == answer["value_schema_id"], again


def test_v2_records_without_their_schema_or_that_do_not_fit_are_refused(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2-bad")
    headers = {"Content-Type": V2.format("jsonschema")}
    status, answer = http_json("POST", f"{c.url(1)}/topics/{topic}", {"records": [{"value": {"id": 1}}]},
                               headers=headers)
    assert (status, answer["error_code"]) == (422, 42202), answer
    body = {"value_schema": JSON_ORDER, "records": [{"key": "k", "value": {"id": 1}}]}
    status, answer = http_json("POST", f"{c.url(1)}/topics/{topic}", body, headers=headers)
    assert (status, answer["error_code"]) == (422, 42201), answer
    body = {"value_schema": JSON_ORDER, "records": [{"value": {"id": "1"}}]}
    status, answer = http_json("POST", f"{c.url(1)}/topics/{topic}", body, headers=headers)
    assert (status, answer["error_code"]) == (422, 42203), answer
    body = {"value_schema_id": 999999, "records": [{"value": {"id": 1}}]}
    status, answer = http_json("POST", f"{c.url(1)}/topics/{topic}", body, headers=headers)
    assert (status, answer["error_code"]) == (404, 40403), answer


# -- v2 consume --------------------------------------------------------------------------------
def new_consumer(c, topic: str, fmt: str) -> str:
    group = f"g-{uuid.uuid4().hex[:6]}"
    status, made = http_json("POST", f"{c.url(1)}/consumers/{group}",
                             {"format": fmt, "auto.offset.reset": "earliest"},
                             headers={"Content-Type": "application/vnd.kafka.v2+json"})
    assert status == 200, made
    http_json("POST", made["base_uri"] + "/subscription", {"topics": [topic]},
              headers={"Content-Type": "application/vnd.kafka.v2+json"})
    return made["base_uri"]


def poll(base: str, fmt: str, expect: int):
    got: list = []
    for _ in range(20):
        status, body = http_json("GET", base + "/records?timeout=1000", headers={"Accept": V2.format(fmt)})
        if status != 200:
            return status, body
        got.extend(body)
        if len(got) >= expect:
            break
    return 200, got


def consume(c, topic: str, fmt: str, expect: int):
    base = new_consumer(c, topic, fmt)
    try:
        return poll(base, fmt, expect)
    finally:
        http_json("DELETE", base, headers={"Content-Type": "application/vnd.kafka.v2+json"})


def produce_with(c, topic: str, serializer, values, key: bytes | None = None) -> None:
    producer = Producer({"bootstrap.servers": c.bootstrap_servers})
    for value in values:
        producer.produce(topic, key=key, value=serializer(value, context(topic)))
    assert producer.flush(30) == 0


def test_what_the_avro_serializer_writes_a_v2_avro_consumer_reads_as_json(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2c-avro")
    produce_with(c, topic, AvroSerializer(registry(c), ORDER), [{"id": 1, "item": "a"}, {"id": 2, "item": "b"}])
    status, records = consume(c, topic, "avro", 2)
    assert status == 200 and [r["value"] for r in records] == [{"id": 1, "item": "a"}, {"id": 2, "item": "b"}]


def test_what_the_json_serializer_writes_a_v2_jsonschema_consumer_reads(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2c-json")
    produce_with(c, topic, JSONSerializer(JSON_ORDER, registry(c)), [{"id": 3, "item": "c"}])
    status, records = consume(c, topic, "jsonschema", 1)
    assert status == 200 and [r["value"] for r in records] == [{"id": 3, "item": "c"}]


def test_what_the_protobuf_serializer_writes_a_v2_protobuf_consumer_reads(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2c-proto")
    cls = order_class()
    serializer = ProtobufSerializer(cls, registry(c), {"use.deprecated.format": False})
    produce_with(c, topic, serializer, [cls(id=4, item="d")])
    status, records = consume(c, topic, "protobuf", 1)
    assert status == 200 and [r["value"] for r in records] == [{"id": "4", "item": "d"}]


def test_a_v2_schema_consumer_refuses_an_unframed_record_with_42207_until_it_seeks_past(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2c-plain")
    http_json("POST", f"{c.url(1)}/topics/{topic}", {"records": [{"value": {"id": 1}}]},
              headers={"Content-Type": V2.format("json")})
    http_json("POST", f"{c.url(1)}/topics/{topic}",
              {"value_schema": ORDER, "records": [{"value": {"id": 2, "item": "b"}}]},
              headers={"Content-Type": V2.format("avro")})
    base = new_consumer(c, topic, "avro")
    try:
        for _ in range(2):  # the poll fails, and the next one finds the record again
            status, answer = poll(base, "avro", 1)
            assert (status, answer["error_code"]) == (422, 42207), answer
            assert f"{topic}-0@0" in answer["message"], answer
        status, _ = http_json("POST", base + "/positions", {"offsets": [{"topic": topic, "partition": 0, "offset": 1}]},
                              headers={"Content-Type": "application/vnd.kafka.v2+json"})
        assert status == 204
        status, records = poll(base, "avro", 1)
        assert status == 200 and [r["value"] for r in records] == [{"id": 2, "item": "b"}], records
    finally:
        http_json("DELETE", base, headers={"Content-Type": "application/vnd.kafka.v2+json"})


def test_v2_keys_and_values_with_their_schemas_read_back_through_a_v2_avro_consumer(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2-keyed")
    body = {"key_schema": '"string"', "value_schema": ORDER,
            "records": [{"key": "k1", "value": {"id": 9, "item": "jar"}}, {"key": "k2", "value": None}]}
    status, answer = http_json("POST", f"{c.url(3)}/topics/{topic}", body, headers={"Content-Type": V2.format("avro")})
    assert status == 200 and answer["key_schema_id"] and answer["value_schema_id"], answer
    status, records = consume(c, topic, "avro", 2)
    assert status == 200 and [(r["key"], r["value"]) for r in records] == \
        [("k1", {"id": 9, "item": "jar"}), ("k2", None)]  # a null value stays a tombstone


def test_v3_batch_entry_whose_data_does_not_fit_fails_alone(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-batch")
    schema_id = registry(c).register_schema(f"{topic}-value", Schema(ORDER, "AVRO"))
    entries = [{"id": "good", "value": {"schema_id": schema_id, "data": {"id": 1, "item": "a"}}},
               {"id": "bad", "value": {"schema_id": schema_id, "data": {"id": "x"}}}]
    status, body = http_json("POST", f"{c.v3(1)}/topics/{topic}/records:batch", {"entries": entries})
    assert status == 207 and [s["id"] for s in body["successes"]] == ["good"], body
    assert [(f["id"], f["error_code"]) for f in body["failures"]] == [("bad", 42203)], body
    assert AvroDeserializer(registry(c))(stored(c, topic), context(topic)) == {"id": 1, "item": "a"}


def test_v2_jsonschema_and_protobuf_produce_are_read_by_their_deserializers(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v2-json-proto")
    body = {"value_schema": JSON_ORDER, "records": [{"value": {"id": 10, "item": "tin"}}]}
    status, answer = http_json("POST", f"{c.url(1)}/topics/{topic}", body,
                               headers={"Content-Type": V2.format("jsonschema")})
    assert status == 200 and answer["value_schema_id"], answer
    deserialize = JSONDeserializer(None, schema_registry_client=registry(c))
    assert deserialize(stored(c, topic), context(topic)) == {"id": 10, "item": "tin"}
    other = topic_of(shared_cluster, "v2-proto")
    body = {"value_schema": PROTO_ORDER, "records": [{"value": {"id": "11", "item": "lid"}}]}
    status, answer = http_json("POST", f"{c.url(2)}/topics/{other}", body,
                               headers={"Content-Type": V2.format("protobuf")})
    assert status == 200 and answer["value_schema_id"], answer
    message = ProtobufDeserializer(order_class(), {"use.deprecated.format": False})(stored(c, other), context(other))
    assert (message.id, message.item) == (11, "lid")


def test_v3_explicit_subject_and_a_type_that_does_not_match_the_schema(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-subject")
    subject = f"{topic}-anywhere"
    schema_id = registry(c).register_schema(subject, Schema(ORDER, "AVRO"))
    body = {"value": {"subject": subject, "schema_version": 1, "data": {"id": 12, "item": "tag"}}}
    status, report = v3_produce(c, topic, body)
    assert status == 200 and (report["value"]["subject"], report["value"]["schema_id"]) == (subject, schema_id), report
    body["value"]["type"] = "PROTOBUF"
    status, answer = v3_produce(c, topic, body)
    assert (status, answer["error_code"]) == (422, 42206), answer


def test_v3_key_schema_goes_under_the_key_subject_and_record_name_takes_the_json_title(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-keyed")
    body = {"key": {"type": "AVRO", "schema": '"string"', "data": "order-13"},
            "value": {"type": "JSONSCHEMA", "schema": JSON_ORDER, "subject_name_strategy": "TOPIC_RECORD_NAME",
                      "data": {"id": 13}}}
    status, report = v3_produce(c, topic, body)
    assert status == 200, report
    assert (report["key"]["subject"], report["value"]["subject"]) == (f"{topic}-key", f"{topic}-Order"), report
    status, got = http_json("GET", f"{c.url(1)}/topics/{topic}/partitions/0/records?offset=0",
                            headers={"Accept": V2.format("binary")})
    key = base64.b64decode(got[0]["key"])
    assert AvroDeserializer(registry(c))(key, SerializationContext(topic, MessageField.KEY)) == "order-13"


# -- what Confluent takes and protoc alone would not (issue 61) --------------------------------
NO_REFERENCE = ('syntax = "proto3";\n\nmessage NoReference {\n  message NoReferenceNested {\n'
                '    string nameNested = 1;\n  }\n  string name = 1;\n  NoReferenceNested ref = 2;\n}\n')
WITH_REFERENCE = ('syntax = "proto3";\n\nimport "{}";\n\nmessage WithReference {{\n  string name = 1;\n'
                  '  NoReference.NoReferenceNested ref = 2;\n}}\n')


@pytest.mark.parametrize("imported", ["NoReference.proto", "NoReferenceNested.proto"])
def test_a_nested_message_of_a_referenced_schema_is_registered_and_written(shared_cluster, imported):
    c, topic = shared_cluster, topic_of(shared_cluster, "proto-nested")
    sr = registry(c)
    sr.register_schema(f"{topic}-noref", Schema(NO_REFERENCE, "PROTOBUF"))
    references = [SchemaReference("NoReference.proto", f"{topic}-noref", 1)]
    schema_id = sr.register_schema(f"{topic}-value", Schema(WITH_REFERENCE.format(imported), "PROTOBUF", references))
    stored_text = sr.get_schema(schema_id).schema_str
    assert ".NoReference.NoReferenceNested ref = 2;" in stored_text and f'import "{imported}";' in stored_text
    body = {"value": {"schema_id": schema_id, "data": {"name": "n", "ref": {"nameNested": "inner"}}}}
    status, report = v3_produce(c, topic, body)
    assert status == 200 and report["value"]["schema_id"] == schema_id, report


def test_a_custom_option_no_file_declares_is_kept(shared_cluster):
    c, topic = shared_cluster, topic_of(shared_cluster, "proto-option")
    text = ('syntax = "proto3";\npackage shop;\n\noption (confluent.file_meta).doc = "an order";\n\n'
            'message Order {\n  int64 id = 1 [(my.opt) = 1];\n  string item = 2;\n}\n')
    sr = registry(c)
    schema_id = sr.register_schema(f"{topic}-value", Schema(text, "PROTOBUF"))
    stored_text = sr.get_schema(schema_id).schema_str
    assert 'option (confluent.file_meta).doc = "an order";' in stored_text, stored_text
    assert "int64 id = 1 [(my.opt) = 1];" in stored_text, stored_text
    assert sr.register_schema(f"{topic}-value", Schema(stored_text, "PROTOBUF")) == schema_id
    assert sr.test_compatibility(f"{topic}-value", Schema(PROTO_ORDER, "PROTOBUF"))  # options are not compared
    status, report = v3_produce(c, topic, {"value": {"schema_id": schema_id, "data": {"id": "7", "item": "cup"}}})
    assert status == 200, report
    message = ProtobufDeserializer(order_class(), {"use.deprecated.format": False})(stored(c, topic), context(topic))
    assert (message.id, message.item) == (7, "cup")


def test_v3_schema_text_without_its_type_is_400_naming_type_and_writes_nothing(shared_cluster):
    # as Confluent REST Proxy v3, which infers no format from a schema's text (docs/API.md)
    c, topic = shared_cluster, topic_of(shared_cluster, "v3-untyped")
    status, answer = v3_produce(c, topic, {"value": {"schema": PROTO_ORDER, "data": {"id": "1"}}})
    assert (status, answer["error_code"]) == (400, 400) and "value.type is missing" in answer["message"], answer
    assert http_json("GET", f"{c.url(1)}/topics/{topic}/partitions/0/offsets")[1]["end_offset"] == 0
    assert f"{topic}-value" not in registry(c).get_subjects()
