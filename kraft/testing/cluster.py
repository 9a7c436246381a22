"""An embeddable kraft cluster for tests and scripts.

    with kraft.testing.Cluster(nodes=3) as c:
        producer = confluent_kafka.Producer({"bootstrap.servers": c.bootstrap_servers})
        topic = c.new_topic(partitions=3)
        c.kill_leader(topic, 0)

Real node processes on loopback (LocalCluster), each on its own claimed 127.0.0.N, with
their data in a directory of the caller's choosing (a temporary one by default). Every
node ends with the process that started it, even one killed outright.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kraft.server.local_cluster import LocalCluster
from kraft.server.owner_exit import OWNER_ENV
from kraft.testing.addresses import AddressClaim
from kraft.testing.admin import Admin
from kraft.testing.faults import FaultMethods
from kraft.testing.security import ClusterSecurity
from kraft.testing.security import prepare as prepare_security

START_WAIT_S = 120.0  # a 3-node quorum on a busy 2-core runner takes seconds, not minutes
LOG_TAIL_LINES = 20


class ClusterStartError(RuntimeError):
    """The cluster did not come up; the message holds each node's log tail."""


class Cluster(FaultMethods):
    def __init__(self, nodes: int = 3, *, topic_defaults: dict | None = None, data_dir: str | os.PathLike | None = None,
                 security: bool = False, start_wait_s: float = START_WAIT_S, **options):
        """nodes: 1 or more (3 for a quorum that survives a node's loss); topic_defaults:
        [topic_defaults] settings by Kafka's topic config names, e.g.
        {"min.insync.replicas": 2}; data_dir: where the nodes keep their data (a new
        temporary directory, removed at close, when None); security: TLS on every
        listener, SASL and HTTP Basic, with a ready super user (.user, .password,
        .ca_file, client_config()); options: any other LocalCluster setting (cluster=,
        groups=, timeouts=, extra_toml=, lazy_fs=, ...)."""
        if security and "[security]" in options.get("extra_toml", ""):
            raise ValueError("security=True writes the [security] table itself: leave it out of extra_toml")
        self.nodes = nodes
        self.security: ClusterSecurity | None = None
        self._secure = security
        self._security_dir: tempfile.TemporaryDirectory | None = None
        self.start_wait_s = start_wait_s
        self._options = {"topic_defaults": topic_defaults, **options}
        self._data_dir = None if data_dir is None else Path(data_dir)
        self._claim: AddressClaim | None = None
        self.local: LocalCluster  # set by start()
        self.admin: Admin

    # -- life --------------------------------------------------------------------------------
    def start(self) -> "Cluster":
        """Start every node and return once each serves; on failure the nodes are stopped
        and ClusterStartError says why, with each node's log tail."""
        self._claim = AddressClaim(self.nodes)
        env = {**self._options.pop("env", {}), OWNER_ENV: str(os.getpid())}
        try:
            options = self._secured(self._options) if self._secure else self._options
            self.local = LocalCluster(self.nodes, base_dir=self._data_dir, first_address=self._claim.first,
                                      env=env, **options)
        except BaseException:
            self._claim.release()
            self._drop_security_dir()
            raise
        if self.security is not None:
            self.local.tls = self.security.ssl_context()
        self.admin = Admin(self.local)
        try:
            self.local.start()
            self.local.wait_ready(timeout_s=self.start_wait_s)
        except (TimeoutError, RuntimeError, OSError) as exc:
            tails = "\n".join(f"--- node {n} ({self.local.log_path(n)}):\n{self._tail(n)}" for n in self.node_ids)
            self.close()
            raise ClusterStartError(f"kraft cluster of {self.nodes} did not start: {exc}\n{tails}") from None
        return self

    def close(self) -> None:
        """Stop every node (kill -9: a test cluster keeps nothing), remove the network
        faults and the temporary data, and free the addresses."""
        try:
            self._close_network()
        finally:
            if hasattr(self, "local"):
                self.local.close()
            self._drop_security_dir()
            if self._claim is not None:
                self._claim.release()
                self._claim = None

    def _secured(self, options: dict) -> dict:
        """The LocalCluster options with TLS material, the [security] table and the ready
        user's REST credentials, made for the claimed addresses."""
        assert self._claim is not None
        hosts = [f"127.0.0.{self._claim.first + i}" for i in range(self.nodes)]
        if self._data_dir is None:
            self._security_dir = tempfile.TemporaryDirectory(prefix="kraft-tls-")
            folder = Path(self._security_dir.name)
        else:
            folder = self._data_dir / "tls"
        self.security = prepare_security(folder, hosts)
        return {**options, "extra_toml": options.get("extra_toml", "") + "\n" + self.security.toml(),
                "headers": {**self.security.rest_headers(), **options.get("headers", {})}}

    def _drop_security_dir(self) -> None:
        if self._security_dir is not None:
            self._security_dir.cleanup()
            self._security_dir = None

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- handles -----------------------------------------------------------------------------
    def client_config(self) -> dict:
        """A Kafka client's connection settings (confluent-kafka's names): bootstrap.servers,
        and on a secured cluster SASL_SSL as the ready user with the cluster's CA."""
        return {"bootstrap.servers": self.bootstrap_servers, **(self.security.client_config() if self.security else {})}

    def _credentials(self) -> tuple[str, str] | None:
        return (self.security.user, self.security.password) if self.security else None

    @property
    def user(self) -> str | None:
        """The secured cluster's ready user (a super user); None without security."""
        return self.security.user if self.security else None

    @property
    def password(self) -> str | None:
        return self.security.password if self.security else None

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate (PEM) that signed every node's certificate."""
        return self.security.ca_file if self.security else None

    @property
    def bootstrap_servers(self) -> str:
        """host:port of every node's Kafka listener, for a client's bootstrap.servers."""
        return self.local.bootstrap_servers

    @property
    def schema_registry_url(self) -> str:
        """Every node's schema registry, for a client's schema.registry.url ("" with
        security on: the registry does not authenticate clients yet, so it is not opened)."""
        return self.local.schema_registry_url

    @property
    def rest_url(self) -> str:
        """The first node's REST base URL (every node serves the whole API)."""
        return self.local.url(self.node_ids[0])

    @property
    def rest_urls(self) -> list[str]:
        return [self.local.url(n) for n in self.node_ids]

    @property
    def cluster_id(self) -> str:
        return self.local.cluster_id

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.local.hosts)

    def new_topic(self, partitions: int = 1, replication_factor: int | None = None,
                  configs: dict[str, str] | None = None, prefix: str = "test") -> str:
        """A freshly created topic of a unique name, every partition led: tests sharing
        a cluster never see each other's records."""
        return self.admin.new_topic(partitions, replication_factor, configs, prefix)

    def running(self, node: int) -> bool:
        return self.local.running(node)

    def log_path(self, node: int) -> Path:
        return self.local.log_path(node)

    def _tail(self, node: int) -> str:
        try:
            lines = self.local.log_path(node).read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty log)"
