"""kraft certs' certificate authority (security/certificates.py): what each certificate
names and is good for, signed by a CA of its own or by one openssl made (RSA)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kraft.security.certificates import Pem, certificate_names, client_certificate, new_authority, node_certificate


def usages(pem: bytes) -> list:
    return list(x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def signed_by(pem: bytes, authority: Pem) -> bool:
    x509.load_pem_x509_certificate(pem).verify_directly_issued_by(x509.load_pem_x509_certificate(authority.certificate))
    return True


def test_a_node_certificate_names_every_host_and_serves_both_ends():
    ca = new_authority()
    node = node_certificate(ca, ["kraft-2.example", "10.0.0.2", "127.0.0.1", "localhost", "10.0.0.2"])
    assert certificate_names(node.certificate) == ("kraft-node", ["10.0.0.2", "127.0.0.1", "kraft-2.example",
                                                                 "localhost"])
    assert usages(node.certificate) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert signed_by(node.certificate, ca)
    ca_cert = x509.load_pem_x509_certificate(ca.certificate)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(ValueError):
        node_certificate(ca, [])


def test_a_client_certificate_names_its_user_and_only_authenticates_a_client():
    ca = new_authority()
    alice = client_certificate(ca, "alice")
    assert certificate_names(alice.certificate) == ("alice", [])
    assert usages(alice.certificate) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert signed_by(alice.certificate, ca)


def test_a_ca_openssl_made_with_an_rsa_key_signs_too():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kraft CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    ca = Pem(cert.public_bytes(serialization.Encoding.PEM),
             key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.NoEncryption()))
    assert signed_by(node_certificate(ca, ["127.0.0.1"]).certificate, ca)
