"""Security on the HTTP API of a real 3-node cluster with `[security]`: HTTP Basic
against SCRAM credentials in the metadata log, ACLs on every endpoint.

Every route the node serves (read from its own OpenAPI document, so a new endpoint is
covered as soon as it exists) is called without credentials (401 with a challenge),
as a user without ACLs (403, and nothing changed), and as that user once granted
exactly the ACL the route needs (served). Then the rules users rely on: deny wins, a
prefixed ACL, a deleted user locked out on every node, a request passed between
nodes keeps its principal (the back-off of failed logins: test_login_floods.py).
"""

from __future__ import annotations

import base64
import http.client
import json

import pytest
from cluster_client import V2_JSON

from kraft.api.access_rules import RULES, authenticated, OPEN
from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

# no back-off of failed logins here (test_login_floods.py proves it): every route is asked
# with a wrong password, and each answer would wait out the delay
SECURITY = security_toml({u: f"{u}-password" for u in ("admin", "alice", "bob")},
                         **{"connection.failed.authentication.delay.ms": 0})


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ADMIN, ALICE, BOB = basic("admin", "admin-password"), basic("alice", "alice-password"), basic("bob", "bob-password")


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN) as c:
        c.start().wait_ready(timeout_s=60)
        for topic, partitions in (("sec-t", 1), ("sec-doomed", 1), ("pre-orders", 1), ("other", 1)):
            status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": topic,
                                     "partitions_count": partitions}, headers=ADMIN)
            assert status == 201, body
        status, body = http_json("POST", c.url(1) + "/topics/sec-t", {"records": [{"value": {"n": 1}}]},
                                 headers={**ADMIN, "Content-Type": V2_JSON})
        assert status == 200, body
        yield c


def acls_of(c) -> list:
    return http_json("GET", c.v3(1) + "/acls", headers=ADMIN)[1]["data"]


def grant(c, principal="User:alice", **fields) -> dict:
    acl = {"resource_type": "TOPIC", "resource_name": "sec-t", "pattern_type": "LITERAL",
           "principal": principal, "host": "*", "operation": "READ", "permission": "ALLOW", **fields}
    status, body = http_json("POST", c.v3(1) + "/acls", acl, headers=ADMIN)
    assert status == 201, body
    return acl


def revoke_all(c) -> None:
    status, body = http_json("DELETE", c.v3(1) + "/acls?resource_type=ANY&pattern_type=ANY&operation=ANY"
                             "&permission=ANY", headers=ADMIN)
    assert status == 200, body
    assert acls_of(c) == []


# -- every route -------------------------------------------------------------------------
# node_id: not a voter (a granted request must not take a voter out of the quorum)
VALUES = {"topic": "sec-t", "partition": "0", "broker_id": "1", "broker": "1", "node_id": "9", "name": "retention.ms",
          "group": "sec-g", "instance": "i1", "consumer": "c1", "user": "carol", "run_id": "20000101-000000-baseline",
          "namespace": "kraft"}
DOOMED = {("DELETE", "/v3/clusters/{cluster_id}/topics/{topic}"): {"topic": "sec-doomed"}}
BODIES = {  # enough of a body to get past parsing to the authorization decision
    ("POST", "/v3/clusters/{cluster_id}/topics"): {"topic_name": "sec-new", "partitions_count": 1},
    ("POST", "/v3/clusters/{cluster_id}/acls"): {
        "resource_type": "TOPIC", "resource_name": "x", "pattern_type": "LITERAL", "principal": "User:zed",
        "host": "*", "operation": "READ", "permission": "ALLOW"},
    ("POST", "/v1/security/users"): {"username": "dave", "password": "dave-password"},
    ("PUT", "/v1/security/users/{user}"): {"password": "carol-password-2"},
}
QUERIES = {("DELETE", "/v3/clusters/{cluster_id}/acls"):
           "?resource_type=TOPIC&resource_name=x&pattern_type=LITERAL&operation=READ&permission=ALLOW"}


