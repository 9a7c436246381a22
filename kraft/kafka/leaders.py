"""A Kafka client's partition request in the leader epoch it believes in (KIP-320), and
Kafka listener endpoints. The leader lookup itself is the broker's
(DataPlane.leader_replica), the same for REST."""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.kafka import error_codes


def epoch_problem(replica, asked: int) -> int | None:
    """The code for a request made in another leader epoch; None when it matches or the
    client sent none (-1)."""
    if asked < 0 or asked == replica.leader_epoch:
        return None
    return error_codes.UNKNOWN_LEADER_EPOCH if asked > replica.leader_epoch else error_codes.FENCED_LEADER_EPOCH


def kafka_endpoint(node: BrokerServices, broker_id: int) -> tuple[str, int] | None:
    """(host, kafka_port) of a broker in cluster.toml; None when it has no listener."""
    conf = next((n for n in node.config.nodes if n.id == broker_id), None)
    return None if conf is None or conf.kafka_port is None else (conf.host, conf.kafka_port)
