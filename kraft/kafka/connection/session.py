"""Who is on this connection: one Session per Kafka connection, held by the listener and
handed to each request's handler inside its RequestContext (kafka/connection/request_context.py).

With authentication on, a connection starts unauthenticated: only ApiVersions,
SaslHandshake and SaslAuthenticate are served until SASL succeeds (Kafka closes a
connection that sends anything else first). With it off, every connection is
User:ANONYMOUS, as on Kafka's PLAINTEXT listener.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kraft.broker.access import AccessControl, Identity
from kraft.kafka.handlers.fetch_sessions import FetchSessionCache
from kraft.security.scram import ScramExchange

_CONNECTION_IDS = itertools.count(1)

# Served before authentication: ApiVersions, SaslHandshake, SaslAuthenticate.
BEFORE_AUTHENTICATION = frozenset({18, 17, 36})
# Served once a login's lifetime has passed (KIP-368): re-authentication only.
AFTER_EXPIRY = frozenset({17, 36})


# Kafka's security protocols, the name a listener goes by
PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL = "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"


def security_protocol(tls: bool, sasl: bool) -> str:
    return (SASL_SSL if tls else SASL_PLAINTEXT) if sasl else (SSL if tls else PLAINTEXT)


@dataclass
class Session:
    host: str
    identity: Identity | None  # None: SASL has not succeeded yet
    listener: str = PLAINTEXT  # the listener's security protocol
    access: AccessControl | None = field(default=None, repr=False)  # the broker's (None: nothing checked)
    mechanism: str | None = None  # chosen by SaslHandshake
    # a SaslHandshake only another broker may complete (handlers/sasl_api.py: a listener where
    # clients log in otherwise or not at all)
    brokers_only: bool = False
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
    # the brokers-only APIs refused on this connection, each logged once (RequestContext.is_cluster_member)
    refused_apis: set[int] = field(default_factory=set, repr=False)
    # this connection's number on the broker (Kafka's connection id): share sessions belong to it
    connection_id: int = field(default_factory=lambda: next(_CONNECTION_IDS))
    # run once when the connection ends, by name (registering again replaces): what is
    # bound to the connection goes with it (share sessions); awaited by the connection's task
    on_close: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict, repr=False)

    async def closed(self) -> None:
        """The connection ended: its close hooks run, each once, in the connection's task."""
        hooks, self.on_close = list(self.on_close.values()), {}
        for hook in hooks:
            await hook()

    def may_serve(self, api_key: int) -> bool:
        """False: a request before authentication, or other than re-authentication once the
        login's lifetime has passed (Kafka's KIP-368); the connection is closed."""
        if self.identity is None:
            return api_key in BEFORE_AUTHENTICATION
        expires = self.login_expires_at
        return expires is None or time.monotonic() < expires or api_key in AFTER_EXPIRY

    def authentication_pending(self) -> bool:
        """True while this connection must still authenticate (SASL on, no login yet): its
        frames get the small pre-authentication budget and the authentication deadline."""
        return self.identity is None

    def authentication_deadline(self) -> float | None:
        """The monotonic time by which this connection must have authenticated, while it has not."""
        return self.authenticate_by if self.authentication_pending() else None

    def mute(self, throttle_ms: int) -> None:
        """Read nothing more from this connection for `throttle_ms` (Kafka's KIP-219)."""
        self.muted_until = max(self.muted_until, time.monotonic() + throttle_ms / 1000)

    def muted_for_s(self) -> float:
        return max(0.0, self.muted_until - time.monotonic())
