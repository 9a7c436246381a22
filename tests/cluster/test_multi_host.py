"""The cluster as separate machines: each node in a network namespace of its own, with
its own address on a bridge, the same ports on every machine, its own copy of the file
and its own `kraft format` (docs/DEPLOY.md's recipe). Clients stay outside, as on
another machine. Node 3 binds 0.0.0.0 and advertises its address (`bind_host`, as a
node in a container does); unplugging one machine's cable leaves a cluster that serves.

Root and iproute2 are needed; the namespaces, veth pairs and the bridge are the test's
own and are removed after it.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from kraft.server.local_cluster import http_json

pytestmark = pytest.mark.cluster
confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka is a test extra")
from confluent_kafka import admin as cadmin  # noqa: E402

SUBNET = "10.231.7"
BRIDGE = "kraft-mh-br"
HOSTS = {1: f"{SUBNET}.1", 2: f"{SUBNET}.2", 3: f"{SUBNET}.3"}
HTTP, KAFKA, RAFT = 8081, 9092, 9093  # the same on every machine
PASSWORD = "multi-host-admin-password"
REST_AUTH = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
SASL = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "admin",
        "sasl.password": PASSWORD}


def ns(node_id: int) -> str:
    return f"kraft-mh-{node_id}"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=check)


def cluster_toml() -> str:
    lines = ['[cluster]', 'name = "multi-host"', "", "[security]", 'super_users = ["admin"]',
             "[[security.users]]", 'name = "admin"', f'password = "{PASSWORD}"']
    for node_id, host in HOSTS.items():
        lines += ["", "[[nodes]]", f"id = {node_id}", 'roles = ["controller", "broker"]', f'host = "{host}"',
                  f"http_port = {HTTP}", f"kafka_port = {KAFKA}", f"raft_port = {RAFT}", f'data_dir = "node-{node_id}"']
        if node_id == 3:
            lines.append('bind_host = "0.0.0.0"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def machines():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make network namespaces")
    made: list[str] = []
    forward_rule = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
    try:
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        made.append("bridge")
        sh("ip", "addr", "add", f"{SUBNET}.254/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        # bridged frames may pass iptables (br_netfilter), whose FORWARD policy may drop them
        if shutil.which("iptables") and sh("iptables", "-I", *forward_rule, check=False).returncode == 0:
            made.append("forward")
        for node_id, host in HOSTS.items():
            sh("ip", "netns", "add", ns(node_id))
            made.append(ns(node_id))
            outside, inside = f"kmh{node_id}o", f"kmh{node_id}i"
            sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            sh("ip", "link", "set", outside, "master", BRIDGE, "up")
            sh("ip", "link", "set", inside, "netns", ns(node_id))
            run_in = ("ip", "netns", "exec", ns(node_id))
            sh(*run_in, "ip", "link", "set", inside, "name", "eth0")
            sh(*run_in, "ip", "addr", "add", f"{host}/24", "dev", "eth0")
            sh(*run_in, "ip", "link", "set", "eth0", "up")
            sh(*run_in, "ip", "link", "set", "lo", "up")
        yield
    finally:
        for name in reversed(made):
            if name == "bridge":
                sh("ip", "link", "del", BRIDGE, check=False)
            elif name == "forward":
                sh("iptables", "-D", *forward_rule, check=False)
            else:
                sh("ip", "netns", "del", name, check=False)  # takes its veth pair along


def url(node_id: int) -> str:
    return f"http://{HOSTS[node_id]}:{HTTP}"


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout_s}s (last: {last!r})")


def ready(node_id: int) -> bool:
    return http_json("GET", url(node_id) + "/status/ready", timeout=2)[0] == 200


def test_nodes_on_separate_hosts_serve_clients_and_survive_an_unplugged_host(machines, tmp_path):
    cluster_id, password = uuid.uuid4().hex[:22], uuid.uuid4().hex
    procs: dict[int, subprocess.Popen] = {}
    try:
        for node_id in HOSTS:  # each machine: its own directory, file and format
            home = tmp_path / f"host-{node_id}"
            home.mkdir()
            (home / "cluster.toml").write_text(cluster_toml())
            kraft = [sys.executable, "-m", "kraft"]
            sh(*kraft, "format", "-c", str(home / "cluster.toml"), "--id", str(node_id),
               "--cluster-id", cluster_id, "--raft-password", password)
            with open(home / "node.log", "ab") as log:
                procs[node_id] = subprocess.Popen(
                    ["ip", "netns", "exec", ns(node_id), *kraft, "node", "-c", str(home / "cluster.toml"),
                     "--id", str(node_id)], stdout=log, stderr=subprocess.STDOUT, cwd=home)
        wait_for(lambda: all(ready(n) for n in HOSTS), 60, "every host ready")

        # Kafka clients outside the namespaces; brokers are advertised by their host, never 0.0.0.0
        status, body = http_json("POST", url(1) + f"/v3/clusters/{cluster_id}/topics",
                                 {"topic_name": "orders", "partitions_count": 3, "replication_factor": 3,
                                  "configs": [{"name": "min.insync.replicas", "value": "2"}]}, headers=REST_AUTH)
        assert status == 201, body
        admin = cadmin.AdminClient({"bootstrap.servers": f"{HOSTS[3]}:{KAFKA}", **SASL})
        brokers = admin.list_topics(timeout=20).brokers
        assert sorted((b.host, b.port) for b in brokers.values()) == [(h, KAFKA) for h in HOSTS.values()]
        producer = confluent_kafka.Producer({"bootstrap.servers": f"{HOSTS[1]}:{KAFKA}", "acks": "all", **SASL})
        for i in range(60):
            producer.produce("orders", f"v{i}".encode(), partition=i % 3)
        assert producer.flush(30) == 0
        assert sorted(consume_all(f"{HOSTS[3]}:{KAFKA}", 60)) == sorted(f"v{i}" for i in range(60))

        # node 3 binds every address of its machine: its own loopback reaches it too
        inside = sh("ip", "netns", "exec", ns(3), sys.executable, "-c",
                    f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{HTTP}/status/ready',"
                    " timeout=5).status)", check=False)
        assert inside.stdout.strip() == "200", inside.stderr[-500:]

        # unplug host 2: the others elect leaders among themselves and take acks=all writes
        sh("ip", "netns", "exec", ns(2), "ip", "link", "set", "eth0", "down")
        wait_for(lambda: all(p["leader_id"] in (1, 3) for p in partitions(cluster_id)), 30,
                 "leaders on the hosts still plugged in")
        status, body = http_json("POST", url(1) + "/topics/orders",
                                 {"records": [{"value": f"after-{p}", "partition": p} for p in range(3)]},
                                 headers={"Content-Type": "application/vnd.kafka.json.v2+json", **REST_AUTH}, timeout=20)
        assert status == 200 and all(o["error_code"] is None for o in body["offsets"]), body
        sh("ip", "netns", "exec", ns(2), "ip", "link", "set", "eth0", "up")
        wait_for(lambda: all(sorted(p["isr"]) == [1, 2, 3] for p in partitions(cluster_id)), 60,
                 "host 2 back in every ISR")
        for node_id, proc in procs.items():
            assert proc.poll() is None, (tmp_path / f"host-{node_id}" / "node.log").read_text()[-2000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def partitions(cluster_id: str) -> list[dict]:
    status, body = http_json("GET", url(1) + f"/v3/clusters/{cluster_id}/topics/orders/partitions", timeout=5,
                             headers=REST_AUTH)
    assert status == 200, body
    return body["data"]


def consume_all(bootstrap: str, count: int) -> list[str]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, **SASL, "group.id": f"mh-{uuid.uuid4().hex[:8]}",
                                         "auto.offset.reset": "earliest"})
    got: list[str] = []
    try:
        consumer.subscribe(["orders"])
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append(msg.value().decode())
    finally:
        consumer.close()
    return got
