"""The certificates the librdkafka suite's ssl scenario makes for 0097: every file the test
reads exists, loads in its encoding and chains to the CA; a broker serving them (kraft's
own TLS context, client certificates required) accepts the client certificate and refuses
one from another CA."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from bench_scripts import load
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from kraft.config.cluster import load_cluster_config_text
from kraft.server.local_cluster import security_toml
from kraft.server.tls import server_context

ssl_env = load("librdkafka_ssl")
suites = load("client_suites")

# what 0097 reads from the environment (tests/0097-ssl_verify.cpp's envname table and
# do_test_bad_calls) and from test.conf
READ_BY_0097 = {"SSL_pkcs", "SSL_pub_der", "SSL_pub_pem", "SSL_priv_der", "SSL_priv_pem", "SSL_ca_der",
                "SSL_all_cas_pem", "SSL_password", "SSL_client_auth"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return ssl_env.build(tmp_path_factory.mktemp("ssl"), ["127.0.0.1"])


def test_every_file_0097_reads_loads_in_its_encoding_and_chains_to_the_ca(env):
    v = env.variables
    assert READ_BY_0097 <= set(v) and v["SSL_client_auth"] == "required"
    ca = x509.load_pem_x509_certificate(open(v["SSL_ca_pem"], "rb").read())
    assert x509.load_der_x509_certificate(open(v["SSL_ca_der"], "rb").read()) == ca
    cert = x509.load_pem_x509_certificate(open(v["SSL_pub_pem"], "rb").read())
    assert x509.load_der_x509_certificate(open(v["SSL_pub_der"], "rb").read()) == cert
    cert.verify_directly_issued_by(ca)  # raises unless the CA signed it
    key = serialization.load_pem_private_key(open(v["SSL_priv_pem"], "rb").read(), None)
    der_key = serialization.load_der_private_key(open(v["SSL_priv_der"], "rb").read(), None)
    assert key.public_key() == der_key.public_key() == cert.public_key()
    # PKCS#12: the key, the certificate and the CA, under the password test.conf gives
    bundle = pkcs12.load_pkcs12(open(v["SSL_pkcs"], "rb").read(), v["SSL_password"].encode())
    assert bundle.key.public_key() == cert.public_key()
    assert bundle.cert.certificate == cert and [c.certificate for c in bundle.additional_certs] == [ca]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(open(v["SSL_pkcs"], "rb").read(), b"not the password")
    all_cas = x509.load_pem_x509_certificates(open(v["SSL_all_cas_pem"], "rb").read())
    assert len(all_cas) == 2 and all_cas[0] == ca and all_cas[1] != ca
    assert env.conf == {"ssl.ca.location": v["SSL_ca_pem"], "ssl.certificate.location": v["SSL_pub_pem"],
                        "ssl.key.location": v["SSL_priv_pem"], "ssl.key.password": v["SSL_password"]}
    x509.load_pem_x509_certificate(env.broker_cert.read_bytes()).verify_directly_issued_by(ca)


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """The client certificate's common name as the server saw it after the handshake,
    or the server's refusal."""
    seen: list[str] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(20)

        def serve():
            conn, _ = listener.accept()
            conn.settimeout(20)
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    subject = dict(pair[0] for pair in tls.getpeercert()["subject"])
                    seen.append(subject["commonName"])
            except ssl.SSLError as exc:
                seen.append(f"refused: {exc.reason}")

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(listener.getsockname(), timeout=20) as raw:
            try:
                with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.recv(1)  # TLS 1.3: the server judges the certificate after the client's Finished
            except (ssl.SSLError, OSError):
                pass
        thread.join(20)
    return seen[0]


def test_kraft_requiring_client_certificates_accepts_the_client_and_refuses_another_ca(env, tmp_path):
    settings = env.tls_settings("required")
    text = ('[cluster]\nname = "t"\n' + security_toml({}, super_users=(env.client,), **settings)
            + '[[nodes]]\nid = 1\nroles = ["controller", "broker"]\nhost = "127.0.0.1"\n'
              'http_port = 18080\nkafka_port = 19092\nraft_port = 19093\ndata_dir = "node-1"\n')
    server = server_context(load_cluster_config_text(text, base_dir=tmp_path))
    assert handshake(server, env.client_context(with_certificate=True)) == env.client
    stranger = ssl_env.build(tmp_path / "stranger", ["127.0.0.1"])
    other_ca_client = env.client_context(with_certificate=False)
    other_ca_client.load_cert_chain(stranger.variables["SSL_pub_pem"], stranger.variables["SSL_priv_pem"])
    assert handshake(server, other_ca_client) == "refused: CERTIFICATE_VERIFY_FAILED"
    assert handshake(server, env.client_context(with_certificate=False)) == "refused: PEER_DID_NOT_RETURN_A_CERTIFICATE"


def test_0097_runs_on_the_ssl_cluster_on_cpus_apart_from_its_brokers():
    entries = [suites.Entry("0097_ssl_verify", "0097", "0", ["default"]),
               suites.Entry("0001_multiobj", "0001", "0", ["default"])]
    plan, _ = suites.select(entries, None, suites.load_exclusions("librdkafka"), "3.9.0")
    assert {s: sorted(n) for s, n in plan.items()} == {"default": ["0001"], "ssl": ["0097"]}
    split = ssl_env.cpu_split()
    if split is not None:
        brokers, client = split
        assert brokers and client and not brokers & client
