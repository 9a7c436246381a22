"""cluster.toml (docs/API.md): the model, the loader, and the data-dir check run before any port is bound.
The tables are in cluster_tables.py ([[nodes]]: node_config.py), importable from here too.

Every mistake becomes one line, `<file>: <key path>: <reason>`. Loading does no I/O but reading the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Iterable

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator, model_validator

from kraft.config.cluster_tables import (  # noqa: F401 - cluster.toml's tables, named from here too
    RACK_AWARE_REPLICA_SELECTOR,
    REPLICA_SELECTORS,
    BootstrapUser,
    ClusterSection,
    GroupSettings,
    HttpSettings,
    IcebergSettings,
    SecuritySettings,
    StorageSettings,
    Timeouts,
    user_name_problem,
)
from kraft.config.data_dir import data_dir_problem
from kraft.config.host_config import HostConfig
from kraft.config.node_config import NodeConfig
from kraft.config.suggestion import did_you_mean
from kraft.config.toml_tables import Table, invalid, toml_key
from kraft.config.topic_configs import ConfigError, parse_config_value
from kraft.config.transaction_settings import TransactionSettings, UnknownSetting


class ConfigFileError(Exception):
    """A config mistake, as one line: `<file>: <key path>: <reason>`."""

    def __init__(self, file: str | os.PathLike[str], key_path: str, reason: str) -> None:
        self.file, self.key_path, self.reason = str(file), key_path, reason
        super().__init__(": ".join(part for part in (self.file, key_path, reason) if part))


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


def _repeated(nodes: tuple[NodeConfig, ...], labels: list[str], field: str, what: str) -> tuple[str, str] | None:
    """The first node whose `field` (formatted by `what`) repeats an earlier node's;
    labels: where each node is written (nodes[i], or the [[hosts]] entry it comes from)."""
    first_index: dict[str, int] = {}
    for index, node in enumerate(nodes):
        value = what.format(node=node)
        if value in first_index:
            return f"{labels[index]}.{field}", f"{value} is already used by {labels[first_index[value]]}"
        first_index[value] = index
    return None


def _port_clash(nodes: tuple[NodeConfig, ...], labels: list[str]) -> tuple[str, str] | None:
    """The first (host, port) taken twice; one port may serve several hosts (127.0.0.2, .3)."""
    owners: dict[tuple[str, int], str] = {}
    for index, node in enumerate(nodes):
        for field in ("http_port", "raft_port", "kafka_port", "inter_broker_port", "schema_registry_port"):
            port, here = getattr(node, field), f"{labels[index]}.{field}"
            if port is not None and (owner := owners.setdefault((_interface(node.host), port), here)) != here:
                return here, f"port {port} on {node.host} is already used by {owner}"
    return None


def _host_nodes(hosts: tuple[HostConfig, ...], base_dir: Path) -> tuple[list[NodeConfig], list[str]]:
    """The nodes the [[hosts]] entries stand for, and where each is written."""
    nodes: list[NodeConfig] = []
    labels: list[str] = []
    for index, host in enumerate(hosts):
        for table in host.node_tables():
            try:
                node = NodeConfig.model_validate(table, context={"base_dir": base_dir})
            except ValidationError as error:  # only the address can be wrong here
                raise invalid(f"hosts[{index}].address", _reason(error.errors(include_url=False)[0])) from None
            node._host_name = host.name
            nodes.append(node)
            labels.append(f"hosts[{index}] (node {node.id})")
    return nodes, labels


def _repeated_host_names(hosts: tuple[HostConfig, ...]) -> tuple[str, str] | None:
    first: dict[str, int] = {}
    for index, host in enumerate(hosts):
        if (earlier := first.setdefault(host.name.lower(), index)) != index:  # "A" and "a": one machine
            return f"hosts[{index}].name", f"host {host.name!r} is already named by hosts[{earlier}]"
    return None


def _registry_gap(nodes: tuple[NodeConfig, ...], labels: list[str]) -> tuple[str, str] | None:
    """A broker without a schema_registry_port when another node has one: that broker may
    lead `_schemas`, where every node's registry sends its writes."""
    if not any(n.schema_registry_port for n in nodes):
        return None
    for index, node in enumerate(nodes):
        if node.is_broker and node.schema_registry_port is None:
            return (f"{labels[index]}.schema_registry_port", "required on every broker once a node has one "
                    "(the registry's writes go to the broker that leads _schemas)")
    return None


