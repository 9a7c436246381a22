"""Image <-> JSON-able dict, for Raft snapshots and for brokers too far behind the log.

Plain JSON (not pickle) keeps snapshots compact, readable and safe to load.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kraft.metadata.image import (
    BrokerRegistration,
    MetadataImage,
    PartitionRegistration,
    RebalanceImage,
    RebalanceMove,
    TopicImage,
    UncleanElection,
)
from kraft.security.acls import AclBinding
from kraft.security.scram import ScramCredential


def image_to_dict(image: MetadataImage) -> dict[str, Any]:
    return {
        "offset": image.offset,
        "controller_id": image.controller_id,
        "controller_epoch": image.controller_epoch,
        "brokers": [
            {
                "broker_id": b.broker_id,
                "broker_epoch": b.broker_epoch,
                "incarnation_id": b.incarnation_id,
                "host": b.host,
                "http_port": b.http_port,
                "kafka_port": b.kafka_port,
                "inter_broker_port": b.inter_broker_port,
                "roles": list(b.roles),
                "fenced": b.fenced,
                "in_controlled_shutdown": b.in_controlled_shutdown,
                "log_dir_failed": b.log_dir_failed,
                **({"rack": b.rack} if b.rack is not None else {}),
                **({"host_name": b.host_name} if b.host_name is not None else {}),
            }
            for b in image.brokers.values()
        ],
        "topics": [
            {
                "name": t.name,
                "topic_id": t.topic_id,
                # compact rows: a 1,000-partition topic must stay cheap to snapshot
                "partitions": [
                    [list(p.replicas), list(p.isr), p.leader, p.leader_epoch,
                     p.partition_epoch, p.unclean_elections]
                    + ([list(p.adding), list(p.removing)]
                       if p.reassigning or p.elr or p.last_known_elr else [])
                    + ([list(p.elr)] if p.elr or p.last_known_elr else [])
                    + ([list(p.last_known_elr)] if p.last_known_elr else [])
                    for p in t.partitions
                ],
            }
            for t in image.topics.values()
        ],
        "topic_configs": {k: dict(v) for k, v in image.topic_configs.items()},
        "cluster_configs": dict(image.cluster_configs),
        **({"broker_configs": [[b, dict(v)] for b, v in sorted(image.broker_configs.items())]}
           if image.broker_configs else {}),
        **({"group_configs": {g: dict(v) for g, v in sorted(image.group_configs.items())}}
           if image.group_configs else {}),
        "next_producer_id": image.next_producer_id,
        "unclean_elections": [
            [u.topic, u.partition, u.leader, u.leader_epoch, u.metadata_offset]
            for u in image.unclean_elections
        ],
        "acls": [b.to_dict() for b in sorted(image.acls)],
        "scram_credentials": {
            name: [c.to_record_fields() for c in by_mechanism.values()]
            for name, by_mechanism in image.scram_credentials.items()
        },
        "decommissioning": [[b, n] for b, n in sorted(image.decommissioning.items())],
        "client_quotas": [[[list(part) for part in entity], dict(values)]
                          for entity, values in sorted(image.client_quotas.items(), key=lambda kv: repr(kv[0]))],
        **({"rebalance": _rebalance_to_dict(image.rebalance)} if image.rebalance is not None else {}),
        **({"iceberg_tables": dict(sorted(image.iceberg_tables.items()))} if image.iceberg_tables else {}),
    }


def _rebalance_to_dict(r: RebalanceImage) -> dict[str, Any]:
    return {"rebalance_id": r.rebalance_id, "state": r.state, "max_moves_in_flight": r.max_moves_in_flight,
            "moves": [[m.topic_id, m.partition, list(m.replicas), list(m.target)] for m in r.moves]}


def _rebalance_from_dict(d: dict[str, Any] | None) -> RebalanceImage | None:
    if d is None:  # none yet, or a snapshot older than rebalancing
        return None
    moves = tuple(RebalanceMove(t, p, tuple(r), tuple(g)) for t, p, r, g in d["moves"])
    return RebalanceImage(d["rebalance_id"], moves, d["max_moves_in_flight"], d["state"])


def image_from_dict(data: dict[str, Any]) -> MetadataImage:
    brokers = {}
    for b in data["brokers"]:
        brokers[b["broker_id"]] = BrokerRegistration(
            broker_id=b["broker_id"],
            broker_epoch=b["broker_epoch"],
            incarnation_id=b["incarnation_id"],
            host=b["host"],
            http_port=b["http_port"],
            roles=tuple(b["roles"]),
            kafka_port=b.get("kafka_port"),  # absent in older snapshots
            inter_broker_port=b.get("inter_broker_port"),  # absent in older snapshots
            fenced=b["fenced"],
            in_controlled_shutdown=b["in_controlled_shutdown"],
            log_dir_failed=b.get("log_dir_failed", False),  # absent in older snapshots
            rack=b.get("rack"),
            host_name=b.get("host_name"),
        )
    topics = {}
    for t in data["topics"]:
        parts = tuple(  # rows carry adding/removing, elr, last known elr only when set
            PartitionRegistration(tuple(row[0]), tuple(row[1]), *row[2:6],
                                  *(tuple(x) for x in row[6:10]))
            for row in t["partitions"]
        )
        topics[t["topic_id"]] = TopicImage(t["name"], t["topic_id"], parts)
    return MetadataImage(
        offset=data["offset"],
        controller_id=data["controller_id"],
        controller_epoch=data["controller_epoch"],
        brokers=brokers,
        topics=topics,
        topic_ids={t.name: t.topic_id for t in topics.values()},
        topic_configs={k: dict(v) for k, v in data["topic_configs"].items()},
        cluster_configs=dict(data["cluster_configs"]),
        broker_configs={b: dict(v) for b, v in data.get("broker_configs", ())},  # absent: none set
        group_configs={g: dict(v) for g, v in data.get("group_configs", {}).items()},  # absent: none set
        next_producer_id=data["next_producer_id"],
        unclean_elections=tuple(UncleanElection(*u) for u in data["unclean_elections"]),
        # absent in snapshots older than security
        acls=frozenset(AclBinding(**b) for b in data.get("acls", ())),
        scram_credentials={
            name: {c["mechanism"]: ScramCredential.from_record_fields(SimpleNamespace(**c))
                   for c in creds}
            for name, creds in data.get("scram_credentials", {}).items()
        },
        # absent in snapshots older than decommissioning
        decommissioning={b: n for b, n in data.get("decommissioning", ())},
        # absent in snapshots older than client quotas
        client_quotas={tuple((t, n) for t, n in entity): dict(values)
                       for entity, values in data.get("client_quotas", ())},
        rebalance=_rebalance_from_dict(data.get("rebalance")),
        iceberg_tables=dict(data.get("iceberg_tables", {})),  # absent: none (or an older snapshot)
    )
