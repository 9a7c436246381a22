"""TLS certificates as a new user makes them, used by a real node serving https and
checked as curl and Kafka clients check them (the CA, and the address dialled against
the certificate's names): `kraft certs` run as a command, and docs/SECURITY.md's openssl
recipe run from its own text."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from kraft.security.certificates import certificate_names
from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

KRAFT = [sys.executable, "-m", "kraft"]
ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
V2_JSON = "application/vnd.kafka.json.v2+json"
TLS_FILES = {"tls_cert": "certs/node.pem", "tls_key": "certs/node.key", "tls_ca": "certs/ca.pem"}


def tls_cluster(tmp_path: Path, **security) -> LocalCluster:
    toml = security_toml({"admin": "admin-password"}, **TLS_FILES, **security)
    # one node: topics get one replica, as the bundled file's three fit its three nodes
    return LocalCluster(1, base_dir=tmp_path, extra_toml=toml, headers=ADMIN, topic_defaults={"replication.factor": 1})


def trusting(ca: Path, client: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A client that checks the node against the CA and the address it dials."""
    context = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        context.load_cert_chain(*map(str, client))
    return context


def readme_block(containing: str) -> str:
    """docs/SECURITY.md's shell block that holds `containing`."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "docs" / "SECURITY.md").read_text(), flags=re.S)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"docs/SECURITY.md has {len(found)} shell blocks with {containing!r}"
    return found[0]


def test_kraft_certs_makes_a_ca_node_and_client_certificates_a_cluster_serves(tmp_path):
    cluster = tls_cluster(tmp_path, tls_client_auth="requested")
    host = cluster.config.node(1).host
    made = subprocess.run(KRAFT + ["certs", "-c", str(cluster.config_path), "--user", "alice"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    certs = tmp_path / "certs"
    assert f"node certificate: {certs / 'node.pem'} and key {certs / 'node.key'}, for 127.0.0.1, {host}, " \
           "localhost" in made.stdout, made.stdout
    for key in ("ca.key", "node.key", "alice.key"):
        assert (certs / key).stat().st_mode & 0o077 == 0, f"{key} is readable by others"
    again = subprocess.run(KRAFT + ["certs", "-c", str(cluster.config_path), "--node", "1"], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and "(kept;" in again.stdout, again.stdout  # the same CA signs again
    own = certificate_names((certs / "node-1.pem").read_bytes())  # a certificate for node 1's machine only
    assert own == ("kraft-node", ["127.0.0.1", host, "localhost"]), own
    with cluster:
        cluster.tls = trusting(certs / "ca.pem")
        cluster.start().wait_ready(timeout_s=60)
        status, body = http_json("GET", cluster.url(1) + "/v3/clusters", headers=ADMIN, context=cluster.tls)
        assert status == 200 and body["data"][0]["cluster_id"] == cluster.cluster_id, body
        # alice's certificate names her: she is known (no 401) and has no ACL to write (403)
        alice = trusting(certs / "ca.pem", (certs / "alice.pem", certs / "alice.key"))
        status, body = http_json("POST", cluster.url(1) + "/topics/certs-t", {"records": [{"value": 1}]},
                                 headers={"Content-Type": V2_JSON}, context=alice)
        assert status == 403 and "User:alice" in body["message"], (status, body)
        status, _ = http_json("GET", cluster.url(1) + "/v3/clusters", context=cluster.tls)
        assert status == 401  # the same request without her certificate
        run_the_readme_security_example(cluster, tmp_path)
        bench_over_tls(cluster, certs / "ca.pem")


def bench_over_tls(cluster: LocalCluster, ca: Path) -> None:
    """kraft bench takes KRAFT_USER/KRAFT_PASSWORD and KRAFT_CA like the other commands,
    and without credentials says which to set."""
    env = {k: v for k, v in os.environ.items() if k not in ("KRAFT_USER", "KRAFT_PASSWORD")}
    env["KRAFT_CA"] = str(ca)
    bench = KRAFT + ["bench", "produce", "orders-eu", "--bootstrap", cluster.url(1), "--records", "50"]
    refused = subprocess.run(bench, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
    assert "set KRAFT_USER and KRAFT_PASSWORD" in refused.stderr, refused.stderr
    admin = {**env, "KRAFT_USER": "admin", "KRAFT_PASSWORD": "admin-password"}
    ran = subprocess.run(bench + ["--json"], capture_output=True, text=True, timeout=60, env=admin)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout.strip().splitlines()[-1])["produce"]
    assert summary["records"] == 50 and summary["errors"] == {}, summary


def run_the_readme_security_example(cluster: LocalCluster, folder: Path, password: str = "admin-password") -> None:
    """docs/SECURITY.md's steps after the certificates, as written, against this cluster's
    address and admin password instead of the bundled ones: alice gets WRITE on orders-*,
    an admin creates the topic, her produce over https and her SASL_SSL kcat work."""
    node = cluster.config.node(1)
    steps = readme_block("KRAFT_NEW_PASSWORD=alice-secret")
    for bundled, here in (("./dev ", f"{sys.executable} -m kraft "), ("change-me-please", password),
                          ("localhost:8081", f"{node.host}:{node.http_port}"),
                          ("localhost:9092", f"{node.host}:{node.kafka_port}")):
        assert bundled in steps
        steps = steps.replace(bundled, here)
    missing = [tool for tool in ("curl", "kcat") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"docs/SECURITY.md's example needs {' and '.join(missing)}")
    env = {k: v for k, v in os.environ.items() if k not in ("KRAFT_USER", "KRAFT_PASSWORD")}
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", steps], cwd=folder, capture_output=True, text=True,
                         timeout=90, env=env)
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    assert '"offsets":[{"partition":0,"offset":0,"error_code":null' in ran.stdout, ran.stdout
    assert 'topic "orders-eu" with 3 partitions' in ran.stdout, ran.stdout  # kcat -L, as alice


def run_the_readme_registry_example(cluster: LocalCluster, folder: Path, password: str) -> None:
    """docs/SECURITY.md's schema registry steps, as written, against this cluster (alice
    exists): her SUBJECT ACLs, her registration over https, her read on another node."""
    node = cluster.config.node(1)
    steps = readme_block("--resource-type SUBJECT")
    for bundled, here in (("./dev ", f"{sys.executable} -m kraft "), ("localhost:8091", node.schema_registry_url[8:]),
                          ("localhost:8092", node.schema_registry_url[8:])):  # one node: it answers both
        assert bundled in steps
        steps = steps.replace(bundled, here)
    env = {**{k: v for k, v in os.environ.items() if k not in ("KRAFT_USER", "KRAFT_PASSWORD")},
           "KRAFT_USER": "admin", "KRAFT_PASSWORD": password}  # as the walkthrough exported them
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", steps], cwd=folder, capture_output=True, text=True,
                         timeout=90, env=env)
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    assert '{"id":1' in ran.stdout and '"subject":"orders-eu-value","version":1' in ran.stdout, ran.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_readme_openssl_recipe_makes_certificates_a_node_serves(tmp_path):
    cluster = tls_cluster(tmp_path)
    host = cluster.config.node(1).host
    recipe = readme_block("openssl req -x509")
    assert "IP:127.0.0.1," in recipe
    # as written, for this test's node address in place of the bundled cluster's 127.0.0.1
    made = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe.replace("IP:127.0.0.1,", f"IP:{host},")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    with cluster:
        cluster.tls = trusting(tmp_path / "certs" / "ca.pem")
        cluster.start().wait_ready(timeout_s=60)
        status, body = http_json("GET", cluster.url(1) + "/v3/clusters", headers=ADMIN, context=cluster.tls)
        assert status == 200 and body["data"][0]["cluster_id"] == cluster.cluster_id, body


def readme_security_table() -> str:
    """docs/SECURITY.md's [security] table, as written."""
    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "docs" / "SECURITY.md").read_text(), flags=re.S)
    found = [b for b in blocks if b.startswith("[security]") and 'tls_cert = "certs/node.pem"' in b]
    assert len(found) == 1, f"docs/SECURITY.md has {len(found)} [security] tables with TLS"
    return found[0]


