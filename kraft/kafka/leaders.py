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
    """(host, kafka_port) of a broker's Kafka listener as it registered (the metadata
    log: brokers added later are known to every node), else as cluster.toml names it;
    None when it has none."""
    reg = node.image.brokers.get(broker_id)
    if reg is not None and reg.kafka_port is not None:
        return reg.host, reg.kafka_port
    conf = node.config.node_or_none(broker_id)
    return None if conf is None or conf.kafka_port is None else (conf.host, conf.kafka_port)
