"""SCRAM credentials and the server side of the exchange, checked against RFC 7677's
published SCRAM-SHA-256 example and a client written from RFC 5802 here."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kraft.errors import AuthenticationFailed, InvalidValue
from kraft.security.scram import (
    ScramCredential,
    ScramExchange,
    make_credential,
    password_matches,
)

# RFC 7677 section 3: user "user", password "pencil".
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
RFC_CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
RFC_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def credential_with_salt(password: str, salt: bytes, mechanism="SCRAM-SHA-256") -> ScramCredential:
    name = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, 4096)
    client_key = hmac.digest(salted, b"Client Key", name)
    return ScramCredential(mechanism, salt, hashlib.new(name, client_key).digest(),
                           hmac.digest(salted, b"Server Key", name), 4096)


def test_the_rfc_7677_exchange_succeeds_and_proves_the_server():
    credential = credential_with_salt("pencil", RFC_SALT)
    exchange = ScramExchange("SCRAM-SHA-256", {"user": credential}.get, nonce_suffix=RFC_SERVER_NONCE)
    assert exchange.first(RFC_CLIENT_FIRST) == RFC_SERVER_FIRST
    assert exchange.final(RFC_CLIENT_FINAL) == RFC_SERVER_FINAL
    assert exchange.user == "user"


def test_a_wrong_proof_and_an_unknown_user_fail_alike():
    wrong = credential_with_salt("not-pencil", RFC_SALT)
    exchange = ScramExchange("SCRAM-SHA-256", {"user": wrong}.get, nonce_suffix=RFC_SERVER_NONCE)
    exchange.first(RFC_CLIENT_FIRST)
    with pytest.raises(AuthenticationFailed) as wrong_password:
        exchange.final(RFC_CLIENT_FINAL)
    stranger = ScramExchange("SCRAM-SHA-256", {}.get, nonce_suffix=RFC_SERVER_NONCE)
    first = stranger.first(RFC_CLIENT_FIRST)
    assert first.startswith(b"r=rOprNGfwEbeRWgbNEkqO")  # a decoy salt: the user's absence is not told
    with pytest.raises(AuthenticationFailed) as unknown_user:
        stranger.final(RFC_CLIENT_FINAL)
    assert wrong_password.value.message == unknown_user.value.message


def scram_client(name: str, password: str, mechanism: str, exchange: ScramExchange) -> bytes:
    """RFC 5802's client side, against the server under test."""
    h = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    bare = f"n={name},r=clientnonce123".encode()
    server_first = exchange.first(b"n,," + bare)
    attrs = dict(part.split("=", 1) for part in server_first.decode().split(","))
    salted = hashlib.pbkdf2_hmac(h, password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", h)
    without_proof = f"c=biws,r={attrs['r']}".encode()
    auth = bare + b"," + server_first + b"," + without_proof
    signature = hmac.digest(hashlib.new(h, client_key).digest(), auth, h)
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_final = exchange.final(without_proof + b",p=" + base64.b64encode(proof))
    expected = hmac.digest(hmac.digest(salted, b"Server Key", h), auth, h)
    assert server_final == b"v=" + base64.b64encode(expected)
    return server_final


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_stored_credential_authenticates_its_password_only(mechanism):
    credential = make_credential("s3cret-pass", mechanism)
    assert password_matches(credential, "s3cret-pass")
    assert not password_matches(credential, "s3cret-pasS")
    scram_client("alice", "s3cret-pass", mechanism, ScramExchange(mechanism, {"alice": credential}.get))
    with pytest.raises(AuthenticationFailed):
        scram_client("alice", "guess", mechanism, ScramExchange(mechanism, {"alice": credential}.get))


def test_a_credential_of_the_other_mechanism_does_not_authenticate():
    credential = make_credential("pw-123456", "SCRAM-SHA-512")
    with pytest.raises(AuthenticationFailed):
        scram_client("bob", "pw-123456", "SCRAM-SHA-256", ScramExchange("SCRAM-SHA-256", {"bob": credential}.get))


def test_salts_differ_and_no_password_is_kept():
    one, two = make_credential("same-password"), make_credential("same-password")
    assert one.salt != two.salt and one.stored_key != two.stored_key
    assert b"same-password" not in repr(one).encode()


@pytest.mark.parametrize("message", [b"", b"garbage", b"n,,r=only-nonce", b"p=tls-unique,,n=a,r=b",
                                     b"\xff\xfe", b"n,,n=bad=name,r=x"])
def test_malformed_client_first_messages_are_refused(message):
    with pytest.raises(AuthenticationFailed):
        ScramExchange("SCRAM-SHA-256", {}.get).first(message)


@pytest.mark.parametrize("final", [b"", b"c=biws", b"c=biws,r=wrongnonce,p=AAAA", b"c=biws,r=x,p=!!!"])
def test_malformed_or_replayed_client_finals_are_refused(final):
    exchange = ScramExchange("SCRAM-SHA-256", {"user": credential_with_salt("pencil", RFC_SALT)}.get)
    exchange.first(RFC_CLIENT_FIRST)
    with pytest.raises(AuthenticationFailed):
        exchange.final(final)
    with pytest.raises(AuthenticationFailed):  # the RFC's proof was for another server nonce
        exchange.final(RFC_CLIENT_FINAL)


@pytest.mark.parametrize("password", ["", None, 5, "x" * 1025])
def test_unusable_passwords_are_refused(password):
    with pytest.raises(InvalidValue):
        make_credential(password)
