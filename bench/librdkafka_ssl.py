"""The certificates librdkafka's SSL tests read, as trivup's SslApp lays them out for them
(tests/LibrdkafkaTestApp.py sets the SSL_* variables from it), and the kraft [security]
table of brokers that serve TLS with them.

0097 (tests/0097-ssl_verify.cpp) reads: the client's certificate as PEM and DER
(SSL_pub_pem, SSL_pub_der), its key as PEM and DER (SSL_priv_pem, SSL_priv_der), a PKCS#12
file with the key, the certificate and the CA, encrypted with SSL_password (SSL_pkcs),
the CA as PEM and DER (SSL_ca_pem, SSL_ca_der), every CA of the run in one PEM
(SSL_all_cas_pem: the CA and an unused one), and SSL_client_auth; test.conf names the CA,
the certificate and the key (ssl.*.location) and the key's password. The client
certificate is signed by the CA directly, as trivup's `--ssl` makes it (its intermediate-CA
variant, SSL_intermediate_*, leaves out 0097's DER cases).

The brokers and test-runner run on different CPUs (`cpu_split`): with both on one CPU, a
broker woken by the client's ClientHello can answer before the client's first
SSL_connect() returns, and librdkafka then reports a failed certificate check as a
transport error (ERR__TRANSPORT) instead of ERR__SSL, which 0097 refuses. That timing
never arises with a broker on another machine; it shows against `openssl s_server` too.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSWORD = "kraft-suite-keystore"  # trivup's ssl_key_pass: the PKCS#12 file's and test.conf's
DAYS = 30


@dataclass(frozen=True)
class SslEnvironment:
    folder: Path
    client: str                  # the client certificate's common name: kraft's User:<it>
    variables: dict[str, str]    # SSL_* for test-runner
    conf: dict[str, str]         # test.conf's ssl.* lines
    broker_cert: Path
    broker_key: Path

    def tls_settings(self, client_auth: str) -> dict[str, str]:
        """[security]'s TLS keys for brokers serving this environment's broker certificate,
        checking client certificates against its CA (`client_auth`: kraft's tls_client_auth)."""
        return {"tls_cert": str(self.broker_cert), "tls_key": str(self.broker_key),
                "tls_ca": self.variables["SSL_ca_pem"], "tls_client_auth": client_auth}

    def client_context(self, with_certificate: bool) -> ssl.SSLContext:
        """What the script's own requests to the brokers' HTTPS ports use: trust in the CA,
        and the client certificate when the brokers require one."""
        context = ssl.create_default_context(cafile=self.variables["SSL_ca_pem"])
        if with_certificate:
            context.load_cert_chain(self.variables["SSL_pub_pem"], self.variables["SSL_priv_pem"])
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=DAYS)))


def _authority(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(common_name, _name(common_name), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], common_name: str, usages: list,
          addresses: Iterable[str] = ()) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(common_name, ca_cert.subject, key.public_key())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    names = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names + [x509.DNSName("localhost")]),
                                        critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_bytes(key, encoding: serialization.Encoding) -> bytes:
    return key.private_bytes(encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def build(folder: Path, broker_addresses: Iterable[str], client: str = "librdkafka") -> SslEnvironment:
    """A CA, a certificate for the brokers at `broker_addresses` (server and client use:
    nodes dial each other with it), the client's certificate and key in every form 0097
    reads, and an unused second CA, written under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _authority("kraft suite CA")
    unused_ca, _ = _authority("kraft suite unused CA")
    broker_cert, broker_key = _leaf(ca, "kraft-broker", [ExtendedKeyUsageOID.SERVER_AUTH,
                                                          ExtendedKeyUsageOID.CLIENT_AUTH], broker_addresses)
    client_cert, client_key = _leaf(ca, client, [ExtendedKeyUsageOID.CLIENT_AUTH])
    files = {
        "ca.pem": _pem(ca[0]), "ca.der": ca[0].public_bytes(serialization.Encoding.DER),
        "unused-ca.pem": _pem(unused_ca), "all-cas.pem": _pem(ca[0]) + _pem(unused_ca),
        "broker.pem": _pem(broker_cert), "broker.key": _key_bytes(broker_key, serialization.Encoding.PEM),
        "client-pub.pem": _pem(client_cert), "client-pub.der": client_cert.public_bytes(serialization.Encoding.DER),
        "client-priv.pem": _key_bytes(client_key, serialization.Encoding.PEM),
        "client-priv.der": _key_bytes(client_key, serialization.Encoding.DER),
        "client.pfx": pkcs12.serialize_key_and_certificates(
            client.encode(), client_key, client_cert, [ca[0]],
            serialization.BestAvailableEncryption(PASSWORD.encode())),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    path = {name: str(folder / name) for name in files}
    variables = {
        "SSL_ca_pem": path["ca.pem"], "SSL_ca_der": path["ca.der"], "SSL_unused_ca_pem": path["unused-ca.pem"],
        "SSL_all_cas_pem": path["all-cas.pem"], "SSL_pub_pem": path["client-pub.pem"],
        "SSL_pub_der": path["client-pub.der"], "SSL_priv_pem": path["client-priv.pem"],
        "SSL_priv_der": path["client-priv.der"], "SSL_pkcs": path["client.pfx"], "SSL_password": PASSWORD,
        "SSL_client_auth": "required",
    }
    conf = {"ssl.ca.location": path["ca.pem"], "ssl.certificate.location": path["client-pub.pem"],
            "ssl.key.location": path["client-priv.pem"], "ssl.key.password": PASSWORD}
    return SslEnvironment(folder, client, variables, conf, folder / "broker.pem", folder / "broker.key")


def cpu_split() -> tuple[set[int], set[int]] | None:
    """(the brokers' CPUs, the client's) from the CPUs this process may use: the client the
    first, the brokers the others; None on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return (set(cpus[1:]), {cpus[0]}) if len(cpus) > 1 else None


@contextlib.contextmanager
def started_on(cpus: set[int] | None):
    """Processes started inside run on `cpus` (they inherit this process's affinity, which
    is restored afterwards); None: wherever they may."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
