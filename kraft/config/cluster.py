"""cluster.toml (docs/API.md): the model, the loader, and the data-dir check run before any port is bound.

Every mistake becomes one line, `<file>: <key path>: <reason>`. Loading does no I/O but reading the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kraft.config.oauthbearer_settings import OAuthBearerSettings
from kraft.config.suggestion import did_you_mean
from kraft.config.connection_overrides import parse_overrides
from kraft.config.transaction_settings import TransactionSettings, UnknownSetting
from kraft.config.data_dir import cluster_id_problem, data_dir_problem
from kraft.config.topic_configs import (
    ConfigError,
    parse_config_value,
)

Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
PositiveMs = Annotated[int, Field(strict=True, gt=0)]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


class ConfigFileError(Exception):
    """A config mistake, as one line: `<file>: <key path>: <reason>`."""

    def __init__(self, file: str | os.PathLike[str], key_path: str, reason: str) -> None:
        self.file, self.key_path, self.reason = str(file), key_path, reason
        super().__init__(": ".join(part for part in (self.file, key_path, reason) if part))


def _invalid(sub_path: str, reason: str) -> PydanticCustomError:
    """An error at `sub_path` below the validator's own location (see _error_from_validation)."""
    return PydanticCustomError("kraft_config", "{reason}", {"reason": reason, "sub_path": sub_path})


def _toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _kafka_style_cluster_id(value: str) -> str:
    if problem := cluster_id_problem(value):
        raise _invalid("", problem)
    return value


# KIP-392: the replica selectors kraft implements, by Kafka's class names
RACK_AWARE_REPLICA_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
REPLICA_SELECTORS = (RACK_AWARE_REPLICA_SELECTOR,)


def _known_replica_selector(value: str) -> str:
    if value not in REPLICA_SELECTORS:
        raise _invalid("", f"kraft implements {', '.join(REPLICA_SELECTORS)}, got {value!r}")
    return value


def _connection_overrides(value: str) -> str:
    try:
        parse_overrides(value)
    except ValueError as exc:
        raise _invalid("", str(exc)) from None
    return value


class ClusterSection(_Table):
    name: Annotated[str, Field(strict=True, min_length=1)] = "local"
    id: Annotated[str, Field(strict=True), AfterValidator(_kafka_style_cluster_id)] | None = None
    raft_password: Annotated[str, Field(strict=True, min_length=8)] | None = None
    # Kafka's name and default: a produce naming a missing topic creates it with the defaults
    auto_create_topics_enable: Annotated[bool, Field(strict=True)] = Field(True, alias="auto.create.topics.enable")
    # Kafka's name and default: the controller moves leadership back to preferred replicas
    # by itself; off, only ElectLeaders (kafka-leader-election) does
    auto_leader_rebalance_enable: Annotated[bool, Field(strict=True)] = Field(
        True, alias="auto.leader.rebalance.enable")
    # Kafka's names and defaults: client quotas are measured over this many samples of this
    # many seconds (a client may burst up to about the whole window's budget at first)
    quota_window_num: Annotated[int, Field(strict=True, ge=2, le=100)] = Field(11, alias="quota.window.num")
    quota_window_size_seconds: Annotated[int, Field(strict=True, ge=1, le=3600)] = Field(
        1, alias="quota.window.size.seconds")
    # Kafka's name and default: incremental fetch sessions (KIP-227) each broker keeps; 0: none
    max_incremental_fetch_session_cache_slots: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] = Field(
        1000, alias="max.incremental.fetch.session.cache.slots")
    # Kafka's name (KIP-392; static, as in Kafka): the leader may send a consumer to the
    # replica in its rack; unset (Kafka's default), consumers read from the leader
    replica_selector_class: Annotated[str, Field(strict=True), AfterValidator(_known_replica_selector)] | None = \
        Field(None, alias="replica.selector.class")
    # Kafka's names: the Kafka listener's connections, in all and from any one address (and
    # named addresses' own counts, "host:count,..."). One address gets a quarter of the
    # listener, so it cannot lock the others out (Kafka's defaults are unlimited)
    max_connections: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] = Field(1000, alias="max.connections")
    max_connections_per_ip: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] = Field(
        250, alias="max.connections.per.ip")
    max_connections_per_ip_overrides: Annotated[str, Field(strict=True), AfterValidator(_connection_overrides)] = \
        Field("", alias="max.connections.per.ip.overrides")
    # Kafka's name and default: the largest frame a connection may send before SASL succeeds
    sasl_server_max_receive_size: Annotated[int, Field(strict=True, ge=8, le=2**31 - 1)] = Field(
        524288, alias="sasl.server.max.receive.size")
    # kraft's (Kafka has none): with SASL on, a connection not authenticated this long after
    # it opened is closed, so silent connections hold no slot for connections.max.idle.ms
    sasl_server_authentication_timeout_ms: Annotated[int, Field(strict=True, ge=100, le=3_600_000)] = Field(
        10_000, alias="sasl.server.authentication.timeout.ms")


