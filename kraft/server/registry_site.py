"""The schema registry's port on this node (`schema_registry_port` in cluster.toml):
built once the broker services exist, opened beside the HTTP port, its follower among
the node's loops, closed with the node."""

from __future__ import annotations

import ssl

from aiohttp import web

from kraft.broker.schema_id_cache import SchemaIdCache
from kraft.api.cors import cors_middleware, peer_origins
from kraft.broker.services import BrokerServices
from kraft.config.cluster import ClusterConfig
from kraft.errors import BrokerNotAvailable
from kraft.internode.peers import Peers
from kraft.registry.app import build_app
from kraft.registry.schema_ids import RegistrySchemaIds
from kraft.registry.service import SchemaRegistry
from kraft.schemas.format_table import FORMATS
from kraft.server.startup_failure import listening
from kraft.server.wrong_door import rest_path_at_registry

SHUTDOWN_GRACE_S = 2.0


def registry_site(config: ClusterConfig, node_id: int, peer_key: bytes, tls_server: ssl.SSLContext | None,
                  tls_client: ssl.SSLContext | None) -> RegistrySite | None:
    """The node's registry port, or None without `schema_registry_port`. With [security] it
    serves TLS as the HTTP port does (the same context) and takes the cluster's users and
    ACLs (kraft/registry/security.py)."""
    if config.node(node_id).schema_registry_port is None:
        return None
    return RegistrySite(config, node_id, peer_key, tls_server, tls_client)


class RegistrySite:
    def __init__(self, config: ClusterConfig, node_id: int, peer_key: bytes,
                 tls_server: ssl.SSLContext | None, tls_client: ssl.SSLContext | None) -> None:
        self._config = config
        self._node = config.node(node_id)
        self._peer_key = peer_key
        self._tls_server = tls_server
        # forwarded writes go to the writer's registry port, signed as every node-to-node call
        self.peers = Peers(peer_key, self._registry_url, self._node.source_host, tls_client)
        self.registry: SchemaRegistry | None = None
        self._runner: web.AppRunner | None = None

    def _registry_url(self, node_id: int) -> str:
        node = self._config.node_or_none(node_id)
        url = node.schema_registry_url if node is not None else None
        if url is None:  # a broker this file does not name: the write retries until the leader moves
            raise BrokerNotAvailable(f"node {node_id} leads _schemas but serves no schema registry here")
        return url

    def build(self, services: BrokerServices) -> None:
        self.registry = SchemaRegistry(services, FORMATS, self.peers)
        # the broker's schema ID validation reads ids from this node's registry
        services.data_plane.schema_ids = SchemaIdCache(RegistrySchemaIds(
            self.registry.follower, self.registry.parser))
        registry = self.registry

        async def registry_state():  # Iceberg topics' schema modes decode values with it
            return await registry.current_state(), registry.parser
        services.data_plane.registry_state = registry_state
        cors = cors_middleware(self._config.http, peer_origins(self._config))  # the console's pages call it
        hint = rest_path_at_registry(self._node)  # a REST path here: a 404 naming the HTTP port
        self._runner = web.AppRunner(build_app(self.registry, self._peer_key, (cors, hint)), access_log=None,
                                     handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)

    async def start(self) -> None:
        assert self._runner is not None, "build() first"
        await self.peers.open()
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._node.listen_host, self._node.schema_registry_port,
                           reuse_address=True, ssl_context=self._tls_server)
        await listening("schema registry port", f"{self._node.listen_host}:{self._node.schema_registry_port}",
                        site.start())

    async def run(self) -> None:
        assert self.registry is not None, "build() first"
        await self.registry.run()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.peers.close()
