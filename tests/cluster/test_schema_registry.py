"""The schema registry on every node, driven by confluent-kafka's own SchemaRegistryClient
and Avro serdes: any node answers and sees what another wrote, ids stay unique and stable
across a kill of the `_schemas` leader and a full restart, bad input gets Confluent's
codes, and no client writes `_schemas`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

MEDIA = "application/vnd.schemaregistry.v1+json"


def record(name: str, *fields: tuple[str, str], defaults: dict | None = None) -> str:
    spec = [{"name": n, "type": t} for n, t in fields]
    spec += [{"name": n, "type": ["null", "string"], "default": d} for n, d in (defaults or {}).items()]
    return json.dumps({"type": "record", "name": name, "fields": spec})


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


def urls(cluster) -> list[str]:
    return cluster.schema_registry_url.split(",")


def client(cluster, node: int | None = None) -> SchemaRegistryClient:
    url = cluster.schema_registry_url if node is None else urls(cluster)[node - 1]
    return SchemaRegistryClient({"url": url})


def subject() -> str:
    return f"s-{uuid.uuid4().hex[:8]}-value"


def raw(cluster, node: int, method: str, path: str, body: bytes | None = None,
        content_type: str = MEDIA) -> tuple[int, object]:
    req = urllib.request.Request(urls(cluster)[node - 1] + path, data=body, method=method,
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def error_of(call) -> tuple[int, int]:
    with pytest.raises(SchemaRegistryError) as caught:
        call()
    return caught.value.http_status_code, caught.value.error_code


def test_register_on_one_node_and_read_it_on_every_other(cluster):
    s = subject()
    schema_id = client(cluster, 2).register_schema(s, Schema(record("User", ("name", "string")), "AVRO"))
    for node in (1, 2, 3):
        c = client(cluster, node)
        assert json.loads(c.get_schema(schema_id).schema_str)["name"] == "User"
        latest = c.get_latest_version(s)
        assert (latest.schema_id, latest.version) == (schema_id, 1)
        assert c.get_versions(s) == [1]
        assert s in c.get_subjects()


def test_a_read_through_any_node_sees_a_write_acknowledged_through_another(cluster):
    s = subject()
    for n in range(1, 41):  # each read follows its write at once, on the next node round
        writer, reader = n % 3 + 1, (n + 1) % 3 + 1
        fields = [(f"f{i}", ["null", "int"]) for i in range(n)]
        text = json.dumps({"type": "record", "name": "Grows",
                           "fields": [{"name": f, "type": t, "default": None} for f, t in fields]})
        status, written = raw(cluster, writer, "POST", f"/subjects/{s}/versions", json.dumps({"schema": text}).encode())
        assert status == 200, written
        status, latest = raw(cluster, reader, "GET", f"/subjects/{s}/versions/latest")
        assert (status, latest["id"], latest["version"]) == (200, written["id"], n), (writer, reader, latest)


def test_concurrent_registrations_through_every_node_never_share_an_id(cluster):
    texts = [record(f"Concurrent{i}", ("a", "int")) for i in range(24)]
    subjects = [subject() for _ in texts]

    def register(i: int) -> int:
        return client(cluster, i % 3 + 1).register_schema(subjects[i], Schema(texts[i], "AVRO"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(register, range(len(texts))))
    assert len(set(ids)) == len(ids)
    for i, schema_id in enumerate(ids):
        assert client(cluster, (i + 1) % 3 + 1).get_latest_version(subjects[i]).schema_id == schema_id


def test_registering_the_same_schema_again_answers_its_id_and_version(cluster):
    s, text = subject(), record("Same", ("a", "int"))
    first = client(cluster, 1).register_schema_full_response(s, Schema(text, "AVRO"))
    again = client(cluster, 3).register_schema_full_response(s, Schema(text, "AVRO"))
    other = client(cluster, 2).register_schema_full_response(subject(), Schema(text, "AVRO"))
    assert (again.schema_id, again.version) == (first.schema_id, first.version)
    assert (other.schema_id, other.version) == (first.schema_id, 1)


def test_backward_compatibility_refuses_a_new_field_without_default_with_409(cluster):
    s, c = subject(), client(cluster)
    c.register_schema(s, Schema(record("Evolve", ("a", "string")), "AVRO"))
    assert error_of(lambda: c.register_schema(s, Schema(record("Evolve", ("a", "string"), ("b", "int")), "AVRO"))) \
        == (409, 409)
    added = Schema(record("Evolve", ("a", "string"), defaults={"b": None}), "AVRO")
    assert c.test_compatibility(s, added) is True
    assert c.register_schema_full_response(s, added).version == 2


def test_compatibility_check_with_verbose_names_the_problem(cluster):
    s, c = subject(), client(cluster)
    c.register_schema(s, Schema(record("V", ("a", "string")), "AVRO"))
    status, body = raw(cluster, 2, "POST", f"/compatibility/subjects/{s}/versions/latest?verbose=true",
                       json.dumps({"schema": record("V", ("a", "string"), ("b", "int"))}).encode())
    assert status == 200 and body["is_compatible"] is False and body["messages"], body


def test_config_and_mode_per_subject_and_global(cluster):
    s, c = subject(), client(cluster, 1)
    c.set_compatibility(s, "NONE")
    assert client(cluster, 3).get_compatibility(s) == "NONE"
    assert error_of(lambda: client(cluster, 2).get_compatibility(subject())) == (404, 40408)
    status, body = raw(cluster, 2, "GET", f"/config/{subject()}?defaultToGlobal=true")
    assert status == 200 and body["compatibilityLevel"] == "BACKWARD"
    assert client(cluster, 2).update_mode(s, "READONLY") == "READONLY"
    assert client(cluster, 3).get_mode(s) == "READONLY"
    assert error_of(lambda: c.register_schema(s, Schema(record("R", ("a", "int")), "AVRO"))) == (422, 42205)
    assert client(cluster, 1).delete_mode(s) == "READONLY"
    assert client(cluster, 2).get_global_mode() == "READWRITE"


def test_import_mode_takes_an_explicit_id_and_readwrite_refuses_it(cluster):
    s = subject()
    body = json.dumps({"schema": record("Imported", ("a", "long")), "id": 5000, "version": 3}).encode()
    assert raw(cluster, 1, "POST", f"/subjects/{s}/versions", body)[1]["error_code"] == 42205
    assert raw(cluster, 2, "PUT", f"/mode/{s}", json.dumps({"mode": "IMPORT"}).encode()) == \
        (200, {"mode": "IMPORT"})
    assert raw(cluster, 3, "POST", f"/subjects/{s}/versions", body) == (200, {"id": 5000, "version": 3})
    assert client(cluster, 1).get_latest_version(s).schema_id == 5000
    new_id = client(cluster, 2).register_schema(subject(), Schema(record("After", ("x", "int")), "AVRO"))
    assert new_id > 5000  # ids continue above the imported ones


def test_soft_then_permanent_delete_of_a_version_and_a_subject(cluster):
    s, c = subject(), client(cluster, 1)
    c.register_schema(s, Schema(record("D", ("a", "string")), "AVRO"))
    c.register_schema(s, Schema(record("D", ("a", "string"), defaults={"b": None}), "AVRO"))
    assert client(cluster, 2).delete_version(s, 1) == 1
    assert client(cluster, 3).get_versions(s) == [2]
    assert error_of(lambda: client(cluster, 3).delete_version(s, 2, permanent=True)) == (404, 40407)
    assert client(cluster, 2).delete_version(s, 1, permanent=True) == 1
    assert client(cluster, 1).delete_subject(s) == [2]
    assert s not in client(cluster, 2).get_subjects()
    status, body = raw(cluster, 3, "GET", "/subjects?deleted=true")
    assert s in body
    assert client(cluster, 3).delete_subject(s, permanent=True) == [2]
    assert error_of(lambda: client(cluster, 1).get_versions(s)) == (404, 40401)


def test_a_referenced_schema_cannot_be_deleted(cluster):
    base, user = subject(), subject()
    c = client(cluster, 1)
    c.register_schema(base, Schema(json.dumps({"type": "record", "name": "Address", "namespace": "shop",
                                               "fields": [{"name": "city", "type": "string"}]}), "AVRO"))
    ref = SchemaReference("shop.Address", base, 1)
    user_id = c.register_schema(user, Schema(json.dumps({"type": "record", "name": "Customer", "namespace": "shop",
                                                         "fields": [{"name": "home", "type": "Address"}]}),
                                             "AVRO", [ref]))
    assert client(cluster, 2).get_referenced_by(base, 1) == [user_id]
    assert error_of(lambda: client(cluster, 3).delete_version(base, 1)) == (422, 42206)


def test_bad_input_gets_confluents_codes_never_a_5xx(cluster):
    s = subject()
    cases = [
        ("POST", f"/subjects/{s}/versions", b'{"schema": "{\\"type\\": \\"recrod\\"}"}', 42201),
        ("POST", f"/subjects/{s}/versions", b'{"schema": "{}", "schemaType": "XML"}', 42201),
        ("POST", f"/subjects/{s}/versions", json.dumps({"schema": "x" * 600_000}).encode(), 42201),
        ("POST", f"/subjects/{s}/versions", b"{not json", 400),
        ("GET", f"/subjects/{s}/versions/0", None, 42202),
        ("GET", f"/subjects/{s}/versions/abc", None, 42202),
        ("GET", f"/subjects/{s}/versions/1", None, 40401),
        ("GET", "/schemas/ids/987654", None, 40403),
        ("PUT", "/config", b'{"compatibility": "SIDEWAYS"}', 42203),
        ("PUT", "/mode", b'{"mode": "WRITEONLY"}', 42204),
        ("GET", "/no/such/route", None, 404),
        ("POST", f"/subjects/{s}/versions", b"x" * (9 * 1024 * 1024), 413),
    ]
    for method, path, body, code in cases:
        status, answer = raw(cluster, 2, method, path, body)
        assert status < 500 and answer["error_code"] == code, (method, path, status, answer)
        assert "Traceback" not in answer["message"] and "/kraft/" not in answer["message"]


def test_a_large_schema_under_the_limit_is_stored_and_read_back_whole(cluster):
    s = subject()
    text = json.dumps({"type": "record", "name": "Big", "doc": "€" * 400_000,  # 1.2 MB in UTF-8
                       "fields": [{"name": "a", "type": "int"}]}, ensure_ascii=False)
    schema_id = client(cluster, 1).register_schema(s, Schema(text, "AVRO"))
    assert len(json.loads(client(cluster, 3).get_schema(schema_id).schema_str)["doc"]) == 400_000


def test_every_media_type_the_clients_send_is_taken(cluster):
    s = subject()
    body = json.dumps({"schema": record("M", ("a", "int"))}).encode()
    for media in (MEDIA, "application/vnd.schemaregistry+json", "application/json"):
        status, answer = raw(cluster, 1, "POST", f"/subjects/{s}/versions", body, media)
        assert status == 200 and answer["version"] == 1, answer


def round_trip(cluster, topic: str, serialize, deserialize, values: list) -> list:
    """Produce `values` serialized, read them back deserialized (Confluent's framing checked)."""
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for value in values:
        producer.produce(topic, serialize(value, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": topic,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got = []
    try:
        while len(got) < len(values):
            msg = consumer.poll(10)
            assert msg is not None, f"only {len(got)} records read back"
            assert msg.error() is None, msg.error()
            assert msg.value()[0] == 0  # Confluent's framing: magic byte, then the 4-byte schema id
            got.append(deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE)))
    finally:
        consumer.close()
    return got


def test_avro_serializer_round_trips_records_through_a_topic(cluster):
    topic, sr = f"avro-{uuid.uuid4().hex[:6]}", client(cluster)
    orders = [{"id": i, "item": f"thing-{i}"} for i in range(5)]
    got = round_trip(cluster, topic, AvroSerializer(sr, record("Order", ("id", "long"), ("item", "string"))),
                     AvroDeserializer(client(cluster, 3)), orders)
    assert sorted(got, key=lambda o: o["id"]) == orders  # across the topic's partitions
    assert sr.get_latest_version(f"{topic}-value").version == 1  # TopicNameStrategy's subject


def test_json_schema_serializer_round_trips_records_through_a_topic(cluster):
    topic = f"json-{uuid.uuid4().hex[:6]}"
    schema = json.dumps({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]})
    values = [{"id": i} for i in range(3)]
    got = round_trip(cluster, topic, JSONSerializer(schema, client(cluster)),
                     JSONDeserializer(schema, schema_registry_client=client(cluster, 2)), values)
    assert sorted(got, key=lambda o: o["id"]) == values
    assert client(cluster, 3).get_latest_version(f"{topic}-value").schema.schema_type == "JSON"


