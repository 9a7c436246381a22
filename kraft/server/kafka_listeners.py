"""A broker's Kafka listeners: the one clients use (`kafka_port`) and, with
`inter_broker_port`, one of its own for the other brokers (Kafka's
inter.broker.listener.name naming a separate listener), so a listener full of clients
never refuses a follower's fetch, a marker or a check."""

from __future__ import annotations

import logging
import ssl

from kraft.broker.services import BrokerServices
from kraft.config.node_config import NodeConfig
from kraft.kafka.connection.listener import KafkaListener
from kraft.server.metrics import NodeMetrics
from kraft.server.startup_failure import listening

log = logging.getLogger(__name__)


class KafkaListeners:
    def __init__(self, services: BrokerServices, node: NodeConfig, tls: ssl.SSLContext | None,
                 metrics: NodeMetrics) -> None:
        assert node.kafka_port is not None  # a broker's (config check)
        self._node = node
        self.clients = KafkaListener(services, node.listen_host, node.kafka_port, tls)
        metrics.watch_kafka(self.clients)
        self.brokers = None if node.inter_broker_port is None else KafkaListener(
            services, node.listen_host, node.inter_broker_port, tls, brokers_only=True,
            shares_with=self.clients)  # one KIP-227 cache and one bytes budget per broker, as Kafka's

    async def start(self) -> None:
        node = self._node
        await listening("Kafka port", f"{node.listen_host}:{node.kafka_port}", self.clients.start())
        log.info("node %d serving Kafka clients on %s", node.id, node.kafka_address)
        if self.brokers is not None:
            await listening("inter-broker port", f"{node.listen_host}:{node.inter_broker_port}", self.brokers.start())
            log.info("node %d serving the other brokers on port %d", node.id, node.inter_broker_port)

    async def close(self) -> None:
        for listener in (self.brokers, self.clients):
            if listener is not None:
                await listener.close()
