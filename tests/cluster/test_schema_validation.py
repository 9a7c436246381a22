"""Schema ID validation at the broker (Confluent Server's `confluent.value.schema.validation`):
with it on, records framed by confluent-kafka's AvroSerializer with an id of the topic's
value subject go in; plain bytes, a wrong magic byte, an unknown id and an id of another
subject are refused whole through both doors (Kafka's INVALID_RECORD, REST's 42206 with
record errors), and none of them is stored; turned off, they go in."""

from __future__ import annotations

import base64
import json
import struct
import uuid

import pytest
from kafka_wire import kafka_socket, leader_of, produce_frame, read_answer, recv_frame
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kraft.server.local_cluster import http_json
from kraft.storage.record import Record
from kraft.storage.record_batch import encode_batch

pytestmark = pytest.mark.cluster

VALIDATION = "confluent.value.schema.validation"
V2_BINARY = "application/vnd.kafka.binary.v2+json"
ORDER = json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                    "fields": [{"name": "id", "type": "long"}]})
PAYMENT = json.dumps({"type": "record", "name": "Payment", "fields": [{"name": "amount", "type": "int"}]})


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


@pytest.fixture(scope="module")
def registry(cluster):
    return SchemaRegistryClient({"url": cluster.schema_registry_url})


@pytest.fixture
def topic(cluster, registry):
    """A one-partition topic created with validation on, its value subject holding ORDER."""
    name = f"validated-{uuid.uuid4().hex[:8]}"
    client = admin(cluster)  # kept alive until its answer comes
    client.create_topics([NewTopic(name, 1, 3, config={VALIDATION: "true"})])[name].result(30)
    registry.register_schema(f"{name}-value", Schema(ORDER, "AVRO"))
    return name


def admin(cluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap_servers})


def framed(schema_id: int, payload: bytes = b"\x02") -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


def bad_values(registry) -> dict[str, bytes]:
    other = registry.register_schema(f"other-{uuid.uuid4().hex[:8]}-value", Schema(PAYMENT, "AVRO"))
    return {"plain bytes": b'{"id": 1}', "wrong magic byte": b"\x01" + framed(1)[1:],
            "unknown id": framed(2**31 - 1), "another subject's id": framed(other)}


def kafka_produce(cluster, topic: str, values: list[bytes]) -> list[KafkaError | None]:
    """Each value in a batch of its own; the delivery error of each."""
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 0,
                         "message.timeout.ms": 30_000, "retries": 0})
    reports: list[KafkaError | None] = []
    for value in values:
        producer.produce(topic, value, partition=0, on_delivery=lambda err, _msg: reports.append(err))
        producer.flush(30)
    return reports


def end_offset(cluster, topic: str) -> int:
    status, body = http_json("GET", f"{cluster.url(1)}/topics/{topic}/partitions/0/offsets")
    assert status == 200, body
    return body["end_offset"]


def rest_v3(cluster, topic: str, value: bytes, node: int = 2):
    record = {"value": {"type": "BINARY", "data": base64.b64encode(value).decode()}}
    return http_json("POST", f"{cluster.v3(node)}/topics/{topic}/records", record)


def rest_v2(cluster, topic: str, values: list[bytes], node: int = 3):
    records = [{"value": base64.b64encode(v).decode()} for v in values]
    return http_json("POST", f"{cluster.url(node)}/topics/{topic}", {"records": records},
                     headers={"Content-Type": V2_BINARY})


def test_avro_serializer_records_go_in_through_kafka_and_rest(cluster, registry, topic):
    serializer = AvroSerializer(registry, ORDER, conf={"auto.register.schemas": False, "use.latest.version": True})
    value = serializer({"id": 7}, SerializationContext(topic, MessageField.VALUE))
    assert kafka_produce(cluster, topic, [value]) == [None]
    status, body = rest_v3(cluster, topic, value)
    assert status == 200 and body["error_code"] == 200, body
    status, body = rest_v2(cluster, topic, [value])
    assert status == 200 and body["offsets"][0]["error_code"] is None, body
    status, body = rest_v2(cluster, topic, [value], node=1)  # any node takes them
    assert status == 200, body
    assert end_offset(cluster, topic) == 4


