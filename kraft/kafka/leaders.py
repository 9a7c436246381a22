"""Where a Kafka client's partition request is answered: at the partition's leader, in
the leader epoch the client believes in (KIP-320), and Kafka listener endpoints."""

from __future__ import annotations

from kraft.errors import NotLeaderOrFollower, UnknownTopicOrPartition
from kraft.kafka import error_codes


def leader_replica(node, topic: str, partition: int):
    """This broker's leader replica of the partition, or the error that says why not."""
    image_topic = node.image.topic(topic)
    if image_topic is None or not 0 <= partition < len(image_topic.partitions):
        raise UnknownTopicOrPartition(f"{topic}-{partition} is not a partition of this cluster")
    if node.replica_manager is None:
        raise NotLeaderOrFollower("this node hosts no replicas")
    return node.replica_manager.leader_replica(topic, partition)


def epoch_problem(replica, asked: int) -> int | None:
    """The code for a request made in another leader epoch; None when it matches or the
    client sent none (-1)."""
    if asked < 0 or asked == replica.leader_epoch:
        return None
    return error_codes.UNKNOWN_LEADER_EPOCH if asked > replica.leader_epoch else error_codes.FENCED_LEADER_EPOCH


def kafka_endpoint(node, broker_id: int) -> tuple[str, int] | None:
    """(host, kafka_port) of a broker in cluster.toml; None when it has no listener."""
    conf = next((n for n in node.config.nodes if n.id == broker_id), None)
    return None if conf is None or conf.kafka_port is None else (conf.host, conf.kafka_port)
