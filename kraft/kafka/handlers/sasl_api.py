"""SaslHandshake (key 17) and SaslAuthenticate (key 36): PLAIN, SCRAM-SHA-256/512 and
OAUTHBEARER, those [security] `sasl.enabled.mechanisms` lists.

Checked against the same SCRAM credentials in the metadata log as HTTP Basic, with the
same back-off: a failure's answer is held (connection.failed.authentication.delay.ms).
Only SaslHandshake v1 is offered, so clients wrap the SASL tokens in SaslAuthenticate
requests (no raw token frames): v0 is listed, because librdkafka 1.x looks for it before
it uses v1, and a v0 handshake is refused. A failed authentication is answered
SASL_AUTHENTICATION_FAILED with one message whether the user exists or not, and then the
connection is closed, as Kafka closes it (once the client has had the time to read the
answer and close first: connection/listener.py): a client guesses again only over a new
connection, which the per-address connection limit and the back-off both see. So is a
handshake naming a mechanism not offered, and a SaslAuthenticate out of turn.

OAUTHBEARER (RFC 7628): one client message carries the token; a refused token is
answered with RFC 7628's error JSON (error code 0), the client's lone \x01 then gets
SASL_AUTHENTICATION_FAILED with the reason, as Kafka's OAuthBearerSaslServer answers.
Its login lasts until the token expires (and no longer than connections.max.reauth.ms).

Re-authentication (KIP-368): with [timeouts] connections.max.reauth.ms set, a login over
SaslAuthenticate v1+ is told its session lifetime, and past it the connection serves only
a new SaslHandshake and SaslAuthenticate (anything else closes it). A re-authentication
keeps the mechanism and the principal of the first login; one that fails, or names
another user, is answered and the connection closed.
"""

from __future__ import annotations

import asyncio
import time

from kraft.broker.services import BrokerServices
from kraft.broker.access import Identity
from kraft.errors import AuthenticationFailed
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.connection.session import Session
from kraft.security.authorizer import user_principal
from kraft.security.broker_login import BROKER_MECHANISM, BROKER_USER
from kraft.security.oauthbearer import TokenRefused, check_authzid, parse_client_first
from kraft.security.scram import ScramExchange
from kraft.errors.kafka_codes import ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM

PLAIN = "PLAIN"
OAUTHBEARER = "OAUTHBEARER"


def _connection(ctx: RequestContext) -> Session:
    """The connection whose login this is (SASL is served on connections only)."""
    assert ctx.connection is not None, "SASL needs a connection"
    return ctx.connection


def _broker_login(node: BrokerServices, s: Session, mechanism: str) -> bool:
    """A broker logs in to another the same way whatever clients do (broker_login.py): with
    SCRAM-SHA-256 as the brokers' user, also where clients log in with other mechanisms,
    by certificate, or not at all (an open cluster too: the leader then knows a forwarded
    produce is a broker's). Only that user completes it."""
    if mechanism != BROKER_MECHANISM or (s.identity is not None and s.mechanism):
        return False
    return not node.access.authentication or s.identity is not None or mechanism not in node.access.sasl_mechanisms


async def handshake(node: BrokerServices, ctx: RequestContext, request) -> dict:
    s = _connection(ctx)
    if ctx.api_version >= 1 and _broker_login(node, s, request.mechanism):
        s.mechanism, s.brokers_only = request.mechanism, True
        return {"error_code": 0, "mechanisms": [request.mechanism]}
    if not node.access.authentication or (s.identity is not None and s.mechanism is None):
        return {"error_code": ILLEGAL_SASL_STATE, "mechanisms": []}  # no SASL here, or an SSL principal
    enabled = list(node.access.sasl_mechanisms)
    if ctx.api_version == 0:  # v0 would mean raw token frames next: not served
        return {"error_code": error_codes.UNSUPPORTED_VERSION, "mechanisms": enabled}
    if s.identity is not None:  # re-authentication: with the mechanism of the first login
        if request.mechanism != s.mechanism:
            _close_after_answer(s, f"re-authentication with {request.mechanism!r}, not {s.mechanism}")
            return {"error_code": UNSUPPORTED_SASL_MECHANISM, "mechanisms": [s.mechanism]}
        s.reauthenticating, s.scram, s.refused_token = True, None, None
        return {"error_code": 0, "mechanisms": [s.mechanism]}
    if request.mechanism not in enabled:
        _close_after_answer(s, f"SASL mechanism {request.mechanism!r} is not enabled")
        return {"error_code": UNSUPPORTED_SASL_MECHANISM, "mechanisms": enabled}
    s.mechanism = request.mechanism
    return {"error_code": 0, "mechanisms": enabled}