def test_the_readme_client_certificate_login_works_as_written(tmp_path):
    """docs/SECURITY.md's [security] table, its `./dev certs --user alice`, its user and ACL
    steps, its schema registry steps, then alice logging in with her certificate alone, on
    REST and Kafka's SSL."""
    if missing := [tool for tool in ("curl", "kcat") if shutil.which(tool) is None]:
        pytest.skip(f"docs/SECURITY.md's example needs {' and '.join(missing)}")
    admin = {"Authorization": "Basic " + base64.b64encode(b"admin:change-me-please").decode()}
    cluster = LocalCluster(1, base_dir=tmp_path, extra_toml=readme_security_table(), headers=admin,
                           topic_defaults={"replication.factor": 1})
    assert readme_block("./dev certs --user alice").strip() == "./dev certs --user alice"
    made = subprocess.run(KRAFT + ["certs", "--user", "alice"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)  # ./dev certs: the cluster.toml of the folder it runs in
    assert made.returncode == 0, made.stderr
    node = cluster.config.node(1)
    with cluster:
        cluster.tls = trusting(tmp_path / "certs" / "ca.pem")
        cluster.start().wait_ready(timeout_s=60)
        run_the_readme_security_example(cluster, tmp_path, "change-me-please")
        run_the_readme_registry_example(cluster, tmp_path, "change-me-please")
        steps = readme_block("--cert certs/alice.pem")
        for bundled, here in (("localhost:8081", f"{node.host}:{node.http_port}"),
                              ("localhost:9092", f"{node.host}:{node.kafka_port}")):
            assert bundled in steps
            steps = steps.replace(bundled, here)
        env = {k: v for k, v in os.environ.items() if k not in ("KRAFT_USER", "KRAFT_PASSWORD")}
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", steps], cwd=tmp_path, capture_output=True,
                             text=True, timeout=90, env=env)
        assert ran.returncode == 0, (ran.stdout, ran.stderr)
        assert '"offsets":[{"partition":' in ran.stdout and "40101" not in ran.stdout, ran.stdout
        assert 'topic "orders-eu" with 3 partitions' in ran.stdout, ran.stdout  # kcat -L, as alice
    assert "tls_client_auth" not in made.stdout, made.stdout  # kraft certs saw nothing left to add


