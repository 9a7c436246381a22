"""SASL/OAUTHBEARER's messages (RFC 7628) and what a validated token yields.

The client's first message is a GS2 header, then key=value pairs each ended by \\x01,
then \\x01: `n,,\\x01auth=Bearer <token>\\x01\\x01`. Pairs other than `auth` are
extensions (RFC 7628 3.1); kraft reads them and grants nothing for them, as Kafka does
when no extension validator claims them. A refused token is answered, as RFC 7628 3.2.2
and Kafka do, with an error JSON the client acknowledges with a lone \\x01; only then
does the login fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import orjson

from kraft.errors import AuthenticationFailed

SEPARATOR = "\x01"
_GS2 = re.compile(r"n,(?:a=(?P<authzid>[^,]*))?,")
_KEY = re.compile(r"[A-Za-z]+")
_VALUE = re.compile(r"[\x21-\x7E \t\r\n]*")
_BEARER = re.compile(r"Bearer +(?P<token>[A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
MAX_MESSAGE_BYTES = 64 * 1024  # a JWT with generous claims is a few KiB


class TokenRefused(AuthenticationFailed):
    """The token is not accepted; `status` is RFC 7628's (invalid_token, insufficient_scope)."""

    def __init__(self, reason: str, status: str = "invalid_token") -> None:
        super().__init__(f"Authentication failed: {status} ({reason})")
        self.status = status

    def error_json(self) -> bytes:
        """RFC 7628 3.2.2's server error message (no openid-configuration: none is known)."""
        return orjson.dumps({"status": self.status})


@dataclass(frozen=True)
class ClientFirst:
    token: str
    authzid: str | None
    extensions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BearerLogin:
    """What a valid token proves: who, until when (epoch ms), with which scope."""

    name: str
    expires_at_ms: int
    scope: frozenset[str] = frozenset()


def parse_client_first(message: bytes) -> ClientFirst:
    if len(message) > MAX_MESSAGE_BYTES:
        raise AuthenticationFailed("malformed SASL/OAUTHBEARER message (too long)")
    try:
        text = message.decode()
    except UnicodeDecodeError:
        raise AuthenticationFailed("malformed SASL/OAUTHBEARER message") from None
    gs2, sep, rest = text.partition(SEPARATOR)
    header = _GS2.fullmatch(gs2)
    body = rest[:-1]  # the pairs, each ended by \x01; the message ends with one more
    if header is None or not sep or not rest.endswith(SEPARATOR) or body and not body.endswith(SEPARATOR):
        raise AuthenticationFailed("malformed SASL/OAUTHBEARER message")
    pairs: dict[str, str] = {}
    for item in body.split(SEPARATOR)[:-1]:
        key, eq, value = item.partition("=")
        if not eq or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value) or key in pairs:
            raise AuthenticationFailed("malformed SASL/OAUTHBEARER message")
        pairs[key] = value
    bearer = _BEARER.fullmatch(pairs.pop("auth", ""))
    if bearer is None:
        raise AuthenticationFailed("malformed SASL/OAUTHBEARER message (no auth=Bearer token)")
    authzid = header.group("authzid")
    return ClientFirst(bearer.group("token"), authzid or None, pairs)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other scheme."""
    if not header or len(header) > MAX_MESSAGE_BYTES:
        return None
    found = _BEARER.fullmatch(header.strip())
    return found.group("token") if found else None


LATEST_NUMERIC_DATE_S = 253_402_300_799  # 9999-12-31T23:59:59Z: past it, a date is no date


def numeric_date_ms(claims: dict, name: str) -> int | None:
    """A NumericDate claim (seconds, maybe fractional) in ms; None when absent;
    TokenRefused when not a number or not a date (an `exp` of 1e300 would otherwise be
    a login for ever, past what SaslAuthenticate's session lifetime can carry)."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenRefused(f"the token's {name!r} claim is not a number")
    if not 0 <= value <= LATEST_NUMERIC_DATE_S:
        raise TokenRefused(f"the token's {name!r} claim is not a date")
    return int(value * 1000)


def scope_of(claim: object) -> frozenset[str]:
    """A scope claim: a space-delimited string (RFC 8693) or a list of strings."""
    if claim is None:
        return frozenset()
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list) and all(isinstance(s, str) for s in claim):
        return frozenset(claim)
    raise TokenRefused("the scope claim is neither a string nor a list of strings")


def check_authzid(first: ClientFirst, login: BearerLogin) -> None:
    """An authorization identity, if given, must be the token's own principal (Kafka's rule)."""
    if first.authzid is not None and first.authzid != login.name:
        raise TokenRefused("the authorization id is not the token's principal")