class ClusterConfig(Table):
    cluster: ClusterSection = Field(default_factory=lambda: ClusterSection.model_validate({}))
    # what [topic_defaults] sets, canonical, nothing filled in: what it leaves out is Kafka's
    # default (DEFAULT_CONFIG in DescribeConfigs, not the file's STATIC_BROKER_CONFIG);
    # readers fall back with topic_configs.topic_default
    topic_defaults: dict[str, str] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=lambda: Timeouts.model_validate({}))
    groups: GroupSettings = Field(default_factory=lambda: GroupSettings.model_validate({}))
    http: HttpSettings = Field(default_factory=lambda: HttpSettings.model_validate({}))
    storage: StorageSettings = Field(default_factory=lambda: StorageSettings.model_validate({}))
    iceberg: IcebergSettings = Field(default_factory=lambda: IcebergSettings.model_validate({}))
    # [transactions]: Kafka's broker names (transaction.max.timeout.ms, ...), checked here
    transactions: TransactionSettings = Field(default_factory=TransactionSettings)
    security: SecuritySettings | None = None
    # [[nodes]] as written, then the processes of every [[hosts]] entry (host_config.py)
    nodes: tuple[NodeConfig, ...] = ()
    hosts: tuple[HostConfig, ...] = ()
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
            raise invalid("", "must be a table of Kafka's transaction settings")
        try:
            return TransactionSettings.from_kafka_names(value)
        except UnknownSetting as exc:
            raise invalid(toml_key(exc.name), exc.reason) from None
        except (ValueError, TypeError) as exc:
            raise invalid("", str(exc)) from None

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
                raise invalid(toml_key(name), error.reason) from None
        return canonical

    @property
    def kafka_bootstrap_servers(self) -> str:
        """Comma-separated host:port of every Kafka listener ("" when none is set)."""
        return ",".join(n.kafka_address for n in self.nodes if n.kafka_address)

    @property
    def schema_registry_urls(self) -> str:
        """What a client's schema.registry.url lists: every node's schema registry ("" when
        none has a port); https with [security]'s TLS, as every listener."""
        return ",".join(n.schema_registry_url for n in self.nodes if n.schema_registry_url)

    @model_validator(mode="after")
    def _nodes_fit_together(self) -> ClusterConfig:
        if not self.nodes and not self.hosts:
            raise invalid("nodes", "required key is missing (or [[hosts]] entries)")
        labels = [f"nodes[{index}]" for index in range(len(self.nodes))]
        if self.hosts:
            derived, host_labels = _host_nodes(self.hosts, self._base_dir)
            object.__setattr__(self, "nodes", self.nodes + tuple(derived))
            labels += host_labels
        found = (
            _repeated(self.nodes, labels, "id", "node id {node.id}")
            or _port_clash(self.nodes, labels)
            or _repeated(self.nodes, labels, "data_dir", "data dir {node.data_path}")
            or _repeated_host_names(self.hosts)
            or (not self.controllers and ("nodes", 'no node has the "controller" role; the cluster needs a quorum'))
            or (not self.brokers and ("nodes", 'no node has the "broker" role; partitions need brokers to live on'))
            or _registry_gap(self.nodes, labels)
        )
        if found:
            raise invalid(*found)
        for node in self.nodes:
            node._scheme = self.http_scheme
        return self

    def path_of(self, name: str) -> Path:
        """A file the config names (certificates), relative to the config file's directory."""
        return Path(os.path.normpath(self._base_dir / Path(name).expanduser()))

    def iceberg_warehouse(self, node_id: int) -> str:
        """Where Iceberg topics' files go for this node, as a URI: [iceberg] warehouse (an
        s3:// one as it is), else `iceberg` beside its data dir (one directory the nodes of
        a machine share)."""
        if self.iceberg.warehouse.startswith("s3://"):
            return self.iceberg.warehouse.rstrip("/")
        if self.iceberg.warehouse:
            return self.path_of(self.iceberg.warehouse).as_uri()
        return (self.node(node_id).data_path.parent / "iceberg").as_uri()

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
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + toml_key(str(part))
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