def order_message_class():
    """A Protobuf message class made at run time (shop.Order {int64 id = 1;}), as protoc would."""
    fdp = descriptor_pb2.FileDescriptorProto(name="shop/order.proto", package="shop", syntax="proto3")
    message = fdp.message_type.add(name="Order")
    message.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def test_protobuf_serializer_round_trips_records_through_a_topic(cluster):
    topic, order = f"proto-{uuid.uuid4().hex[:6]}", order_message_class()
    values = [order(id=i) for i in range(3)]
    got = round_trip(cluster, topic, ProtobufSerializer(order, client(cluster), {"use.deprecated.format": False}),
                     ProtobufDeserializer(order, {"use.deprecated.format": False}), values)
    assert sorted(m.id for m in got) == [0, 1, 2]
    assert client(cluster, 2).get_latest_version(f"{topic}-value").schema.schema_type == "PROTOBUF"


def test_no_client_writes_schemas_through_either_door(cluster):
    client(cluster).register_schema(subject(), Schema(record("Exists", ("a", "int")), "AVRO"))  # _schemas exists
    status, body = http_json("POST", cluster.url(1) + "/topics/_schemas",
                             {"records": [{"key": "k", "value": "v"}]},
                             headers={"Content-Type": "application/vnd.kafka.json.v2+json"})
    assert status != 200 or all(o["error_code"] for o in body["offsets"]), body
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "message.timeout.ms": 5000})
    errors = []
    producer.produce("_schemas", key=b"k", value=b"v", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(10)
    assert errors and errors[0] is not None and "TOPIC" in errors[0].name()
    status, body = http_json("DELETE", cluster.v3(2) + "/topics/_schemas")
    assert status >= 400, body


def test_schemas_holds_confluents_keys_and_values_for_any_kafka_reader(cluster):
    s = subject()
    schema_id = client(cluster, 2).register_schema(s, Schema(record("Stored", ("a", "int")), "AVRO"))
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": f"read-{s}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["_schemas"])
    found = None
    try:
        for _ in range(200):
            msg = consumer.poll(5)
            if msg is None:
                break
            key = json.loads(msg.key())
            if key.get("keytype") == "SCHEMA" and key["subject"] == s:
                found = key, json.loads(msg.value())
                break
    finally:
        consumer.close()
    assert found is not None, "the registration was not found in _schemas"
    key, value = found
    assert key == {"keytype": "SCHEMA", "subject": s, "version": 1, "magic": 1}
    assert (value["subject"], value["version"], value["id"], value["deleted"]) == (s, 1, schema_id, False)
    assert json.loads(value["schema"])["name"] == "Stored" and "schemaType" not in value  # AVRO, as Confluent