def test_bad_values_are_refused_through_kafka_with_invalid_record(cluster, registry, topic):
    bad = bad_values(registry)
    reports = kafka_produce(cluster, topic, list(bad.values()))
    assert [e.code() if e else None for e in reports] == [KafkaError.INVALID_RECORD] * len(bad), reports
    assert end_offset(cluster, topic) == 0


def test_bad_values_are_refused_through_rest_v3_and_v2_naming_the_record(cluster, registry, topic):
    good = framed(registry.get_latest_version(f"{topic}-value").schema_id)
    for what, value in bad_values(registry).items():
        status, body = rest_v3(cluster, topic, value)
        assert (status, body["error_code"]) == (422, 42206), (what, body)
        status, body = rest_v2(cluster, topic, [good, value])  # the request is refused whole
        assert (status, body["error_code"]) == (422, 42206), (what, body)
        assert [e["batch_index"] for e in body["record_errors"]] == [1], (what, body)
    assert end_offset(cluster, topic) == 0


def test_a_batch_with_bad_records_is_refused_whole_naming_each_on_the_kafka_wire(cluster, registry, topic):
    """Produce v9's record errors (KIP-467): the batch index of each bad record, and why."""
    good = framed(registry.get_latest_version(f"{topic}-value").schema_id)
    (answer,) = wire_produce(cluster, topic, [good, b"plain", good, framed(2**31 - 1)])
    assert int(answer.error_code.value) == KafkaError.INVALID_RECORD
    assert "schema validation" in answer.error_message
    assert [e.batch_index for e in answer.record_errors] == [1, 3]
    assert "magic byte 0" in answer.record_errors[0].batch_index_error_message
    assert "not in the schema registry" in answer.record_errors[1].batch_index_error_message
    assert end_offset(cluster, topic) == 0


def test_a_batch_of_many_records_is_checked_whole(cluster, registry, topic):
    """Past 4096 records the check runs beside the event loop; its answer is the same."""
    good = framed(registry.get_latest_version(f"{topic}-value").schema_id)
    values = [good] * 6000
    values[5000] = b"plain"
    (error,) = wire_produce(cluster, topic, values)
    assert int(error.error_code.value) == KafkaError.INVALID_RECORD
    assert [e.batch_index for e in error.record_errors] == [5000]
    (taken,) = wire_produce(cluster, topic, [good] * 6000)
    assert int(taken.error_code.value) == 0
    assert end_offset(cluster, topic) == 6000


def wire_produce(cluster, topic: str, values: list[bytes]):
    """One batch of these values on the Kafka wire (Produce v9); its partition's answer."""
    batch = encode_batch([Record(None, v, (), 0) for v in values], 0, -1)
    s = kafka_socket(cluster, leader_of(cluster, topic, 0))
    try:
        s.sendall(produce_frame(topic, 0, batch, 9))
        return read_answer(0, 9, recv_frame(s)).responses[0].partition_responses
    finally:
        s.close()


def test_turning_validation_off_lets_them_in(cluster, registry, topic):
    bad = list(bad_values(registry).values())
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic,
                              incremental_configs=[ConfigEntry(VALIDATION, "false",
                                                               incremental_operation=AlterConfigOpType.SET)])
    client = admin(cluster)
    client.incremental_alter_configs([resource])[resource].result(30)
    described = client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    configs = next(iter(described.values())).result(30)
    assert configs[VALIDATION].value == "false"
    assert configs["confluent.value.subject.name.strategy"].value.endswith("TopicNameStrategy")

    def off_everywhere() -> bool:
        return all(http_json("GET", f"{cluster.v3(n)}/topics/{topic}/configs/{VALIDATION}")[1]["value"] == "false"
                   for n in (1, 2, 3))
    cluster.wait_until(off_everywhere, 10, "validation off on every node")
    assert kafka_produce(cluster, topic, bad) == [None] * len(bad)
    status, body = rest_v2(cluster, topic, bad)
    assert status == 200, body
    assert end_offset(cluster, topic) == 2 * len(bad)