def test_kraft_certs_says_what_a_client_certificate_needs(tmp_path):
    cluster = tls_cluster(tmp_path)  # tls_client_auth left at "none"
    made = subprocess.run(KRAFT + ["certs", "-c", str(cluster.config_path), "--user", "bob"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert 'add tls_client_auth = "requested"' in made.stdout, made.stdout
    cluster.close()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="handing files to a user needs root")
def test_kraft_certs_hands_the_node_files_to_the_user_the_node_runs_as(tmp_path):
    """As root for deploy/systemd's User=kraft (here `nobody`): the node's key is that
    user's and still 0600; the CA's key stays root's; a user that does not exist is refused."""
    import pwd
    cluster = tls_cluster(tmp_path)
    certs = tmp_path / "certs"
    as_root = subprocess.run(KRAFT + ["certs", "-c", str(cluster.config_path)], capture_output=True, text=True,
                             timeout=60)
    assert as_root.returncode == 0 and "--owner kraft" in as_root.stdout, as_root.stdout
    nobody = pwd.getpwnam("nobody")
    made = subprocess.run(KRAFT + ["certs", "-c", str(cluster.config_path), "--owner", "nobody", "--node", "1"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    for name in ("node-1.key", "node-1.pem"):
        assert (certs / name).stat().st_uid == nobody.pw_uid, name
    assert (certs / "node-1.key").stat().st_mode & 0o777 == 0o600
    assert (certs / "ca.key").stat().st_uid == 0
    unknown = subprocess.run(KRAFT + ["certs", "-c", str(cluster.config_path), "--owner", "no-such-user-here"],
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "no such user" in unknown.stderr, unknown
    assert "Traceback" not in unknown.stderr
    cluster.close()