class Timeouts(_Table):
    broker_session_timeout_ms: PositiveMs = Field(3000, alias="broker.session.timeout.ms")
    broker_heartbeat_interval_ms: PositiveMs = Field(500, alias="broker.heartbeat.interval.ms")
    replica_lag_time_max_ms: PositiveMs = Field(5000, alias="replica.lag.time.max.ms")
    controller_request_timeout_ms: PositiveMs = Field(5000, alias="controller.request.timeout.ms")
    # KIP-368: a SASL login lasts this long, then the client re-authenticates on its
    # connection or the broker closes it; 0 (Kafka's default): a login lasts as long as it
    connections_max_reauth_ms: Annotated[int, Field(strict=True, ge=0)] = Field(0, alias="connections.max.reauth.ms")

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> Timeouts:
        # A heartbeat no more frequent than the session timeout fences healthy brokers.
        heartbeat, session = self.broker_heartbeat_interval_ms, self.broker_session_timeout_ms
        if heartbeat >= session:
            reason = f'must be less than "broker.session.timeout.ms" ({session}), got {heartbeat}'
            raise _invalid('"broker.heartbeat.interval.ms"', reason)
        return self


def _server_assignors(value: str) -> str:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names or any(n not in ("uniform", "range") for n in names):
        raise _invalid("", f'the server assignors are a comma-separated list of "uniform" and "range", got {value!r}')
    return value


class GroupSettings(_Table):
    """Consumer groups and REST consumer instances (Kafka and REST Proxy names)."""

    offsets_topic_partitions: Annotated[int, Field(strict=True, ge=1, le=1000)] = Field(
        50, alias="offsets.topic.num.partitions")
    offsets_topic_replication_factor: Annotated[int, Field(strict=True, ge=1)] = Field(
        3, alias="offsets.topic.replication.factor")
    session_timeout_ms: Annotated[int, Field(strict=True, ge=1000)] = Field(45_000, alias="session.timeout.ms")
    consumer_instance_timeout_ms: PositiveMs = Field(300_000, alias="consumer.instance.timeout.ms")
    # Kafka's name and default: an Empty classic group's first join phase waits this long
    # (longer while members keep arriving) so that consumers started together share one
    initial_rebalance_delay_ms: Annotated[int, Field(strict=True, ge=0, le=300_000)] = Field(
        3_000, alias="group.initial.rebalance.delay.ms")
    # the members a classic group takes (Kafka's name; its default: no limit)
    classic_max_size: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] = Field(
        2**31 - 1, alias="group.max.size")
    # KIP-848 consumer groups (ConsumerGroupHeartbeat), under Kafka's broker names
    consumer_max_size: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] = Field(
        2**31 - 1, alias="group.consumer.max.size")
    consumer_session_timeout_ms: Annotated[int, Field(strict=True, ge=1000)] = Field(
        45_000, alias="group.consumer.session.timeout.ms")
    consumer_heartbeat_interval_ms: Annotated[int, Field(strict=True, ge=100)] = Field(
        5_000, alias="group.consumer.heartbeat.interval.ms")
    consumer_assignors: Annotated[str, Field(strict=True), AfterValidator(_server_assignors)] = Field(
        "uniform,range", alias="group.consumer.assignors")
    # which way a group may change kind (KIP-848's online upgrade / downgrade); Kafka 4's default
    consumer_migration_policy: Literal["disabled", "upgrade", "downgrade", "bidirectional"] = Field(
        "bidirectional", alias="group.consumer.migration.policy")

    @model_validator(mode="after")
    def _consumer_heartbeat_within_session(self) -> GroupSettings:
        heartbeat, session = self.consumer_heartbeat_interval_ms, self.consumer_session_timeout_ms
        if heartbeat >= session:
            reason = f'must be less than "group.consumer.session.timeout.ms" ({session}), got {heartbeat}'
            raise _invalid('"group.consumer.heartbeat.interval.ms"', reason)
        return self

    def consumer_group_config(self) -> tuple[int, int, tuple[str, ...]]:
        """(session timeout, heartbeat interval, server assignors, the default first)."""
        return (self.consumer_session_timeout_ms, self.consumer_heartbeat_interval_ms,
                tuple(n.strip() for n in self.consumer_assignors.split(",") if n.strip()))


