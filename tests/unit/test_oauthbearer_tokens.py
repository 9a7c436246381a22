"""SASL/OAUTHBEARER's pure rules: RFC 7628's client message, unsecured JWTs as Kafka's
unsecured validator checks them, signed JWTs against JWKS keys (PyJWT signs the test
tokens with keys made here)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from kraft.config.oauthbearer_settings import OAuthBearerSettings
from kraft.errors import AuthenticationFailed
from kraft.security.bearer_tokens import BearerValidator
from kraft.security.oauthbearer import (
    BearerLogin,
    TokenRefused,
    bearer_token,
    check_authzid,
    parse_client_first,
)
from kraft.security.signed_jwt import JwksKeys, validate_signed
from kraft.security.unsecured_jwt import validate_unsecured

NOW_MS = 1_700_000_000_000
UNSECURED = OAuthBearerSettings.model_validate({"sasl.enabled.mechanisms": ["OAUTHBEARER"],
                                                "sasl.oauthbearer.allow.unsecured.jwt": True})
SIGNED = OAuthBearerSettings.model_validate({
    "sasl.enabled.mechanisms": ["OAUTHBEARER"], "sasl.oauthbearer.jwks.endpoint.url": "http://127.0.0.1:1/jwks",
    "sasl.oauthbearer.expected.audience": ["kraft"], "sasl.oauthbearer.expected.issuer": "idp"})
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def unsecured(claims: dict, header: dict | None = None) -> str:
    return f"{b64(header or {'alg': 'none'})}.{b64(claims)}."


# -- RFC 7628 client-first message --------------------------------------------------

def test_client_first_message_with_extensions():
    first = parse_client_first(b"n,,\x01auth=Bearer abc.def.\x01traceId=42\x01\x01")
    assert (first.token, first.authzid, first.extensions) == ("abc.def.", None, {"traceId": "42"})
    assert parse_client_first(b"n,a=alice,\x01auth=bearer t0k\x01\x01").authzid == "alice"


@pytest.mark.parametrize("message", [
    b"", b"n,,", b"n,,\x01\x01", b"y,,\x01auth=Bearer t\x01\x01", b"n,,\x01auth=Bearer t\x01",
    b"n,,\x01auth=Basic dXNlcjpwdw==\x01\x01", b"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01",
    b"n,,\x01au th=x\x01auth=Bearer t\x01\x01", b"n,,\x01auth=Bearer \xff\x01\x01", b"n,,\x01k\x01auth=Bearer t\x01\x01",
])
def test_malformed_client_first_messages_are_refused(message):
    with pytest.raises(AuthenticationFailed, match="malformed SASL/OAUTHBEARER"):
        parse_client_first(message)


def test_authzid_must_be_the_tokens_principal():
    login = BearerLogin("alice", NOW_MS + 1000)
    check_authzid(parse_client_first(b"n,a=alice,\x01auth=Bearer t\x01\x01"), login)
    with pytest.raises(TokenRefused):
        check_authzid(parse_client_first(b"n,a=bob,\x01auth=Bearer t\x01\x01"), login)


def test_refusal_is_rfc7628_error_json():
    refused = TokenRefused("the token has expired")
    assert json.loads(refused.error_json()) == {"status": "invalid_token"}
    assert "expired" in refused.message


def test_http_bearer_header():
    assert bearer_token("Bearer a.b.c") == "a.b.c"
    assert bearer_token("bearer   a.b.c ") == "a.b.c"
    assert bearer_token("Basic YWxpY2U6eA==") is None
    assert bearer_token(None) is None


# -- unsecured JWTs (Kafka's OAuthBearerUnsecuredValidatorCallbackHandler) ------------

def test_unsecured_token_names_its_principal_and_expiry():
    login = validate_unsecured(unsecured({"sub": "alice", "exp": NOW_MS / 1000 + 60, "scope": "a b"}),
                               UNSECURED, NOW_MS)
    assert login == BearerLogin("alice", NOW_MS + 60_000, frozenset({"a", "b"}))


@pytest.mark.parametrize("token, reason", [
    (unsecured({"sub": "alice", "exp": NOW_MS / 1000 - 1}), "expired"),
    (unsecured({"sub": "alice"}), "'exp'"),
    (unsecured({"exp": NOW_MS / 1000 + 60}), "'sub'"),
    (unsecured({"sub": "", "exp": NOW_MS / 1000 + 60}), "'sub'"),
    (unsecured({"sub": "alice", "exp": "soon"}), "not a number"),
    (unsecured({"sub": "alice", "exp": 1e300}), "not a date"),  # was an OverflowError
    (unsecured({"sub": "alice", "exp": 10**17}), "not a date"),  # a lifetime past int64 ms
    (unsecured({"sub": "alice", "exp": NOW_MS / 1000 + 60, "iat": NOW_MS / 1000 + 30}), "future"),
    (unsecured({"sub": "alice", "exp": NOW_MS / 1000 + 60}, {"alg": "HS256"}), "alg"),
    (unsecured({"sub": "alice", "exp": NOW_MS / 1000 + 60})[:-1] + ".x", "empty signature"),
    ("not-a-jwt", "empty signature"),
    ("e30.!!!.", "not a JWT"),
])
def test_unsecured_token_refusals(token, reason):
    with pytest.raises(TokenRefused, match=reason):
        validate_unsecured(token, UNSECURED, NOW_MS)


def test_unsecured_clock_skew_and_required_scope():
    settings = UNSECURED.model_copy(update={"unsecured_allowable_clock_skew_ms": 5000,
                                            "unsecured_required_scope": ("requiredScope",),
                                            "unsecured_principal_claim_name": "principal"})
    token = unsecured({"principal": "admin", "exp": NOW_MS / 1000 - 2, "scope": ["requiredScope"]})
    assert validate_unsecured(token, settings, NOW_MS).name == "admin"  # within the skew
    lacking = unsecured({"principal": "admin", "exp": NOW_MS / 1000 + 60, "scope": "other"})
    with pytest.raises(TokenRefused, match="requiredScope") as refused:
        validate_unsecured(lacking, settings, NOW_MS)
    assert refused.value.status == "insufficient_scope"


# -- signed JWTs against JWKS keys (KIP-768) ----------------------------------------

def jwks_of(public_key, kid: str, alg: str = "RS256") -> dict:
    algorithm = RSAAlgorithm if alg.startswith(("RS", "PS")) else ECAlgorithm
    return {"keys": [{**algorithm.to_jwk(public_key, as_dict=True), "kid": kid, "alg": alg, "use": "sig"}]}


def signed(claims: dict, key=RSA_KEY, kid: str = "k1", alg: str = "RS256") -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "aud": "kraft", "iss": "idp", "iat": now, "exp": now + 60, **claims},
                      key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def keys() -> JwksKeys:
    held = JwksKeys()
    held.replace(jwks_of(RSA_KEY.public_key(), "k1"))
    return held


def test_signed_token_is_accepted(keys):
    login = validate_signed(signed({"scope": "read write"}), keys, SIGNED)
    assert login.name == "alice" and login.scope == {"read", "write"}
    assert login.expires_at_ms > time.time() * 1000


def test_sub_claim_name_is_configurable(keys):
    settings = SIGNED.model_copy(update={"sub_claim_name": "client_id"})
    assert validate_signed(signed({"client_id": "svc-7"}), keys, settings).name == "svc-7"
    with pytest.raises(TokenRefused, match="'client_id'"):
        validate_signed(signed({}), keys, settings)


# Times as offsets from when the test runs (collection can be many minutes earlier).
@pytest.mark.parametrize("claims, reason", [
    ({"exp": -120}, "expired"),
    ({"aud": "someone-else"}, "audience"),
    ({"iss": "another-idp"}, "issuer"),
    ({"nbf": 600}, "not valid yet"),
])
def test_signed_token_claim_refusals(keys, claims, reason):
    now = int(time.time())
    claims = {name: now + value if name in ("exp", "nbf") else value for name, value in claims.items()}
    with pytest.raises(TokenRefused, match=reason):
        validate_signed(signed(claims), keys, SIGNED)


def test_signed_token_expiring_past_any_date_is_refused(keys):
    with pytest.raises(TokenRefused, match="not a date"):
        validate_signed(signed({"exp": 10**17}), keys, SIGNED)


def test_expired_within_clock_skew_is_accepted(keys):
    assert validate_signed(signed({"exp": int(time.time()) - 5}), keys, SIGNED).name == "alice"


def test_unknown_key_bad_signature_and_unsigned_tokens_are_refused(keys):
    asked = []
    keys.on_unknown_key = lambda: asked.append(1)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenRefused, match="does not list"):
        validate_signed(signed({}, key=stranger, kid="k9"), keys, SIGNED)
    assert asked == [1]  # the fetcher is told to look for a rotated key
    with pytest.raises(TokenRefused, match="signature is not valid"):
        validate_signed(signed({}, key=stranger, kid="k1"), keys, SIGNED)
    with pytest.raises(TokenRefused, match="algorithm"):
        validate_signed(unsecured({"sub": "alice", "exp": time.time() + 60}), keys, SIGNED)
    with pytest.raises(TokenRefused, match="algorithm"):
        validate_signed(jwt.encode({"sub": "alice"}, "secret" * 6, algorithm="HS256", headers={"kid": "k1"}),
                        keys, SIGNED)


def test_key_declared_for_another_algorithm_is_not_used(keys):
    with pytest.raises(TokenRefused, match="does not list"):
        validate_signed(signed({}, alg="PS256"), keys, SIGNED)


def test_token_whose_algorithm_does_not_fit_a_key_without_declared_alg_is_refused():
    # a JWKS key need not declare "alg": a token naming an algorithm of another key type
    # (or another curve) is refused as a token, not a crash in the cryptography library
    ec_key = ec.generate_private_key(ec.SECP256R1())
    listed = jwks_of(ec_key.public_key(), "e1", "ES256")
    del listed["keys"][0]["alg"]
    held = JwksKeys()
    held.replace(listed)
    assert validate_signed(signed({}, key=ec_key, kid="e1", alg="ES256"), held, SIGNED).name == "alice"
    for alg in ("RS256", "PS256"):
        with pytest.raises(TokenRefused):
            validate_signed(signed({}, kid="e1", alg=alg), held, SIGNED)
    es256 = signed({}, key=ec_key, kid="e1", alg="ES256")
    for alg in ("ES384", "EdDSA"):  # the ES256 signature under another algorithm's name
        header = b64({"alg": alg, "kid": "e1", "typ": "JWT"})
        with pytest.raises(TokenRefused):
            validate_signed(header + "." + es256.split(".", 1)[1], held, SIGNED)


def test_ec_keys_and_key_rotation():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    held = JwksKeys()
    with pytest.raises(TokenRefused, match="not loaded"):
        validate_signed(signed({}, key=ec_key, kid="e1", alg="ES256"), held, SIGNED)
    held.replace(jwks_of(ec_key.public_key(), "e1", "ES256"))
    assert validate_signed(signed({}, key=ec_key, kid="e1", alg="ES256"), held, SIGNED).name == "alice"
    held.replace(jwks_of(RSA_KEY.public_key(), "k1"))  # rotated: the old key is gone
    with pytest.raises(TokenRefused, match="does not list"):
        validate_signed(signed({}, key=ec_key, kid="e1", alg="ES256"), held, SIGNED)


@pytest.mark.parametrize("document", [{}, {"keys": []}, {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
                                      {"keys": [{"kty": "RSA", "n": "x"}]}, [1, 2], "keys"])
def test_jwks_without_a_usable_key_is_refused_and_keys_are_kept(keys, document):
    with pytest.raises(ValueError, match="no usable signing key"):
        keys.replace(document)
    assert validate_signed(signed({}), keys, SIGNED).name == "alice"


def test_validator_picks_the_configured_kind_and_bounds_the_session():
    validator = BearerValidator(UNSECURED, clock_ms=lambda: NOW_MS)
    login = validator.validate(unsecured({"sub": "alice", "exp": NOW_MS / 1000 + 90}))
    assert validator.lifetime_ms(login) == 90_000
    assert BearerValidator(SIGNED).keys is not None and validator.keys is None


def test_oauthbearer_needs_a_validator_chosen():
    with pytest.raises(ValueError, match="JWKS endpoint"):
        OAuthBearerSettings.model_validate({"sasl.enabled.mechanisms": ["OAUTHBEARER"]})
    with pytest.raises(ValueError, match="choose one"):
        OAuthBearerSettings.model_validate({"sasl.enabled.mechanisms": ["OAUTHBEARER"],
                                            "sasl.oauthbearer.allow.unsecured.jwt": True,
                                            "sasl.oauthbearer.jwks.endpoint.url": "http://127.0.0.1/jwks"})
