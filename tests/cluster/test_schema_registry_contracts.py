"""Confluent's whole registry contract on a real cluster, through confluent-kafka's own
SchemaRegistryClient and plain HTTP: data contracts (metadata and rule sets) round-trip
through every node and a full restart, config defaults, overrides and compatibility
groups apply, and what kraft does not serve is refused with Confluent's codes."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from confluent_kafka.schema_registry import (Metadata, MetadataProperties, MetadataTags, Rule, RuleKind, RuleMode,
                                             RuleParams, RuleSet, Schema, SchemaRegistryClient)
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.schema_registry.rules.encryption.dek_registry.dek_registry_client import DekRegistryClient
from confluent_kafka.schema_registry.schema_registry_client import ServerConfig
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorProto

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

MEDIA = "application/vnd.schemaregistry.v1+json"
FIELD = descriptor_pb2.FieldDescriptorProto
METADATA = Metadata(tags=MetadataTags({"User.email": ["PII"]}),
                    properties=MetadataProperties({"owner": "team-a", "major": "1"}), sensitive=["User.email"])
RULES = RuleSet(domain_rules=[Rule("checkAge", None, RuleKind.CONDITION, RuleMode.WRITE, "CEL", ["PII"],
                                   RuleParams({"k": "v"}), "message.age >= 0", None, "DLQ", False)],
                migration_rules=[], encoding_rules=[])


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3) as c:
        c.start().wait_ready(timeout_s=60)
        registry_ready(c)
        yield c


def registry_ready(cluster, timeout_s: float = 20.0) -> None:
    """Every node's registry port answers (it opens just after the node's HTTP port)."""
    deadline = time.monotonic() + timeout_s
    for url in urls(cluster):
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{url} does not answer"
                time.sleep(0.2)


def urls(cluster) -> list[str]:
    return cluster.schema_registry_url.split(",")


def client(cluster, node: int) -> SchemaRegistryClient:
    """A client of one node (a new one each time: nothing answered from its cache)."""
    return SchemaRegistryClient({"url": urls(cluster)[node - 1]})


def subject() -> str:
    return f"c-{uuid.uuid4().hex[:8]}-value"


def record(name: str, *fields: str) -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": f, "type": "int"} for f in fields]})


def raw(cluster, node: int, method: str, path: str, body: object = None,
        headers: dict[str, str] | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(urls(cluster)[node - 1] + path, data=data, method=method,
                                 headers={"Content-Type": MEDIA, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def error_of(call) -> tuple[int, int]:
    with pytest.raises(SchemaRegistryError) as caught:
        call()
    return caught.value.http_status_code, caught.value.error_code


def test_metadata_and_rule_set_round_trip_through_confluents_client_on_every_node(cluster):
    s = subject()
    schema = Schema(record("User", "age"), "AVRO", metadata=METADATA, rule_set=RULES)
    schema_id = client(cluster, 1).register_schema(s, schema)
    for node in (1, 2, 3):
        c = client(cluster, node)
        for got in (c.get_version(s, 1).schema, c.get_latest_version(s).schema, c.get_schema(schema_id),
                    c.lookup_schema(s, schema).schema):
            assert (got.metadata, got.rule_set) == (METADATA, RULES), node
    # the same schema text without them is another schema once the contract differs
    other = Schema(record("User", "age"), "AVRO", metadata=Metadata(None, MetadataProperties({"owner": "b"}), None))
    assert client(cluster, 2).register_schema(s, other) != schema_id
    assert client(cluster, 3).register_schema(s, schema) == schema_id


def test_config_defaults_overrides_and_compatibility_group_through_the_client(cluster):
    s = subject()
    c = client(cluster, 1)
    c.set_config(s, ServerConfig(compatibility_group="major",
                                 default_metadata=Metadata(None, MetadataProperties({"major": "1"}), None),
                                 override_rule_set=RULES))
    got = client(cluster, 2).get_config(s)
    assert got.compatibility_group == "major" and got.override_rule_set == RULES
    c.register_schema(s, Schema(record("V", "a"), "AVRO"))
    stored = client(cluster, 3).get_latest_version(s).schema
    assert stored.metadata.properties.properties == {"major": "1"} and stored.rule_set == RULES
    # incompatible (a new field without default), accepted in another group, refused in the same
    v2 = Metadata(None, MetadataProperties({"major": "2"}), None)
    c.register_schema(s, Schema(record("V", "b"), "AVRO", metadata=v2))
    assert error_of(lambda: c.register_schema(s, Schema(record("V", "c"), "AVRO", metadata=v2)))[0] == 409


def test_a_bad_rule_set_or_an_unserved_key_is_refused_with_confluents_codes(cluster):
    s = subject()
    bad = {"schema": record("B", "a"), "ruleSet": {"domainRules": [{"name": "1x", "type": "CEL"}]}}
    assert raw(cluster, 2, "POST", f"/subjects/{s}/versions", bad) == (422, {
        "error_code": 42210, "message": "Illegal initial character in rule name: 1x"})
    status, answer = raw(cluster, 1, "PUT", f"/config/{s}", {"alias": "elsewhere"})
    assert (status, answer["error_code"]) == (422, 42203)
    status, answer = raw(cluster, 3, "POST", f"/subjects/{s}/versions",
                         {"schema": record("B", "a"), "schemaTagsToAdd": [{"entityPath": "B", "tags": ["X"]}]})
    assert (status, answer["error_code"]) == (422, 42201)


def test_lookup_finds_a_json_schema_in_another_key_order(cluster):
    s = subject()
    first = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    again = {"properties": {"b": {"type": "integer"}, "a": {"type": "string"}}, "type": "object"}
    schema_id = client(cluster, 1).register_schema(s, Schema(json.dumps(first), "JSON"))
    assert client(cluster, 2).lookup_schema(s, Schema(json.dumps(again), "JSON")).schema_id == schema_id
    assert client(cluster, 3).register_schema(s, Schema(json.dumps(again), "JSON")) == schema_id


def test_an_avro_namespace_avro_refuses_is_42201(cluster):
    text = json.dumps({"type": "record", "name": "R", "namespace": "foo-bar-baz", "fields": []})
    assert error_of(lambda: client(cluster, 1).register_schema(subject(), Schema(text, "AVRO"))) == (422, 42201)


def test_a_subject_with_braces_reaches_the_registry(cluster):
    s = "{weird}-" + subject()
    path = "/subjects/" + urllib.parse.quote(s, safe="{}")
    status, answer = raw(cluster, 1, "POST", path + "/versions", {"schema": record("W", "a")})
    assert status == 200 and answer["version"] == 1
    assert raw(cluster, 2, "GET", path + "/versions")[1] == [1]
    assert raw(cluster, 3, "GET", "/config/" + urllib.parse.quote(s, safe="{}"))[1]["error_code"] == 40408


def test_the_accept_header_is_honoured(cluster):
    for accept in ("text/html", "application/xml"):
        assert raw(cluster, 1, "GET", "/subjects", headers={"Accept": accept}) == (406, {
            "error_code": 406, "message": "HTTP 406 Not Acceptable"})
    for accept, answered in (("application/json", "application/json"), ("*/*", MEDIA),
                             ("application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json")):
        req = urllib.request.Request(urls(cluster)[1] + "/subjects", headers={"Accept": accept})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert (resp.status, resp.headers.get_content_type()) == (200, answered)


def test_get_schemas_lists_versions_with_confluents_filters(cluster):
    prefix = f"list-{uuid.uuid4().hex[:6]}-"
    for name, fields in (("a", ("x",)), ("a", ("x", "y")), ("b", ("z",))):
        raw(cluster, 1, "PUT", f"/config/{prefix}{name}", {"compatibility": "NONE"})
        status, _ = raw(cluster, 1, "POST", f"/subjects/{prefix}{name}/versions", {"schema": record("L", *fields)})
        assert status == 200
    status, found = raw(cluster, 2, "GET", f"/schemas?subjectPrefix={prefix}")
    assert status == 200 and [(v["subject"], v["version"]) for v in found] == [
        (prefix + "a", 1), (prefix + "a", 2), (prefix + "b", 1)]
    _, latest = raw(cluster, 3, "GET", f"/schemas?subjectPrefix={prefix}&latestOnly=true&offset=1&limit=1")
    assert [(v["subject"], v["version"]) for v in latest] == [(prefix + "b", 1)]


def test_a_schema_is_found_by_its_guid_through_confluents_client(cluster):
    s = subject()
    schema = Schema(record("G", "a"), "AVRO", metadata=METADATA)
    schema_id = client(cluster, 1).register_schema(s, schema)
    _, version = raw(cluster, 2, "GET", f"/subjects/{s}/versions/1")
    got = client(cluster, 3).get_schema_by_guid(version["guid"])
    assert (got.schema_str, got.metadata) == (version["schema"], METADATA)
    assert raw(cluster, 1, "GET", f"/schemas/guids/{version['guid']}/ids")[1] == [{"context": ".", "id": schema_id}]
    assert raw(cluster, 1, "GET", f"/schemas/guids/{uuid.uuid4()}")[1]["error_code"] == 40403


def test_server_metadata_names_the_cluster_and_the_version(cluster):
    status, found = raw(cluster, 2, "GET", "/v1/metadata/id")
    assert status == 200 and found["scope"]["clusters"]["kafka-cluster"]
    assert found["scope"]["clusters"]["schema-registry-cluster"] == "schema-registry"
    assert raw(cluster, 3, "GET", "/v1/metadata/version")[1]["version"]


def test_readonly_override_refuses_registrations_until_the_global_mode_is_deleted(cluster):
    s = subject()
    assert raw(cluster, 1, "PUT", "/mode", {"mode": "READONLY_OVERRIDE"}) == (200, {"mode": "READONLY_OVERRIDE"})
    try:
        assert raw(cluster, 2, "GET", f"/mode/{s}?defaultToGlobal=true")[1] == {"mode": "READONLY_OVERRIDE"}
        status, refused = raw(cluster, 3, "POST", f"/subjects/{s}/versions", {"schema": record("R", "a")})
        assert (status, refused["error_code"]) == (422, 42205)
    finally:
        assert raw(cluster, 1, "DELETE", "/mode") == (200, {"mode": "READONLY_OVERRIDE"})
    assert raw(cluster, 2, "POST", f"/subjects/{s}/versions", {"schema": record("R", "a")})[0] == 200


def test_the_dek_registry_is_refused_loudly_and_confluents_client_reports_it(cluster):
    dek = DekRegistryClient({"url": urls(cluster)[0]})
    with pytest.raises(SchemaRegistryError) as caught:
        dek.register_kek("kek-1", "aws-kms", "arn:aws:kms:eu-west-1:1:key/x", shared=False)
    assert (caught.value.http_status_code, caught.value.error_code) == (422, 42205)
    for method, path in (("GET", "/dek-registry/v1/keks"), ("GET", "/dek-registry/v1/keks/k/deks/s"),
                         ("DELETE", "/dek-registry/v1/keks/k")):
        status, answer = raw(cluster, 2, method, path)
        assert (status, answer["error_code"]) == (422, 42205) and "DEK registry" in answer["message"]


def test_a_subject_in_another_context_is_refused_and_the_default_context_is_the_plain_name(cluster):
    s = subject()
    status, answer = raw(cluster, 1, "POST", f"/subjects/:.ctx:{s}/versions", {"schema": record("C", "a")})
    assert (status, answer["error_code"]) == (422, 42208)
    assert error_of(lambda: client(cluster, 2).get_latest_version(f":.ctx:{s}")) == (422, 42208)
    assert raw(cluster, 3, "PUT", f"/config/:.ctx:{s}", {"compatibility": "NONE"})[1]["error_code"] == 42208
    ref = {"schema": record("D", "a"), "references": [{"name": "x", "subject": f":.other:{s}", "version": 1}]}
    assert raw(cluster, 1, "POST", f"/subjects/{s}/versions", ref)[1]["error_code"] == 42208
    schema_id = client(cluster, 1).register_schema(f":.:{s}", Schema(record("C", "a"), "AVRO"))
    assert client(cluster, 2).get_latest_version(s).schema_id == schema_id
    assert raw(cluster, 3, "GET", "/contexts") == (200, ["."])
    assert s in raw(cluster, 3, "GET", f"/subjects?subjectPrefix=:.:{s[:6]}")[1]
    assert raw(cluster, 1, "GET", "/subjects?subjectPrefix=:.ctx:")[1]["error_code"] == 42208


def test_a_protobuf_schema_is_served_serialized_as_confluents_protobuf_serdes_ask(cluster):
    s = subject()
    text = 'syntax = "proto3";\npackage t;\nmessage Item { string name = 1; }\n'
    schema_id = client(cluster, 1).register_schema(s, Schema(text, "PROTOBUF"))
    served = client(cluster, 2).get_version(s, 1, fmt="serialized").schema.schema_str
    file = FileDescriptorProto.FromString(base64.b64decode(served))
    assert [m.name for m in file.message_type] == ["Item"]
    assert raw(cluster, 3, "GET", f"/schemas/ids/{schema_id}?format=serialized")[1]["schema"] == served
    status, refused = raw(cluster, 1, "GET", f"/subjects/{s}/versions/1?format=ignore_extensions")
    assert (status, refused["error_code"]) == (400, 400)


def test_latest_with_metadata_and_confluents_list_filters(cluster):
    s = subject()
    c = client(cluster, 1)
    raw(cluster, 1, "PUT", f"/config/{s}", {"compatibility": "NONE"})
    for major, name in (("1", "a"), ("1", "b"), ("2", "c")):
        c.register_schema(s, Schema(record("M", "x", name), "AVRO",
                                    metadata=Metadata(None, MetadataProperties({"major": major}), None)))
    got = client(cluster, 2).get_latest_with_metadata(s, {"major": "1"})
    assert got.version == 2 and got.schema.metadata.properties.properties == {"major": "1"}
    assert error_of(lambda: client(cluster, 3).get_latest_with_metadata(s, {"major": "9"})) == (404, 40403)
    raw(cluster, 1, "DELETE", f"/subjects/{s}/versions/1")
    assert raw(cluster, 2, "GET", f"/subjects/{s}/versions?deletedAsNegative=true")[1] == [-1, 2, 3]
    assert raw(cluster, 3, "GET", f"/subjects/{s}/versions?deletedOnly=true")[1] == [1]
    assert raw(cluster, 1, "GET", f"/subjects/{s}/versions?offset=1&limit=1")[1] == [3]
    assert s in raw(cluster, 2, "GET", f"/subjects?deletedOnly=true&subjectPrefix={s}")[1]
    assert raw(cluster, 2, "GET", "/subjects?limit=x")[1]["error_code"] == 400


def priced_order_class():
    """shop.PricedOrder {shop.Money price = 1;}, its Money in an imported file: as protoc would make them."""
    pool = descriptor_pool.DescriptorPool()
    money = descriptor_pb2.FileDescriptorProto(name="shop/money.proto", package="shop", syntax="proto3")
    money.message_type.add(name="Money").field.add(name="cents", number=1, type=FIELD.TYPE_INT64,
                                                   label=FIELD.LABEL_OPTIONAL)
    order = descriptor_pb2.FileDescriptorProto(name="shop/priced.proto", package="shop", syntax="proto3",
                                               dependency=["shop/money.proto"])
    order.message_type.add(name="PricedOrder").field.add(name="price", number=1, type=FIELD.TYPE_MESSAGE,
                                                         type_name=".shop.Money", label=FIELD.LABEL_OPTIONAL)
    pool.Add(money)
    pool.Add(order)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.PricedOrder"))


def test_a_protobuf_deserializer_reading_schemas_from_the_registry_gets_them_serialized(cluster):
    topic, priced = f"priced-{uuid.uuid4().hex[:6]}", priced_order_class()
    ctx = SerializationContext(topic, MessageField.VALUE)
    serialize = ProtobufSerializer(priced, client(cluster, 1), {"use.deprecated.format": False})
    data = serialize(priced(price={"cents": 1250}), ctx)
    # the deserializer asks the writer's schema and its import by id and version, format=serialized
    deserialize = ProtobufDeserializer(priced, {"use.deprecated.format": False}, client(cluster, 2))
    assert deserialize(data, ctx).price.cents == 1250


def test_contracts_survive_a_full_restart(cluster):
    s = subject()
    schema = Schema(record("Kept", "a"), "AVRO", metadata=METADATA, rule_set=RULES)
    schema_id = client(cluster, 1).register_schema(s, schema)
    client(cluster, 1).set_config(s, ServerConfig(default_metadata=METADATA))
    cluster.stop_all()
    cluster.start().wait_ready(timeout_s=60)
    registry_ready(cluster)
    got = client(cluster, 2).get_schema(schema_id)
    assert (got.metadata, got.rule_set) == (METADATA, RULES)
    assert client(cluster, 3).get_config(s).default_metadata == METADATA
