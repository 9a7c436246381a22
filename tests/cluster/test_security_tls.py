"""TLS on every listener of a real 3-node cluster: the HTTP API (curl, the bundled client,
the kraft commands), node-to-node HTTP (replication, forwarding), the Kafka listener
(confluent-kafka and kcat over SSL and SASL_SSL); client certificates naming the
principal (mTLS); plain-text requests to the TLS ports refused."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys

import pytest
from certs import Authority

from kraft.server.local_cluster import default_first_address, LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
CURL = shutil.which("curl")
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
V2_JSON = "application/vnd.kafka.json.v2+json"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder)
    first = default_first_address()  # where this worker's clusters live
    node = ca.issue("node", "kraft-node", [f"127.0.0.{i}" for i in range(first, first + 4)])
    alice = ca.issue("alice", "alice", client=True)
    stranger = Authority(folder / "other", "untrusted CA").issue("mallory", "admin", client=True)
    return {"ca": ca.ca_path, "node": node, "alice": alice, "stranger": stranger}


@pytest.fixture(scope="module")
def cluster(pki):
    cert, key = pki["node"]
    security = security_toml({"admin": "admin-password"}, tls_cert=str(cert), tls_key=str(key),
                             tls_ca=str(pki["ca"]), tls_client_auth="requested")
    with LocalCluster(nodes=3, extra_toml=security, headers=ADMIN) as c:
        c.tls = ssl.create_default_context(cafile=str(pki["ca"]))
        c.start().wait_ready(timeout_s=60)
        yield c


def call(c, method, path, body=None, headers=None, node=1, context=None):
    return http_json(method, c.url(node) + path, body, headers={**ADMIN, **(headers or {})},
                     context=context or c.tls, timeout=20)


def test_every_node_serves_https_and_the_cluster_works_over_it(cluster):
    c = cluster
    assert c.url(1).startswith("https://")
    status, body = call(c, "POST", f"/v3/clusters/{c.cluster_id}/topics", {"topic_name": "tls-t", "partitions_count": 1})
    assert status == 201, body
    # acks=all: the followers fetched it over https; every node answers reads, forwarding over https
    status, body = call(c, "POST", "/topics/tls-t", {"records": [{"value": {"n": 1}}]},
                        headers={"Content-Type": V2_JSON}, node=2)
    assert status == 200 and body["offsets"][0]["error_code"] is None, body
    for node in (1, 2, 3):
        status, body = call(c, "GET", "/topics/tls-t/partitions/0/records?offset=0", headers={"Accept": V2_JSON},
                            node=node)
        assert status == 200 and body[0]["value"] == {"n": 1}, (node, body)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_needs_the_ca_and_plain_http_is_refused(cluster, pki):
    c = cluster
    url = c.url(3) + f"/v3/clusters/{c.cluster_id}"
    ok = subprocess.run([CURL, "-sS", "--cacert", str(pki["ca"]), "-u", "admin:admin-password", url],
                        capture_output=True, timeout=30)
    assert ok.returncode == 0 and json.loads(ok.stdout)["cluster_id"] == c.cluster_id, ok.stderr
    untrusted = subprocess.run([CURL, "-sS", "-u", "admin:admin-password", url], capture_output=True, timeout=30)
    assert untrusted.returncode == 60, untrusted.stderr  # curl: the peer's certificate cannot be verified
    plain = subprocess.run([CURL, "-sS", "-u", "admin:admin-password", url.replace("https://", "http://")],
                           capture_output=True, timeout=30)
    assert plain.returncode != 0 and b"cluster_id" not in plain.stdout
    assert call(c, "GET", "/status/ready", node=3)[0] == 200  # still serving


def test_a_client_certificate_names_the_principal(cluster, pki):
    c = cluster
    alice = ssl.create_default_context(cafile=str(pki["ca"]))
    alice.load_cert_chain(*pki["alice"])
    path = f"/v3/clusters/{c.cluster_id}/topics/tls-t"
    # no password: the certificate says User:alice, who has no ACL yet (403, not 401)
    assert http_json("GET", c.url(2) + path, context=alice, timeout=20)[0] == 403
    status, _ = call(c, "POST", f"/v3/clusters/{c.cluster_id}/acls", {
        "resource_type": "TOPIC", "resource_name": "tls-t", "pattern_type": "LITERAL", "principal": "User:alice",
        "host": "*", "operation": "DESCRIBE", "permission": "ALLOW"})
    assert status == 201
    status, body = http_json("GET", c.url(2) + path, context=alice, timeout=20)
    assert status == 200, body
    # a certificate from another authority is refused in the handshake, whatever its name says
    stranger = ssl.create_default_context(cafile=str(pki["ca"]))
    stranger.load_cert_chain(*pki["stranger"])
    with pytest.raises(OSError):
        http_json("GET", c.url(2) + path, context=stranger, timeout=20)
    # no certificate and no password: asked for credentials
    assert http_json("GET", c.url(2) + path, context=c.tls, timeout=20)[0] == 401


def test_kraft_commands_and_the_bundled_producer_use_the_files_ca(cluster):
    c = cluster
    env = {**os.environ, "KRAFT_USER": "admin", "KRAFT_PASSWORD": "admin-password"}
    kraft = [sys.executable, "-m", "kraft"]
    made = subprocess.run([*kraft, "topic", "create", "tls-cli", "-p", "1", "-c", str(c.config_path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    produced = subprocess.run([*kraft, "produce", "tls-cli", "-c", str(c.config_path)], input="one\ntwo\n",
                              capture_output=True, text=True, env=env, timeout=60)
    assert produced.returncode == 0, produced.stderr
    read = subprocess.run([*kraft, "consume", "tls-cli", "--from-beginning", "--max-messages", "2", "--idle-exit", "10",
                           "-c", str(c.config_path)], capture_output=True, text=True, env=env, timeout=60)
    assert read.returncode == 0 and ["one", "two"] == [json.loads(x)["value"] for x in read.stdout.splitlines()], read
    # by URL alone, the CA comes from KRAFT_CA; without it the certificate cannot be checked
    by_url = [*kraft, "topic", "list", "--bootstrap", c.url(2)]
    refused = subprocess.run(by_url, capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    listed = subprocess.run(by_url, capture_output=True, text=True, timeout=60,
                            env={**env, "KRAFT_CA": str(c.config.path_of(c.config.security.tls_ca))})
    assert listed.returncode == 0 and "tls-cli" in listed.stdout.split(), listed.stderr


def test_kafka_clients_over_ssl_and_sasl_ssl(cluster, pki):
    c = cluster
    base = {"bootstrap.servers": c.bootstrap_servers, "ssl.ca.location": str(pki["ca"]),
            "message.timeout.ms": 15000}
    sasl_ssl = {**base, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-256",
                "sasl.username": "admin", "sasl.password": "admin-password"}
    producer = confluent_kafka.Producer(sasl_ssl)
    errors: list = []
    producer.produce("tls-t", b"over-tls", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    assert errors == [None]
    # SSL with alice's certificate: the principal is User:alice, who may DESCRIBE only
    alice_cert, alice_key = pki["alice"]
    alice = confluent_kafka.Producer({**base, "security.protocol": "SSL", "ssl.certificate.location": str(alice_cert),
                                      "ssl.key.location": str(alice_key), "enable.idempotence": False})
    errors.clear()
    alice.produce("tls-t", b"denied", on_delivery=lambda err, msg: errors.append(err))
    alice.flush(20)
    assert errors and errors[0].code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    # plain text to the TLS port: no answer, and the broker keeps serving
    conf = c.config.node(1)
    with socket.create_connection((conf.host, conf.kafka_port), timeout=10) as s:
        s.sendall(b"\0\0\0\x0a\0\x12\0\0\0\0\0\x07\xff\xff")  # ApiVersions v0, unencrypted
        try:
            answer = s.recv(100)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"\0\0\0")  # closed (or a TLS alert), never a Kafka answer
    consumer = confluent_kafka.Consumer({**sasl_ssl, "group.id": "tls-g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["tls-t"])
    got = []
    for _ in range(40):
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            got.append(msg.value())
        if b"over-tls" in got:
            break
    consumer.close()
    assert b"over-tls" in got


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is installed by ./dev test (apt); not on PATH")
def test_kcat_over_sasl_ssl(cluster, pki):
    c = cluster
    args = ["kcat", "-b", c.bootstrap_servers, "-X", "security.protocol=SASL_SSL", "-X",
            f"ssl.ca.location={pki['ca']}", "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=admin",
            "-X", "sasl.password=admin-password"]
    produced = subprocess.run([*args, "-P", "-t", "tls-t", "-p", "0"], input=b"kcat-tls\n", capture_output=True,
                              timeout=60)
    assert produced.returncode == 0, produced.stderr
    read = subprocess.run([*args, "-C", "-t", "tls-t", "-p", "0", "-o", "beginning", "-e", "-q"],
                          capture_output=True, timeout=60)
    assert read.returncode == 0 and b"kcat-tls" in read.stdout, read.stderr