class StorageSettings(_Table):
    """The background scrubber: each broker re-reads its closed segments and checks every
    batch's CRC, at most this many MB a second (0 turns it off), starting a new pass at
    most once per interval. Damage it finds is repaired from a healthy replica."""

    scrub_rate_mb_s: Annotated[float, Field(strict=False, ge=0, le=10_000)] = Field(
        8.0, alias="scrub.rate.mb.s")
    scrub_interval_s: Annotated[float, Field(strict=False, gt=0, le=30 * 86_400)] = Field(
        600.0, alias="scrub.interval.s")


_ORIGIN = re.compile(r"https?://[^/\s,]+")


def _origins(value: str) -> str:
    for origin in (o.strip() for o in value.split(",")):
        if origin and origin != "*" and not _ORIGIN.fullmatch(origin):
            raise _invalid("", f'an allowed origin is "*" or scheme://host[:port], got {origin!r}')
    return value


class HttpSettings(_Table):
    """Browser access (CORS), under the Confluent REST Proxy's names. An empty origin
    list (the default) answers no cross-origin request: browsers then refuse them."""

    allow_origin: Annotated[str, Field(strict=True), AfterValidator(_origins)] = Field(
        "", alias="access.control.allow.origin")
    allow_methods: Annotated[str, Field(strict=True, min_length=1)] = Field(
        "GET,POST,PUT,DELETE,HEAD", alias="access.control.allow.methods")
    allow_headers: Annotated[str, Field(strict=True, min_length=1)] = Field(
        "origin,content-type,accept,authorization", alias="access.control.allow.headers")

    def allowed_origins(self) -> frozenset[str]:
        return frozenset(o.strip() for o in self.allow_origin.split(",") if o.strip())


class BootstrapUser(_Table):
    """Created (as a salted SCRAM credential in the metadata log) when no credential of
    that name exists yet; a password changed later through the API is kept."""

    name: Annotated[str, Field(strict=True, min_length=1, max_length=256)]
    password: Annotated[str, Field(strict=True, min_length=1, max_length=1024)]
    mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-256"

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if problem := user_name_problem(name):
            raise _invalid("", problem)
        return name


def user_name_problem(name: str) -> str | None:
    if ":" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"a user name has no ':' and no control characters, got {name!r}"
    return None


