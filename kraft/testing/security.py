"""A secured test cluster (Cluster(security=True)): TLS on every listener, SASL on the
Kafka listener and HTTP Basic on REST, and one ready user, a super user, so a test only
adds the client settings (client_config()) and goes.

The material is made for the cluster's own addresses: a CA of its own and one node
certificate naming every node's 127.0.0.N, written beside the cluster's data.
"""

from __future__ import annotations

import base64
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from kraft.security.certificates import new_authority, node_certificate
from kraft.server.local_cluster import security_toml

USER = "kraft-test"
MECHANISM = "SCRAM-SHA-256"  # the user's SCRAM credential; PLAIN takes the same password


@dataclass(frozen=True)
class ClusterSecurity:
    user: str
    password: str
    ca_file: Path
    cert_file: Path
    key_file: Path

    def toml(self) -> str:
        """The cluster's [security] table."""
        return security_toml({self.user: self.password}, super_users=(self.user,), tls_cert=str(self.cert_file),
                             tls_key=str(self.key_file), tls_ca=str(self.ca_file))

    def client_config(self) -> dict:
        """A Kafka client's settings (confluent-kafka / librdkafka names), bootstrap aside."""
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": MECHANISM, "sasl.username": self.user,
                "sasl.password": self.password, "ssl.ca.location": str(self.ca_file)}

    def rest_headers(self) -> dict:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def prepare(folder: Path, hosts: list[str]) -> ClusterSecurity:
    """Write a CA and a node certificate for these hosts into folder; a fresh password."""
    folder.mkdir(parents=True, exist_ok=True)
    authority = new_authority("kraft test CA")
    node = node_certificate(authority, [*hosts, "localhost"])
    files = {"ca.pem": authority.certificate, "node.pem": node.certificate, "node-key.pem": node.key}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "node-key.pem").chmod(0o600)
    return ClusterSecurity(USER, secrets.token_urlsafe(18), folder / "ca.pem", folder / "node.pem",
                        folder / "node-key.pem")
