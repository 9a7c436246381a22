"""One Kafka request's context, handed to its handler as a value (Redpanda's request_context).

It carries the request's header (API, version, client id), the connection it came on
(kafka/connection/session.py: principal, listener, SASL state, fetch sessions, quota mute) and the
connection's turn. Handlers ask it, not the event loop's context, who is asking and
whether they may: each (client operation, resource) decision is made once per request,
from the one table both doors use (broker/acl_needs.py).

A context without a connection is the broker itself asking (a handler called
directly): every check passes, as for a connection before its SASL login (which is
served nothing but the SASL APIs).

Pipelined produce: a connection starts its next request once the current one is
answered, except that a Produce says, through ``let_next_request_start``, when its
batches are in the log: the next Produce then appends behind them while this one waits
for its replicas. So appends keep the order the client sent them (idempotent sequences
depend on it) and answers keep their order too (the listener writes them in turn), yet
acks=all replication round trips overlap instead of adding up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kraft.broker.access import AccessControl, Identity, denied
from kraft.broker.acl_needs import NEEDS, ClientOperation
from kraft.kafka.wire.codec import RequestHead
from kraft.kafka.handlers.fetch_sessions import FetchSessionCache
from kraft.kafka.connection.session import Session
from kraft.security.acls import CLUSTER_RESOURCE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestContext:
    head: RequestHead
    connection: Session | None = None  # None: no client connection (the broker asking itself)
    next_may_start: Callable[[], None] | None = field(default=None, repr=False)  # the listener's turn
    # (operation, resource type, name) -> allowed: each decision once per request
    _decided: dict[tuple[str, str, str], bool] = field(default_factory=dict, repr=False, compare=False)

    # -- the request ------------------------------------------------------------------
    @property
    def api_key(self) -> int:
        return self.head.api_key

    @property
    def api_version(self) -> int:
        return self.head.api_version

    @property
    def client_id(self) -> str | None:
        return self.head.client_id

    # -- who asks, and over what ---------------------------------------------------------
    @property
    def identity(self) -> Identity | None:
        """The connection's principal and address; None before its login or without one."""
        return None if self.connection is None else self.connection.identity

    @property
    def principal(self) -> str | None:
        who = self.identity
        return None if who is None else who.principal

    @property
    def from_broker(self) -> bool:
        """Another broker of this cluster asks (it logged in with the brokers' own SCRAM
        credential, which only a node that holds the cluster's secret can derive:
        kraft/security/broker_login.py; a certificate or token naming that user does not count)."""
        who = self.identity
        return who is not None and who.broker

    @property
    def listener(self) -> str | None:
        return None if self.connection is None else self.connection.listener

    def fetch_sessions(self) -> FetchSessionCache:
        """The broker's fetch session cache; one with no slots outside a connection."""
        return FetchSessionCache(0) if self.connection is None else self.connection.fetch_sessions

    def let_next_request_start(self) -> None:
        """Called by a handler once the order-sensitive part of its work is done."""
        if self.next_may_start is not None:
            self.next_may_start()

    def mute(self, throttle_ms: int) -> None:
        """Read nothing more from this connection for `throttle_ms` (Kafka's KIP-219)."""
        if self.connection is not None:
            self.connection.mute(throttle_ms)

    # -- may they ---------------------------------------------------------------------------
    def allowed(self, operation: ClientOperation, name: str = CLUSTER_RESOURCE) -> bool:
        """Whether this connection's principal may; always True with ACLs off."""
        need = NEEDS[operation]
        return self.acl_allowed(need.operation, need.resource_type, name)

    def check(self, operation: ClientOperation, name: str = CLUSTER_RESOURCE) -> None:
        """Raises TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED (29/30/31) when denied."""
        if not self.allowed(operation, name):
            need, who = NEEDS[operation], self.identity
            assert who is not None  # a denial needs a principal
            raise denied(who, need.operation, need.resource_type, name)

    def acl_allowed(self, operation: str, resource_type: str, name: str = CLUSTER_RESOURCE) -> bool:
        """Any ACL operation (KIP-430's authorized-operations fields list them all)."""
        access, who = self._access_and_identity()
        if who is None or access is None:
            return True
        key = (operation, resource_type, name)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decided[key] = access.allowed(who, operation, resource_type, name)
        return decided

    def is_cluster_member(self) -> bool:
        """Whether this request comes from the cluster itself, as only it may send the
        brokers' own requests (a replica fetch, transaction markers, share-group state):
        another broker (its login), or on a secured cluster a principal with
        CLUSTER_ACTION (Kafka's rule). On an open cluster, where Kafka lets anyone, only a
        broker: a client could otherwise pass for a follower, commit an aborted transaction
        or rewrite a share group's state. A refusal is logged once per connection and API."""
        if self.connection is None or self.from_broker:
            return True
        access = self.connection.access
        if access is not None and access.enabled and self.allowed("cluster_action"):
            return True
        self._log_refused()
        return False

    def _log_refused(self) -> None:
        connection = self.connection
        if connection is None or self.api_key in connection.refused_apis:
            return  # a flood of refused requests is one line per connection and API
        connection.refused_apis.add(self.api_key)
        log.warning("refused API %d v%d from %s (%s, client id %.64r): only the cluster's brokers may send it",
                    self.api_key, self.api_version, self.principal, connection.host, self.client_id)

    def visible(self, operation: ClientOperation, names: Iterable[str]) -> list[str]:
        """The names this connection's principal may `operation` (AccessControl.allowed_names)."""
        return [n for n in names if self.allowed(operation, n)]

    def topic_visibility(self) -> Callable[[str], bool]:
        """Whether this connection's principal may DESCRIBE a topic, as a predicate a group
        keeps for its member's regex (asked at each resolution: ACLs change)."""
        access, who = self._access_and_identity()
        if access is None:
            return lambda topic: True
        need = NEEDS["describe_topic"]
        return lambda topic: bool(access.allowed_names(who, need.operation, need.resource_type, (topic,)))

    def may_create_topic(self, name: str) -> bool:
        """CREATE on the cluster or the topic (AccessControl.may_create_topic)."""
        access, who = self._access_and_identity()
        return access is None or access.may_create_topic(who, name)

    def may_get_producer_id(self) -> bool:
        """IDEMPOTENT_WRITE, or WRITE on some topic (AccessControl.may_get_producer_id)."""
        access, who = self._access_and_identity()
        return access is None or access.may_get_producer_id(who)

    def _access_and_identity(self) -> tuple[AccessControl | None, Identity | None]:
        if self.connection is None:
            return None, None
        return self.connection.access, self.connection.identity