class SecuritySettings(OAuthBearerSettings):
    """[security]: present = ACLs enforced on every client request; absent = an open
    cluster, as Kafka's PLAINTEXT listener with no authorizer. The SASL mechanisms and
    OAUTHBEARER's keys: oauthbearer_settings."""

    authentication: Annotated[bool, Field(strict=True)] = True
    super_users: tuple[Annotated[str, Field(strict=True, min_length=1)], ...] = ()
    allow_everyone_if_no_acl_found: Annotated[bool, Field(strict=True)] = False
    allow_unauthenticated: Annotated[bool, Field(strict=True)] = False
    tls_cert: Annotated[str, Field(strict=True, min_length=1)] | None = None
    tls_key: Annotated[str, Field(strict=True, min_length=1)] | None = None
    tls_ca: Annotated[str, Field(strict=True, min_length=1)] | None = None
    # Kafka's ssl.client.auth: a client certificate signed by tls_ca names the principal
    # (User:<its CN>); "required" refuses connections without one
    tls_client_auth: Literal["none", "requested", "required"] = "none"
    # Kafka's name and default: a failed login's answer waits this long (and the failures of
    # one address and user are answered no faster than one per this); 0: no back-off
    connection_failed_authentication_delay_ms: Annotated[int, Field(strict=True, ge=0, le=10_000)] = Field(
        100, alias="connection.failed.authentication.delay.ms")
    users: tuple[BootstrapUser, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> SecuritySettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise _invalid("tls_key" if self.tls_key is None else "tls_cert",
                           "tls_cert and tls_key go together")
        if self.tls_ca is not None and self.tls_cert is None:
            raise _invalid("tls_cert", "tls_ca needs tls_cert and tls_key (the node's own certificate)")
        if self.tls_client_auth != "none" and self.tls_ca is None:
            raise _invalid("tls_ca", "client certificates are checked against tls_ca: set it")
        names = [u.name for u in self.users]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _invalid(f"users[{index}].name", f"user {name!r} is listed twice")
        return self


def _host_problem(host: str) -> str | None:
    try:
        # The host is also what other nodes and clients connect to (like Kafka's advertised.listeners).
        unreachable = ipaddress.ip_address(host).is_unspecified
        return f"{host} is not an address others can connect to; use the node's own address" if unreachable else None
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+|\[.*\]", host) or len(host) > 253 or not _HOSTNAME.fullmatch(host):
        return f"must be an IPv4/IPv6 address (no brackets) or a hostname, got {host!r}"
    return None


def _bind_host_problem(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)  # an unspecified address (0.0.0.0, ::) is fine to bind
        return None
    except ValueError:
        return _host_problem(host)


class NodeConfig(_Table):
    id: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
    roles: Annotated[tuple[Literal["controller", "broker"], ...], Field(min_length=1)]
    host: Annotated[str, Field(strict=True)] = "127.0.0.1"
    # where the listeners bind when that is not `host` (Kafka's listeners vs advertised.listeners):
    # "0.0.0.0" in a container or behind NAT, whose `host` is the address others dial
    bind_host: Annotated[str, Field(strict=True)] | None = None
    http_port: Port
    raft_port: Port | None = None
    kafka_port: Port | None = None  # the Kafka protocol listener, brokers only
    # Kafka's broker.rack: placement puts a partition's replicas on distinct racks where it can
    rack: Annotated[str, Field(strict=True, min_length=1, max_length=255)] | None = None
    data_dir: Annotated[str, Field(strict=True, min_length=1)]
    _base_dir: Path | None = PrivateAttr(default=None)
    _scheme: str = PrivateAttr(default="http")  # "https" when [security] has tls_cert

    def model_post_init(self, context: Any, /) -> None:
        self._base_dir = context.get("base_dir") if isinstance(context, dict) else None

    @model_validator(mode="after")
    def _consistent(self) -> NodeConfig:
        if problem := _host_problem(self.host):
            raise _invalid("host", problem)
        if self.bind_host is not None and (problem := _bind_host_problem(self.bind_host)):
            raise _invalid("bind_host", problem)
        for index, role in enumerate(self.roles):
            if role in self.roles[:index]:
                raise _invalid(f"roles[{index}]", f"duplicate role {role!r}")
        if self.is_controller and self.raft_port is None:
            raise _invalid("raft_port", 'required for a node with the "controller" role')
        if not self.is_controller and self.raft_port is not None:
            raise _invalid("raft_port", 'only controllers use a raft port: remove it, or add "controller" to roles')
        if self.rack is not None and not self.is_broker:
            raise _invalid("rack", 'only brokers hold replicas: remove it, or add "broker" to roles')
        if not self.is_broker and self.kafka_port is not None:
            raise _invalid("kafka_port", 'only brokers serve Kafka clients: remove it, or add "broker" to roles')
        return self

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def listen_host(self) -> str:
        """The address this node's HTTP, Kafka and Raft listeners bind."""
        return self.bind_host if self.bind_host is not None else self.host

    @property
    def source_host(self) -> str | None:
        """The address this node's own connections leave from (so a network fault can
        single it out on one machine); None: wherever the kernel routes them."""
        listen = self.listen_host
        try:
            return None if ipaddress.ip_address(listen).is_unspecified else listen
        except ValueError:
            return None  # a hostname: let the kernel pick

    @property
    def raft_bind_address(self) -> str | None:
        return None if self.raft_port is None else f"{self.listen_host}:{self.raft_port}"

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self._scheme}://{host}:{self.http_port}"

    @property
    def kafka_address(self) -> str | None:
        """host:port for Kafka clients' bootstrap.servers."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return None if self.kafka_port is None else f"{host}:{self.kafka_port}"

    @property
    def raft_address(self) -> str | None:
        """pysyncobj's "host:port" (it splits at the last ':', so IPv6 stays unbracketed)."""
        return None if self.raft_port is None else f"{self.host}:{self.raft_port}"

    @property
    def data_path(self) -> Path:
        """Absolute data dir; relative ones are resolved against the config file's directory."""
        base = self._base_dir if self._base_dir is not None else Path.cwd()
        return Path(os.path.normpath(base / Path(self.data_dir).expanduser()))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower().rstrip(".") == "localhost"


