"""Who is asking, and may they: the one place both front doors authenticate and authorize.

Credentials and ACLs come from the metadata image, so a change applies on a node as
soon as it has replayed the record: a deleted user's next request fails there. A
password check derives SCRAM's StoredKey (PBKDF2, a few ms) off the event loop; a
success is remembered against that exact credential, so a steady client pays once. A
failure's answer waits out the shared back-off (kraft/security/auth_backoff.py), on both
doors and for every mechanism.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from kraft.config.cluster import SecuritySettings
from kraft.errors import (
    AuthenticationFailed,
    AuthorizationFailed,
    GroupAuthorizationFailed,
    TopicAuthorizationFailed,
    TransactionalIdAuthorizationFailed,
)
from kraft.broker.acl_needs import NEEDS, ClientOperation
from kraft.broker.jwks_fetcher import JwksFetcher
from kraft.metadata.image import MetadataImage
from kraft.security.acls import CLUSTER_RESOURCE
from kraft.security.auth_backoff import AuthBackoff, backoff_key
from kraft.security.authorizer import ANONYMOUS, Authorizer, user_principal
from kraft.security.bearer_tokens import BearerValidator
from kraft.security.broker_login import BROKER_MECHANISM, BROKER_USER
from kraft.security.oauthbearer import BearerLogin, bearer_token
from kraft.security.scram import DECOY, ScramCredential, make_credential, password_matches

MAX_REMEMBERED = 10_000  # successful logins remembered
# what an HTTP port's 401 asks for: a password, or (to a refused token) a valid token, RFC 6750 3.1
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="kraft", charset="UTF-8"'}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kraft", error="invalid_token"'}
_DENIED = {"TOPIC": TopicAuthorizationFailed, "GROUP": GroupAuthorizationFailed,
           "TRANSACTIONAL_ID": TransactionalIdAuthorizationFailed}


@dataclass(frozen=True)
class Identity:
    principal: str
    host: str  # the client's address, as ACLs name hosts
    # another broker of this cluster, proven by the brokers' SCRAM login (broker_login.py)
    # and nothing else: a certificate or token naming the same user is an ordinary user
    broker: bool = False


class AccessControl:
    def __init__(self, settings: SecuritySettings | None, image_of: Callable[[], MetadataImage],
                 clock: Callable[[], float] = time.monotonic,
                 ready: Callable[[], bool] = lambda: True,
                 broker_credential: ScramCredential | None = None) -> None:
        """ready: whether the image holds every ACL and user committed before this process
        started (a restarting node replays old images first); until then nothing is allowed.
        broker_credential: the other brokers' login (broker_login.py; None: none logs in)."""
        self.settings = settings
        self._broker_credential = broker_credential
        self._image_of = image_of
        self.ready = ready
        delay_ms = settings.connection_failed_authentication_delay_ms if settings is not None else 0
        self.backoff = AuthBackoff(delay_ms / 1000, clock)
        self._authorizer: tuple[frozenset, Authorizer] | None = None
        self._verified: OrderedDict[tuple[str, bytes], ScramCredential] = OrderedDict()
        # OAUTHBEARER (both doors); its JWKS keys kept current by a task the node runs
        self.bearer = BearerValidator(settings) if settings is not None and settings.oauthbearer else None
        keys = self.bearer.keys if self.bearer is not None else None
        self.jwks_fetcher = (JwksFetcher(settings.jwks_endpoint_url, settings.jwks_endpoint_refresh_ms, keys)
                             if settings is not None and settings.jwks_endpoint_url and keys is not None else None)

    @property
    def enabled(self) -> bool:
        """ACLs are enforced (a [security] section exists)."""
        return self.settings is not None

    @property
    def authentication(self) -> bool:
        return self.settings is not None and self.settings.authentication

    @property
    def sasl_mechanisms(self) -> tuple[str, ...]:
        """What SaslHandshake offers (Kafka's sasl.enabled.mechanisms)."""
        return self.settings.sasl_enabled_mechanisms if self.authentication and self.settings else ()

    def authorizer(self) -> Authorizer:
        acls = self._image_of().acls
        cached = self._authorizer
        if cached is None or cached[0] is not acls:
            s = self.settings
            assert s is not None
            cached = (acls, Authorizer(acls, s.super_users, s.allow_everyone_if_no_acl_found))
            self._authorizer = cached
        return cached[1]

    def allowed(self, who: Identity, operation: str, resource_type: str,
                name: str = CLUSTER_RESOURCE) -> bool:
        if not self.enabled or who.broker:  # a broker may do what the cluster's own nodes do
            return True
        if not self.ready():
            return False  # an old image might lack a DENY or still hold a deleted ACL
        return self.authorizer().authorize(who.principal, who.host, operation, resource_type, name)

    def allowed_names(self, who: Identity | None, operation: str, resource_type: str,
                      names: Iterable[str]) -> list[str]:
        """The names `who` may `operation`, in their order: the one filter every answer
        that lists topics (or groups) goes through, on both doors, as Kafka leaves out
        of a listing what the caller may not DESCRIBE. All of them with ACLs off, or for
        a node asking for itself (no identity)."""
        if who is None or not self.enabled:
            return list(names)
        return [n for n in names if self.allowed(who, operation, resource_type, n)]

    def check(self, who: Identity, operation: str, resource_type: str,
              name: str = CLUSTER_RESOURCE) -> None:
        if not self.allowed(who, operation, resource_type, name):
            raise denied(who, operation, resource_type, name)

    def may(self, who: Identity | None, operation: ClientOperation, name: str = CLUSTER_RESOURCE) -> bool:
        """Whether `who` may do the client operation (its ACL from acl_needs, the table both
        doors use); always for a node asking for itself (no identity)."""
        need = NEEDS[operation]
        return who is None or self.allowed(who, need.operation, need.resource_type, name)

    def require(self, who: Identity | None, operation: ClientOperation, name: str = CLUSTER_RESOURCE) -> None:
        """may, or the door's refusal (TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED)."""
        if who is not None:
            need = NEEDS[operation]
            self.check(who, need.operation, need.resource_type, name)

    # Kafka's two rules where either of two ACLs will do, for both doors
    def may_create_topic(self, who: Identity | None, topic: str) -> bool:
        """CreateTopics and auto-creation: CREATE on the cluster, or on the topic's own name."""
        return self.may(who, "create_topics") or self.may(who, "create_topic", topic)

    def may_get_producer_id(self, who: Identity | None) -> bool:
        """An idempotent producer's id: IDEMPOTENT_WRITE on the cluster, or WRITE on some
        topic (KIP-679, Kafka 3's default)."""
        if who is None or not self.enabled or who.broker or self.may(who, "idempotent_write"):
            return True
        need = NEEDS["produce"]
        return self.ready() and self.authorizer().any_allowed(who.principal, who.host, need.operation,
                                                              need.resource_type)

    def may_see(self, who: Identity | None, operation: ClientOperation, names: Iterable[str]) -> list[str]:
        """allowed_names for a client operation: what a listing shows."""
        need = NEEDS[operation]
        return self.allowed_names(who, need.operation, need.resource_type, names)

    def is_super_user(self, who: Identity) -> bool:
        s = self.settings
        return s is None or who.broker or who.principal in {user_principal(u) for u in s.super_users}

    def check_super_user(self, who: Identity, what: str) -> None:
        """Only `super_users` may `what` (nothing to check with security off)."""
        if not self.is_super_user(who):
            raise AuthorizationFailed(f"Request is not authorized: only a super user may {what} "
                                      f"({who.principal} is not one)")

    def anonymous(self, host: str) -> Identity:
        return Identity(ANONYMOUS, host)

    async def authenticate_basic(self, header: str | None, host: str) -> Identity:
        """The identity an `Authorization: Basic` header proves; AuthenticationFailed
        otherwise, with one message whether the user exists or not."""
        name, password = _basic_credentials(header)
        if name is None or not await self._password_ok(name, password):
            await self.hold_failure(host, name or "")
            raise AuthenticationFailed("Authentication failed")
        return Identity(user_principal(name), host)

    async def hold_failure(self, host: str, user: str) -> None:
        """A login failed (either door, any mechanism): wait out its back-off before the
        answer. `user` is the name claimed, "" when none can be trusted (a token)."""
        known = bool(user) and user in self._image_of().scram_credentials
        await asyncio.sleep(self.backoff.failed(backoff_key(host, user, known)))

    def validate_bearer(self, token: str) -> BearerLogin:
        """The login an OAUTHBEARER token proves; TokenRefused otherwise (or when
        OAUTHBEARER is not enabled)."""
        if self.bearer is None:
            raise AuthenticationFailed("Authentication failed (bearer tokens are not accepted here)")
        return self.bearer.validate(token)

    async def authenticate_http(self, header: str | None, host: str) -> Identity:
        """The HTTP door's Authorization header: Basic (the SCRAM credentials) or, with
        OAUTHBEARER enabled, Bearer; AuthenticationFailed otherwise."""
        token = bearer_token(header)
        if token is None:
            return await self.authenticate_basic(header, host)
        try:
            return Identity(user_principal(self.validate_bearer(token).name), host)
        except AuthenticationFailed:
            await self.hold_failure(host, "")
            raise

    async def identify_http(self, authorization: str | None, peercert: dict | None, host: str) -> Identity:
        """Who a client of an HTTP port is (the REST door and the schema registry alike): the
        principal of its verified certificate (mTLS) when it sends no Authorization header,
        else Basic or Bearer when authentication is on (AuthenticationFailed when they prove
        nothing), else the anonymous principal."""
        certified = principal_of_certificate(peercert)
        if certified is not None and authorization is None:
            return Identity(certified, host)
        if self.authentication:
            return await self.authenticate_http(authorization, host)
        return self.anonymous(host)

    def _client_credentials(self, name: str) -> Mapping[str, ScramCredential]:
        """A user's credentials for a password check: none for the brokers' own user, who
        logs in only with SCRAM (a user of that name in the log logs in nobody)."""
        return {} if name == BROKER_USER else self._image_of().scram_credentials.get(name, {})

    async def _password_ok(self, name: str, password: str) -> bool:
        credentials = self._client_credentials(name)
        key = (name, hashlib.sha256(password.encode()).digest())
        remembered = self._verified.get(key)
        if remembered is not None and any(c is remembered for c in credentials.values()):
            return True
        for credential in credentials.values():
            if await asyncio.to_thread(password_matches, credential, password):
                self._verified[key] = credential
                while len(self._verified) > MAX_REMEMBERED:
                    self._verified.popitem(last=False)
                return True
        if not credentials:  # as slow as a wrong password: the answer tells nothing
            await asyncio.to_thread(password_matches, DECOY, password)
        return False

    def verify_password(self, name: str, password: str) -> bool:
        """Synchronous check for SASL PLAIN (the Kafka listener runs it off the loop);
        an unknown user costs what a wrong password costs."""
        credentials = list(self._client_credentials(name).values())
        return any([password_matches(c, password) for c in credentials or [DECOY]]) and bool(credentials)

    def credential(self, name: str, mechanism: str, brokers_only: bool = False) -> ScramCredential | None:
        """A SCRAM login's credential. brokers_only: a login where clients log in otherwise
        or not at all (sasl_api.py), which only another broker may complete."""
        if name == BROKER_USER:
            return self._broker_credential if mechanism == BROKER_MECHANISM else None
        return None if brokers_only else self._client_credentials(name).get(mechanism)