def test_validation_is_set_and_described_through_the_rest_configs_api(cluster):
    name = f"validated-rest-{uuid.uuid4().hex[:8]}"
    status, body = http_json("POST", f"{cluster.v3(1)}/topics",
                             {"topic_name": name, "partitions_count": 1,
                              "configs": [{"name": "confluent.key.schema.validation", "value": "true"}]})
    assert status == 201, body
    status, body = http_json("GET", f"{cluster.v3(2)}/topics/{name}/configs/confluent.key.schema.validation")
    assert (status, body["value"], body["source"]) == (200, "true", "DYNAMIC_TOPIC_CONFIG"), body
    status, body = http_json("PUT", f"{cluster.v3(1)}/topics/{name}/configs/confluent.key.subject.name.strategy",
                             {"value": "Bogus"})
    assert (status, body["error_code"]) == (422, 42206) and "TopicNameStrategy" in body["message"], body
    status, body = rest_v3(cluster, name, b"plain value")  # a key-less record: null keys pass
    assert status == 200, body


def test_an_id_registered_through_another_node_is_taken_at_once_by_the_leader(cluster, topic):
    """The leader may not have read the registration yet: it catches up once, then knows."""
    leader = leader_of(cluster, topic, 0)
    elsewhere = cluster.schema_registry_url.split(",")[leader % 3]  # a node other than the leader
    fresh = json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                        "fields": [{"name": "id", "type": "long"},
                                   {"name": "note", "type": ["null", "string"], "default": None}]})
    schema_id = SchemaRegistryClient({"url": elsewhere}).register_schema(f"{topic}-value", Schema(fresh, "AVRO"))
    assert kafka_produce(cluster, topic, [framed(schema_id, b"\x02\x00")]) == [None]
    assert end_offset(cluster, topic) == 1


def record_named(schema_type: str, package: str) -> str:
    """A schema whose record name (as Confluent's RecordNameStrategy takes it) is `<package>.Order`."""
    if schema_type == "AVRO":
        return json.dumps({"type": "record", "name": "Order", "namespace": package,
                           "fields": [{"name": "id", "type": "long"}]})
    if schema_type == "JSON":
        return json.dumps({"title": f"{package}.Order", "type": "object",
                           "properties": {"id": {"type": "integer"}}})
    return f'syntax = "proto3";\npackage {package};\n\nmessage Order {{\n  int64 id = 1;\n}}\n'


@pytest.mark.parametrize("schema_type", ["AVRO", "JSON", "PROTOBUF"])
def test_record_name_strategy_takes_ids_of_the_subject_named_by_the_record(cluster, registry, schema_type):
    name, package = f"by-record-{uuid.uuid4().hex[:8]}", f"p{uuid.uuid4().hex[:8]}"
    status, body = http_json("POST", f"{cluster.v3(1)}/topics", {
        "topic_name": name, "partitions_count": 1,
        "configs": [{"name": VALIDATION, "value": "true"},
                    {"name": "confluent.value.subject.name.strategy", "value": "RecordNameStrategy"}]})
    assert status == 201, body
    text = record_named(schema_type, package)
    by_record = registry.register_schema(f"{package}.Order", Schema(text, schema_type))
    by_topic = registry.register_schema(f"{name}-value", Schema(text.replace("id", "ident"), schema_type))
    assert kafka_produce(cluster, name, [framed(by_record), framed(by_topic)]) == \
        [None, KafkaError(KafkaError.INVALID_RECORD)], "the topic's own subject is not the record's"


def test_a_records_batch_entry_that_fails_validation_fails_alone(cluster, registry, topic):
    """REST v3's records:batch: each entry stands alone, as for every other record rule."""
    good = framed(registry.get_latest_version(f"{topic}-value").schema_id)
    entries = [{"id": str(i), "value": {"type": "BINARY", "data": base64.b64encode(v).decode()}}
               for i, v in enumerate((good, b"plain"))]
    status, body = http_json("POST", f"{cluster.v3(3)}/topics/{topic}/records:batch", {"entries": entries})
    assert status == 207, body
    assert [s["id"] for s in body["successes"]] == ["0"], body
    assert [(f["id"], f["error_code"]) for f in body["failures"]] == [("1", 42206)], body
    assert "magic byte 0" in body["failures"][0]["message"]
    assert end_offset(cluster, topic) == 1
