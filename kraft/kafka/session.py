"""Who is on this connection: one Session per Kafka connection, reached by the request
handlers through a context variable (each request task inherits the connection's).

With authentication on, a connection starts unauthenticated: only ApiVersions,
SaslHandshake and SaslAuthenticate are served until SASL succeeds (Kafka closes a
connection that sends anything else first). With it off, every connection is
User:ANONYMOUS, as on Kafka's PLAINTEXT listener.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from kraft.broker.services import BrokerServices
from kraft.broker.access import Identity
from kraft.kafka.fetch_sessions import FetchSessionCache
from kraft.security.acls import CLUSTER_RESOURCE
from kraft.security.scram import ScramExchange

# Served before authentication: ApiVersions, SaslHandshake, SaslAuthenticate.
BEFORE_AUTHENTICATION = frozenset({18, 17, 36})
# Served once a login's lifetime has passed (KIP-368): re-authentication only.
AFTER_EXPIRY = frozenset({17, 36})


@dataclass
class Session:
    host: str
    identity: Identity | None  # None: SASL has not succeeded yet
    mechanism: str | None = None  # chosen by SaslHandshake
    scram: ScramExchange | None = field(default=None, repr=False)  # a SCRAM exchange under way
    # OAUTHBEARER: why the token was refused, told once the client acknowledges (RFC 7628)
    refused_token: str | None = None
    # KIP-368: past this (monotonic) only re-authentication is served; None: no lifetime
    login_expires_at: float | None = None
    reauthenticating: bool = False  # a SaslHandshake on an authenticated connection began one
    muted_until: float = 0.0  # monotonic: nothing more is read before then (a quota's throttle)
    # monotonic: a connection still unauthenticated then is closed (None: no deadline)
    authenticate_by: float | None = None
    # set: the connection closes once this answer is out (a failed SASL exchange, as Kafka
    # closes it), with why
    closing: str | None = None
    # the broker's incremental fetch sessions (the listener's): they outlive connections
    fetch_sessions: FetchSessionCache = field(default_factory=lambda: FetchSessionCache(0), repr=False)


CURRENT: ContextVar[Session] = ContextVar("kafka_session")


def fetch_sessions() -> FetchSessionCache:
    """The broker's fetch session cache; one with no slots outside a connection."""
    current = CURRENT.get(None)
    return FetchSessionCache(0) if current is None else current.fetch_sessions


def may_serve(api_key: int) -> bool:
    """False: a request before authentication, or other than re-authentication once the
    login's lifetime has passed (Kafka's KIP-368); the connection is closed."""
    session = CURRENT.get(None)
    if session is None:
        return True
    if session.identity is None:
        return api_key in BEFORE_AUTHENTICATION
    expires = session.login_expires_at
    return expires is None or time.monotonic() < expires or api_key in AFTER_EXPIRY


def authentication_pending() -> bool:
    """True while this connection must still authenticate (SASL on, no login yet): its
    frames get the small pre-authentication budget and the authentication deadline."""
    current = CURRENT.get(None)
    return current is not None and current.identity is None


def authentication_deadline() -> float | None:
    """The monotonic time by which this connection must have authenticated, while it has not."""
    current = CURRENT.get(None)
    return current.authenticate_by if authentication_pending() and current is not None else None


def _identity() -> Identity | None:
    session = CURRENT.get(None)
    return None if session is None else session.identity


def allowed(node: BrokerServices, operation: str, resource_type: str, name: str = CLUSTER_RESOURCE) -> bool:
    """Whether this connection's principal may; always True with ACLs off."""
    who = _identity()
    return who is None or node.access.allowed(who, operation, resource_type, name)


def visible(node: BrokerServices, resource_type: str, names, operation: str = "DESCRIBE") -> list:
    """The names this connection's principal may `operation` (AccessControl.allowed_names)."""
    return node.access.allowed_names(_identity(), operation, resource_type, names)


def topic_visibility(node: BrokerServices):
    """Whether this connection's principal may DESCRIBE a topic, as a predicate a group
    keeps for its member's regex (asked at each resolution: ACLs change)."""
    access, who = node.access, _identity()
    return lambda topic: bool(access.allowed_names(who, "DESCRIBE", "TOPIC", (topic,)))


def check(node: BrokerServices, operation: str, resource_type: str, name: str = CLUSTER_RESOURCE) -> None:
    """Raises TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED (29/30/31) when denied."""
    who = _identity()
    if who is not None:
        node.access.check(who, operation, resource_type, name)


def any_topic_allowed(node: BrokerServices, operation: str) -> bool:
    who = _identity()
    return who is None or not node.access.enabled or node.access.authorizer().any_allowed(
        who.principal, who.host, operation, "TOPIC")


def mute(throttle_ms: int) -> None:
    """Read nothing more from this connection for `throttle_ms` (Kafka's KIP-219)."""
    current = CURRENT.get(None)
    if current is not None:
        current.muted_until = max(current.muted_until, time.monotonic() + throttle_ms / 1000)


def muted_for_s() -> float:
    current = CURRENT.get(None)
    return 0.0 if current is None else max(0.0, current.muted_until - time.monotonic())
