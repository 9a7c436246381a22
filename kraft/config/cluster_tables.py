"""The tables of cluster.toml other than [[nodes]]: [cluster], [timeouts], [groups],
[storage], [http] and [security] (docs/API.md)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from kraft.config.connection_overrides import parse_overrides
from kraft.config.data_dir import cluster_id_problem
from kraft.config.oauthbearer_settings import OAuthBearerSettings
from kraft.config.toml_tables import PositiveMs, Table, invalid


def _kafka_style_cluster_id(value: str) -> str:
    if problem := cluster_id_problem(value):
        raise invalid("", problem)
    return value


# KIP-392: the replica selectors kraft implements, by Kafka's class names
RACK_AWARE_REPLICA_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
REPLICA_SELECTORS = (RACK_AWARE_REPLICA_SELECTOR,)


def _known_replica_selector(value: str) -> str:
    if value not in REPLICA_SELECTORS:
        raise invalid("", f"kraft implements {', '.join(REPLICA_SELECTORS)}, got {value!r}")
    return value


def _connection_overrides(value: str) -> str:
    try:
        parse_overrides(value)
    except ValueError as exc:
        raise invalid("", str(exc)) from None
    return value


class ClusterSection(Table):
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
    # kraft's (Kafka has none): a connection whose first request (and TLS handshake) is not
    # in this long after it opened is closed. Clients send ApiVersions the moment they
    # connect, so 10 s is ample even for a loaded client, and a silent flood's slots free
    # in seconds, not after connections.max.idle.ms
    connections_first_request_timeout_ms: Annotated[int, Field(strict=True, ge=100, le=3_600_000)] = Field(
        10_000, alias="connections.first.request.timeout.ms")


class Timeouts(Table):
    broker_session_timeout_ms: PositiveMs = Field(3000, alias="broker.session.timeout.ms")
    broker_heartbeat_interval_ms: PositiveMs = Field(500, alias="broker.heartbeat.interval.ms")
    replica_lag_time_max_ms: PositiveMs = Field(5000, alias="replica.lag.time.max.ms")
    controller_request_timeout_ms: PositiveMs = Field(5000, alias="controller.request.timeout.ms")
    # the metadata quorum's timers, as Kafka's (kraft/quorum/raft_timing.py says how they are used)
    controller_quorum_fetch_timeout_ms: PositiveMs = Field(2000, alias="controller.quorum.fetch.timeout.ms")
    controller_quorum_election_timeout_ms: PositiveMs = Field(1000, alias="controller.quorum.election.timeout.ms")
    # KIP-368: a SASL login lasts this long, then the client re-authenticates on its
    # connection or the broker closes it; 0 (Kafka's default): a login lasts as long as it
    connections_max_reauth_ms: Annotated[int, Field(strict=True, ge=0)] = Field(0, alias="connections.max.reauth.ms")

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> Timeouts:
        # A heartbeat no more frequent than the session timeout fences healthy brokers.
        heartbeat, session = self.broker_heartbeat_interval_ms, self.broker_session_timeout_ms
        if heartbeat >= session:
            reason = f'must be less than "broker.session.timeout.ms" ({session}), got {heartbeat}'
            raise invalid('"broker.heartbeat.interval.ms"', reason)
        return self


def _server_assignors(value: str) -> str:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names or any(n not in ("uniform", "range") for n in names):
        raise invalid("", f'the server assignors are a comma-separated list of "uniform" and "range", got {value!r}')
    return value


class GroupSettings(Table):
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

    # KIP-932 share groups, under Kafka's broker names and defaults
    share_record_lock_duration_ms: Annotated[int, Field(strict=True, ge=1000, le=3_600_000)] = Field(
        30_000, alias="group.share.record.lock.duration.ms")
    share_delivery_count_limit: Annotated[int, Field(strict=True, ge=2, le=10)] = Field(
        5, alias="group.share.delivery.count.limit")
    share_session_timeout_ms: Annotated[int, Field(strict=True, ge=1000)] = Field(
        45_000, alias="group.share.session.timeout.ms")
    share_heartbeat_interval_ms: Annotated[int, Field(strict=True, ge=100)] = Field(
        5_000, alias="group.share.heartbeat.interval.ms")
    share_partition_max_record_locks: Annotated[int, Field(strict=True, ge=100, le=10_000)] = Field(
        2_000, alias="group.share.partition.max.record.locks")
    share_max_size: Annotated[int, Field(strict=True, ge=1, le=1000)] = Field(
        200, alias="group.share.max.size")
    # KIP-1191: a share group's dead-letter topic must start with this (Kafka's name and default)
    dead_letter_topic_prefix: Annotated[str, Field(strict=True, max_length=200)] = Field(
        "dlq.", alias="errors.deadletterqueue.topic.name.prefix")
    share_state_topic_partitions: Annotated[int, Field(strict=True, ge=1, le=1000)] = Field(
        50, alias="share.coordinator.state.topic.num.partitions")
    share_state_topic_replication_factor: Annotated[int, Field(strict=True, ge=1)] = Field(
        3, alias="share.coordinator.state.topic.replication.factor")

    @model_validator(mode="after")
    def _consumer_heartbeat_within_session(self) -> GroupSettings:
        heartbeat, session = self.consumer_heartbeat_interval_ms, self.consumer_session_timeout_ms
        if heartbeat >= session:
            reason = f'must be less than "group.consumer.session.timeout.ms" ({session}), got {heartbeat}'
            raise invalid('"group.consumer.heartbeat.interval.ms"', reason)
        heartbeat, session = self.share_heartbeat_interval_ms, self.share_session_timeout_ms
        if heartbeat >= session:
            reason = f'must be less than "group.share.session.timeout.ms" ({session}), got {heartbeat}'
            raise invalid('"group.share.heartbeat.interval.ms"', reason)
        return self

    def consumer_group_config(self) -> tuple[int, int, tuple[str, ...]]:
        """(session timeout, heartbeat interval, server assignors, the default first)."""
        return (self.consumer_session_timeout_ms, self.consumer_heartbeat_interval_ms,
                tuple(n.strip() for n in self.consumer_assignors.split(",") if n.strip()))


class StorageSettings(Table):
    """The background scrubber: each broker re-reads its closed segments and checks every
    batch's CRC, at most this many MB a second (0 turns it off), starting a new pass at
    most once per interval. Damage it finds is repaired from a healthy replica."""

    scrub_rate_mb_s: Annotated[float, Field(strict=False, ge=0, le=10_000)] = Field(
        8.0, alias="scrub.rate.mb.s")
    scrub_interval_s: Annotated[float, Field(strict=False, gt=0, le=30 * 86_400)] = Field(
        600.0, alias="scrub.interval.s")


# a bucket as S3 names them (3-63 of lower-case letters, digits, dots and hyphens), then
# a prefix of non-empty segments, none "." or ".." (pyiceberg writes keys as spelt)
_S3_WAREHOUSE = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/(?!\.\.?(/|$))[^\s/?#]+)*/?")
_ENDPOINT = re.compile(r"https?://[^/\s]+/?")


def _warehouse(value: str) -> str:
    if "://" in value and not _S3_WAREHOUSE.fullmatch(value):
        raise invalid("", f"a warehouse is a directory or s3://bucket/prefix, got {value!r}")
    return value


def _endpoint(value: str) -> str:
    if value and not _ENDPOINT.fullmatch(value):
        raise invalid("", f"an endpoint is scheme://host[:port], got {value!r}")
    return value


_CATALOG_URI = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")


def _catalog_uri(value: str) -> str:
    if value and not _CATALOG_URI.fullmatch(value):
        raise invalid("", f"a catalog uri is http(s)://host[:port][/path], got {value!r}")
    return value


class IcebergSettings(Table):
    """Iceberg topics (docs/ICEBERG.md): the warehouse, a directory relative to the config
    file's directory or an object store's `s3://bucket/prefix`. Every node writes tables'
    files there and the committer reads what the others staged, so on several machines it
    must be one bucket, or one shared directory mounted at the same path on each. Empty:
    `iceberg` beside each node's data dir (the nodes of one machine share it).
    s3.endpoint: an S3-compatible store's URL (empty: AWS's own); s3.region: the bucket's
    region. Credentials come from the nodes' environment (the AWS SDK's chain).
    catalog.uri: an Iceberg REST catalog that holds the tables (empty: kraft's own), in
    namespace catalog.namespace; catalog.warehouse: the warehouse name that catalog wants,
    if any."""

    warehouse: Annotated[str, Field(strict=True, max_length=4096), AfterValidator(_warehouse)] = ""
    s3_endpoint: Annotated[str, Field(strict=True, max_length=1024), AfterValidator(_endpoint)] = Field(
        "", alias="s3.endpoint")
    s3_region: Annotated[str, Field(strict=True, max_length=64, pattern=r"^[a-z0-9-]*$")] = Field(
        "", alias="s3.region")
    # an external Iceberg REST catalog holds the tables instead of kraft's own (its
    # credentials: pyiceberg's configuration of catalog `kraft`, in the nodes' environment)
    catalog_uri: Annotated[str, Field(strict=True, max_length=1024), AfterValidator(_catalog_uri)] = Field(
        "", alias="catalog.uri")
    catalog_namespace: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9_-]{1,128}$")] = Field(
        "kraft", alias="catalog.namespace")
    catalog_warehouse: Annotated[str, Field(strict=True, max_length=1024)] = Field("", alias="catalog.warehouse")
    # the table coordinators' internal topic (__iceberg_coordinator): a table's commits run
    # where the partition its topic's name hashes to is led
    coordinator_topic_partitions: Annotated[int, Field(strict=True, ge=1, le=1000)] = Field(
        10, alias="coordinator.topic.num.partitions")
    coordinator_topic_replication_factor: Annotated[int, Field(strict=True, ge=1)] = Field(
        3, alias="coordinator.topic.replication.factor")


_ORIGIN = re.compile(r"https?://[^/\s,]+")


def _origins(value: str) -> str:
    for origin in (o.strip() for o in value.split(",")):
        if origin and origin != "*" and not _ORIGIN.fullmatch(origin):
            raise invalid("", f'an allowed origin is "*" or scheme://host[:port], got {origin!r}')
    return value


class HttpSettings(Table):
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


class BootstrapUser(Table):
    """Created (as a salted SCRAM credential in the metadata log) when no credential of
    that name exists yet; a password changed later through the API is kept."""

    name: Annotated[str, Field(strict=True, min_length=1, max_length=256)]
    password: Annotated[str, Field(strict=True, min_length=1, max_length=1024)]
    mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-256"

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if problem := user_name_problem(name):
            raise invalid("", problem)
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
            raise invalid("tls_key" if self.tls_key is None else "tls_cert",
                           "tls_cert and tls_key go together")
        if self.tls_ca is not None and self.tls_cert is None:
            raise invalid("tls_cert", "tls_ca needs tls_cert and tls_key (the node's own certificate)")
        if self.tls_client_auth != "none" and self.tls_ca is None:
            raise invalid("tls_ca", "client certificates are checked against tls_ca: set it")
        names = [u.name for u in self.users]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise invalid(f"users[{index}].name", f"user {name!r} is listed twice")
        return self
