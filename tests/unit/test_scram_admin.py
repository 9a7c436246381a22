"""Kafka's Describe/AlterUserScramCredentials over kraft's users: per mechanism, the
answers per user, and a credential made from a client's salted password that a SCRAM
login (and HTTP Basic) then accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac

from test_controller_logic import Cluster

from kraft.controller.security_control import ScramUpsert, alter_scram_credentials, set_user_credential
from kraft.kafka.handlers.scram_api import MECHANISM_CODES, describe_users
from kraft.security.scram import ScramExchange, credential_from_salted, make_credential, password_matches


def salted(password: str, salt: bytes, iterations: int, hash_name: str = "sha256") -> bytes:
    return hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)


def upsert(name: str, mechanism: str = "SCRAM-SHA-256", iterations: int = 4096, password: str = "pw"):
    hash_name = "sha512" if mechanism.endswith("512") else "sha256"
    credential = credential_from_salted(mechanism, b"salty", salted(password, b"salty", iterations, hash_name),
                                        iterations) if mechanism else None
    return ScramUpsert(name, mechanism, iterations, credential)


def outcome(response) -> dict:
    return {r["user"]: r["error"] for r in response["results"]}


def test_a_credential_from_a_salted_password_logs_in():
    credential = credential_from_salted("SCRAM-SHA-256", b"salt", salted("secret", b"salt", 4096), 4096)
    assert password_matches(credential, "secret") and not password_matches(credential, "other")
    exchange = ScramExchange("SCRAM-SHA-256", lambda name: credential, nonce_suffix="srv")
    first = exchange.first(b"n,,n=carol,r=cli")
    assert first == b"r=clisrv,s=" + base64.b64encode(b"salt") + b",i=4096"
    # the client's side of RFC 5802, from the same salted password
    key = salted("secret", b"salt", 4096)
    client_key = hmac.digest(key, b"Client Key", "sha256")
    without_proof = b"c=biws,r=clisrv"
    auth = b"n=carol,r=cli," + first + b"," + without_proof
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    assert exchange.final(without_proof + b",p=" + base64.b64encode(proof)).startswith(b"v=")


def test_upserts_and_deletes_are_per_mechanism():
    c = Cluster()
    records, response = alter_scram_credentials(c.image, [], [upsert("carol"), upsert("dave", "SCRAM-SHA-512")])
    assert outcome(response) == {"carol": None, "dave": None}
    c.run_records(records)
    c.run_records(alter_scram_credentials(c.image, [], [upsert("carol", "SCRAM-SHA-512", 8192)])[0])
    assert sorted(c.image.scram_credentials["carol"]) == ["SCRAM-SHA-256", "SCRAM-SHA-512"]  # both kept
    records, response = alter_scram_credentials(c.image, [("carol", "SCRAM-SHA-256")], [])
    c.run_records(records)
    assert outcome(response) == {"carol": None} and sorted(c.image.scram_credentials["carol"]) == ["SCRAM-SHA-512"]
    c.run_records(alter_scram_credentials(c.image, [("carol", "SCRAM-SHA-512")], [])[0])
    assert "carol" not in c.image.scram_credentials  # no credential left: no user


def test_refusals_per_user_leave_the_others_to_change():
    c = Cluster()
    records, response = alter_scram_credentials(c.image, [("ghost", "SCRAM-SHA-256"), ("", "SCRAM-SHA-256")], [
        upsert("few", iterations=100), upsert("many", iterations=100_000), upsert("odd", mechanism=""),
        upsert("twice"), upsert("twice", "SCRAM-SHA-512"), upsert("ok")])
    assert outcome(response) == {"ghost": "CredentialNotFound", "": "UnacceptableCredential",
                                 "few": "UnacceptableCredential", "many": "UnacceptableCredential",
                                 "odd": "UnsupportedSaslMechanism", "twice": "DuplicateResource", "ok": None}
    c.run_records(records)
    assert sorted(c.image.scram_credentials) == ["ok"]


def test_a_new_http_password_still_replaces_every_mechanism():
    """The HTTP API's rule (a password change) is unchanged beside Kafka's per-mechanism one."""
    c = Cluster()
    c.run_records(alter_scram_credentials(c.image, [], [upsert("erin"), upsert("frank", "SCRAM-SHA-512")])[0])
    c.run_records(set_user_credential(c.image, "frank", make_credential("new", "SCRAM-SHA-256"))[0])
    assert sorted(c.image.scram_credentials["frank"]) == ["SCRAM-SHA-256"]


def test_describe_answers_every_user_or_the_named_ones():
    users = {"a": {"SCRAM-SHA-256": make_credential("x"), "SCRAM-SHA-512": make_credential("x", "SCRAM-SHA-512")},
             "b": {"SCRAM-SHA-256": make_credential("y", iterations=8192)}}
    every = describe_users(users, None)
    assert [(r["user"], r["error_code"], r["credential_infos"]) for r in every] == [
        ("a", 0, [{"mechanism": MECHANISM_CODES["SCRAM-SHA-256"], "iterations": 4096},
                  {"mechanism": MECHANISM_CODES["SCRAM-SHA-512"], "iterations": 4096}]),
        ("b", 0, [{"mechanism": 1, "iterations": 8192}])]
    named = describe_users(users, ["b", "nobody", "a", "a"])
    assert [(r["user"], r["error_code"]) for r in named] == [("b", 0), ("nobody", 91), ("a", 92)]
