"""TLS contexts from [security]'s files: one for the node's listeners (HTTP API, Kafka),
one for its requests to other nodes, which check their certificates against tls_ca
and present the node's own (so mTLS-required peers accept it)."""

from __future__ import annotations

import ssl

from kraft.config.cluster import ClusterConfig

_CLIENT_AUTH = {"none": ssl.CERT_NONE, "requested": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def server_context(config: ClusterConfig) -> ssl.SSLContext | None:
    s = config.security
    if s is None or s.tls_cert is None or s.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.path_of(s.tls_cert), config.path_of(s.tls_key))
    if s.tls_ca is not None:
        context.load_verify_locations(config.path_of(s.tls_ca))
    context.verify_mode = _CLIENT_AUTH[s.tls_client_auth]
    return context


def client_context(config: ClusterConfig) -> ssl.SSLContext | None:
    s = config.security
    if s is None or s.tls_cert is None or s.tls_key is None:
        return None
    context = ssl.create_default_context(
        cafile=str(config.path_of(s.tls_ca)) if s.tls_ca is not None else None)
    context.load_cert_chain(config.path_of(s.tls_cert), config.path_of(s.tls_key))
    return context

