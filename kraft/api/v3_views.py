"""Confluent REST Proxy v3 resource shapes, built from the metadata image. Pure.

Field names follow Confluent's v3 API; the fields docs/API.md marks (ext) are added
alongside. `base` is the URL prefix of the node that answers, for metadata.self.
"""

from __future__ import annotations

from kraft.config.config_sources import Described
from kraft.config.topic_names import is_internal_topic
from kraft.metadata.image import MetadataImage, PartitionRegistration, TopicImage


def _meta(base: str, path: str, cluster_id: str, resource: str = "") -> dict:
    meta = {"self": f"{base}{path}"}
    if resource:
        meta["resource_name"] = f"crn:///kafka={cluster_id}/{resource}"
    return meta


def cluster_view(image: MetadataImage, cluster_id: str, base: str, name: str, secured: bool) -> dict:
    """Confluent's KafkaCluster, plus (ext) cluster.toml's name for it and whether
    [security] is on (logins and ACLs enforced): what a console shows and offers."""
    root = f"/v3/clusters/{cluster_id}"
    controller = image.controller_id if image.controller_id >= 0 else None
    return {
        "kind": "KafkaCluster",
        "metadata": _meta(base, root, cluster_id),
        "cluster_id": cluster_id,
        "cluster_name": name,
        "security_enabled": secured,
        "controller_id": controller,
        "controller": {"related": f"{base}{root}/brokers/{controller}"} if controller is not None else None,
        "acls": {"related": f"{base}{root}/acls"},
        "brokers": {"related": f"{base}{root}/brokers"},
        "broker_configs": {"related": f"{base}{root}/broker-configs"},
        "consumer_groups": {"related": f"{base}{root}/consumer-groups"},
        "topics": {"related": f"{base}{root}/topics"},
        "partition_reassignments": {"related": f"{base}{root}/topics/-/partitions/-/reassignment"},
    }


def broker_view(image: MetadataImage, broker_id: int, cluster_id: str, base: str) -> dict:
    b = image.brokers[broker_id]
    path = f"/v3/clusters/{cluster_id}/brokers/{broker_id}"
    return {
        "kind": "KafkaBroker",
        "metadata": _meta(base, path, cluster_id, f"broker={broker_id}"),
        "cluster_id": cluster_id,
        "broker_id": broker_id,
        "host": b.host,
        "port": b.http_port,
        "rack": b.rack,
        "fenced": b.fenced,
        "in_controlled_shutdown": b.in_controlled_shutdown,
        "log_dir_failed": b.log_dir_failed,
        "decommissioning": broker_id in image.decommissioning,  # (ext) its replicas are moving off
        "broker_epoch": b.broker_epoch,
        "configs": {"related": f"{base}{path}/configs"},
        "partition_replicas": {"related": f"{base}{path}/partition-replicas"},
    }


def topic_view(topic: TopicImage, cluster_id: str, base: str) -> dict:
    rf = len(topic.partitions[0].replicas) if topic.partitions else 0
    return {**planned_topic_view(topic.name, len(topic.partitions), rf, cluster_id, base),
            "topic_id": topic.topic_id}


def planned_topic_view(name: str, partitions: int, rf: int, cluster_id: str, base: str) -> dict:
    """A topic's body from its shape: also what a validate_only create answers."""
    path = f"/v3/clusters/{cluster_id}/topics/{name}"
    return {
        "kind": "KafkaTopic",
        "metadata": _meta(base, path, cluster_id, f"topic={name}"),
        "cluster_id": cluster_id,
        "topic_name": name,
        "is_internal": is_internal_topic(name),
        "replication_factor": rf,
        "partitions_count": partitions,
        "partitions": {"related": f"{base}{path}/partitions"},
        "configs": {"related": f"{base}{path}/configs"},
        "partition_reassignments": {"related": f"{base}{path}/partitions/-/reassignment"},
    }


def partition_view(topic: TopicImage, index: int, cluster_id: str, base: str,
                   offsets: dict | None) -> dict:
    part: PartitionRegistration = topic.partitions[index]
    path = f"/v3/clusters/{cluster_id}/topics/{topic.name}/partitions/{index}"
    view = {
        "kind": "KafkaPartition",
        "metadata": _meta(base, path, cluster_id, f"topic={topic.name}/partition={index}"),
        "cluster_id": cluster_id,
        "topic_name": topic.name,
        "partition_id": index,
        "leader": ({"related": f"{base}{path}/replicas/{part.leader}"}
                   if part.online else None),
        "replicas": {"related": f"{base}{path}/replicas"},
        "reassignment": {"related": f"{base}{path}/reassignment"},
        # (ext) the replication state, straight from the metadata image
        "leader_id": part.leader if part.online else None,
        "leader_epoch": part.leader_epoch,
        "partition_epoch": part.partition_epoch,
        "replica_ids": list(part.replicas),
        "isr": list(part.isr),
        "eligible_leader_replicas": list(part.elr),
        "last_known_eligible_leader_replicas": list(part.last_known_elr),
        "unclean_elections": part.unclean_elections,
    }
    if offsets is not None:
        view.update(offsets)
    return view


