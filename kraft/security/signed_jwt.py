"""Signed JWTs checked against an identity provider's keys (KIP-768's
OAuthBearerValidatorCallbackHandler): the signature by a key the JWKS endpoint lists
(asymmetric algorithms only), `exp` required, `iat`/`nbf` honoured, the expected
audience and issuer when configured, the principal from the sub claim (configurable),
each with the configured clock skew. PyJWT does the cryptography.
"""

from __future__ import annotations

from typing import Callable

import jwt

from kraft.config.oauthbearer_settings import OAuthBearerSettings
from kraft.security.oauthbearer import BearerLogin, TokenRefused, numeric_date_ms, scope_of

# public-key algorithms only: "none" and the HMAC ones (a shared secret) are never taken
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
PUBLIC_KEY_TYPES = ("RSA", "EC", "OKP")
# the key type each algorithm verifies with: a JWK that declares no "alg" is used only
# for tokens whose algorithm fits its type
_KEY_TYPE_OF = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_REASONS = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token's audience is not one this cluster accepts"),
    (jwt.InvalidIssuerError, "the token's issuer is not the one this cluster accepts"),
    (jwt.InvalidSignatureError, "the token's signature is not valid"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.DecodeError, "the token is not a well-formed signed JWT"),
)


class JwksKeys:
    """The keys the JWKS endpoint served last (replaced whole by each successful fetch).
    `on_unknown_key` is called when a token names a key not listed (the fetcher then
    fetches again soon: the provider may have rotated its keys)."""

    def __init__(self) -> None:
        self._by_kid: dict[str | None, tuple[jwt.PyJWK, str | None]] = {}
        self.loaded = False
        self.on_unknown_key: Callable[[], None] = lambda: None

    def replace(self, jwks: object) -> int:
        """Keep the usable signing keys of a JWKS document; ValueError if it has none."""
        listed = jwks.get("keys") if isinstance(jwks, dict) else None
        usable: dict[str | None, tuple[jwt.PyJWK, str | None]] = {}
        for entry in listed if isinstance(listed, list) else ():
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") not in PUBLIC_KEY_TYPES:
                continue  # never a shared secret ("oct"): anyone holding the JWKS could sign
            declared = entry.get("alg")
            if declared is not None and declared not in ALGORITHMS:
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue  # a key of a type or curve PyJWT cannot use
            usable[key.key_id] = (key, declared)
        if not usable:
            raise ValueError("the JWKS document holds no usable signing key")
        self._by_kid, self.loaded = usable, True
        return len(usable)

    def key_for(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        found = self._by_kid.get(kid)
        if found is None and kid is None and len(self._by_kid) == 1:
            found = next(iter(self._by_kid.values()))
        if found is None:
            self.on_unknown_key()
            return None
        key, declared = found
        fits = key.key_type == _KEY_TYPE_OF.get(algorithm[:2])
        return key if declared in (None, algorithm) and fits else None


def validate_signed(token: str, keys: JwksKeys, settings: OAuthBearerSettings) -> BearerLogin:
    if not keys.loaded:
        raise TokenRefused("the identity provider's keys are not loaded yet; retry")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRefused("the token is not a well-formed signed JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise TokenRefused(f"the token's algorithm is not one of {', '.join(ALGORITHMS)}")
    kid = header.get("kid")
    key = keys.key_for(kid if isinstance(kid, str) else None, algorithm)
    if key is None:
        raise TokenRefused("the token is signed by a key the identity provider does not list")
    try:
        claims = jwt.decode(
            token, key.key, algorithms=[algorithm],
            audience=list(settings.expected_audience) or None, issuer=settings.expected_issuer,
            leeway=settings.clock_skew_seconds,
            options={"require": ["exp"], "verify_aud": bool(settings.expected_audience)})
    except (jwt.InvalidTokenError, jwt.InvalidKeyError) as exc:  # InvalidKeyError: e.g. ES384 with a P-256 key
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), "the token is not valid")
        raise TokenRefused(reason) from None
    name = claims.get(settings.sub_claim_name)
    if not isinstance(name, str) or not name.strip():
        raise TokenRefused(f"the token has no {settings.sub_claim_name!r} claim")
    expires_ms = numeric_date_ms(claims, "exp")
    assert expires_ms is not None  # required above
    return BearerLogin(name, expires_ms, scope_of(claims.get(settings.scope_claim_name)))