def served_routes(c) -> list[tuple[str, str]]:
    paths = http_json("GET", c.url(1) + "/openapi.json")[1]["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


def concrete(c, method: str, template: str) -> str:
    values = {**VALUES, "cluster_id": c.cluster_id, **DOOMED.get((method, template), {})}
    path = template
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return path + QUERIES.get((method, template), "")


def send(c, method, template, headers, node=1):
    body = BODIES.get((method, template))
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {}
    content = {"Content-Type": V2_JSON} if template.startswith(("/topics/", "/consumers/")) else {}
    return http_json(method, c.url(node) + concrete(c, method, template), body,
                     headers={**headers, **content}, timeout=15)


def test_every_route_asks_for_credentials_then_for_an_acl(cluster):
    c = cluster
    revoke_all(c)
    before = {"topics": sorted(t["topic_name"] for t in http_json("GET", c.v3(1) + "/topics", headers=ADMIN)[1]["data"]),
              "configs": http_json("GET", c.v3(1) + "/topics/sec-t/configs", headers=ADMIN)[1]["data"],
              "users": http_json("GET", c.url(1) + "/v1/security/users", headers=ADMIN)[1],
              "cluster": http_json("GET", c.v3(1) + "/broker-configs", headers=ADMIN)[1]["data"]}
    routes = served_routes(c)
    assert len(routes) > 60
    for method, template in routes:
        rule = RULES[(method, template)]
        status, body = send(c, method, template, {})
        if rule == OPEN:
            assert status != 401, (method, template, status, body)
            continue
        assert status == 401 and body["error_code"] == 40101, (method, template, status, body)
        status, body = send(c, method, template, basic("alice", "wrong-password"))
        assert status == 401 and body["message"] == "Authentication failed", (method, template, body)
        status, body = send(c, method, template, ALICE)
        if rule is authenticated and (method, template) not in BODIES:
            assert status not in (401, 403), (method, template, status, body)
        else:
            assert status == 403 and body["error_code"] == 40301, (method, template, status, body)
    after = {"topics": sorted(t["topic_name"] for t in http_json("GET", c.v3(1) + "/topics", headers=ADMIN)[1]["data"]),
             "configs": http_json("GET", c.v3(1) + "/topics/sec-t/configs", headers=ADMIN)[1]["data"],
             "users": http_json("GET", c.url(1) + "/v1/security/users", headers=ADMIN)[1],
             "cluster": http_json("GET", c.v3(1) + "/broker-configs", headers=ADMIN)[1]["data"]}
    assert after == before  # every refused write left the cluster as it was
    assert acls_of(c) == []


def test_the_401_answer_challenges_for_basic(cluster):
    conn = http.client.HTTPConnection(cluster.config.node(2).host, cluster.config.node(2).http_port, timeout=10)
    conn.request("GET", "/v3/clusters")
    answer = conn.getresponse()
    assert answer.status == 401
    assert answer.getheader("WWW-Authenticate", "").startswith("Basic realm=")
    conn.close()


def test_the_401_answer_to_a_pages_script_has_no_challenge(cluster):
    """The web console signs in itself: no browser password prompt over it."""
    conn = http.client.HTTPConnection(cluster.config.node(2).host, cluster.config.node(2).http_port, timeout=10)
    conn.request("GET", "/v3/clusters", headers={"X-Requested-With": "XMLHttpRequest"})
    answer = conn.getresponse()
    assert answer.status == 401 and answer.getheader("WWW-Authenticate") is None
    assert json.loads(answer.read())["error_code"] == 40101
    conn.close()


def test_every_route_serves_a_user_granted_exactly_what_it_needs(cluster):
    c = cluster
    http_json("POST", c.url(1) + "/v1/security/users", {"username": "carol", "password": "carol-password"},
              headers=ADMIN)
    checked = 0
    for method, template in served_routes(c):
        need = getattr(RULES[(method, template)], "need", None)
        if need is None:
            continue
        values = {**VALUES, **DOOMED.get((method, template), {})}
        for operation, resource_type in getattr(RULES[(method, template)], "needs", (need,)):
            name = {"CLUSTER": "kafka-cluster", "TOPIC": values["topic"], "GROUP": values["group"]}[resource_type]
            grant(c, resource_type=resource_type, resource_name=name, operation=operation)
        try:
            status, body = send(c, method, template, ALICE, node=2)
            assert status not in (401, 403), (method, template, need, status, body)
            checked += 1
        finally:
            revoke_all(c)
    assert checked > 50


def test_produce_and_consume_need_write_and_read_and_pass_between_nodes(cluster):
    c = cluster
    revoke_all(c)
    produce = lambda node, headers: http_json(  # noqa: E731
        "POST", c.url(node) + "/topics/sec-t", {"records": [{"value": {"n": 2}}]},
        headers={**headers, "Content-Type": V2_JSON})
    assert produce(3, ALICE)[0] == 403
    grant(c, operation="WRITE")
    for node in (1, 2, 3):  # only one node leads sec-t-0: the others pass the request on
        status, body = produce(node, ALICE)
        assert status == 200 and body["offsets"][0]["error_code"] is None, body
    for node in (1, 2, 3):  # WRITE does not let alice read
        status, body = http_json("GET", c.url(node) + "/topics/sec-t/partitions/0/records?offset=0",
                                 headers={**ALICE, "Accept": V2_JSON})
        assert status == 403, body
    grant(c, operation="READ")
    for node in (1, 2, 3):
        status, body = http_json("GET", c.url(node) + "/topics/sec-t/partitions/0/records?offset=0",
                                 headers={**ALICE, "Accept": V2_JSON})
        assert status == 200 and len(body) >= 4, body
    revoke_all(c)


def test_a_deny_overrides_an_allow_and_a_prefix_covers_its_topics(cluster):
    c = cluster
    revoke_all(c)
    grant(c, resource_name="pre-", pattern_type="PREFIXED", operation="ALL")
    listed = lambda: sorted(t["topic_name"] for t in http_json(  # noqa: E731
        "GET", c.v3(2) + "/topics", headers=ALICE)[1]["data"])
    assert listed() == ["pre-orders"]  # the listing shows what alice may see
    status, _ = http_json("GET", c.v3(2) + "/topics/pre-orders/configs", headers=ALICE)
    assert status == 200
    assert http_json("GET", c.v3(2) + "/topics/other/configs", headers=ALICE)[0] == 403
    # the topic that does not exist yet, under the prefix: alice may create it
    status, body = http_json("POST", c.v3(2) + "/topics", {"topic_name": "pre-new", "partitions_count": 1},
                             headers=ALICE)
    assert status == 201, body
    grant(c, resource_name="pre-orders", operation="DESCRIBE_CONFIGS", permission="DENY")
    assert http_json("GET", c.v3(3) + "/topics/pre-orders/configs", headers=ALICE)[0] == 403
    assert http_json("GET", c.v3(3) + "/topics/pre-new/configs", headers=ALICE)[0] == 200
    grant(c, principal="User:*", resource_name="pre-new", operation="ALL", permission="DENY")
    assert http_json("GET", c.v3(1) + "/topics/pre-new", headers=ALICE)[0] == 403
    assert listed() == ["pre-orders"]
    revoke_all(c)


def test_a_deleted_user_is_locked_out_on_every_node_when_the_delete_returns(cluster):
    c = cluster
    status, body = http_json("POST", c.url(1) + "/v1/security/users",
                             {"username": "erin", "password": "erin-password"}, headers=ADMIN)
    assert status == 201, body
    erin = basic("erin", "erin-password")
    for node in (1, 2, 3):
        assert http_json("GET", c.v3(node), headers=erin)[0] == 200
    status, _ = http_json("DELETE", c.url(3) + "/v1/security/users/erin", headers=ADMIN)
    assert status == 204
    for node in (1, 2, 3):
        status, body = http_json("GET", c.v3(node), headers=erin)
        assert status == 401 and body["message"] == "Authentication failed", (node, body)
    # the same answer as a user that never existed: it tells nothing
    assert http_json("GET", c.v3(1), headers=basic("nobody", "x"))[1] == body
    assert http_json("DELETE", c.url(1) + "/v1/security/users/erin", headers=ADMIN)[0] == 404


def test_a_changed_password_replaces_the_old_one_everywhere(cluster):
    c = cluster
    http_json("POST", c.url(1) + "/v1/security/users", {"username": "frank", "password": "frank-1-password"},
              headers=ADMIN)
    assert http_json("GET", c.v3(2), headers=basic("frank", "frank-1-password"))[0] == 200
    status, body = http_json("PUT", c.url(1) + "/v1/security/users/frank",
                             {"password": "frank-2-password", "algorithm": "SCRAM-SHA-512"}, headers=ADMIN)
    assert status == 200, body
    for node in (1, 2, 3):
        assert http_json("GET", c.v3(node), headers=basic("frank", "frank-1-password"))[0] == 401
        assert http_json("GET", c.v3(node), headers=basic("frank", "frank-2-password"))[0] == 200
    users = {u["name"]: u["mechanisms"] for u in http_json("GET", c.url(1) + "/v1/security/users", headers=ADMIN)[1]}
    assert users["frank"] == ["SCRAM-SHA-512"]  # the old mechanism's credential is gone
    assert "password" not in json.dumps(users)


@pytest.mark.parametrize("body, code", [
    ({"username": "a:b", "password": "pw-12345"}, 42206),
    ({"username": "g", "password": ""}, 42206),
    ({"username": "g", "password": "x" * 2000}, 42206),
    ({"username": "g", "password": "pw-12345", "algorithm": "MD5"}, 400),
    ({"username": "g", "password": "pw-12345", "role": "admin"}, 400),
    ({"username": "admin", "password": "take-over-password"}, 40901),
])
def test_bad_user_requests_are_refused_with_a_clear_code(cluster, body, code):
    status, answer = http_json("POST", cluster.url(1) + "/v1/security/users", body, headers=ADMIN)
    assert answer["error_code"] == code and status == int(str(code)[:3]), answer
    assert http_json("GET", cluster.v3(1), headers=ADMIN)[0] == 200  # admin's password unchanged


@pytest.mark.parametrize("change, code", [
    ({"operation": "FLY"}, 40002), ({"resource_type": "CLUSTER", "resource_name": "c"}, 40002),
    ({"principal": "alice"}, 40002), ({"pattern_type": "MATCH"}, 40002), ({"extra": 1}, 400),
])
def test_bad_acls_are_refused_and_nothing_is_stored(cluster, change, code):
    acl = {"resource_type": "TOPIC", "resource_name": "t", "pattern_type": "LITERAL",
           "principal": "User:alice", "host": "*", "operation": "READ", "permission": "ALLOW", **change}
    status, answer = http_json("POST", cluster.v3(1) + "/acls", acl, headers=ADMIN)
    assert answer["error_code"] == code, answer
    status, answer = http_json("POST", cluster.v3(1) + "/acls:batch", {"data": [acl]}, headers=ADMIN)
    assert answer["error_code"] == code, answer
    assert acls_of(cluster) == []


def test_acl_search_and_delete_by_filter(cluster):
    c = cluster
    revoke_all(c)
    status, _ = http_json("POST", c.v3(1) + "/acls:batch", {"data": [
        {"resource_type": "TOPIC", "resource_name": "sec-", "pattern_type": "PREFIXED",
         "principal": "User:alice", "host": "*", "operation": "ALL", "permission": "ALLOW"},
        {"resource_type": "CLUSTER", "resource_name": "kafka-cluster", "pattern_type": "LITERAL",
         "principal": "User:alice", "host": "*", "operation": "DESCRIBE", "permission": "DENY"},
        {"resource_type": "GROUP", "resource_name": "*", "pattern_type": "LITERAL",
         "principal": "User:bob", "host": "*", "operation": "READ", "permission": "ALLOW"}]}, headers=ADMIN)
    assert status == 201
    found = http_json("GET", c.v3(2) + "/acls?principal=User%3Aalice", headers=ADMIN)[1]
    assert found["kind"] == "KafkaAclList" and len(found["data"]) == 2
    assert all(a["kind"] == "KafkaAcl" and a["cluster_id"] == c.cluster_id for a in found["data"])
    match = http_json("GET", c.v3(2) + "/acls?resource_type=TOPIC&resource_name=sec-t&pattern_type=MATCH",
                      headers=ADMIN)[1]["data"]
    assert [a["resource_name"] for a in match] == ["sec-"]
    status, gone = http_json("DELETE", c.v3(3) + "/acls?resource_type=ANY&pattern_type=ANY&operation=ANY"
                             "&permission=DENY", headers=ADMIN)
    assert status == 200 and [a["resource_type"] for a in gone["data"]] == ["CLUSTER"]
    assert len(acls_of(c)) == 2
    status, answer = http_json("DELETE", c.v3(3) + "/acls?resource_type=TOPIC", headers=ADMIN)
    assert status == 400 and "required" in answer["message"]
    revoke_all(c)


def test_a_node_reachable_from_other_machines_refuses_to_start_without_authentication(tmp_path):
    import subprocess
    import sys
    nodes = "".join(f'''
[[nodes]]
id = {i}
roles = ["controller", "broker"]
host = "{host}"
http_port = {18080 + i}
kafka_port = {19190 + i}
raft_port = {19090 + i}
data_dir = "node-{i}"
''' for i, host in ((1, "10.255.0.1"), (2, "127.0.0.1"), (3, "127.0.0.1")))
    for security, refused in (("", True), ("[security]\nauthentication = false\n", True),
                              ("[security]\nauthentication = false\nallow_unauthenticated = true\n", False)):
        path = tmp_path / "cluster.toml"
        path.write_text(security + nodes)
        run = subprocess.run([sys.executable, "-m", "kraft", "node", "-c", str(path), "--id", "1"],
                             capture_output=True, text=True, timeout=60)
        if refused:
            assert run.returncode == 2, run.stderr
            assert "10.255.0.1" in run.stderr and "allow_unauthenticated" in run.stderr
            assert len(run.stderr.strip().splitlines()) == 1
        else:  # past the check: it goes on to its data dir (not formatted here)
            assert "allow_unauthenticated" not in run.stderr and "not formatted" in run.stderr, run.stderr


def test_kraft_user_and_acl_commands(cluster):
    import os
    import subprocess
    import sys
    c = cluster
    env = {**os.environ, "KRAFT_USER": "admin", "KRAFT_PASSWORD": "admin-password", "KRAFT_NEW_PASSWORD": "hank-password"}
    kraft = [sys.executable, "-m", "kraft"]
    where = ["--bootstrap", c.url(2)]

    def run(*args, ok=True, **extra):
        done = subprocess.run([*kraft, *args, *where], capture_output=True, text=True, timeout=60,
                              env={**env, **extra})
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return done
    run("user", "add", "hank")
    assert "hank\tSCRAM-SHA-256" in run("user", "list").stdout
    assert http_json("GET", c.v3(3), headers=basic("hank", "hank-password"))[0] == 200
    run("acl", "add", "--principal", "User:hank", "--operation", "READ", "--resource-type", "TOPIC",
        "--resource-name", "sec-", "--pattern-type", "PREFIXED")
    listed = run("acl", "list", "--principal", "User:hank").stdout
    assert "User:hank" in listed and "PREFIXED" in listed
    assert http_json("GET", c.url(3) + "/topics/sec-t/partitions/0/records?offset=0",
                     headers={**basic("hank", "hank-password"), "Accept": V2_JSON})[0] == 200
    assert "deleted 1 ACL(s)" in run("acl", "delete", "--principal", "User:hank").stdout
    run("user", "add", "hank", "--update", KRAFT_NEW_PASSWORD="hank-password-2")
    assert http_json("GET", c.v3(3), headers=basic("hank", "hank-password"))[0] == 401
    refused = run("user", "list", ok=False, KRAFT_PASSWORD="wrong")
    assert "40101" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    run("user", "delete", "hank")
    assert http_json("GET", c.v3(1), headers=basic("hank", "hank-password-2"))[0] == 401
    assert "hank" not in run("user", "list").stdout
