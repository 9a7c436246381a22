"""The schema registry on a cluster with [security], as confluent-kafka's
SchemaRegistryClient meets it (basic.auth.user.info, a bearer token or a client
certificate; ssl.ca.location): TLS on the registry port, the cluster's users, ACLs on
SUBJECT (made through REST v3 /acls) and the global config as the cluster's; 401/40101
for no credentials, 403/40301 when denied; writes through every node, so forwarded
writes are checked with the caller's principal."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
import uuid

import pytest
from certs import Authority
from confluent_kafka import admin as kafka_admin
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, ServerConfig
from confluent_kafka.schema_registry.common.schema_registry_client import ConfigCompatibilityLevel
from confluent_kafka.schema_registry.error import SchemaRegistryError

from kraft.server.local_cluster import LocalCluster, default_first_address, http_json, security_toml

pytestmark = pytest.mark.cluster

PASSWORDS = {"admin": "admin-password", "alice": "alice-password", "bob": "bob-password",
             "nobody": "nobody-password"}
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
MEDIA = "application/vnd.schemaregistry.v1+json"


def avro(name: str) -> Schema:
    return Schema(json.dumps({"type": "record", "name": name, "fields": [{"name": "a", "type": "int"}]}), "AVRO")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder)
    first = default_first_address()
    cert, key = ca.issue("node", "kraft-node", [f"127.0.0.{i}" for i in range(first, first + 4)])
    alice_cert = ca.issue("alice", "alice", client=True)
    security = security_toml(PASSWORDS, tls_cert=str(cert), tls_key=str(key), tls_ca=str(ca.ca_path),
                             tls_client_auth="requested",
                             **{"sasl.enabled.mechanisms": ["SCRAM-SHA-256", "OAUTHBEARER"],
                                "sasl.oauthbearer.allow.unsecured.jwt": True})
    with LocalCluster(nodes=3, extra_toml=security, headers=ADMIN) as c:
        c.tls = ssl.create_default_context(cafile=str(ca.ca_path))
        c.ca_path = str(ca.ca_path)
        c.alice_cert = alice_cert
        c.start().wait_ready(timeout_s=60)
        # alice reads every orders-* subject; bob registers (and so reads) payments-* ones
        add_acl(c, "User:alice", "READ", "orders-", "PREFIXED")
        add_acl(c, "User:bob", "WRITE", "payments-", "PREFIXED")
        yield c


def add_acl(c, principal: str, operation: str, name: str, pattern: str) -> None:
    status, body = http_json("POST", c.url(1) + f"/v3/clusters/{c.cluster_id}/acls",
                             {"resource_type": "SUBJECT", "resource_name": name, "pattern_type": pattern,
                              "principal": principal, "host": "*", "operation": operation,
                              "permission": "ALLOW"}, headers=ADMIN, context=c.tls, timeout=20)
    assert status == 201, body


def client(c, user: str | None, node: int | None = None) -> SchemaRegistryClient:
    urls = c.schema_registry_url.split(",")
    conf = {"url": c.schema_registry_url if node is None else urls[node - 1], "ssl.ca.location": c.ca_path}
    if user is not None:
        conf["basic.auth.user.info"] = f"{user}:{PASSWORDS[user]}"
    return SchemaRegistryClient(conf)


def level(name: str) -> ServerConfig:
    return ServerConfig(compatibility=ConfigCompatibilityLevel(name))


def level_of(config: ServerConfig | dict) -> str:
    """The level a config answer names (set_config answers the body as it came)."""
    if isinstance(config, dict):
        return config.get("compatibility") or config.get("compatibilityLevel") or ""
    found = config.compatibility or config.compatibility_level
    return found.value if found is not None else ""


def refused(call) -> SchemaRegistryError:
    with pytest.raises(SchemaRegistryError) as caught:
        call()
    return caught.value


def subject(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}-value"


def test_the_registry_serves_tls_on_every_node_and_refuses_anonymous_calls(cluster):
    urls = cluster.schema_registry_url.split(",")
    assert len(urls) == 3 and all(u.startswith("https://") for u in urls)
    error = refused(lambda: client(cluster, None).get_subjects())
    assert (error.http_status_code, error.error_code) == (401, 40101)
    request = urllib.request.Request(urls[1] + "/subjects", headers={"Accept": MEDIA})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=20, context=cluster.tls)
    assert answer.value.code == 401 and answer.value.headers["WWW-Authenticate"].startswith("Basic")


def test_a_wrong_password_is_refused_like_no_password(cluster):
    conf = {"url": cluster.schema_registry_url, "ssl.ca.location": cluster.ca_path,
            "basic.auth.user.info": "alice:not-her-password"}
    error = refused(lambda: SchemaRegistryClient(conf).get_subjects())
    assert (error.http_status_code, error.error_code) == (401, 40101)


def test_a_user_without_acls_may_neither_register_nor_read(cluster):
    name = subject("orders-")
    client(cluster, "admin").register_schema(name, avro("Order"))
    error = refused(lambda: client(cluster, "nobody").register_schema(subject("orders-"), avro("Order")))
    assert (error.http_status_code, error.error_code) == (403, 40301)
    assert "denied operation Write on Subject" in error.error_message
    error = refused(lambda: client(cluster, "nobody").get_latest_version(name))
    assert (error.http_status_code, error.error_code) == (403, 40301)
    assert client(cluster, "nobody").get_subjects() == []  # lists only what it may describe


def test_read_on_a_prefix_reads_its_subjects_and_their_ids_but_registers_nothing(cluster):
    orders, payments = subject("orders-"), subject("payments-")
    admin = client(cluster, "admin")
    order_id = admin.register_schema(orders, avro("Order"))
    payment_id = admin.register_schema(payments, avro("Payment"))
    for node in (1, 2, 3):  # every node, so forwarded writes too: the writer checks the caller
        alice = client(cluster, "alice", node)
        assert alice.get_latest_version(orders).schema_id == order_id
        assert json.loads(alice.get_schema(order_id).schema_str)["name"] == "Order"  # READ on a holder
        error = refused(lambda: alice.register_schema(orders, avro("Order2")))
        assert (error.http_status_code, error.error_code) == (403, 40301), node
        error = refused(lambda: alice.get_schema(payment_id))  # held by payments-* only
        assert (error.http_status_code, error.error_code) == (403, 40301)
        error = refused(lambda: alice.delete_subject(orders))
        assert (error.http_status_code, error.error_code) == (403, 40301)
    subjects = client(cluster, "alice").get_subjects()
    assert orders in subjects and payments not in subjects
    # an id no subject holds: denied alike, so a refusal tells nothing; a super user learns it is unknown
    error = refused(lambda: client(cluster, "alice").get_schema(2**31 - 2))
    assert (error.http_status_code, error.error_code) == (403, 40301)
    error = refused(lambda: client(cluster, "admin").get_schema(2**31 - 2))
    assert (error.http_status_code, error.error_code) == (404, 40403)


def test_schemas_listing_and_guids_show_only_what_the_caller_may_read(cluster):
    orders, payments = subject("orders-"), subject("payments-")
    admin = client(cluster, "admin")
    admin.register_schema(orders, avro("OrderG"))
    admin.register_schema(payments, avro("PaymentG"))
    status, found = call_as(cluster, "alice", "GET", "/schemas?latestOnly=true")
    assert status == 200 and orders in {v["subject"] for v in found}
    assert payments not in {v["subject"] for v in found}
    order_guid = admin.get_latest_version(orders).guid
    payment_guid = admin.get_latest_version(payments).guid
    assert call_as(cluster, "alice", "GET", f"/schemas/guids/{order_guid}")[0] == 200
    assert call_as(cluster, "alice", "GET", f"/schemas/guids/{payment_guid}")[1]["error_code"] == 40301
    # refused alike for whoever logs in; still 401 for nobody
    assert call_as(cluster, "alice", "GET", "/dek-registry/v1/keks")[1]["error_code"] == 42205
    assert call_as(cluster, None, "GET", "/dek-registry/v1/keks")[1]["error_code"] == 40101


def call_as(cluster, user: str | None, method: str, path: str) -> tuple[int, object]:
    headers = {"Accept": MEDIA}
    if user is not None:
        token = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        headers["Authorization"] = "Basic " + token
    req = urllib.request.Request(cluster.schema_registry_url.split(",")[0] + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30, context=cluster.tls) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_write_registers_through_any_node_and_implies_nothing_on_other_subjects(cluster):
    for node in (1, 2, 3):
        bob = client(cluster, "bob", node)
        name = subject("payments-")
        schema_id = bob.register_schema(name, avro("Payment"))
        assert client(cluster, "admin").get_latest_version(name).schema_id == schema_id
        error = refused(lambda: bob.get_latest_version(name))  # WRITE implies DESCRIBE, not READ
        assert (error.http_status_code, error.error_code) == (403, 40301)
        assert name in bob.get_subjects()  # ...so the subject is listed
        error = refused(lambda: bob.register_schema(subject("orders-"), avro("Order")))
        assert (error.http_status_code, error.error_code) == (403, 40301)


def test_only_a_super_user_changes_the_global_config(cluster):
    error = refused(lambda: client(cluster, "alice").set_config(config=level("NONE")))
    assert (error.http_status_code, error.error_code) == (403, 40301)
    error = refused(lambda: client(cluster, "bob", 2).set_config(config=level("NONE")))
    assert (error.http_status_code, error.error_code) == (403, 40301)
    error = refused(lambda: client(cluster, "alice").get_config())  # DESCRIBE_CONFIGS on the cluster
    assert (error.http_status_code, error.error_code) == (403, 40301)
    admin = client(cluster, "admin", 3)
    assert level_of(admin.set_config(config=level("FULL"))) == "FULL"
    assert level_of(client(cluster, "admin", 1).get_config()) == "FULL"
    assert level_of(admin.set_config(config=level("BACKWARD"))) == "BACKWARD"


def unsecured_token(principal: str, lifetime_s: int = 60) -> str:
    """An unsigned JWT, as `sasl.oauthbearer.allow.unsecured.jwt` takes (Kafka's test mode)."""
    def b64(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    now = int(time.time())
    return f"{b64({'alg': 'none'})}.{b64({'sub': principal, 'iat': now, 'exp': now + lifetime_s})}."


def bearer_client(c, token: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": c.schema_registry_url, "ssl.ca.location": c.ca_path,
                                 "bearer.auth.credentials.source": "STATIC_TOKEN", "bearer.auth.token": token,
                                 "bearer.auth.logical.cluster": "kraft", "bearer.auth.identity.pool.id": "none"})


def test_a_bearer_token_logs_in_as_on_the_http_door_and_an_expired_one_is_refused(cluster):
    name = subject("orders-")
    schema_id = client(cluster, "admin").register_schema(name, avro("Order"))
    alice = bearer_client(cluster, unsecured_token("alice"))
    assert alice.get_latest_version(name).schema_id == schema_id  # alice's ACLs, by her token
    error = refused(lambda: alice.register_schema(name, avro("Order2")))
    assert (error.http_status_code, error.error_code) == (403, 40301)
    error = refused(lambda: bearer_client(cluster, unsecured_token("alice", lifetime_s=-30)).get_subjects())
    assert (error.http_status_code, error.error_code) == (401, 40101)


def test_subject_acls_stay_off_the_kafka_door_which_has_no_code_for_them(cluster):
    c = cluster
    admin = kafka_admin.AdminClient({"bootstrap.servers": c.bootstrap_servers, "security.protocol": "SASL_SSL",
                                     "ssl.ca.location": c.ca_path, "sasl.mechanisms": "SCRAM-SHA-256",
                                     "sasl.username": "admin", "sasl.password": PASSWORDS["admin"]})
    everything = kafka_admin.AclBindingFilter(
        kafka_admin.ResourceType.ANY, None, kafka_admin.ResourcePatternType.ANY, None, None,
        kafka_admin.AclOperation.ANY, kafka_admin.AclPermissionType.ANY)
    assert admin.describe_acls(everything).result(timeout=15) == []  # alice's and bob's are SUBJECT ones
    deleted = admin.delete_acls([everything])
    assert [b for f in deleted.values() for b in f.result(timeout=15)] == []
    status, body = http_json("GET", c.url(2) + f"/v3/clusters/{c.cluster_id}/acls?resource_type=SUBJECT",
                             headers=ADMIN, context=c.tls, timeout=20)
    assert status == 200 and {(a["principal"], a["operation"]) for a in body["data"]} == {
        ("User:alice", "READ"), ("User:bob", "WRITE")}


def test_a_client_certificate_names_its_principal_as_on_the_http_door(cluster):
    name = subject("orders-")
    schema_id = client(cluster, "admin").register_schema(name, avro("Order"))
    cert, key = cluster.alice_cert
    alice = SchemaRegistryClient({"url": cluster.schema_registry_url, "ssl.ca.location": cluster.ca_path,
                                  "ssl.certificate.location": str(cert), "ssl.key.location": str(key)})
    assert alice.get_latest_version(name).schema_id == schema_id  # User:alice, from the certificate
    error = refused(lambda: alice.register_schema(name, avro("Order2")))
    assert (error.http_status_code, error.error_code) == (403, 40301)


def test_the_http_doors_schema_formats_ask_the_callers_subject_acls(cluster):
    """REST produce with a schema registers or reads it as the caller: bob (WRITE on
    payments-* subjects and topics) registers through a v3 produce; a topic whose subject
    he holds no ACL on, or a schema id he may not read, is refused."""
    bob = {"Authorization": "Basic " + base64.b64encode(b"bob:bob-password").decode()}
    suffix = uuid.uuid4().hex[:8]
    payments, refunds = f"payments-{suffix}", f"refunds-{suffix}"
    for topic in (payments, refunds):
        status, body = http_json("POST", cluster.v3(1) + "/topics", {"topic_name": topic, "partitions_count": 1},
                                 headers=ADMIN, context=cluster.tls, timeout=20)
        assert status == 201, body
        status, body = http_json("POST", cluster.v3(1) + "/acls",
                                 {"resource_type": "TOPIC", "resource_name": topic, "pattern_type": "LITERAL",
                                  "principal": "User:bob", "host": "*", "operation": "WRITE",
                                  "permission": "ALLOW"}, headers=ADMIN, context=cluster.tls, timeout=20)
        assert status == 201, body
    text = json.dumps({"type": "record", "name": "Payment", "fields": [{"name": "a", "type": "int"}]})

    def produce(topic: str, value: dict):
        return http_json("POST", cluster.v3(2) + f"/topics/{topic}/records", {"value": value}, headers=bob,
                         context=cluster.tls, timeout=30)

    status, body = produce(payments, {"type": "AVRO", "schema": text, "data": {"a": 1}})
    assert status == 200 and body["error_code"] == 200, body
    assert client(cluster, "admin").get_latest_version(f"{payments}-value").schema_id == body["value"]["schema_id"]
    status, body = produce(refunds, {"type": "AVRO", "schema": text, "data": {"a": 1}})
    assert (status, body["error_code"]) == (403, 40301), body  # no ACL on subject refunds-...-value
    order_id = client(cluster, "admin").register_schema(subject("orders-"), avro("Order"))
    status, body = produce(payments, {"schema_id": order_id, "data": {"a": 1}})
    assert (status, body["error_code"]) == (403, 40301), body  # an id held only by subjects he may not read


def test_the_consoles_decoder_shows_a_schema_only_to_who_may_read_one_of_its_subjects(cluster):
    bob = {"Authorization": "Basic " + base64.b64encode(b"bob:bob-password").decode()}
    status, body = http_json("POST", cluster.v3(1) + "/acls",
                             {"resource_type": "CLUSTER", "resource_name": "kafka-cluster", "pattern_type": "LITERAL",
                              "principal": "User:bob", "host": "*", "operation": "DESCRIBE", "permission": "ALLOW"},
                             headers=ADMIN, context=cluster.tls, timeout=20)
    assert status == 201, body
    schema_id = client(cluster, "admin").register_schema(subject("orders-"), avro("Order"))
    framed = base64.b64encode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02").decode()  # {"a": 1}

    def decoded(headers):
        status, body = http_json("POST", cluster.url(1) + "/v1/console/decode", {"values": [framed]},
                                 headers=headers, context=cluster.tls, timeout=20)
        assert status == 200, body
        return body["values"][0]

    assert decoded(ADMIN)["data"] == {"a": 1}
    assert decoded(bob) == {"schema_id": schema_id, "error": "not allowed to read the subjects of this schema id"}