async def authenticate(node: BrokerServices, ctx: RequestContext, request) -> dict:
    s = _connection(ctx)
    if s.mechanism is None or (s.identity is not None and not s.reauthenticating and not s.brokers_only):
        if node.access.authentication:  # a SASL listener: the exchange is broken
            _close_after_answer(s, "SaslAuthenticate without a SaslHandshake before it")
        return _answer(ILLEGAL_SASL_STATE, "SaslHandshake first, once per login")
    access = node.access
    token = bytes(request.auth_bytes or b"")
    name = ""
    try:
        if s.mechanism == OAUTHBEARER:
            return _oauthbearer(node, ctx, s, token)
        if s.mechanism == PLAIN:
            name, password = _plain(token)
            if not await asyncio.to_thread(access.verify_password, name, password):
                raise AuthenticationFailed("Authentication failed")
            return _answer(0, None, b"", _authenticated(node, ctx, s, name))
        if s.scram is None:
            s.scram = ScramExchange(s.mechanism, lambda user: access.credential(user, s.mechanism, s.brokers_only))
            first = await asyncio.to_thread(s.scram.first, token)
            return _answer(0, None, first)
        exchange, s.scram = s.scram, None
        name = exchange.user or ""
        final = await asyncio.to_thread(exchange.final, token)
        # only this exchange proves the brokers' derived credential (PLAIN refuses the name)
        return _answer(0, None, final, _authenticated(node, ctx, s, name, broker=name == BROKER_USER))
    except AuthenticationFailed as exc:  # nothing is refused unchecked: the back-off only delays
        if s.scram is not None:
            name, s.scram = s.scram.user or "", None
        _end_login(s)
        # a token names no user the node can trust: its failures count against the address
        await access.hold_failure(s.host, "" if s.mechanism == OAUTHBEARER else name)
        _close_after_answer(s, f"SASL authentication failed ({exc.message})")
        return _answer(SASL_AUTHENTICATION_FAILED, exc.message)


def _oauthbearer(node: BrokerServices, ctx: RequestContext, s: Session, message: bytes) -> dict:
    """One OAUTHBEARER message: the client's first (its token), or its acknowledgement of
    a refusal (RFC 7628 3.2.3), which ends the login failed."""
    if s.refused_token is not None:
        refused, s.refused_token = s.refused_token, None
        raise AuthenticationFailed(refused)
    first = parse_client_first(message)
    try:
        login = node.access.validate_bearer(first.token)
        check_authzid(first, login)
    except TokenRefused as exc:
        s.refused_token = exc.message
        return _answer(0, None, exc.error_json())
    bearer = node.access.bearer
    assert bearer is not None  # validate_bearer refuses without it
    return _answer(0, None, b"", _authenticated(node, ctx, s, login.name, bearer.lifetime_ms(login)))


def _authenticated(node: BrokerServices, ctx: RequestContext, s: Session, name: str,
                   credential_lifetime_ms: int = 0, broker: bool = False) -> int:
    """The login succeeded: the connection's identity, and its session lifetime in ms
    (0: none), the shorter of connections.max.reauth.ms and the credential's own (a
    token's expiry). A re-authentication naming another principal fails."""
    principal = user_principal(name)
    s.brokers_only = False
    if s.reauthenticating and s.identity is not None and s.identity.principal != principal:
        raise AuthenticationFailed("re-authentication may not change the principal")
    s.identity, s.reauthenticating = Identity(principal, s.host, broker), False
    # KIP-368: only clients that read the lifetime (SaslAuthenticate v1+) are held to
    # connections.max.reauth.ms; a credential's own expiry (a token's) holds every client,
    # as in Kafka: past it a v0 client's connection is closed, and it logs in anew
    reauth_ms = node.config.timeouts.connections_max_reauth_ms if ctx.api_version >= 1 else 0
    lifetime = min((ms for ms in (reauth_ms, credential_lifetime_ms) if ms > 0), default=0)
    s.login_expires_at = time.monotonic() + lifetime / 1000 if lifetime > 0 else None
    return lifetime if ctx.api_version >= 1 else 0


def _end_login(s: Session) -> None:
    """A failed login, first or re-authentication: the connection is unauthenticated."""
    s.identity, s.reauthenticating, s.login_expires_at, s.refused_token = None, False, None, None
    s.brokers_only = False


def _close_after_answer(s: Session, why: str) -> None:
    """Kafka ends a connection whose SASL exchange failed once the failure is answered (held
    first by the back-off: connection.failed.authentication.delay.ms)."""
    s.closing = why


def _plain(token: bytes) -> tuple[str, str]:
    """RFC 4616: [authzid] NUL authcid NUL passwd; an authzid must be the user itself."""
    parts = token.split(b"\0")
    if len(parts) != 3:
        raise AuthenticationFailed("malformed SASL/PLAIN message")
    try:
        authzid, name, password = (p.decode() for p in parts)
    except UnicodeDecodeError:
        raise AuthenticationFailed("malformed SASL/PLAIN message") from None
    if not name or (authzid and authzid != name):
        raise AuthenticationFailed("Authentication failed")
    return name, password


def _answer(code: int, message: str | None, auth_bytes: bytes = b"", lifetime_ms: int = 0) -> dict:
    return {"error_code": code, "error_message": message, "auth_bytes": auth_bytes,
            "session_lifetime": lifetime_ms}
