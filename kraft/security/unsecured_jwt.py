"""Unsecured JWTs (alg "none"), checked as Kafka's OAuthBearerUnsecuredValidatorCallbackHandler
checks them: the principal claim (a non-empty string), `exp` (required) and `iat` (if
present) against the clock with an allowable skew, and every required scope present.
For tests and development only: anyone can write such a token for any principal.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from kraft.config.oauthbearer_settings import OAuthBearerSettings
from kraft.security.oauthbearer import BearerLogin, TokenRefused, numeric_date_ms, scope_of


def _segment(part: str) -> dict:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        raise TokenRefused("the token is not a JWT") from None
    if not isinstance(value, dict):
        raise TokenRefused("the token is not a JWT")
    return value


def validate_unsecured(token: str, settings: OAuthBearerSettings, now_ms: int) -> BearerLogin:
    parts = token.split(".")
    if len(parts) != 3 or parts[2]:
        raise TokenRefused("an unsecured JWT has a header, claims and an empty signature")
    header, claims = _segment(parts[0]), _segment(parts[1])
    if header.get("alg") != "none":
        raise TokenRefused("an unsecured JWT has alg \"none\"")
    name = claims.get(settings.unsecured_principal_claim_name)
    if not isinstance(name, str) or not name.strip():
        raise TokenRefused(f"the token has no {settings.unsecured_principal_claim_name!r} claim")
    skew = settings.unsecured_allowable_clock_skew_ms
    expires_ms = numeric_date_ms(claims, "exp")
    if expires_ms is None:
        raise TokenRefused("the token has no 'exp' claim")
    if now_ms >= expires_ms + skew:
        raise TokenRefused("the token has expired")
    issued_ms = numeric_date_ms(claims, "iat")
    if issued_ms is not None and issued_ms > now_ms + skew:
        raise TokenRefused("the token's 'iat' is in the future")
    scope = scope_of(claims.get(settings.unsecured_scope_claim_name))
    missing = set(settings.unsecured_required_scope) - scope
    if missing:
        raise TokenRefused(f"the token lacks the required scope {' '.join(sorted(missing))}",
                           "insufficient_scope")
    return BearerLogin(name, expires_ms, scope)