def _interface(host: str) -> str:
    """One spelling per host, so that "::1" and "0:0::1" are seen as the same."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower().rstrip(".")


def _repeated(nodes: tuple[NodeConfig, ...], field: str, what: str) -> tuple[str, str] | None:
    """The first node whose `field` (formatted by `what`) repeats an earlier node's."""
    first_index: dict[str, int] = {}
    for index, node in enumerate(nodes):
        value = what.format(node=node)
        if value in first_index:
            return f"nodes[{index}].{field}", f"{value} is already used by nodes[{first_index[value]}]"
        first_index[value] = index
    return None


def _port_clash(nodes: tuple[NodeConfig, ...]) -> tuple[str, str] | None:
    """The first (host, port) taken twice; one port may serve several hosts (127.0.0.2, .3)."""
    owners: dict[tuple[str, int], str] = {}
    for index, node in enumerate(nodes):
        for field in ("http_port", "raft_port", "kafka_port"):
            port, here = getattr(node, field), f"nodes[{index}].{field}"
            if port is not None and (owner := owners.setdefault((_interface(node.host), port), here)) != here:
                return here, f"port {port} on {node.host} is already used by {owner}"
    return None


class ClusterConfig(_Table):
    cluster: ClusterSection = Field(default_factory=lambda: ClusterSection.model_validate({}))
    # what [topic_defaults] sets, canonical, nothing filled in: what it leaves out is Kafka's
    # default (DEFAULT_CONFIG in DescribeConfigs, not the file's STATIC_BROKER_CONFIG);
    # readers fall back with topic_configs.topic_default
    topic_defaults: dict[str, str] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=lambda: Timeouts.model_validate({}))
    groups: GroupSettings = Field(default_factory=lambda: GroupSettings.model_validate({}))
    http: HttpSettings = Field(default_factory=lambda: HttpSettings.model_validate({}))
    storage: StorageSettings = Field(default_factory=lambda: StorageSettings.model_validate({}))
    # [transactions]: Kafka's broker names (transaction.max.timeout.ms, ...), checked here
    transactions: TransactionSettings = Field(default_factory=TransactionSettings)
    security: SecuritySettings | None = None
    nodes: Annotated[tuple[NodeConfig, ...], Field(min_length=1)]
    _file_name: str = PrivateAttr(default="cluster.toml")
    _path: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict):
            self._file_name = context.get("file_name", self._file_name)
            self._path = context.get("path")
            self._base_dir = context.get("base_dir") or self._base_dir

    @field_validator("transactions", mode="before")
    @classmethod
    def _transaction_settings(cls, value: Any) -> TransactionSettings:
        if isinstance(value, TransactionSettings):
            return value
        if not isinstance(value, dict):
            raise _invalid("", "must be a table of Kafka's transaction settings")
        try:
            return TransactionSettings.from_kafka_names(value)
        except UnknownSetting as exc:
            raise _invalid(_toml_key(exc.name), exc.reason) from None
        except (ValueError, TypeError) as exc:
            raise _invalid("", str(exc)) from None

    @field_validator("topic_defaults", mode="before")
    @classmethod
    def _canonical_topic_defaults(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw  # pydantic reports the wrong type
        canonical = {}
        for name, value in raw.items():
            try:
                canonical[name] = parse_config_value(name, value)
            except ConfigError as error:
                raise _invalid(_toml_key(name), error.reason) from None
        return canonical

    @property
    def kafka_bootstrap_servers(self) -> str:
        """Comma-separated host:port of every Kafka listener ("" when none is set)."""
        return ",".join(n.kafka_address for n in self.nodes if n.kafka_address)

    @model_validator(mode="after")
    def _nodes_fit_together(self) -> ClusterConfig:
        found = (
            _repeated(self.nodes, "id", "node id {node.id}")
            or _port_clash(self.nodes)
            or _repeated(self.nodes, "data_dir", "data dir {node.data_path}")
            or (not self.controllers and ("nodes", 'no node has the "controller" role; the cluster needs a quorum'))
            or (not self.brokers and ("nodes", 'no node has the "broker" role; partitions need brokers to live on'))
        )
        if found:
            raise _invalid(*found)
        for node in self.nodes:
            node._scheme = self.http_scheme
        return self

    def path_of(self, name: str) -> Path:
        """A file the config names (certificates), relative to the config file's directory."""
        return Path(os.path.normpath(self._base_dir / Path(name).expanduser()))

    @property
    def file_name(self) -> str:
        return self._file_name

    @property
    def path(self) -> Path | None:
        """The absolute config file path; None when loaded from text."""
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def controllers(self) -> tuple[NodeConfig, ...]:
        return tuple(node for node in self.nodes if node.is_controller)

    @property
    def brokers(self) -> tuple[NodeConfig, ...]:
        return tuple(node for node in self.nodes if node.is_broker)

    @property
    def warnings(self) -> list[str]:
        count = len(self.controllers)
        advice = f"{count} controllers tolerate no more failures than {count - 1}; use an odd number"
        return [f"{self._file_name}: nodes: {advice}"] if count % 2 == 0 else []

    def exposure_problem(self, node_id: int) -> str | None:
        """Why this node must not start: a listener others can reach with nobody asked
        who they are (Kafka's PLAINTEXT on a public address), unless the file says so."""
        node = self.node(node_id)
        security = self.security
        if security is not None and security.allow_unauthenticated:
            return None
        # an unsigned JWT names whoever its sender likes (a super user too): no authentication
        unsigned = security is not None and security.authentication and security.allow_unsecured_jwt
        if security is not None and security.authentication and not unsigned:
            return None
        if _is_loopback(node.host) and _is_loopback(node.listen_host):
            return None
        field, address = ("bind_host", node.bind_host) if _is_loopback(node.host) else ("host", node.host)
        if unsigned:
            return (f"{self._file_name}: nodes[id={node_id}].{field}: {address} is reachable from other "
                    "machines and [security] sasl.oauthbearer.allow.unsecured.jwt = true lets anyone "
                    "log in as anyone; set sasl.oauthbearer.jwks.endpoint.url instead, or "
                    "allow_unauthenticated = true to serve an open cluster there")
        return (f"{self._file_name}: nodes[id={node_id}].{field}: {address} is reachable from other "
                "machines and authentication is off; set [security] authentication = true (with "
                "users), or allow_unauthenticated = true to serve an open cluster there")

    @property
    def http_scheme(self) -> str:
        """Every node's HTTP port speaks TLS when [security] names a certificate."""
        return "https" if self.security is not None and self.security.tls_cert else "http"

    def node_or_none(self, node_id: int) -> NodeConfig | None:
        return next((node for node in self.nodes if node.id == node_id), None)

    def node(self, node_id: int) -> NodeConfig:
        for node in self.nodes:
            if node.id == node_id:
                return node
        known = ", ".join(str(node.id) for node in self.nodes)
        raise ConfigFileError(self._file_name, "nodes", f"no node has id {node_id} (ids in the file: {known})")


_FIXED_REASONS = {"extra_forbidden": "unknown key", "missing": "required key is missing", "too_short": "must not be empty"}


def _reason(error: Any) -> str:
    kind = error["type"]
    if kind in _FIXED_REASONS or kind == "kraft_config":  # ours are already worded as reasons
        return _FIXED_REASONS.get(kind, error["msg"])
    expected = "must be a table" if kind in ("model_type", "dict_type") else re.sub(r"^\w+ should ", "must ", error["msg"])
    given = repr(error["input"])
    return f"{expected}, got {given if len(given) <= 60 else given[:57] + '...'}"


def _error_from_validation(file_name: str, error: ValidationError) -> ConfigFileError:
    errors = error.errors(include_url=False)
    # a misspelt key shows as "unknown key" and, for a required one, also as "missing":
    # the unknown key with its suggestion says more
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    path = ""
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + _toml_key(str(part))
    sub_path = (first.get("ctx") or {}).get("sub_path", "")
    if sub_path:
        path += sub_path if sub_path.startswith("[") or not path else "." + sub_path
    reason = _reason(first)
    if first["type"] == "extra_forbidden":
        reason += did_you_mean(str(first["loc"][-1]), _keys_at(first["loc"][:-1]), cutoff=0.7)
    return ConfigFileError(file_name, path, reason)


def _keys_at(loc: tuple) -> list[str]:
    """The keys the table at `loc` (a validation error's location) may hold."""
    model: Any = ClusterConfig
    for part in loc:
        if isinstance(part, int):
            continue  # an element of a list of tables ([[nodes]])
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        if field is None:
            return []
        inner = [a for a in typing.get_args(field.annotation) if isinstance(a, type)] or [field.annotation]
        model = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def load_cluster_config_text(
    text: str, name: str = "cluster.toml", base_dir: Path | str | None = None, *, path: Path | None = None
) -> ClusterConfig:
    """Parse and validate a cluster.toml; relative data dirs resolve against base_dir (default: cwd)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        located = re.fullmatch(r"(.*?)\s*\(at (.*)\)", str(error))
        where, what = located.group(2, 1) if located else ("", str(error))
        raise ConfigFileError(name, where, f"invalid TOML: {what}") from None
    context = {"file_name": name, "path": path, "base_dir": Path(base_dir or Path.cwd()).absolute()}
    try:
        return ClusterConfig.model_validate(raw, context=context)
    except ValidationError as error:
        raise _error_from_validation(name, error) from None


def load_cluster_config(path: Path | str) -> ClusterConfig:
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = f"cannot read: {error.strerror or error}" if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigFileError(path, "", reason) from None
    return load_cluster_config_text(text, str(path), file.absolute().parent, path=file.absolute())


def check_data_dirs(config: ClusterConfig, node_ids: Iterable[int] | None = None) -> None:
    """Raise ConfigFileError unless each node's data dir is (or can be made) a usable directory."""
    wanted = None if node_ids is None else {config.node(node_id).id for node_id in node_ids}
    for index, node in enumerate(config.nodes):
        if (wanted is None or node.id in wanted) and (problem := data_dir_problem(node.data_path)):
            raise ConfigFileError(config.file_name, f"nodes[{index}].data_dir", problem)


def is_ipv4_literal(host: str) -> bool:
    """An IPv4 address (not a name): outgoing connections can then leave from it."""
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False
