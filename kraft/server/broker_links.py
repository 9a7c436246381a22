"""How this node reaches other brokers over Kafka (Kafka's inter-broker listener): the
address each registered, the cluster's TLS, and the brokers' own login (on every
cluster, open ones too). Followers fetch over these connections (kraft/kafka/client/follower_fetch.py), and
transaction markers and checks travel on them (kraft/kafka/client/txn_calls.py), and the REST
door's produce and reads at a leader elsewhere (kraft/kafka/client/leader_calls.py)."""

from __future__ import annotations

from collections.abc import Callable

from kraft.config.cluster import ClusterConfig
from kraft.kafka.client.broker_client import BrokerConnection
from kraft.kafka.client.broker_pool import BrokerPool
from kraft.kafka.client.follower_fetch import FollowerFetchChannel
from kraft.kafka.client.leader_calls import LeaderCalls
from kraft.kafka.client.share_state_calls import ShareStateCalls
from kraft.kafka.client.txn_calls import TxnCalls
from kraft.metadata.image import MetadataImage
from kraft.security.broker_login import broker_credential, broker_password
from kraft.server import tls


class BrokerLinks:
    def __init__(self, config: ClusterConfig, node_id: int, image_of: Callable[[], MetadataImage],
                 peer_key: bytes, source_host: str | None) -> None:
        self._node_id = node_id
        self._image_of = image_of
        self._tls = tls.client_context(config)
        self._password = broker_password(peer_key)  # also on an open cluster: a leader knows its brokers
        self.credential = broker_credential(peer_key)  # what the other brokers log in with here
        self._source_host = source_host
        self.txn = TxnCalls(self.connection)  # closed with the node
        self._pool = BrokerPool(self.connection)
        self.leaders = LeaderCalls(self._pool)  # the REST door's produce and reads at a leader elsewhere
        self.share_state = ShareStateCalls(self._pool)  # share-partition state at another share coordinator

    def address_of(self, broker_id: int) -> tuple[str, int] | None:
        """Where the broker takes other brokers, as it registered it: its inter-broker
        listener, else its Kafka listener (None: neither)."""
        reg = self._image_of().brokers.get(broker_id)
        port = None if reg is None else reg.inter_broker_port or reg.kafka_port
        return None if reg is None or port is None else (reg.host, port)

    def connection(self, broker_id: int) -> BrokerConnection:
        return BrokerConnection(lambda: self.address_of(broker_id), f"kraft-broker-{self._node_id}",
                                self._tls, self._password, self._source_host)

    def fetch_channel(self, leader_id: int) -> FollowerFetchChannel:
        return FollowerFetchChannel(self.connection(leader_id))

    async def close(self) -> None:
        """At shutdown: the batched senders end, what waits is failed (fetchers close their own)."""
        await self.txn.close()
        await self._pool.close()
