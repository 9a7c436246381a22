"""One [[nodes]] entry of cluster.toml: its roles, addresses, ports and data dir."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from kraft.config.toml_tables import Port, Table, invalid

_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


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


class NodeConfig(Table):
    id: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
    roles: Annotated[tuple[Literal["controller", "broker"], ...], Field(min_length=1)]
    host: Annotated[str, Field(strict=True)] = "127.0.0.1"
    # where the listeners bind when that is not `host` (Kafka's listeners vs advertised.listeners):
    # "0.0.0.0" in a container or behind NAT, whose `host` is the address others dial
    bind_host: Annotated[str, Field(strict=True)] | None = None
    http_port: Port
    raft_port: Port | None = None
    kafka_port: Port | None = None  # the Kafka protocol listener, brokers only
    # a Kafka listener for the other brokers only (Kafka's inter.broker.listener.name naming
    # a listener of its own): followers fetch, markers and checks travel here, apart from
    # clients and their connection limits; none: the brokers use kafka_port
    inter_broker_port: Port | None = None
    # Confluent Schema Registry's REST API (kraft/registry); none: this node serves no registry
    schema_registry_port: Port | None = None
    # Kafka's broker.rack: placement puts a partition's replicas on distinct racks where it can
    rack: Annotated[str, Field(strict=True, min_length=1, max_length=255)] | None = None
    data_dir: Annotated[str, Field(strict=True, min_length=1)]
    _base_dir: Path | None = PrivateAttr(default=None)
    _scheme: str = PrivateAttr(default="http")  # "https" when [security] has tls_cert
    _host_name: str | None = PrivateAttr(default=None)  # the [[hosts]] entry it is a process of

    def model_post_init(self, context: Any, /) -> None:
        self._base_dir = context.get("base_dir") if isinstance(context, dict) else None

    @model_validator(mode="after")
    def _consistent(self) -> NodeConfig:
        if problem := _host_problem(self.host):
            raise invalid("host", problem)
        if self.bind_host is not None and (problem := _bind_host_problem(self.bind_host)):
            raise invalid("bind_host", problem)
        for index, role in enumerate(self.roles):
            if role in self.roles[:index]:
                raise invalid(f"roles[{index}]", f"duplicate role {role!r}")
        if self.is_controller and self.raft_port is None:
            raise invalid("raft_port", 'required for a node with the "controller" role')
        if not self.is_controller and self.raft_port is not None:
            raise invalid("raft_port", 'only controllers use a raft port: remove it, or add "controller" to roles')
        if self.rack is not None and not self.is_broker:
            raise invalid("rack", 'only brokers hold replicas: remove it, or add "broker" to roles')
        if self.is_broker and self.kafka_port is None:  # brokers replicate over Kafka
            raise invalid("kafka_port", 'required for a node with the "broker" role: the other brokers '
                                        "fetch from it there, as Kafka clients do")
        if not self.is_broker and self.kafka_port is not None:
            raise invalid("kafka_port", 'only brokers serve Kafka clients: remove it, or add "broker" to roles')
        if not self.is_broker and self.inter_broker_port is not None:
            raise invalid("inter_broker_port", 'only brokers fetch from each other: remove it, or add "broker" to roles')
        return self

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def host_name(self) -> str | None:
        """The [[hosts]] entry this node is a process of (its failure domain); None: a
        [[nodes]] entry, a host of its own."""
        return self._host_name

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
    def schema_registry_url(self) -> str | None:
        """What a client's schema.registry.url lists for this node."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return None if self.schema_registry_port is None else f"{self._scheme}://{host}:{self.schema_registry_port}"

    @property
    def raft_address(self) -> str | None:
        """pysyncobj's "host:port" (it splits at the last ':', so IPv6 stays unbracketed)."""
        return None if self.raft_port is None else f"{self.host}:{self.raft_port}"

    @property
    def data_path(self) -> Path:
        """Absolute data dir; relative ones are resolved against the config file's directory."""
        base = self._base_dir if self._base_dir is not None else Path.cwd()
        return Path(os.path.normpath(base / Path(self.data_dir).expanduser()))