def test_the_writers_door_takes_only_signed_calls_from_other_nodes(cluster):
    s = subject()
    forged = json.dumps({"op": "Register", "subject": s, "schema_type": "AVRO", "schema": '"string"',
                         "references": [], "normalize": None, "id": None, "version": None}).encode()
    status, body = raw(cluster, 1, "POST", "/internal/v1/schemas/write", forged, "application/json")
    assert status == 401 and body["error_code"] == 401
    assert s not in client(cluster, 2).get_subjects()


def schemas_leader(cluster) -> int:
    status, body = http_json("GET", cluster.url(1) + "/topics/_schemas/partitions/0")
    assert status == 200, body
    return body["leader"]


def test_ids_stay_unique_and_stable_across_a_leader_kill_and_a_full_restart(cluster):
    s = subject()
    first = client(cluster).register_schema(s, Schema(record("Stable", ("a", "int")), "AVRO"))
    registered: dict[str, int] = {}  # subject -> id, of every registration answered
    stop = threading.Event()

    def keep_registering() -> None:
        n = 0
        while not stop.is_set():
            name, n = subject(), n + 1
            try:  # one distinct schema per subject: two subjects under one id would be a reused id
                registered[name] = client(cluster).register_schema(name, Schema(record(f"During{n}", ("a", "int")),
                                                                                "AVRO"))
            except SchemaRegistryError:
                pass  # refused while the writer moved: it may or may not have been stored

    writer = threading.Thread(target=keep_registering)
    writer.start()
    try:
        time.sleep(0.5)
        leader = schemas_leader(cluster)
        cluster.kill(leader)
        survivor = next(n for n in (1, 2, 3) if n != leader)
        second = client(cluster, survivor).register_schema(
            s, Schema(record("Stable", ("a", "int"), defaults={"b": None}), "AVRO"))
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join(60)
    assert second > first and len(registered) > 2
    assert len(set(registered.values())) == len(registered)
    cluster.start_node(leader)
    cluster.wait_ready(timeout_s=60)
    cluster.stop_all()
    cluster.start().wait_ready(timeout_s=60)
    for node in (1, 2, 3):
        c = client(cluster, node)
        assert [v.schema_id for v in (c.get_version(s, 1), c.get_version(s, 2))] == [first, second]
    for name, schema_id in registered.items():
        assert client(cluster, 2).get_subjects_by_schema_id(schema_id) == [name]
    third = client(cluster).register_schema(subject(), Schema(record("Later", ("z", "int")), "AVRO"))
    assert third > max(second, *registered.values())


