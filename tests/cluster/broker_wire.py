"""Requests as another broker sends them: over kraft's own broker client
(kraft/kafka/client/broker_client.py), logged in with the brokers' credential, which every node
derives from the cluster's secret (read here from a node's data dir). On every cluster,
open ones too, only such a connection is served the brokers' own requests."""

from __future__ import annotations

import asyncio

from kraft.config.cluster_keys import peer_key
from kraft.config.data_dir import read_identity
from kraft.kafka.client.broker_client import BrokerConnection
from kraft.security.broker_login import broker_password


def broker_call(c, node: int, request, timeout_s: float = 30.0):
    """One kio request entity to `node`, as a broker; its decoded answer."""
    conf = c.config.node(node)
    password = broker_password(peer_key(read_identity(conf.data_path)))  # one secret: any node's dir

    async def one():
        connection = BrokerConnection(lambda: (conf.host, conf.kafka_port), "test-broker", None, password)
        try:
            return await connection.request(request, timeout_s)
        finally:
            await connection.close()
    return asyncio.run(one())