def reassignment_view(topic: str, index: int, part: PartitionRegistration, cluster_id: str,
                      base: str) -> dict:
    path = f"/v3/clusters/{cluster_id}/topics/{topic}/partitions/{index}"
    return {"kind": "KafkaReassignment",
            "metadata": _meta(base, path + "/reassignment", cluster_id,
                              f"topic={topic}/partition={index}/reassignment"),
            "cluster_id": cluster_id, "topic_name": topic, "partition_id": index,
            "adding_replicas": list(part.adding), "removing_replicas": list(part.removing),
            "replicas": {"related": f"{base}{path}/replicas"}}


def replica_view(topic: TopicImage, index: int, broker_id: int, cluster_id: str,
                 base: str) -> dict:
    part = topic.partitions[index]
    path = f"/v3/clusters/{cluster_id}/topics/{topic.name}/partitions/{index}/replicas/{broker_id}"
    return {
        "kind": "KafkaReplica",
        "metadata": _meta(base, path, cluster_id,
                          f"topic={topic.name}/partition={index}/replica={broker_id}"),
        "cluster_id": cluster_id,
        "topic_name": topic.name,
        "partition_id": index,
        "broker_id": broker_id,
        "is_leader": part.leader == broker_id,
        "is_in_sync": broker_id in part.isr,
        "broker": {"related": f"{base}/v3/clusters/{cluster_id}/brokers/{broker_id}"},
    }


def _synonyms(config: Described) -> list[dict]:
    return [{"name": s.name, "value": s.value, "source": s.source} for s in config.synonyms]


def config_view(topic: str, name: str, config: Described, cluster_id: str, base: str) -> dict:
    """One config of a topic, with where its value comes from (kraft.config.config_sources)."""
    path = f"/v3/clusters/{cluster_id}/topics/{topic}/configs/{name}"
    return {
        "kind": "KafkaTopicConfig",
        "metadata": _meta(base, path, cluster_id, f"topic={topic}/config={name}"),
        "cluster_id": cluster_id,
        "topic_name": topic,
        "name": name,
        "value": config.value,
        "is_default": config.is_default,
        "is_read_only": False,
        "is_sensitive": False,
        "source": config.source,
        "synonyms": _synonyms(config),
    }


def broker_config_view(broker_id: int, name: str, config: Described, read_only: bool, cluster_id: str,
                       base: str) -> dict:
    """One config of a broker, with where its value comes from (kraft.config.config_sources)."""
    path = f"/v3/clusters/{cluster_id}/brokers/{broker_id}/configs/{name}"
    return {
        "kind": "KafkaBrokerConfig",
        "metadata": _meta(base, path, cluster_id, f"broker={broker_id}/config={name}"),
        "cluster_id": cluster_id,
        "broker_id": broker_id,
        "name": name,
        "value": config.value,
        "is_default": config.is_default,
        "is_read_only": read_only,  # cluster.toml's settings are read at start
        "is_sensitive": False,
        "source": config.source,
        "synonyms": _synonyms(config),
    }


def cluster_config_view(name: str, config: Described, cluster_id: str, base: str) -> dict:
    """A dynamic cluster-wide broker config (Kafka's DYNAMIC_DEFAULT_BROKER_CONFIG)."""
    path = f"/v3/clusters/{cluster_id}/broker-configs/{name}"
    return {
        "kind": "KafkaClusterConfig",
        "metadata": _meta(base, path, cluster_id, f"broker-config={name}"),
        "cluster_id": cluster_id,
        "config_type": "BROKER",
        "name": name,
        "value": config.value,
        "is_default": config.is_default,
        "is_read_only": False,
        "is_sensitive": False,
        "source": config.source,
        "synonyms": _synonyms(config),
    }


def collection(kind: str, base: str, path: str, data: list) -> dict:
    return {"kind": kind, "metadata": {"self": f"{base}{path}", "next": None}, "data": data}