@pytest.mark.parametrize("schema_type, first, incompatible", [
    ("JSON", json.dumps({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}),
     json.dumps({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False})),
    ("PROTOBUF", 'syntax = "proto3";\npackage shop;\nmessage Thing {\n  string a = 1;\n}\n',
     'syntax = "proto3";\npackage shop;\nmessage Thing {\n  int64 a = 1;\n}\n'),
])
def test_json_schema_and_protobuf_register_read_back_and_check_compatibility(cluster, schema_type, first,
                                                                              incompatible):
    s = subject()
    schema_id = client(cluster, 1).register_schema(s, Schema(first, schema_type))
    got = client(cluster, 2).get_schema(schema_id)
    assert got.schema_type == schema_type
    assert client(cluster, 3).lookup_schema(s, Schema(first, schema_type)).schema_id == schema_id
    assert schema_type in client(cluster, 3).get_schema_types()
    assert client(cluster, 1).test_compatibility(s, Schema(incompatible, schema_type)) is False
    assert error_of(lambda: client(cluster, 2).register_schema(s, Schema(incompatible, schema_type))) == (409, 409)


def readme_block(language: str, holding: str) -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for block in re.findall(rf"```{language}\n(.*?)```", readme, re.S):
        if holding in block:
            return block
    raise AssertionError(f"no {language} block holding {holding!r} in README.md")


