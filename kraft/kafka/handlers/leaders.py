"""A Kafka client's partition request in the leader epoch it believes in (KIP-320), and
Kafka listener endpoints. The leader lookup itself is the broker's
(DataPlane.leader_replica), the same for REST."""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.kafka.wire import error_codes


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


def current_leader(node: BrokerServices, topic: str, partition: int) -> tuple[int, int]:
    """(leader id, leader epoch) of a partition as this broker's metadata knows it;
    (-1, -1) when it knows no such partition (KIP-951's "unknown")."""
    image_topic = node.image.topic(topic)
    if image_topic is None or not 0 <= partition < len(image_topic.partitions):
        return -1, -1
    part = image_topic.partitions[partition]
    return part.leader, part.leader_epoch


def node_endpoint(node: BrokerServices, broker_id: int) -> dict | None:
    """A broker as KIP-951's NodeEndpoints name it (id, Kafka host and port, rack); None
    when it has no Kafka listener."""
    if broker_id < 0 or (endpoint := kafka_endpoint(node, broker_id)) is None:
        return None
    reg = node.image.brokers.get(broker_id)
    return {"node_id": broker_id, "host": endpoint[0], "port": endpoint[1],
            "rack": reg.rack if reg is not None else None}
