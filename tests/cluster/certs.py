"""A throwaway certificate authority for the TLS tests: node certificates for the
127.0.0.x addresses the test clusters use, client certificates naming a user, and a
second, untrusted authority."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kraft.server.local_cluster import LocalCluster, default_first_address, security_toml


class Authority:
    def __init__(self, folder: Path, name: str = "kraft test CA"):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (self._builder(subject, subject, self.key.public_key())
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_path = folder / "ca.pem"
        self.ca_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2)))

    def issue(self, name: str, common_name: str, addresses=(), client: bool = False) -> tuple[Path, Path]:
        """(certificate, key) files; a server certificate for `addresses` unless `client`."""
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
                                 self.cert.subject, key.public_key())
                   .add_extension(x509.ExtendedKeyUsage([usage, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if addresses:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses] + [x509.DNSName("localhost")]),
                critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_path, key_path = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path


@contextlib.contextmanager
def one_tls_node(pki: Path, **options) -> Iterator[LocalCluster]:
    """A started one-node cluster whose doors speak TLS (a certificate from a new authority
    in `pki`; the user admin, password admin-password); its client context as `c.tls`.
    options: LocalCluster's (cluster=..., env=...)."""
    ca = Authority(pki)
    cert, key = ca.issue("node", "kraft-node", [f"127.0.0.{default_first_address()}"])
    security = security_toml({"admin": "admin-password"}, tls_cert=str(cert), tls_key=str(key),
                             tls_ca=str(ca.ca_path), tls_client_auth="none")
    with LocalCluster(nodes=1, extra_toml=security, **options) as c:
        c.tls = ssl.create_default_context(cafile=str(ca.ca_path))
        c.start().wait_ready(timeout_s=90)
        yield c