def test_the_readmes_registry_examples_work_as_written(cluster, capsys):
    """README's "Schema registry" lines, with the bundled cluster's addresses made this
    cluster's: confluent-kafka's AvroSerializer registers and writes; the curl line
    writes with the printed id through REST v2; both records read back with the
    AvroDeserializer."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (./dev test installs it as root)")
    bundled = {f"http://localhost:{8091 + i}": url for i, url in enumerate(urls(cluster))}
    bundled["localhost:9092"] = cluster.bootstrap_servers.split(",")[0]
    python = readme_block("python", "AvroSerializer(registry, schema)")
    for was, now in bundled.items():
        python = python.replace(was, now)
    exec(compile(python, "README.md", "exec"), {})
    schema_id = int(capsys.readouterr().out.strip().splitlines()[-1])
    line = readme_block("sh", "application/vnd.kafka.avro.v2+json").replace("\\\n", " ")
    node = cluster.config.node(1)
    line = line.replace("localhost:8081", f"http://{node.host}:{node.http_port}")
    line = line.replace('"value_schema_id": 1', f'"value_schema_id": {schema_id}')  # 1 on a fresh cluster
    ran = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and json.loads(ran.stdout)["value_schema_id"] == schema_id, ran
    deserialize = AvroDeserializer(client(cluster))
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": f"readme-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["orders-avro"])
    got = []
    try:
        deadline = time.monotonic() + 60
        while len(got) < 2 and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                got.append(deserialize(msg.value(), SerializationContext("orders-avro", MessageField.VALUE)))
    finally:
        consumer.close()
    assert sorted(r["id"] for r in got) == [1, 2]  # an auto-created topic's partitions: any order
