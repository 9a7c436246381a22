"""A small certificate authority for a cluster's TLS (`kraft certs`): a CA, a node
certificate naming every address clients and nodes dial, client certificates naming a
user. Pure: PEM bytes in, PEM bytes out; the command writes the files.

A node certificate serves both ends of a connection (nodes dial each other and present
it), so it carries serverAuth and clientAuth, as the openssl recipe in docs/SECURITY.md does.
A client certificate's common name is the user it authenticates (API.md, "Security").
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CERT_DAYS = 825  # the longest a browser accepts for a server certificate


@dataclass(frozen=True)
class Pem:
    certificate: bytes
    key: bytes


def new_authority(name: str = "kraft CA", days: int = CA_DAYS) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    cert = (_builder(subject, subject, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return Pem(_cert_pem(cert), _key_pem(key))


def node_certificate(authority: Pem, hosts: Iterable[str], days: int = CERT_DAYS) -> Pem:
    """For every node: each host (an IP address or a DNS name) is a subject alternative name."""
    names = sorted(set(hosts), key=_host_order)
    if not names:
        raise ValueError("a node certificate needs at least one host")
    return _issue(authority, "kraft-node", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                  names, days)


def client_certificate(authority: Pem, user: str, days: int = CERT_DAYS) -> Pem:
    """A user's certificate: its common name is the principal (User:NAME)."""
    return _issue(authority, user, [ExtendedKeyUsageOID.CLIENT_AUTH], [], days)


def certificate_names(certificate: bytes) -> tuple[str, list[str]]:
    """(common name, subject alternative names) of a PEM certificate."""
    cert = x509.load_pem_x509_certificate(certificate)
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in alt.get_values_for_type(x509.IPAddress)] + alt.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    return (str(common[0].value) if common else ""), names


def _issue(authority: Pem, common_name: str, usages: list, hosts: list[str], days: int) -> Pem:
    ca_cert = x509.load_pem_x509_certificate(authority.certificate)
    ca_key = serialization.load_pem_private_key(authority.key, password=None)
    if not isinstance(ca_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):  # openssl's or ours
        raise ValueError("the CA key is neither an EC nor an RSA key")
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(_name(common_name), ca_cert.subject, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]),
                                        critical=False)
    return Pem(_cert_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _host_order(host: str) -> tuple[int, str]:
    try:
        ipaddress.ip_address(host)
        return 0, host
    except ValueError:
        return 1, host


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks of machines differ a little
            .not_valid_after(now + datetime.timedelta(days=days)))


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