def denied(who: Identity, operation: str, resource_type: str, name: str = CLUSTER_RESOURCE) -> AuthorizationFailed:
    """The refusal both doors answer a denied ACL with (TOPIC_/GROUP_/..._AUTHORIZATION_FAILED)."""
    error = _DENIED.get(resource_type, AuthorizationFailed)
    what = "the cluster" if resource_type == "CLUSTER" else f"{resource_type.lower()} {name!r}"
    return error(f"Request is not authorized: {who.principal} may not {operation} {what}")


def _basic_credentials(header: str | None) -> tuple[str | None, str]:
    if not header:
        return None, ""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 4096:
        return None, ""
    try:
        name, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, ""
    return (name, password) if sep and name else (None, "")


def principal_of_certificate(peercert: dict | None) -> str | None:
    """User:<CN> of a verified client certificate (Kafka's principal for SSL clients,
    shortened to the common name as Redpanda's mapping rules usually do)."""
    if not peercert:
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and value:
                return f"User:{value}"
    return None


def bootstrap_credentials(settings: SecuritySettings | None) -> dict[str, ScramCredential]:
    """cluster.toml's users as credentials, salted here (the controller writes only the
    ones the log lacks)."""
    if settings is None:
        return {}
    return {u.name: make_credential(u.password, u.mechanism) for u in settings.users}
